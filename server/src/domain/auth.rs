//! Who is calling: API tokens (each with a role; only their SHA-256 is
//! kept), console sessions (a cookie acting with the role of the token it
//! logged in with, until it expires or the token is revoked), and the
//! audit log of what they did. Agents authenticate by client certificate
//! ([`super::identity`]).

use super::{App, Error, Result};
use crate::ids::{hash, now, random_hex};
use crate::store::{self, tokens, Conn};
use assay_api::admin::{NewToken, RevokeToken, TokenCreated, TokenRevoked, TokenView};
use assay_api::{Page, Role};

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
    let found = tokens::by_hash(&mut c, &hash(token.trim()), now()).await?;
    let found =
        found.ok_or_else(|| Error::Unauthorized("the token is unknown, revoked or expired".into()))?;
    Ok(Caller { token_id: found.id, role: found.role, csrf: None })
}

/// The caller of a console session cookie, if it is live.
pub(crate) async fn by_session(app: &App, cookie: &str) -> Result<Option<Caller>> {
    let mut c = app.store.read().await?;
    let found = tokens::session(&mut c, &hash(cookie), now()).await?;
    Ok(found.map(|s| Caller { token_id: s.id, role: s.role, csrf: Some(s.csrf) }))
}

/// Opens a console session for an API token: the session id (the cookie)
/// and the caller it acts as. Expired sessions are swept on the way. A
/// source that failed [`MAX_LOGIN_FAILURES`] times in a minute is refused
/// until the minute ends; failures are in the audit log.
pub(crate) async fn login(app: &App, source: &str, token: &str) -> Result<(String, Caller)> {
    if login_refused(app, source) {
        let _ =
            audit_failure(app, source, "console.login.failed", serde_json::json!({ "refused": true })).await;
        return Err(Error::Throttled("too many failed logins from this address: wait a minute".into()));
    }
    let caller = match by_token(app, token).await {
        Ok(c) => c,
        Err(e @ Error::Unauthorized(_)) => {
            audit_failure(app, source, "console.login.failed", serde_json::json!({})).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
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

/// Mints an API token of `role`, valid until `expires_at` (none: until
/// revoked): its id and the token, returned once.
pub(crate) async fn mint(
    c: &mut Conn,
    role: Role,
    name: &str,
    expires_at: Option<i64>,
) -> store::Result<(String, String)> {
    let id = format!("tok-{}", random_hex(8));
    let token = format!("assay_{}", random_hex(32));
    let new = tokens::NewToken { id: &id, hash: &hash(&token), role, name, now: now(), expires_at };
    tokens::insert(c, &new).await?;
    Ok((id, token))
}

/// `POST /v1/tokens` (admin).
pub(crate) async fn create_token(app: &App, caller: &Caller, req: NewToken) -> Result<TokenCreated> {
    caller.require(Role::Admin)?;
    if req.name.len() > 128 || req.name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "a token's name is at most 128 characters, without control characters".into(),
        ));
    }
    let expires_at = match req.expires_in_seconds {
        None => None,
        Some(s) if (60..=10 * 31_536_000).contains(&s) => Some(now() + s * 1000),
        Some(_) => {
            return Err(Error::Invalid("expires_in_seconds must be 60 to 315360000 (ten years)".into()))
        }
    };
    let mut tx = app.store.write().await?;
    let (id, token) = mint(&mut tx, req.role, &req.name, expires_at).await?;
    tx.commit().await?;
    let detail = serde_json::json!({ "id": id, "role": req.role, "expires_at": expires_at });
    audit(app, &caller.token_id, "token.create", detail).await?;
    Ok(TokenCreated { id, role: req.role, token, expires_at })
}

/// `GET /v1/tokens` (admin): every token, by id (never the token itself).
pub(crate) async fn list_tokens(
    app: &App,
    caller: &Caller,
    page: &super::PageRequest,
) -> Result<Page<TokenView>> {
    caller.require(Role::Admin)?;
    let mut c = app.store.read().await?;
    let items: Vec<TokenView> = tokens::list(&mut c, page.after(), page.limit())
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            role: t.role,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        })
        .collect();
    let next = page.next(&items, |t| t.id.clone());
    Ok(Page { items, next })
}

/// `POST /v1/tokens/revoke` (admin): the token and its console sessions
/// are refused from now on.
pub(crate) async fn revoke_token(app: &App, caller: &Caller, req: RevokeToken) -> Result<TokenRevoked> {
    caller.require(Role::Admin)?;
    let mut tx = app.store.write().await?;
    let id = match req {
        RevokeToken::Id { id } => {
            if !tokens::exists(&mut tx, &id).await? {
                return Err(Error::NotFound(format!("no token `{id}`")));
            }
            id
        }
        RevokeToken::Token { token } => tokens::id_of(&mut tx, &hash(token.trim()))
            .await?
            .ok_or_else(|| Error::NotFound("no such token".into()))?,
    };
    let (revoked, sessions) = tokens::revoke(&mut tx, &id, now()).await?;
    if !revoked {
        return Err(Error::Conflict(format!("token `{id}` is revoked already")));
    }
    tx.commit().await?;
    audit(app, &caller.token_id, "token.revoke", serde_json::json!({ "id": id, "sessions": sessions }))
        .await?;
    tracing::info!(token = %id, sessions, by = %caller.token_id, "API token revoked");
    Ok(TokenRevoked { id, revoked: true, sessions })
}

/// How long repeated failures of one source are aggregated into one row.
const FAILURE_WINDOW_MS: i64 = 60_000;
/// Sources followed at once; past it, failures of new sources are counted
/// under `*` (a flood from many addresses stays bounded too).
const MAX_SOURCES: usize = 10_000;
/// Failed console logins a source may make in a window before it is
/// refused (429) until the window ends.
pub(crate) const MAX_LOGIN_FAILURES: u64 = 10;

/// Repeated failures of one source and action within a window: the first
/// is written at once, the rest counted and written as one row when the
/// window ends ([`flush_failures`]).
#[derive(Debug)]
pub(crate) struct Failures {
    start: i64,
    count: u64,
}

/// Records a failure (a rejected enrolment, certificate, chunk or login)
/// in the audit log, aggregated per source, action and minute: a flood of
/// them writes a row a minute with its count, not a row each.
pub(crate) async fn audit_failure(
    app: &App,
    source: &str,
    action: &'static str,
    detail: serde_json::Value,
) -> Result<()> {
    let at = now();
    let first = {
        let mut windows = app.failures.lock().unwrap_or_else(|p| p.into_inner());
        let source = if windows.len() >= MAX_SOURCES && !windows.contains_key(&(source.to_owned(), action)) {
            "*"
        } else {
            source
        };
        let window = windows.entry((source.to_owned(), action)).or_insert(Failures { start: at, count: 0 });
        window.count += 1;
        window.count == 1
    };
    if first {
        audit(app, source, action, detail).await?;
    }
    Ok(())
}

/// Writes the aggregated failures of the windows that ended (one row
/// each, with the count beyond the first, which was written at once) and
/// forgets them.
pub(crate) async fn flush_failures(app: &App) -> Result<()> {
    let at = now();
    let ended: Vec<((String, &'static str), Failures)> = {
        let mut windows = app.failures.lock().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<(String, &'static str)> = windows
            .iter()
            .filter(|(_, w)| at - w.start >= FAILURE_WINDOW_MS)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter().filter_map(|k| windows.remove(&k).map(|w| (k, w))).collect()
    };
    for ((source, action), w) in ended {
        if w.count > 1 {
            let detail = serde_json::json!({ "repeated": w.count - 1, "since": w.start, "window_ms": FAILURE_WINDOW_MS });
            audit(app, &source, action, detail).await?;
        }
    }
    Ok(())
}

/// Whether `source` failed to log in too often in the current window.
pub(crate) fn login_refused(app: &App, source: &str) -> bool {
    let windows = app.failures.lock().unwrap_or_else(|p| p.into_inner());
    let at = now();
    windows
        .get(&(source.to_owned(), "console.login.failed"))
        .is_some_and(|w| at - w.start < FAILURE_WINDOW_MS && w.count >= MAX_LOGIN_FAILURES)
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
