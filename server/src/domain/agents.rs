//! Agents as operators see them (health, tags, addresses, clones),
//! enrolment tokens, and revocation.

use super::auth::{self, Caller};
use super::{App, Error, PageRequest, Result};
use crate::ids::{hash, now, random_hex};
use crate::store::{agents as rows, runs, tokens, Conn};
use assay_api::admin::{AgentView, EnrollmentCreated, NewEnrollment, Revoked, TagFilter};
use assay_api::{Health, Page, Role};
use assay_model::findings::{AssetRef, KeyValue};
use std::collections::BTreeMap;

/// At most this many tags per agent, target or enrolment token.
pub(crate) const MAX_TAGS: usize = 50;

/// Checks a tag's key and value: a key is 1 to 128 characters without
/// `=`, a value at most 256.
pub(crate) fn valid_tag(key: &str, value: Option<&str>) -> Result<()> {
    if key.trim().is_empty() || key.len() > 128 || key.contains('=') || key.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "tag key `{key}` must be 1 to 128 characters, without `=` or control characters"
        )));
    }
    if let Some(v) = value {
        if v.len() > 256 || v.chars().any(char::is_control) {
            return Err(Error::Invalid(format!(
                "the value of tag `{key}` must be at most 256 characters, without control characters"
            )));
        }
    }
    Ok(())
}

/// Tags of an enrolment token or an agent.
pub(crate) fn valid_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::Invalid(format!("at most {MAX_TAGS} tags")));
    }
    tags.iter().try_for_each(|(k, v)| valid_tag(k, Some(v)))
}

/// `KEY` or `KEY=VALUE` filters, as query strings and the CLI write them.
pub(crate) fn parse_filters(tags: &[String]) -> Result<Vec<TagFilter>> {
    tags.iter()
        .map(|t| {
            let filter = match t.split_once('=') {
                Some((k, v)) => TagFilter { key: k.to_owned(), value: Some(v.to_owned()) },
                None => TagFilter { key: t.clone(), value: None },
            };
            valid_tag(&filter.key, filter.value.as_deref())?;
            Ok(filter)
        })
        .collect()
}

/// The views of `agents`, with their tags and clones read in two queries.
pub(crate) async fn views(c: &mut Conn, agents: Vec<rows::Agent>) -> Result<Vec<AgentView>> {
    let ids: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
    let mut tags = rows::tags(c, &ids).await?;
    let refs: Vec<&rows::Agent> = agents.iter().collect();
    let mut clones = rows::clones_of(c, &refs).await?;
    Ok(agents
        .into_iter()
        .map(|a| AgentView {
            tags: tags.remove(&a.id).unwrap_or_default(),
            same_machine_id: clones.remove(&a.id).unwrap_or_default(),
            revoked: a.revoked_at.is_some(),
            id: a.id,
            hostname: a.hostname,
            addresses: a.addresses.0,
            machine_id: a.machine_id,
            os: a.os,
            enrolled_at: a.enrolled_at,
            last_seen: a.last_seen,
            health: a.health,
            health_code: a.health_code,
            health_detail: a.health_detail,
        })
        .collect())
}

/// `GET /v1/agents`: by id, filtered by tag (any matches) and health.
pub(crate) async fn list(
    app: &App,
    caller: &Caller,
    tags: &[String],
    health: Option<Health>,
    page: &PageRequest,
) -> Result<Page<AgentView>> {
    caller.require(Role::ReadOnly)?;
    let filters = parse_filters(tags)?;
    let mut c = app.store.read().await?;
    let filter = rows::Filter {
        tags: &filters,
        health,
        after: page.after(),
        limit: page.limit(),
        stale_before: app.stale_before(),
    };
    let found = rows::list(&mut c, &filter).await?;
    let items = views(&mut c, found).await?;
    let next = page.next(&items, |a| a.id.clone());
    Ok(Page { items, next })
}

/// `GET /v1/agents/{id}`.
pub(crate) async fn get(app: &App, caller: &Caller, id: &str) -> Result<AgentView> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let agent = rows::get(&mut c, id, app.stale_before()).await?;
    let agent = agent.ok_or_else(|| Error::NotFound(format!("no agent `{id}`")))?;
    let mut views = views(&mut c, vec![agent]).await?;
    views.pop().ok_or_else(|| Error::Internal(format!("agent `{id}` vanished")))
}

/// Revokes an agent: every request with any of its certificates fails
/// from now on, and it leaves the runs that wait for it (they record it
/// as revoked) and its lock.
pub(crate) async fn revoke(app: &App, caller: &Caller, id: &str) -> Result<Revoked> {
    caller.require(Role::Operator)?;
    let mut tx = app.store.write().await?;
    if !rows::revoke(&mut tx, id, now()).await? {
        return Err(if rows::exists(&mut tx, id).await? {
            Error::Conflict(format!("agent `{id}` is revoked already"))
        } else {
            Error::NotFound(format!("no agent `{id}`"))
        });
    }
    runs::remove_revoked(&mut tx, id).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "agent.revoke", serde_json::json!({ "agent": id })).await?;
    tracing::info!(agent = id, by = %caller.token_id, "agent revoked");
    Ok(Revoked { agent: id.to_owned(), revoked: true })
}

/// `PUT /v1/agents/{id}/tags` (admin): replaces an agent's tags, which
/// decide the targets it is in; the change is in the audit log with the
/// tags before.
pub(crate) async fn set_tags(
    app: &App,
    caller: &Caller,
    id: &str,
    tags: BTreeMap<String, String>,
) -> Result<AgentView> {
    caller.require(Role::Admin)?;
    valid_tags(&tags)?;
    let mut tx = app.store.write().await?;
    if !rows::exists(&mut tx, id).await? {
        return Err(Error::NotFound(format!("no agent `{id}`")));
    }
    let before = rows::tags(&mut tx, &[id]).await?.remove(id).unwrap_or_default();
    rows::set_tags(&mut tx, id, &tags).await?;
    tx.commit().await?;
    let detail = serde_json::json!({ "agent": id, "before": before, "after": tags });
    auth::audit(app, &caller.token_id, "agent.tags", detail).await?;
    get(app, caller, id).await
}

/// `POST /v1/enrollments`: an enrolment token, shown once.
pub(crate) async fn create_enrollment(
    app: &App,
    caller: &Caller,
    req: NewEnrollment,
) -> Result<EnrollmentCreated> {
    caller.require(Role::Operator)?;
    if !(1..=100_000).contains(&req.uses) || !(60..=31_536_000).contains(&req.expires_in_seconds) {
        return Err(Error::Invalid("uses must be 1 to 100000 and expires_in_seconds 60 to 31536000".into()));
    }
    valid_tags(&req.tags)?;
    if let Some(prefix) = &req.agent_tag_prefix {
        if prefix.len() > 64 || prefix.contains('=') || prefix.chars().any(char::is_control) {
            return Err(Error::Invalid("agent_tag_prefix is at most 64 characters, without `=`".into()));
        }
    }
    let id = format!("enr-{}", random_hex(8));
    let token = format!("assay_enroll_{}", random_hex(32));
    let expires_at = now() + req.expires_in_seconds * 1000;
    let mut tx = app.store.write().await?;
    let new = tokens::NewEnrollment {
        id: &id,
        hash: &hash(&token),
        uses: req.uses,
        expires_at,
        tags: &req.tags,
        agent_tag_prefix: req.agent_tag_prefix.as_deref(),
        now: now(),
    };
    tokens::insert_enrollment(&mut tx, &new).await?;
    tx.commit().await?;
    let detail = serde_json::json!({ "id": id, "uses": req.uses, "agent_tag_prefix": req.agent_tag_prefix });
    auth::audit(app, &caller.token_id, "enrollment.create", detail).await?;
    let agent_tag_prefix = req.agent_tag_prefix;
    Ok(EnrollmentCreated { id, token, uses: req.uses, expires_at, tags: req.tags, agent_tag_prefix })
}

/// The host an agent was enrolled as: its machine id (or hostname), its
/// tags from enrolment and its addresses from its heartbeats.
pub(crate) async fn enrolled_as(app: &App, agent_id: &str) -> Result<AssetRef> {
    let mut c = app.store.read().await?;
    let agent = rows::get(&mut c, agent_id, app.stale_before()).await?;
    let agent = agent.ok_or_else(|| Error::Internal(format!("no agent `{agent_id}`")))?;
    let tags = rows::tags(&mut c, &[agent_id]).await?;
    let tags: Vec<KeyValue> =
        tags.into_values().flatten().map(|(key, value)| KeyValue { key, value }).collect();
    Ok(AssetRef {
        id: if agent.machine_id.is_empty() { agent.hostname.clone() } else { agent.machine_id.clone() },
        hostname: agent.hostname,
        tags,
        addresses: agent.addresses.0,
    })
}
