//! Bearer tokens of the admin API, each with a role; only their SHA-256
//! hashes are stored. The console's sessions act with the role of the
//! token they logged in with, by cookie, and must carry the session's CSRF
//! token on every request that changes state. (Agents authenticate by
//! client certificate: see `agent.rs`.)

use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use axum::http::HeaderMap;

/// What an API token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Lists and reads.
    ReadOnly,
    /// Also creates targets, templates, enrolment tokens; starts and stops runs.
    Operator,
    /// Also mints API tokens.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read-only" => Some(Role::ReadOnly),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Who made a request: the token's id, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub token_id: String,
}

fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "send `Authorization: Bearer TOKEN` (an API token from `assay fleet token create`)",
            )
        })
}

/// The actor of `headers` if its token (or the session its cookie names)
/// holds at least `needed`.
pub async fn require(db: &Db, headers: &HeaderMap, needed: Role) -> ApiResult<Actor> {
    let row = if headers.contains_key("authorization") || session_cookie(headers).is_none() {
        let token = bearer(headers)?;
        sqlx::query("SELECT id, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(db::hash(token))
            .fetch_optional(&db.pool)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))?
    } else {
        session(db, headers).await?.ok_or_else(|| {
            ApiError::unauthorized("the console session has ended (or its token was revoked): log in again")
        })?
    };
    let role = Role::parse(&db::text(&row, "role")).unwrap_or(Role::ReadOnly);
    if role < needed {
        return Err(ApiError::forbidden(format!(
            "this needs the {} role; the token has {}",
            needed.as_str(),
            role.as_str()
        )));
    }
    Ok(Actor { token_id: db::text(&row, "id") })
}

/// The cookie a console session lives in. With TLS it is `__Host-` (the
/// browser keeps it to this origin, Secure, Path=/), without TLS (loopback
/// only, docs/server.md) a plain HttpOnly cookie.
pub const SESSION_COOKIE: &str = "assay_session";
pub const SECURE_SESSION_COOKIE: &str = "__Host-assay_session";

/// How long a console session lasts from its login.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;

/// The session id in the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE || *k == SECURE_SESSION_COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The live session of the request's cookie: the token's `id` and `role`,
/// the session's `csrf`.
pub async fn session(db: &Db, headers: &HeaderMap) -> Result<Option<sqlx::any::AnyRow>, sqlx::Error> {
    let Some(id) = session_cookie(headers) else { return Ok(None) };
    sqlx::query(
        "SELECT t.id, t.role, s.csrf FROM sessions s JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
    )
    .bind(db::hash(id))
    .bind(db::now())
    .fetch_optional(&db.pool)
    .await
}

/// Refuses a state-changing request made with a session cookie but without
/// the session's CSRF token in `X-CSRF-Token` (a bearer token needs none:
/// a browser never sends one by itself).
pub async fn check_csrf(db: &Db, headers: &HeaderMap) -> ApiResult<()> {
    if headers.contains_key("authorization") {
        return Ok(());
    }
    let Some(row) = session(db, headers).await? else { return Ok(()) };
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if same(sent.as_bytes(), db::text(&row, "csrf").as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::forbidden("the request carries no valid CSRF token for this session"))
    }
}

/// Compares secrets in time independent of where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Opens a console session for an API token: the session id (the cookie)
/// and its CSRF token. Expired sessions are swept on the way.
pub async fn login(db: &Db, token: &str) -> ApiResult<(String, String, String)> {
    let row = sqlx::query("SELECT id FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
        .bind(db::hash(token.trim()))
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))?;
    let token_id = db::text(&row, "id");
    let (id, csrf) = (db::random_hex(32), db::random_hex(32));
    let mut tx = db.write().await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(db::now()).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO sessions (hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(db::hash(&id))
    .bind(&token_id)
    .bind(&csrf)
    .bind(db::now())
    .bind(db::now() + SESSION_MS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    audit(db, &token_id, "console.login", serde_json::json!({})).await?;
    Ok((id, csrf, token_id))
}

/// Ends the session of the request's cookie.
pub async fn logout(db: &Db, headers: &HeaderMap) -> Result<(), sqlx::Error> {
    if let Some(id) = session_cookie(headers) {
        db.execute(sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(db::hash(id))).await?;
    }
    Ok(())
}

/// Mints an API token of `role`; the clear token is returned once.
pub async fn mint<'e, E>(executor: E, role: Role, name: &str) -> Result<(String, String), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let id = format!("tok-{}", db::random_hex(8));
    let token = format!("assay_{}", db::random_hex(32));
    sqlx::query("INSERT INTO api_tokens (id, hash, role, name, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(db::hash(&token))
        .bind(role.as_str())
        .bind(name)
        .bind(db::now())
        .execute(executor)
        .await?;
    Ok((id, token))
}

/// Records an action in the audit log.
pub async fn audit(db: &Db, actor: &str, action: &str, detail: serde_json::Value) -> Result<(), sqlx::Error> {
    db.execute(
        sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)")
            .bind(db::now())
            .bind(actor)
            .bind(action)
            .bind(detail.to_string()),
    )
    .await?;
    Ok(())
}
