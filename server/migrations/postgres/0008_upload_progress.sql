-- Upload progress per agent in a run: chunks accepted (counted with each
-- chunk's insert, so a chunk accepted twice would show) of the total the
-- agent announced.
ALTER TABLE run_agents ADD COLUMN chunks_received BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_agents ADD COLUMN chunks_total BIGINT NOT NULL DEFAULT 0;
