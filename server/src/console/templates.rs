//! Templates: the list, a template's versions, and the form that creates
//! one or saves a new version (runs pin the version they started with).

use super::layout::{self, text, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

fn list_of(v: &Value) -> String {
    v.as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

fn attributes_text(v: &Value) -> String {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn templates(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let after = param(&q, "after");
    let api = Api::new(&app, &session);
    let list = match api.get(&format!("/v1/templates{}", query(&[("after", after)]))).await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "templates", "Templates", f),
    };
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let content = html! {
        p { a.button href="/console/templates/new" { "New template" } }
        @if items.is_empty() {
            p.muted { "No template yet." }
        } @else {
            table {
                thead { tr { th { "Template" } th.num { "Version" } th { "Target" } th { "Packages" } th.num { "Duration" } th { "Schedule" } } }
                tbody {
                    @for t in &items {
                        tr {
                            td { a href=(format!("/console/templates/{}", segment(&text(&t["name"])))) { (text(&t["name"])) } }
                            td.num { (text(&t["version"])) }
                            td { (text(&t["target"])) }
                            td { (list_of(&t["packages"])) }
                            td.num { (t["duration_seconds"].as_i64().unwrap_or(0) / 60) " min" }
                            td { @if t["schedule"].is_null() { span.muted { "—" } } @else { code { (text(&t["schedule"])) } } }
                        }
                    }
                }
            }
            (layout::pager("/console/templates", &[], &list["next"]))
        }
    };
    layout::page(&session, "templates", "Templates", content)
}

/// The form's choices: targets and packages from the API.
async fn choices(api: &Api<'_>) -> (Vec<String>, Vec<(String, String)>) {
    let targets = api.get("/v1/targets?limit=1000").await.unwrap_or_default();
    let packages = api.get("/v1/packages").await.unwrap_or_default();
    (
        targets["items"].as_array().into_iter().flatten().map(|t| text(&t["name"])).collect(),
        packages["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (text(&p["name"]), text(&p["title"])))
            .collect(),
    )
}

/// The template form, filled with `t` (a version, or what was posted).
fn form(
    session: &Session,
    name: Option<&str>,
    t: &Value,
    choices: &(Vec<String>, Vec<(String, String)>),
) -> Markup {
    let chosen: Vec<String> = t["packages"].as_array().into_iter().flatten().map(text).collect();
    let notification = &t["notifications"][0];
    let events: Vec<String> = notification["events"].as_array().into_iter().flatten().map(text).collect();
    let action = match name {
        Some(n) => format!("/console/templates/{}", segment(n)),
        None => "/console/templates/new".to_owned(),
    };
    html! {
        form.stack method="post" action=(action) {
            (layout::csrf(session))
            @if name.is_none() {
                label { "Name " input type="text" name="name" value=(text(&t["name"])) required pattern="[A-Za-z0-9._-]{1,128}"; }
            }
            label { "Target "
                select name="target" required {
                    @for target in &choices.0 { option value=(target) selected[t["target"] == target.as_str()] { (target) } }
                }
            }
            fieldset {
                legend { "Rules packages" }
                @for (p, title) in &choices.1 {
                    label.check { input type="checkbox" name="package" value=(p) checked[chosen.contains(p)]; " " (title) " " code { (p) } }
                }
            }
            label { "Duration (minutes) " input type="number" name="minutes" min="1" max="1440" required
                value=(t["duration_seconds"].as_i64().map_or(60, |s| s / 60)); }
            label { "Attributes added to every finding (KEY=VALUE, one per line)"
                textarea name="attributes" rows="3" { (attributes_text(&t["attributes"])) } }
            label { "Schedule (cron, UTC; empty: runs start by hand) " input type="text" name="schedule" value=(text(&t["schedule"])) placeholder="0 3 * * *"; }
            fieldset {
                legend { "Notification (webhook signed with HMAC-SHA256)" }
                label { "URL " input type="url" name="notify_url" value=(text(&notification["url"])) placeholder="https://hooks.example/assay"; }
                @for e in crate::notify::EVENTS {
                    label.check { input type="checkbox" name="notify_event" value=(e) checked[events.iter().any(|x| x == e)]; " " code { (e) } }
                }
            }
            button type="submit" { @if name.is_some() { "Save as a new version" } @else { "Create template" } }
        }
    }
}

/// The API's template body from the form, or what is wrong with it.
fn body(fields: &Fields) -> Result<Value, String> {
    let attributes = pairs(fields.get("attributes"))?;
    let minutes: i64 =
        fields.get("minutes").parse().map_err(|_| "the duration is a number of minutes".to_owned())?;
    let url = fields.get("notify_url");
    let notifications = if url.is_empty() {
        json!([])
    } else {
        json!([{ "url": url, "events": fields.all("notify_event") }])
    };
    let schedule = fields.get("schedule");
    Ok(json!({
        "target": fields.get("target"),
        "packages": fields.all("package"),
        "duration_seconds": minutes * 60,
        "attributes": attributes,
        "schedule": (!schedule.is_empty()).then_some(schedule),
        "notifications": notifications,
    }))
}

pub async fn new_template(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let choices = choices(&api).await;
    let target = param(&q, "target").to_owned();
    let all: Vec<String> = choices.1.iter().map(|(p, _)| p.clone()).collect();
    let t = json!({ "target": target, "packages": all, "duration_seconds": 3600 });
    let content = html! {
        @if choices.0.is_empty() { (layout::notice("Create a target first: a template assesses the agents of one target.")) }
        (form(&session, None, &t, &choices))
    };
    layout::page(&session, "templates", "New template", content)
}

pub async fn create_template(State(app): AppState, session: Session, Form(fields): Form<Pairs>) -> Response {
    save(app, session, None, Fields(fields)).await
}

pub async fn put_template(
    State(app): AppState,
    session: Session,
    Path(name): Path<String>,
    Form(fields): Form<Pairs>,
) -> Response {
    save(app, session, Some(name), Fields(fields)).await
}

/// Creates a template (`name` from the form) or saves a new version of
/// `name`.
async fn save(
    app: std::sync::Arc<crate::App>,
    session: Session,
    name: Option<String>,
    fields: Fields,
) -> Response {
    let creating = name.is_none();
    let name = name.unwrap_or_else(|| fields.get("name").to_owned());
    let api = Api::new(&app, &session);
    let title = if creating { "New template".to_owned() } else { format!("Template {name}") };
    let posted = |fields: &Fields| {
        let mut t = body(fields).unwrap_or_else(|_| json!({}));
        t["name"] = json!(fields.get("name"));
        t
    };
    let sent = match body(&fields) {
        Ok(b) => {
            api.send(Method::PUT, &format!("/v1/templates/{}", segment(&name)), &b, fields.get("csrf")).await
        }
        Err(e) => Err(super::failure(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e)),
    };
    match sent {
        Ok(_) => Redirect::to(&format!("/console/templates/{}", segment(&name))).into_response(),
        Err(f) => {
            let choices = choices(&api).await;
            let content = form(&session, (!creating).then_some(name.as_str()), &posted(&fields), &choices);
            layout::failed_with(&session, "templates", &title, f, content)
        }
    }
}

pub async fn template(State(app): AppState, session: Session, Path(name): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Template {name}");
    let t = match api.get(&format!("/v1/templates/{}", segment(&name))).await {
        Ok(t) => t,
        Err(f) => return layout::failed(&session, "templates", &title, f),
    };
    let versions = t["versions"].as_array().cloned().unwrap_or_default();
    let latest = versions.last().cloned().unwrap_or_default();
    let choices = choices(&api).await;
    let content = html! {
        form.inline method="post" action="/console/runs" {
            (layout::csrf(&session))
            input type="hidden" name="template" value=(name);
            button type="submit" { "Start a run of version " (text(&latest["version"])) }
        }
        h2 { "Versions" }
        table {
            thead { tr { th.num { "Version" } th { "Target" } th { "Packages" } th.num { "Duration" } th { "Attributes" } th { "Schedule" } th { "Notifications" } th { "Saved" } } }
            tbody {
                @for v in versions.iter().rev() {
                    tr {
                        td.num { (text(&v["version"])) }
                        td { a href=(format!("/console/targets/{}", segment(&text(&v["target"])))) { (text(&v["target"])) } }
                        td { (list_of(&v["packages"])) }
                        td.num { (v["duration_seconds"].as_i64().unwrap_or(0) / 60) " min" }
                        td { @for (k, val) in v["attributes"].as_object().into_iter().flatten() { span.tag { (k) "=" (text(val)) } " " } }
                        td { @if v["schedule"].is_null() { span.muted { "—" } } @else { code { (text(&v["schedule"])) } } }
                        td { @for n in v["notifications"].as_array().into_iter().flatten() { (text(&n["url"])) " (" (list_of(&n["events"])) ")" br; } }
                        td { (time(&v["created_at"])) }
                    }
                }
            }
        }
        h2 { "Edit (saves version " (latest["version"].as_i64().unwrap_or(0) + 1) ")" }
        (form(&session, Some(&name), &latest, &choices))
    };
    layout::page(&session, "templates", &title, content)
}
