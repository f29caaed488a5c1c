-- Each host's evaluation of a run: its findings and every rule's outcome
-- (passed, failed, not applicable, skipped, error), as the runtime's JSON
-- report. The run reports are built from these.
CREATE TABLE host_reports (
    run_id TEXT NOT NULL REFERENCES runs (id),
    agent_id TEXT NOT NULL REFERENCES agents (id),
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id)
);
