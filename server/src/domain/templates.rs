//! Templates: a target, rules packages, a duration, attributes, a
//! schedule and webhooks. Saving one makes a new version (runs pin the
//! version they started with, so an edit never changes a run in
//! progress); deleting one keeps its versions for the runs that used them.

use super::auth::{self, Caller};
use super::{notify, packages, schedules, valid_name, App, Error, PageRequest, Result};
use crate::ids::now;
use crate::store::{runs, targets, templates as rows, Json};
use assay_api::admin::{Deleted, TemplateBody, TemplateVersions, TemplateView};
use assay_api::{Page, Role};
use serde_json::json;

pub(crate) fn view(t: rows::Template) -> TemplateView {
    TemplateView {
        name: t.name,
        version: t.version,
        target: t.target,
        packages: t.packages.0,
        duration_seconds: t.duration_seconds,
        attributes: t.attributes.0,
        params: t.params.0,
        schedule: t.schedule,
        notifications: t.notifications.0,
        created_at: t.created_at,
    }
}

/// `PUT /v1/templates/{name}`: a template, or a new version of it; and
/// whether it is new.
pub(crate) async fn put(
    app: &App,
    caller: &Caller,
    name: &str,
    mut req: TemplateBody,
) -> Result<(bool, TemplateView)> {
    caller.require(Role::Operator)?;
    valid_name("template", name)?;
    if req.packages.is_empty() {
        let known: Vec<&str> = app.bundle.content.packages.iter().map(|p| p.name.as_str()).collect();
        return Err(Error::Invalid(format!("a template needs at least one package: {}", known.join(", "))));
    }
    if req.packages.len() > 100 {
        return Err(Error::Invalid("a template names at most 100 packages".into()));
    }
    if req.params.len() > 100
        || req.params.iter().any(|(k, v)| k.is_empty() || k.len() > 256 || v.to_string().len() > 4096)
    {
        return Err(Error::Invalid(
            "at most 100 parameters, names of 1 to 256 characters and values of at most 4 KiB".into(),
        ));
    }
    {
        // Every requirement must name a version that is published and
        // not yanked now; runs resolve them again when they start. The
        // parameters must be those packages' and of their types.
        let mut c = app.store.read().await?;
        let mut exact = Vec::with_capacity(req.packages.len());
        for requirement in &req.packages {
            exact.push(packages::resolve(&mut c, requirement, true).await?);
        }
        if !req.params.is_empty() {
            let selection = packages::select(app, &mut c, &exact).await?;
            let contents: Vec<_> = selection.iter().map(|(b, _)| &b.content).collect();
            let given: Vec<(String, serde_json::Value)> =
                std::mem::take(&mut req.params).into_iter().collect();
            req.params = assay_model::bundle::params::canonical(&contents, &given).map_err(Error::Invalid)?;
        }
    }
    if !(60..=86_400).contains(&req.duration_seconds) {
        return Err(Error::Invalid("duration_seconds must be 60 (1 minute) to 86400 (a day)".into()));
    }
    if req.attributes.len() > 50
        || req.attributes.iter().any(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256)
    {
        return Err(Error::Invalid(
            "at most 50 attributes, keys of 1 to 128 and values of at most 256 characters".into(),
        ));
    }
    notify::validate(&req.notifications, &app.config.allow_webhook_to)?;
    let next_run = match &req.schedule {
        Some(cron) => Some(schedules::next_fire(cron, now()).map_err(Error::Invalid)?),
        None => None,
    };
    let mut tx = app.store.write().await?;
    if targets::get(&mut tx, &req.target).await?.is_none() {
        return Err(Error::NotFound(format!("no target `{}`", req.target)));
    }
    let live = rows::latest(&mut tx, name).await?.is_some();
    if !live && rows::count(&mut tx).await? >= app.config.max_templates {
        return Err(Error::Conflict(format!(
            "the limit of {} templates is reached",
            app.config.max_templates
        )));
    }
    let template = rows::Template {
        name: name.to_owned(),
        version: rows::next_version(&mut tx, name).await?,
        target: req.target,
        packages: Json(req.packages),
        duration_seconds: req.duration_seconds,
        attributes: Json(req.attributes),
        params: Json(req.params),
        schedule: req.schedule,
        notifications: Json(req.notifications),
        created_at: now(),
    };
    rows::insert(&mut tx, &template).await?;
    let schedule = template.schedule.as_deref().zip(next_run);
    rows::set_schedule(&mut tx, name, schedule).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "template.put", json!({ "name": name, "version": template.version }))
        .await?;
    Ok((!live, view(template)))
}

/// `GET /v1/templates`: the latest version of each, by name.
pub(crate) async fn list(app: &App, caller: &Caller, page: &PageRequest) -> Result<Page<TemplateView>> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let items: Vec<TemplateView> =
        rows::list(&mut c, page.after(), page.limit()).await?.into_iter().map(view).collect();
    let next = page.next(&items, |t| t.name.clone());
    Ok(Page { items, next })
}

/// `GET /v1/templates/{name}`: every version, oldest first.
pub(crate) async fn get(app: &App, caller: &Caller, name: &str) -> Result<TemplateVersions> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let versions = rows::versions(&mut c, name).await?;
    if versions.is_empty() {
        return Err(Error::NotFound(format!("no template `{name}`")));
    }
    Ok(TemplateVersions { name: name.to_owned(), versions: versions.into_iter().map(view).collect() })
}

/// `DELETE /v1/templates/{name}`: refused while a run of it has not
/// finished; its schedule ends.
pub(crate) async fn delete(app: &App, caller: &Caller, name: &str) -> Result<Deleted> {
    caller.require(Role::Operator)?;
    let mut tx = app.store.write().await?;
    if rows::latest(&mut tx, name).await?.is_none() {
        return Err(Error::NotFound(format!("no template `{name}`")));
    }
    let running = runs::unfinished_of_template(&mut tx, name).await?;
    if !running.is_empty() {
        return Err(Error::Conflict(format!(
            "template `{name}` has runs that have not finished: {}; stop them first",
            running.join(", ")
        )));
    }
    rows::delete(&mut tx, name, now()).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "template.delete", json!({ "name": name })).await?;
    Ok(Deleted { name: name.to_owned(), deleted: true })
}
