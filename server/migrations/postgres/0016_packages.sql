-- Rules packages published to the server (docs/server.md, "Rules
-- packages"). A bundle holds one or several packages and is stored once,
-- by digest, with the signature it was published with; each package
-- version names its bundle and is immutable: `content` is the digest of
-- what its rules do and say, so publishing the same version again with
-- the same content changes nothing and with other content is refused.
CREATE TABLE package_bundles (
    digest TEXT PRIMARY KEY,
    body BYTEA NOT NULL,
    -- The minisign signature (docs/signing.md) and the trusted key that
    -- verified it; both NULL for an unsigned bundle.
    signature TEXT,
    signer TEXT,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL
);

CREATE TABLE package_versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    major BIGINT NOT NULL,
    minor BIGINT NOT NULL,
    patch BIGINT NOT NULL,
    bundle TEXT NOT NULL REFERENCES package_bundles (digest),
    content TEXT NOT NULL,
    title TEXT NOT NULL,
    rules BIGINT NOT NULL,
    -- The package's source files as JSON (`[[path, text], ...]`) and their
    -- digest, when the publisher sent them: a later server can rebuild
    -- the package from them.
    sources TEXT,
    sources_digest TEXT,
    -- Published by the server itself from its built-in packages.
    builtin BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    yanked_at BIGINT,
    yanked_by TEXT,
    PRIMARY KEY (name, version)
);

-- The exact package versions a run evaluates (`["name@1.2.0", ...]`),
-- resolved from its template's requirements when it starts. NULL for a run
-- started before the registry: its template names built-in packages.
ALTER TABLE runs ADD COLUMN packages TEXT;
