-- Each notification knows its run, so a run shows its deliveries (state,
-- attempts, last error, when it was sent).
ALTER TABLE outbox ADD COLUMN run_id TEXT;
ALTER TABLE outbox ADD COLUMN sent_at BIGINT;
CREATE INDEX outbox_run ON outbox (run_id);
