-- Package parameters a template sets (docs/server.md, "Templates"): a JSON
-- object of `PACKAGE.NAME` (or `NAME`) to values, versioned with the
-- template like its attributes.
ALTER TABLE templates ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
