-- A template version may carry a schedule (cron, UTC) and notifications
-- (webhook URLs for run events). The next start of each scheduled template
-- is a row that a replica moves forward by compare-and-set, so a schedule
-- starts one run however many servers share the database.
ALTER TABLE templates ADD COLUMN schedule TEXT;
ALTER TABLE templates ADD COLUMN notifications TEXT NOT NULL DEFAULT '[]';

CREATE TABLE schedules (
    template TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    next_run_at BIGINT NOT NULL
);

-- Notifications to send, written in the transaction of the event (an
-- outbox): pending, leased (until next_at), sent, failed.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX outbox_state ON outbox (state, next_at);
