-- Waiver files (docs/waivers.md) uploaded to the server; the latest applies
-- fleet-wide to every evaluation and re-evaluation.
CREATE TABLE waiver_sets (
    seq BIGSERIAL PRIMARY KEY,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    waivers BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
