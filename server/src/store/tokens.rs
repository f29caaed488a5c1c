//! API tokens (only their SHA-256 is kept), console sessions, and agents'
//! enrolment tokens.

use super::{Conn, Json, Result};
use assay_api::Role;
use std::collections::BTreeMap;

/// A valid API token, or the token a live session acts for.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Caller {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// A live console session.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Session {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub csrf: String,
}

pub(crate) async fn insert(
    c: &mut Conn,
    id: &str,
    hash: &str,
    role: Role,
    name: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO api_tokens (id, hash, role, name, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(hash)
        .bind(role.as_str())
        .bind(name)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub(crate) async fn any(c: &mut Conn) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM api_tokens LIMIT 1").fetch_optional(c).await?.is_some())
}

/// The token whose SHA-256 is `hash`, unless revoked.
pub(crate) async fn by_hash(c: &mut Conn, hash: &str) -> Result<Option<Caller>> {
    sqlx::query_as("SELECT id, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
        .bind(hash)
        .fetch_optional(c)
        .await
}

/// The session whose cookie's SHA-256 is `hash`, unless it expired or its
/// token was revoked.
pub(crate) async fn session(c: &mut Conn, hash: &str, now: i64) -> Result<Option<Session>> {
    sqlx::query_as(
        "SELECT t.id, t.role, s.csrf FROM sessions s JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(c)
    .await
}

pub(crate) async fn insert_session(
    c: &mut Conn,
    hash: &str,
    token: &str,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *c).await?;
    sqlx::query(
        "INSERT INTO sessions (hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(token)
    .bind(csrf)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn delete_session(c: &mut Conn, hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(hash).execute(c).await?;
    Ok(())
}

pub(crate) async fn insert_enrollment(
    c: &mut Conn,
    id: &str,
    hash: &str,
    uses: i64,
    expires_at: i64,
    tags: &BTreeMap<String, String>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO enrollments (id, hash, uses_left, expires_at, tags, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(hash)
    .bind(uses)
    .bind(expires_at)
    .bind(super::json(tags)?)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Spent {
    #[sqlx(try_from = "String")]
    tags: Json<BTreeMap<String, String>>,
}

/// Spends one use of the enrolment token whose SHA-256 is `hash`: its
/// tags, or `None` when it is unknown, used up or expired. One statement,
/// so concurrent enrolments never spend one use twice.
pub(crate) async fn spend_enrollment(
    c: &mut Conn,
    hash: &str,
    now: i64,
) -> Result<Option<BTreeMap<String, String>>> {
    let spent: Option<Spent> = sqlx::query_as(
        "UPDATE enrollments SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0 AND expires_at > $2 RETURNING tags",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(c)
    .await?;
    Ok(spent.map(|s| s.tags.0))
}
