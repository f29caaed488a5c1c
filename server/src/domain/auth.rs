//! Who is calling: API tokens (each with a role; only their SHA-256 is
//! kept), console sessions (a cookie acting with the role of the token it
//! logged in with, until it expires or the token is revoked), and the
//! audit log of what they did. Agents authenticate by client certificate
//! ([`super::identity`]).

use super::{App, Error, Result};
use crate::ids::{hash, now, random_hex};
use crate::store::{self, tokens, Conn};
use assay_api::admin::{NewToken, TokenCreated};
use assay_api::Role;

/// How long a console session lasts from its login.
pub(crate) const SESSION_MS: i64 = 12 * 3600 * 1000;

/// An authenticated caller of the admin API.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// The token's id: the actor in the audit log.
    pub token_id: String,
    pub role: Role,
    /// With a console session: the CSRF token its state-changing requests
    /// must carry.
    pub csrf: Option<String>,
}

impl Caller {
    /// Refuses a caller whose role is below `needed`.
    pub(crate) fn require(&self, needed: Role) -> Result<()> {
        if self.role < needed {
            return Err(Error::Forbidden(format!(
                "this needs the {} role; the token has {}",
                needed.as_str(),
                self.role.as_str()
            )));
        }
        Ok(())
    }
}

/// The caller of an API token.
pub(crate) async fn by_token(app: &App, token: &str) -> Result<Caller> {
    let mut c = app.store.read().await?;
    let found = tokens::by_hash(&mut c, &hash(token.trim())).await?;
    let found = found.ok_or_else(|| Error::Unauthorized("the token is unknown or revoked".into()))?;
    Ok(Caller { token_id: found.id, role: found.role, csrf: None })
}

/// The caller of a console session cookie, if it is live.
pub(crate) async fn by_session(app: &App, cookie: &str) -> Result<Option<Caller>> {
    let mut c = app.store.read().await?;
    let found = tokens::session(&mut c, &hash(cookie), now()).await?;
    Ok(found.map(|s| Caller { token_id: s.id, role: s.role, csrf: Some(s.csrf) }))
}

/// Opens a console session for an API token: the session id (the cookie)
/// and the caller it acts as. Expired sessions are swept on the way.
pub(crate) async fn login(app: &App, token: &str) -> Result<(String, Caller)> {
    let caller = by_token(app, token).await?;
    let (id, csrf) = (random_hex(32), random_hex(32));
    let mut tx = app.store.write().await?;
    tokens::insert_session(&mut tx, &hash(&id), &caller.token_id, &csrf, now(), now() + SESSION_MS).await?;
    tx.commit().await?;
    audit(app, &caller.token_id, "console.login", serde_json::json!({})).await?;
    Ok((id, Caller { csrf: Some(csrf), ..caller }))
}

/// Ends the session of a cookie.
pub(crate) async fn logout(app: &App, cookie: &str, caller: &Caller) -> Result<()> {
    let mut tx = app.store.write().await?;
    tokens::delete_session(&mut tx, &hash(cookie)).await?;
    tx.commit().await?;
    audit(app, &caller.token_id, "console.logout", serde_json::json!({})).await
}

/// Mints an API token of `role`: its id and the token, returned once.
pub(crate) async fn mint(c: &mut Conn, role: Role, name: &str) -> store::Result<(String, String)> {
    let id = format!("tok-{}", random_hex(8));
    let token = format!("assay_{}", random_hex(32));
    tokens::insert(c, &id, &hash(&token), role, name, now()).await?;
    Ok((id, token))
}

/// `POST /v1/tokens` (admin).
pub(crate) async fn create_token(app: &App, caller: &Caller, req: NewToken) -> Result<TokenCreated> {
    caller.require(Role::Admin)?;
    let mut tx = app.store.write().await?;
    let (id, token) = mint(&mut tx, req.role, &req.name).await?;
    tx.commit().await?;
    audit(app, &caller.token_id, "token.create", serde_json::json!({ "id": id, "role": req.role })).await?;
    Ok(TokenCreated { id, role: req.role, token })
}

/// Records an action in the audit log.
pub(crate) async fn audit(app: &App, actor: &str, action: &str, detail: serde_json::Value) -> Result<()> {
    let mut tx = app.store.write().await?;
    store::audit::insert(&mut tx, now(), actor, action, &detail).await?;
    tx.commit().await?;
    Ok(())
}

/// Compares secrets in time independent of where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /v1/audit` (admin): the log, oldest first.
pub(crate) async fn audit_log(
    app: &App,
    caller: &Caller,
    page: &super::PageRequest,
) -> Result<assay_api::Page<assay_api::admin::AuditEntry>> {
    caller.require(Role::Admin)?;
    let after: i64 = match page.after.as_deref() {
        None => 0,
        Some(a) => {
            a.parse().map_err(|_| Error::Invalid(format!("`after={a}` is not a cursor of this list")))?
        }
    };
    let mut c = app.store.read().await?;
    let rows = store::audit::list(&mut c, after, page.limit()).await?;
    let items: Vec<assay_api::admin::AuditEntry> = rows
        .into_iter()
        .map(|r| assay_api::admin::AuditEntry {
            id: r.seq.to_string(),
            at: r.at,
            actor: r.actor,
            action: r.action,
            detail: r.detail.0,
        })
        .collect();
    let next = page.next(&items, |e| e.id.clone());
    Ok(assay_api::Page { items, next })
}
