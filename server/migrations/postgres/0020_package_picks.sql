-- What an evaluation asks of a package version: which versions there are
-- (to resolve a requirement), whether one is yanked and which bundle it
-- names. On SQLite `yanked_at` is stored after `sources`, a published
-- package's whole source text: reading it from the row walks the text's
-- overflow pages, for every evaluation. The index answers the question
-- by itself (store::packages::picks).
CREATE INDEX package_versions_pick ON package_versions (name, version, major, minor, patch, bundle, yanked_at);
