-- Console sessions: a browser logs in with an API token and gets a session
-- cookie; the session acts with that token's role (revoking the token ends
-- it). Only the SHA-256 of the cookie is stored; `csrf` is the token every
-- state-changing request of the session must carry.
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL REFERENCES api_tokens (id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Attributes users add to a fleet finding, kept apart from the body that
-- every evaluation rewrites (so a re-evaluation never drops them).
ALTER TABLE fleet_findings ADD COLUMN user_attributes TEXT NOT NULL DEFAULT '{}';
