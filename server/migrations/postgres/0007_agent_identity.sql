-- Agents authenticate with client certificates from the server's CA
-- (agents.secret_hash, from the bearer secrets before, is no longer read:
-- new agents get a random value there). Telemetry is sealed with a data
-- key per run, wrapped by the master key, and arrives in chunks.

CREATE TABLE agent_certs (
    fingerprint TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    issued_at BIGINT NOT NULL,
    not_after BIGINT NOT NULL
);
CREATE INDEX agent_certs_agent ON agent_certs (agent_id);

-- Health as the agent reported it in its last heartbeat.
ALTER TABLE agents ADD COLUMN health_code TEXT NOT NULL DEFAULT 'IDLE';
ALTER TABLE agents ADD COLUMN health_detail TEXT NOT NULL DEFAULT '';

CREATE TABLE run_keys (
    run_id TEXT PRIMARY KEY REFERENCES runs (id),
    wrapped BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Chunks of an upload not yet complete, sealed; a complete upload becomes
-- one telemetry row and its chunks are deleted in the same transaction.
CREATE TABLE telemetry_chunks (
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    seq BIGINT NOT NULL,
    total BIGINT NOT NULL,
    digest TEXT NOT NULL,
    body BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, agent_id, seq)
);

-- 0: the body is the telemetry JSON (rows from before 0007); 1: sealed
-- with the run's key, gzip inside.
ALTER TABLE telemetry ADD COLUMN sealed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX telemetry_received ON telemetry (received_at);
