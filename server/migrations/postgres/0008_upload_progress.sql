-- Upload progress per agent in a run: chunks accepted (counted with each
-- chunk's insert, so a chunk accepted twice would show) of the total the
-- agent announced.
ALTER TABLE run_agents ADD COLUMN chunks_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_agents ADD COLUMN chunks_total BIGINT NOT NULL DEFAULT 0;

-- A heartbeat looks up the agent's unfinished runs, and a run start counts
-- the agents still pending: without these, both read every row of every
-- run (10,000 per run at scale).
CREATE INDEX run_agents_agent ON run_agents (agent_id, status);
CREATE INDEX run_agents_status ON run_agents (run_id, status);
-- A re-evaluation reads the agent's latest telemetry.
CREATE INDEX telemetry_agent ON telemetry (agent_id, received_at);
