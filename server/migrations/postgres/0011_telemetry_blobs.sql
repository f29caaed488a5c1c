-- Telemetry documents move to the blob store: `blob` is the object's key
-- there and `body` is left empty. NULL: the document is in `body`, as
-- rows written before this migration have it.
ALTER TABLE telemetry ADD COLUMN blob TEXT;
