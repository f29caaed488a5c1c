-- The fleet's VEX documents (docs/vulnerabilities.md#vex), uploaded
-- together as one set; the latest set applies to every evaluation and
-- re-evaluation, as the latest waiver file does.
CREATE TABLE vex_sets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL,
    -- JSON: `[{"name": ..., "text": ...}, ...]`, as uploaded.
    documents TEXT NOT NULL,
    statements BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
