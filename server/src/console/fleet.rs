//! Agents (by tag and health), enrolment tokens, and targets with the
//! agents they match now.

use super::layout::{self, text, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

fn tags(v: &Value) -> Markup {
    html! {
        @for (k, val) in v.as_object().into_iter().flatten() {
            span.tag { (k) "=" (text(val)) } " "
        }
    }
}

pub async fn agents(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let (tag, health, after) = (param(&q, "tag"), param(&q, "health"), param(&q, "after"));
    let api = Api::new(&app, &session);
    let filters = [("tag", tag), ("health", health)];
    let mut uri_pairs = filters.to_vec();
    uri_pairs.push(("after", after));
    let list = api.get(&format!("/v1/agents{}", query(&uri_pairs))).await;
    let content = html! {
        form.filters method="get" action="/console/agents" {
            label { "Tag " input type="text" name="tag" value=(tag) placeholder="env=prod or env"; }
            label { "Health "
                select name="health" {
                    option value="" selected[health.is_empty()] { "any" }
                    @for h in ["HEALTHY", "UNHEALTHY", "UNKNOWN"] { option value=(h) selected[health == h] { (h) } }
                }
            }
            button type="submit" { "Filter" }
        }
        @match &list {
            Err(f) => (layout::error(f)),
            Ok(list) => {
                @let items = list["items"].as_array().cloned().unwrap_or_default();
                @if items.is_empty() {
                    p.muted { "No agent matches. " a href="/console/enrollments" { "Enrol agents" } " with an enrolment token." }
                } @else {
                    table {
                        thead { tr { th { "Agent" } th { "Host" } th { "Addresses" } th { "OS" } th { "Tags" } th { "Health" } th { "Last seen" } } }
                        tbody {
                            @for a in &items {
                                tr {
                                    td { code { (text(&a["id"])) } }
                                    td { (text(&a["hostname"])) }
                                    td { @for ip in a["addresses"].as_array().into_iter().flatten() { code { (text(ip)) } " " } }
                                    td { (text(&a["os"])) }
                                    td { (tags(&a["tags"])) }
                                    td { (layout::state(&text(&a["health"]))) " " span.muted { (text(&a["health_code"])) }
                                        @if !text(&a["health_detail"]).is_empty() { br; span.muted { (text(&a["health_detail"])) } } }
                                    td { (time(&a["last_seen"])) }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/agents", &filters, &list["next"]))
                }
            }
        }
    };
    layout::page(&session, "agents", "Agents", content)
}

fn enrollment_form(session: &Session) -> Markup {
    html! {
        form.stack method="post" action="/console/enrollments" {
            (layout::csrf(session))
            label { "Uses " input type="number" name="uses" value="1" min="1" max="100000" required; }
            label { "Expires in (hours) " input type="number" name="hours" value="24" min="1" max="8760" required; }
            label { "Tags for the agents it enrols (KEY=VALUE, one per line)" textarea name="tags" rows="3" placeholder="env=prod" {} }
            button type="submit" { "Create enrolment token" }
        }
    }
}

pub async fn enrollment_page(session: Session) -> Response {
    let content = html! {
        p { "An agent enrols once with a token from here, then keeps the identity in its state directory (docs/agent.md)." }
        (enrollment_form(&session))
    };
    layout::page(&session, "enrollments", "Enrol agents", content)
}

pub async fn create_enrollment(State(app): AppState, session: Session, Form(form): Form<Pairs>) -> Response {
    let fields = Fields(form);
    let title = "Enrol agents";
    let tags = match pairs(fields.get("tags")) {
        Ok(t) => t,
        Err(e) => {
            let f = super::failure(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e);
            return layout::page_with_status(
                &session,
                "enrollments",
                title,
                html! { (layout::error(&f)) (enrollment_form(&session)) },
                f.status,
            );
        }
    };
    let body = json!({
        "uses": fields.get("uses").parse::<i64>().unwrap_or(0),
        "expires_in_seconds": fields.get("hours").parse::<i64>().unwrap_or(0) * 3600,
        "tags": tags,
    });
    let api = Api::new(&app, &session);
    match api.send(Method::POST, "/v1/enrollments", &body, fields.get("csrf")).await {
        Ok(e) => {
            let content = html! {
                (layout::notice("The enrolment token is shown once: copy it now."))
                p { "Token " code #enrollment-token { (text(&e["token"])) } }
                p { "Uses " (text(&e["uses"])) ", expires " (time(&e["expires_at"])) "." }
                p { "On each host:" }
                pre { "assay agent --server https://SERVER:8444 --enroll-token " (text(&e["token"])) " \\\n    --ca-fingerprint " (app.ca_fingerprint()) " --state-dir /var/lib/assay-agent" }
                p { a href="/console/enrollments" { "Create another" } }
            };
            layout::page_with_status(&session, "enrollments", title, content, StatusCode::CREATED)
        }
        Err(f) => layout::failed_with(&session, "enrollments", title, f, enrollment_form(&session)),
    }
}

fn target_form(session: &Session, name: &str, tags: &str) -> Markup {
    html! {
        form.stack method="post" action="/console/targets" {
            h2 { "New target" }
            (layout::csrf(session))
            label { "Name " input type="text" name="name" value=(name) required pattern="[A-Za-z0-9._-]{1,128}"; }
            label { "Tags (KEY or KEY=VALUE, one per line; a host matches when any matches)"
                textarea name="tags" rows="3" required placeholder="env=prod" { (tags) } }
            button type="submit" { "Create target" }
        }
    }
}

fn target_list(list: &Value) -> Markup {
    html! {
        @let items = list["items"].as_array().cloned().unwrap_or_default();
        @if items.is_empty() {
            p.muted { "No target yet." }
        } @else {
            table {
                thead { tr { th { "Target" } th { "Tags (any matches)" } th { "Created" } } }
                tbody {
                    @for t in &items {
                        tr {
                            td { a href=(format!("/console/targets/{}", segment(&text(&t["name"])))) { (text(&t["name"])) } }
                            td { @for f in t["tags"].as_array().into_iter().flatten() {
                                span.tag { (text(&f["key"])) @if !f["value"].is_null() { "=" (text(&f["value"])) } } " " } }
                            td { (time(&t["created_at"])) }
                        }
                    }
                }
            }
            (layout::pager("/console/targets", &[], &list["next"]))
        }
    }
}

pub async fn targets(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let list = match api.get(&format!("/v1/targets{}", query(&[("after", param(&q, "after"))]))).await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "targets", "Targets", f),
    };
    let content = html! { (target_list(&list)) (target_form(&session, "", "")) };
    layout::page(&session, "targets", "Targets", content)
}

pub async fn create_target(State(app): AppState, session: Session, Form(form): Form<Pairs>) -> Response {
    let fields = Fields(form);
    let (name, raw) = (fields.get("name"), fields.get("tags"));
    let filters: Vec<Value> = raw
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => json!({ "key": k.trim(), "value": v.trim() }),
            None => json!({ "key": l }),
        })
        .collect();
    let api = Api::new(&app, &session);
    let body = json!({ "name": name, "tags": filters });
    match api.send(Method::POST, "/v1/targets", &body, fields.get("csrf")).await {
        Ok(_) => Redirect::to(&format!("/console/targets/{}", segment(name))).into_response(),
        Err(f) => {
            let list = api.get("/v1/targets").await.unwrap_or_default();
            let content = html! { (target_list(&list)) (target_form(&session, name, raw)) };
            layout::failed_with(&session, "targets", "Targets", f, content)
        }
    }
}

pub async fn target(State(app): AppState, session: Session, Path(name): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Target {name}");
    let preview = match api.get(&format!("/v1/targets/{}/preview", segment(&name))).await {
        Ok(p) => p,
        Err(f) => return layout::failed(&session, "targets", &title, f),
    };
    let agents = preview["agents"].as_array().cloned().unwrap_or_default();
    let content = html! {
        p { (agents.len()) " agents match now. A run started now would leave out those with a reason." }
        table {
            thead { tr { th { "Agent" } th { "Host" } th { "Tags" } th { "Health" } th { "Excluded from a run now" } } }
            tbody {
                @for a in &agents {
                    tr {
                        td { code { (text(&a["id"])) } }
                        td { (text(&a["hostname"])) }
                        td { (tags(&a["tags"])) }
                        td { (layout::state(&text(&a["health"]))) }
                        td { @if a["excluded"].is_null() { span.muted { "no" } } @else { (text(&a["excluded"])) } }
                    }
                }
            }
        }
        p { a href=(format!("/console/templates/new{}", query(&[("target", &name)]))) { "New template for this target" } }
    };
    layout::page(&session, "targets", &title, content)
}
