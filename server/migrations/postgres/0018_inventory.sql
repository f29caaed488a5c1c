-- The fleet's package inventory (docs/server.md, "Package inventory"):
-- the packages of each agent's latest evaluated telemetry, so "which
-- hosts run openssl < 3.0.13?" is an index lookup, not a read of every
-- agent's document. Hosts built from one image share their packages: a
-- package set is stored once, by the digest of its OS and packages, and
-- each agent names the set of its latest document. A set no agent names
-- any more is deleted.
CREATE TABLE package_sets (
    digest TEXT PRIMARY KEY,
    -- The hosts' OS (`debian`, `12`), for the packages' Package URLs.
    os_id TEXT NOT NULL,
    os_version TEXT,
    packages BIGINT NOT NULL
);

CREATE TABLE set_packages (
    set_digest TEXT NOT NULL REFERENCES package_sets (digest),
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The name as looked up: lowercase, and for PyPI normalized as PEP 503
    -- says (`PyYAML`, `pyyaml` and `py_yaml` are one distribution).
    name_key TEXT NOT NULL,
    version TEXT NOT NULL,
    architecture TEXT,
    source_name TEXT,
    source_version TEXT
);
CREATE INDEX set_packages_name ON set_packages (name_key, set_digest);
CREATE INDEX set_packages_set ON set_packages (set_digest);

CREATE TABLE agent_inventories (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    -- The run whose document it was read from, and when that arrived.
    run_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    digest TEXT NOT NULL REFERENCES package_sets (digest)
);
CREATE INDEX agent_inventories_digest ON agent_inventories (digest, agent_id);
