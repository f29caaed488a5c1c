//! Targets: agents picked by tag (an agent is in a target when ANY of its
//! criteria matches), their preview, and their deletion.

use super::agents::{self as fleet, valid_tag, MAX_TAGS};
use super::auth::{self, Caller};
use super::{packages, valid_name, App, Error, PageRequest, Result};
use crate::ids::now;
use crate::store::{agents, runs, targets as rows, templates};
use assay_api::admin::{Deleted, NewTarget, PreviewAgent, TagFilter, TargetPreview, TargetTags, TargetView};
use assay_api::{Health, Page, Role};
use serde_json::json;
use std::collections::BTreeMap;

fn view(t: rows::Target) -> TargetView {
    TargetView { name: t.name, tags: t.tags.0, created_at: t.created_at }
}

/// Checks a target's criteria.
fn valid_criteria(tags: &[TagFilter]) -> Result<()> {
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(Error::Invalid(format!(
            "a target needs 1 to {MAX_TAGS} tags (a host matches when any matches)"
        )));
    }
    tags.iter().try_for_each(|t| valid_tag(&t.key, t.value.as_deref()))
}

/// `POST /v1/targets`.
pub(crate) async fn create(app: &App, caller: &Caller, req: NewTarget) -> Result<TargetView> {
    caller.require(Role::Operator)?;
    valid_name("target", &req.name)?;
    valid_criteria(&req.tags)?;
    let mut tx = app.store.write().await?;
    if rows::count(&mut tx).await? >= app.config.max_targets {
        return Err(Error::Conflict(format!("the limit of {} targets is reached", app.config.max_targets)));
    }
    let at = now();
    if !rows::create(&mut tx, &req.name, &req.tags, at).await? {
        return Err(Error::Conflict(format!("target `{}` exists", req.name)));
    }
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "target.create", json!({ "name": req.name })).await?;
    Ok(TargetView { name: req.name, tags: req.tags, created_at: at })
}

/// `PUT /v1/targets/{name}`: new tag criteria for a target; runs that
/// started keep the agents they picked.
pub(crate) async fn update(app: &App, caller: &Caller, name: &str, req: TargetTags) -> Result<TargetView> {
    caller.require(Role::Operator)?;
    valid_criteria(&req.tags)?;
    let mut tx = app.store.write().await?;
    if !rows::set_tags(&mut tx, name, &req.tags).await? {
        return Err(Error::NotFound(format!("no target `{name}`")));
    }
    let target = rows::get(&mut tx, name).await?.ok_or_else(|| Error::Internal("vanished".into()))?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "target.update", json!({ "name": name, "tags": req.tags })).await?;
    Ok(view(target))
}

/// `GET /v1/targets`: by name.
pub(crate) async fn list(app: &App, caller: &Caller, page: &PageRequest) -> Result<Page<TargetView>> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let items: Vec<TargetView> =
        rows::list(&mut c, page.after(), page.limit()).await?.into_iter().map(view).collect();
    let next = page.next(&items, |t| t.name.clone());
    Ok(Page { items, next })
}

/// `DELETE /v1/targets/{name}`: refused while a template assesses it or
/// a run of it has not finished; the template versions that named it
/// keep their history.
pub(crate) async fn delete(app: &App, caller: &Caller, name: &str) -> Result<Deleted> {
    caller.require(Role::Operator)?;
    let mut tx = app.store.write().await?;
    if rows::get(&mut tx, name).await?.is_none() {
        return Err(Error::NotFound(format!("no target `{name}`")));
    }
    let using = rows::templates_using(&mut tx, name).await?;
    if !using.is_empty() {
        return Err(Error::Conflict(format!(
            "target `{name}` is assessed by templates {}: delete them or point them elsewhere first",
            using.join(", ")
        )));
    }
    let running = runs::unfinished_of_target(&mut tx, name).await?;
    if !running.is_empty() {
        return Err(Error::Conflict(format!(
            "target `{name}` is in runs {} that have not finished",
            running.join(", ")
        )));
    }
    rows::delete(&mut tx, name, now()).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "target.delete", json!({ "name": name })).await?;
    Ok(Deleted { name: name.to_owned(), deleted: true })
}

/// `GET /v1/targets/{name}/preview`: the agents the target matches now,
/// why a run started now would leave any out, and with `template` which
/// of its packages would skip each.
pub(crate) async fn preview(
    app: &App,
    caller: &Caller,
    name: &str,
    template: Option<&str>,
) -> Result<TargetPreview> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let packages: Vec<String> = match template {
        None => Vec::new(),
        Some(t) => {
            let found = templates::latest(&mut c, t).await?;
            found.ok_or_else(|| Error::NotFound(format!("no template `{t}`")))?.packages.0
        }
    };
    let mut resolved = Vec::new();
    for requirement in &packages {
        resolved.push(packages::resolve(&mut c, requirement, false).await?);
    }
    let selection = packages::select(app, &mut c, &resolved).await?;
    let target =
        rows::get(&mut c, name).await?.ok_or_else(|| Error::NotFound(format!("no target `{name}`")))?;
    let matching = agents::matching(&mut c, &target.tags.0, app.stale_before()).await?;
    let oses: BTreeMap<String, String> = matching.iter().map(|a| (a.id.clone(), a.os.clone())).collect();
    let held: BTreeMap<String, String> =
        runs::locks(&mut c).await?.into_iter().map(|l| (l.agent_id, l.run_id)).collect();
    let views = fleet::views(&mut c, matching).await?;
    let agents = views
        .into_iter()
        .map(|agent| {
            let excluded = match (held.get(&agent.id), agent.health) {
                (Some(run), _) => Some(format!("already in run {run}")),
                (None, Health::Unknown) => Some("no heartbeat recently: the agent is UNKNOWN".to_owned()),
                (None, Health::Unhealthy) => Some(format!("the agent is UNHEALTHY ({})", agent.health_code)),
                (None, Health::Healthy) => None,
            };
            let os = oses.get(&agent.id).map(String::as_str).unwrap_or_default();
            let packages_excluded = packages::unsupported(&selection, os);
            PreviewAgent { agent, excluded, packages_excluded }
        })
        .collect();
    Ok(TargetPreview { target: target.name, tags: target.tags.0, agents })
}
