-- Agents' tags in a table of their own, so a page of agents filtered by
-- tag, and the agents a target matches, are found by an index instead of
-- reading every agent's JSON.
CREATE TABLE agent_tags (
    agent_id TEXT NOT NULL REFERENCES agents (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (agent_id, key)
);
CREATE INDEX agent_tags_key ON agent_tags (key, value);
INSERT INTO agent_tags (agent_id, key, value)
    SELECT a.id, t.key, t.value FROM agents a, json_each(a.tags) t;
ALTER TABLE agents DROP COLUMN tags;

-- Targets and templates can be deleted: the row stays for the runs that
-- used it (history), out of every list, and the name is free again.
ALTER TABLE targets ADD COLUMN deleted_at BIGINT;
ALTER TABLE templates ADD COLUMN deleted_at BIGINT;
