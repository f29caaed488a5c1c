//! The audit log: who changed what, when.

use super::{Conn, Json, Result};

pub(crate) async fn insert(
    c: &mut Conn,
    at: i64,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(super::json(detail)?)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[sqlx(try_from = "String")]
    pub detail: Json<serde_json::Value>,
}

/// A page of the log, oldest first, after `after`.
pub(crate) async fn list(c: &mut Conn, after: i64, limit: i64) -> Result<Vec<Entry>> {
    sqlx::query_as(
        "SELECT seq, at, actor, action, detail FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Deletes the entries older than `cutoff`.
pub(crate) async fn delete_before(c: &mut Conn, cutoff: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1").bind(cutoff).execute(c).await?.rows_affected())
}
