-- Runs are listed newest first, paged by (created_at, id): run ids are
-- random, so their order says nothing about when a run started.
CREATE INDEX runs_newest_first ON runs (created_at, id);
