//! The server's own keys and values (`server_state`): the CA, the webhook
//! key, the digest of the rules packages at the last start.

use super::{dialect, Backend, Conn, Result};

/// The names the server keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    CaName,
    CaCert,
    /// The CA's private key, sealed with the master key (hex).
    CaKey,
    WebhookKey,
    BundleDigest,
}

impl Entry {
    fn as_str(self) -> &'static str {
        match self {
            Entry::CaName => "ca_name",
            Entry::CaCert => "ca_cert",
            Entry::CaKey => "ca_key",
            Entry::WebhookKey => "webhook_key",
            Entry::BundleDigest => "bundle_digest",
        }
    }
}

pub(crate) async fn get(c: &mut Conn, key: Entry) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM server_state WHERE key = $1")
        .bind(key.as_str())
        .fetch_optional(c)
        .await?;
    Ok(row.map(|(v,)| v))
}

pub(crate) async fn set(c: &mut Conn, key: Entry, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO server_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(key.as_str())
    .bind(value)
    .execute(c)
    .await?;
    Ok(())
}

/// Locks the server's state (and its tokens) for a transaction that makes
/// what must exist once: the CA, the webhook key, the first admin token.
pub(crate) async fn lock(c: &mut Conn, backend: Backend) -> Result<()> {
    dialect::lock_table(&mut *c, backend, "server_state").await?;
    dialect::lock_table(c, backend, "api_tokens").await
}
