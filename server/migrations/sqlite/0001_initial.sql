-- The assessment service's schema for SQLite (see migrations/postgres:
-- the same tables; only the types of sequences and blobs differ).

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    os TEXT NOT NULL,
    tags TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX agents_machine_id ON agents (machine_id);

CREATE TABLE targets (
    name TEXT PRIMARY KEY,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE templates (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    target TEXT NOT NULL REFERENCES targets (name),
    packages TEXT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    template TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    collect_until BIGINT NOT NULL,
    finished_at BIGINT,
    FOREIGN KEY (template, template_version) REFERENCES templates (name, version)
);
CREATE INDEX runs_state ON runs (state);

CREATE TABLE run_states (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Every agent of a run and how far it got: pending, collecting, delivered,
-- missing (the run's collection ended without its telemetry).
CREATE TABLE run_agents (
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    status TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);

-- One row per agent in an unfinished run: two runs at once never share an
-- agent, by this key rather than by a check before the insert.
CREATE TABLE agent_locks (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    run_id TEXT NOT NULL REFERENCES runs (id)
);

CREATE TABLE telemetry (
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    digest TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);

-- Evaluation jobs: pending, leased (until lease_until), done, failed.
CREATE TABLE jobs (
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    error TEXT,
    PRIMARY KEY (run_id, agent_id)
);
CREATE INDEX jobs_state ON jobs (state, lease_until);

CREATE TABLE findings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    rule_id TEXT NOT NULL,
    package TEXT NOT NULL,
    severity TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (run_id, agent_id, fingerprint)
);
CREATE INDEX findings_run ON findings (run_id, seq);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
