//! Templates: the list, a template's versions, and the form that creates
//! one or saves a new version (runs pin the version they started with).

use super::layout::{self, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use assay_api::admin::{Notification, Packages, TemplateBody, TemplateVersions, TemplateView};
use assay_api::{ErrorCode, Event, Page};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

/// What the template form shows: a version, defaults, or what was posted.
#[derive(Default)]
struct Draft {
    name: String,
    target: String,
    packages: Vec<String>,
    minutes: i64,
    attributes: String,
    /// `PACKAGE.NAME=VALUE` lines.
    params: String,
    schedule: String,
    notify_url: String,
    events: Vec<Event>,
}

impl Draft {
    fn of(t: &TemplateView) -> Draft {
        let first = t.notifications.first();
        Draft {
            name: t.name.clone(),
            target: t.target.clone(),
            packages: t.packages.clone(),
            minutes: t.duration_seconds / 60,
            attributes: t.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"),
            params: t
                .params
                .iter()
                .map(|(k, v)| format!("{k}={}", param_text(v)))
                .collect::<Vec<_>>()
                .join("\n"),
            schedule: t.schedule.clone().unwrap_or_default(),
            notify_url: first.map(|n| n.url.clone()).unwrap_or_default(),
            events: first.map(|n| n.events.clone()).unwrap_or_default(),
        }
    }

    fn posted(fields: &Fields) -> Draft {
        Draft {
            name: fields.get("name").to_owned(),
            target: fields.get("target").to_owned(),
            packages: fields.all("package"),
            minutes: fields.get("minutes").parse().unwrap_or(60),
            attributes: fields.get("attributes").to_owned(),
            params: fields.get("params").to_owned(),
            schedule: fields.get("schedule").to_owned(),
            notify_url: fields.get("notify_url").to_owned(),
            events: fields.all("notify_event").iter().filter_map(|e| Event::parse(e).ok()).collect(),
        }
    }
}

pub async fn templates(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let after = param(&q, "after");
    let api = Api::new(&app, &session);
    let list: Page<TemplateView> =
        match api.get(&format!("/v1/templates{}", query(&[("after", after)]))).await {
            Ok(l) => l,
            Err(f) => return layout::failed(&session, "templates", "Templates", f),
        };
    let content = html! {
        p { a.button href="/console/templates/new" { "New template" } }
        @if list.items.is_empty() {
            p.muted { "No template yet." }
        } @else {
            table {
                thead { tr { th { "Template" } th.num { "Version" } th { "Target" } th { "Packages" } th.num { "Duration" } th { "Schedule" } } }
                tbody {
                    @for t in &list.items {
                        tr {
                            td { a href=(format!("/console/templates/{}", segment(&t.name))) { (t.name) } }
                            td.num { (t.version) }
                            td { (t.target) }
                            td { (t.packages.join(", ")) }
                            td.num { (t.duration_seconds / 60) " min" }
                            td { @match &t.schedule { None => span.muted { "—" }, Some(s) => code { (s) } } }
                        }
                    }
                }
            }
            (layout::pager("/console/templates", &[], list.next.as_deref()))
        }
    };
    layout::page(&session, "templates", "Templates", content)
}

/// The form's choices: targets, and packages with their titles.
struct Choices {
    targets: Vec<String>,
    packages: Vec<(String, String)>,
}

async fn choices(api: &Api<'_>) -> Choices {
    let mut targets = Vec::new();
    let mut after = String::new();
    // Every target, page by page.
    loop {
        let uri = format!("/v1/targets{}", query(&[("limit", "1000"), ("after", after.as_str())]));
        let Ok(page) = api.get::<Page<assay_api::admin::TargetView>>(&uri).await else { break };
        targets.extend(page.items.into_iter().map(|t| t.name));
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    let packages = api.get::<Packages>("/v1/packages").await.map(|p| p.items).unwrap_or_default();
    Choices { targets, packages: packages.into_iter().map(|p| (p.name, p.title)).collect() }
}

/// The template form, filled with `t`.
fn form(session: &Session, name: Option<&str>, t: &Draft, choices: &Choices) -> Markup {
    let action = match name {
        Some(n) => format!("/console/templates/{}", segment(n)),
        None => "/console/templates/new".to_owned(),
    };
    html! {
        form.stack method="post" action=(action) {
            (layout::csrf(session))
            @if name.is_none() {
                label { "Name " input type="text" name="name" value=(t.name) required pattern="[A-Za-z0-9._-]{1,128}"; }
            }
            label { "Target "
                select name="target" required {
                    @for target in &choices.targets { option value=(target) selected[&t.target == target] { (target) } }
                }
            }
            fieldset {
                legend { "Rules packages" }
                @for (p, title) in &choices.packages {
                    label.check { input type="checkbox" name="package" value=(p) checked[t.packages.contains(p)]; " " (title) " " code { (p) } }
                }
            }
            label { "Duration (minutes) " input type="number" name="minutes" min="1" max="1440" required value=(t.minutes); }
            label { "Attributes added to every finding (KEY=VALUE, one per line)"
                textarea name="attributes" rows="3" { (t.attributes) } }
            label { "Package parameters (PACKAGE.NAME=VALUE, one per line; a list comma-separated)"
                textarea name="params" rows="2" { (t.params) } }
            label { "Schedule (cron, UTC; empty: runs start by hand) " input type="text" name="schedule" value=(t.schedule) placeholder="0 3 * * *"; }
            fieldset {
                legend { "Notification (webhook signed with HMAC-SHA256)" }
                label { "URL " input type="url" name="notify_url" value=(t.notify_url) placeholder="https://hooks.example/assay"; }
                @for e in Event::ALL {
                    label.check { input type="checkbox" name="notify_event" value=(e) checked[t.events.contains(e)]; " " code { (e) } }
                }
            }
            button type="submit" { @if name.is_some() { "Save as a new version" } @else { "Create template" } }
        }
    }
}

/// A parameter's stored value as the form shows it: `4`, `true`, `a, b`.
fn param_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The API's template body from the form, or what is wrong with it.
fn body(fields: &Fields) -> Result<TemplateBody, String> {
    let attributes = pairs(fields.get("attributes"))?;
    // One per line: a list's value holds commas.
    let mut params = std::collections::BTreeMap::new();
    for line in fields.get("params").lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.insert(k.trim().to_owned(), serde_json::Value::String(v.trim().to_owned()));
            }
            _ => return Err(format!("`{line}` is not PACKAGE.NAME=VALUE")),
        }
    }
    let minutes: i64 =
        fields.get("minutes").parse().map_err(|_| "the duration is a number of minutes".to_owned())?;
    let url = fields.get("notify_url");
    let mut events = Vec::new();
    for e in fields.all("notify_event") {
        events.push(Event::parse(&e).map_err(|e| e.to_string())?);
    }
    let notifications =
        if url.is_empty() { Vec::new() } else { vec![Notification { url: url.to_owned(), events }] };
    let schedule = fields.get("schedule");
    Ok(TemplateBody {
        target: fields.get("target").to_owned(),
        packages: fields.all("package"),
        duration_seconds: minutes.saturating_mul(60),
        attributes,
        params,
        schedule: (!schedule.is_empty()).then(|| schedule.to_owned()),
        notifications,
    })
}

pub async fn new_template(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let choices = choices(&api).await;
    let draft = Draft {
        target: param(&q, "target").to_owned(),
        packages: choices.packages.iter().map(|(p, _)| p.clone()).collect(),
        minutes: 60,
        ..Draft::default()
    };
    let content = html! {
        @if choices.targets.is_empty() { (layout::notice("Create a target first: a template assesses the agents of one target.")) }
        (form(&session, None, &draft, &choices))
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
    app: std::sync::Arc<crate::domain::App>,
    session: Session,
    name: Option<String>,
    fields: Fields,
) -> Response {
    let creating = name.is_none();
    let name = name.unwrap_or_else(|| fields.get("name").to_owned());
    let api = Api::new(&app, &session);
    let title = if creating { "New template".to_owned() } else { format!("Template {name}") };
    let sent = match body(&fields) {
        Ok(b) => {
            api.send::<TemplateView>(
                Method::PUT,
                &format!("/v1/templates/{}", segment(&name)),
                &b,
                fields.get("csrf"),
            )
            .await
        }
        Err(e) => Err(super::failure(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, e)),
    };
    match sent {
        Ok(_) => Redirect::to(&format!("/console/templates/{}", segment(&name))).into_response(),
        Err(f) => {
            let choices = choices(&api).await;
            let content =
                form(&session, (!creating).then_some(name.as_str()), &Draft::posted(&fields), &choices);
            layout::failed_with(&session, "templates", &title, f, content)
        }
    }
}

pub async fn template(State(app): AppState, session: Session, Path(name): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Template {name}");
    let t: TemplateVersions = match api.get(&format!("/v1/templates/{}", segment(&name))).await {
        Ok(t) => t,
        Err(f) => return layout::failed(&session, "templates", &title, f),
    };
    let Some(latest) = t.versions.last() else {
        let f = super::failure(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no template `{name}`"));
        return layout::failed(&session, "templates", &title, f);
    };
    let choices = choices(&api).await;
    let content = html! {
        form.inline method="post" action="/console/runs" {
            (layout::csrf(&session))
            input type="hidden" name="template" value=(name);
            button type="submit" { "Start a run of version " (latest.version) }
        }
        h2 { "Versions" }
        table {
            thead { tr { th.num { "Version" } th { "Target" } th { "Packages" } th.num { "Duration" } th { "Attributes" } th { "Schedule" } th { "Notifications" } th { "Saved" } } }
            tbody {
                @for v in t.versions.iter().rev() {
                    tr {
                        td.num { (v.version) }
                        td { a href=(format!("/console/targets/{}", segment(&v.target))) { (v.target) } }
                        td { (v.packages.join(", ")) }
                        td.num { (v.duration_seconds / 60) " min" }
                        td { (layout::tags(&v.attributes)) }
                        td { @match &v.schedule { None => span.muted { "—" }, Some(s) => code { (s) } } }
                        td { @for n in &v.notifications {
                            (n.url) " (" (n.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")) ")" br;
                        } }
                        td { (time(v.created_at)) }
                    }
                }
            }
        }
        h2 { "Edit (saves version " (latest.version + 1) ")" }
        (form(&session, Some(&name), &Draft::of(latest), &choices))
    };
    layout::page(&session, "templates", &title, content)
}
