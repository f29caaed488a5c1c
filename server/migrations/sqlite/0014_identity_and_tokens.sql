-- API tokens may expire; a revoked or expired token and its console
-- sessions are refused at once.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- Agents enrolled with a token set only the tags the token allows: those
-- whose key starts with this prefix (NULL: none of their own).
ALTER TABLE enrollments ADD COLUMN agent_tag_prefix TEXT;

-- What a host's telemetry claimed about itself, when it differs from the
-- identity its agent was enrolled with (which findings, reports and
-- waivers use).
ALTER TABLE telemetry ADD COLUMN reported_hostname TEXT;
ALTER TABLE telemetry ADD COLUMN reported_id TEXT;

-- A host's identity as its findings name it (id, hostname, tags,
-- addresses), stored once and referenced by its digest: a finding no
-- longer repeats it. NULL in findings written before: their body has it.
CREATE TABLE assets (
    digest TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
ALTER TABLE findings ADD COLUMN asset TEXT;
ALTER TABLE fleet_findings ADD COLUMN asset TEXT;
