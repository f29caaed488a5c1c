//! Bearer tokens of the admin API, each with a role; only their SHA-256
//! hashes are stored. (Agents authenticate by client certificate: see
//! `agent.rs`.)

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

/// The actor of `headers` if its token holds at least `needed`.
pub async fn require(db: &Db, headers: &HeaderMap, needed: Role) -> ApiResult<Actor> {
    let token = bearer(headers)?;
    let row = sqlx::query("SELECT id, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
        .bind(db::hash(token))
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))?;
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
    sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(db::now())
        .bind(actor)
        .bind(action)
        .bind(detail.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}
