-- The fleet's package inventory (docs/server.md, "Package inventory"):
-- the packages of each agent's latest evaluated telemetry, one row each,
-- so "which hosts run openssl < 3.0.13?" is an index lookup, not a read
-- of every agent's document. Replaced whole when a newer document of the
-- agent is evaluated; a document with the same packages (their digest)
-- only moves `received_at`.
CREATE TABLE agent_inventories (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    run_id TEXT NOT NULL,
    -- When the document it was read from arrived.
    received_at BIGINT NOT NULL,
    -- SHA-256 of the package list, as stored below.
    digest TEXT NOT NULL,
    packages BIGINT NOT NULL,
    -- The host's OS (`debian`, `12`), for the packages' Package URLs.
    os_id TEXT NOT NULL,
    os_version TEXT
);

CREATE TABLE installed_packages (
    agent_id TEXT NOT NULL REFERENCES agent_inventories (agent_id),
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
CREATE INDEX installed_packages_name ON installed_packages (name_key, agent_id);
CREATE INDEX installed_packages_agent ON installed_packages (agent_id);
