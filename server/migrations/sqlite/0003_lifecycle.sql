-- Findings across the fleet with a lifecycle: each (agent, fingerprint) is
-- open or resolved, with when it was first and last seen and every change
-- as an event with its cause (a run, a feed import, new rules packages).
CREATE TABLE fleet_findings (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    fingerprint TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    package TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    resolved_at BIGINT,
    body TEXT NOT NULL,
    PRIMARY KEY (agent_id, fingerprint)
);
CREATE INDEX fleet_findings_state ON fleet_findings (state, severity);

CREATE TABLE finding_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    event TEXT NOT NULL,
    cause TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX finding_events_finding ON finding_events (agent_id, fingerprint);

-- Vulnerability feeds uploaded to the server; the latest is used.
CREATE TABLE feeds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL,
    body BLOB NOT NULL,
    advisories BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- Re-evaluation of an agent's latest telemetry (after a feed import or a
-- change of the rules packages): pending, leased, done, failed.
CREATE TABLE reeval_jobs (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    cause TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    error TEXT
);

CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
