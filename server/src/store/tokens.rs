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

/// A token to mint.
pub(crate) struct NewToken<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub role: Role,
    pub name: &'a str,
    pub now: i64,
    pub expires_at: Option<i64>,
}

pub(crate) async fn insert(c: &mut Conn, t: &NewToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, hash, role, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id)
    .bind(t.hash)
    .bind(t.role.as_str())
    .bind(t.name)
    .bind(t.now)
    .bind(t.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// An API token as listed (never its hash).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Token {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A page of tokens by id.
pub(crate) async fn list(c: &mut Conn, after: &str, limit: i64) -> Result<Vec<Token>> {
    sqlx::query_as(
        "SELECT id, role, name, created_at, expires_at, revoked_at FROM api_tokens WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The id of the token whose SHA-256 is `hash`, revoked or not.
pub(crate) async fn id_of(c: &mut Conn, hash: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM api_tokens WHERE hash = $1").bind(hash).fetch_optional(c).await?;
    Ok(row.map(|(id,)| id))
}

pub(crate) async fn exists(c: &mut Conn, id: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM api_tokens WHERE id = $1").bind(id).fetch_optional(c).await?.is_some())
}

/// Revokes token `id` and ends its console sessions: false when it was
/// revoked already (or is not there); the sessions ended.
pub(crate) async fn revoke(c: &mut Conn, id: &str, now: i64) -> Result<(bool, u64)> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE token_id = $1").bind(id).execute(c).await?;
    Ok((done.rows_affected() == 1, sessions.rows_affected()))
}

pub(crate) async fn any(c: &mut Conn) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM api_tokens LIMIT 1").fetch_optional(c).await?.is_some())
}

/// The token whose SHA-256 is `hash`, unless revoked or expired at `now`.
pub(crate) async fn by_hash(c: &mut Conn, hash: &str, now: i64) -> Result<Option<Caller>> {
    sqlx::query_as(
        "SELECT id, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// The session whose cookie's SHA-256 is `hash`, unless it expired or its
/// token was revoked or expired.
pub(crate) async fn session(c: &mut Conn, hash: &str, now: i64) -> Result<Option<Session>> {
    sqlx::query_as(
        "SELECT t.id, t.role, s.csrf FROM sessions s JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)",
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

/// An enrolment token to store.
pub(crate) struct NewEnrollment<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub uses: i64,
    pub expires_at: i64,
    pub tags: &'a BTreeMap<String, String>,
    pub agent_tag_prefix: Option<&'a str>,
    pub now: i64,
}

pub(crate) async fn insert_enrollment(c: &mut Conn, e: &NewEnrollment<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO enrollments (id, hash, uses_left, expires_at, tags, created_at, agent_tag_prefix) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.id)
    .bind(e.hash)
    .bind(e.uses)
    .bind(e.expires_at)
    .bind(super::json(e.tags)?)
    .bind(e.now)
    .bind(e.agent_tag_prefix)
    .execute(c)
    .await?;
    Ok(())
}

/// What a spent enrolment token gives its agent.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Spent {
    #[sqlx(try_from = "String")]
    pub tags: Json<BTreeMap<String, String>>,
    /// The prefix of the tags the agent may set itself (none: no tag).
    pub agent_tag_prefix: Option<String>,
}

/// Spends one use of the enrolment token whose SHA-256 is `hash`, or
/// `None` when it is unknown, used up or expired. One statement, so
/// concurrent enrolments never spend one use twice.
pub(crate) async fn spend_enrollment(c: &mut Conn, hash: &str, now: i64) -> Result<Option<Spent>> {
    sqlx::query_as(
        "UPDATE enrollments SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0 AND expires_at > $2 \
         RETURNING tags, agent_tag_prefix",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(c)
    .await
}
