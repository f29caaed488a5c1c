//! Agents (by tag and health, and one agent's page), enrolment tokens,
//! and targets with the agents they match now.

use super::layout::{self, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use assay_api::admin::{
    AgentView, EnrollmentCreated, NewEnrollment, NewTarget, TagFilter, TargetPreview, TargetView,
};
use assay_api::{ErrorCode, Health, Page};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

fn agent_link(id: &str) -> Markup {
    html! { a href=(format!("/console/agents/{}", segment(id))) { code { (id) } } }
}

pub async fn agents(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let (tag, health, after) = (param(&q, "tag"), param(&q, "health"), param(&q, "after"));
    let api = Api::new(&app, &session);
    let filters = [("tag", tag), ("health", health)];
    let mut uri_pairs = filters.to_vec();
    uri_pairs.push(("after", after));
    let list = api.get::<Page<AgentView>>(&format!("/v1/agents{}", query(&uri_pairs))).await;
    let content = html! {
        form.filters method="get" action="/console/agents" {
            label { "Tag " input type="text" name="tag" value=(tag) placeholder="env=prod or env"; }
            label { "Health "
                select name="health" {
                    option value="" selected[health.is_empty()] { "any" }
                    @for h in Health::ALL { option value=(h) selected[health == h.as_str()] { (h) } }
                }
            }
            button type="submit" { "Filter" }
        }
        @match &list {
            Err(f) => (layout::error(f)),
            Ok(list) => {
                @if list.items.is_empty() {
                    p.muted { "No agent matches. " a href="/console/enrollments" { "Enrol agents" } " with an enrolment token." }
                } @else {
                    table {
                        thead { tr { th { "Agent" } th { "Host" } th { "Addresses" } th { "OS" } th { "Tags" } th { "Health" } th { "Last seen" } } }
                        tbody {
                            @for a in &list.items {
                                tr {
                                    td { (agent_link(&a.id)) @if !a.same_machine_id.is_empty() { br; (layout::clones(&a.same_machine_id)) } }
                                    td { (a.hostname) }
                                    td { @for ip in &a.addresses { code { (ip) } " " } }
                                    td { (a.os) }
                                    td { (layout::tags(&a.tags)) }
                                    td { (layout::state(a.health)) " " span.muted { (a.health_code) }
                                        @if !a.health_detail.is_empty() { br; span.muted { (a.health_detail) } } }
                                    td { (time(a.last_seen)) }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/agents", &filters, list.next.as_deref()))
                }
            }
        }
    };
    layout::page(&session, "agents", "Agents", content)
}

pub async fn agent(State(app): AppState, session: Session, Path(id): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Agent {id}");
    let a: AgentView = match api.get(&format!("/v1/agents/{}", segment(&id))).await {
        Ok(a) => a,
        Err(f) => return layout::failed(&session, "agents", &title, f),
    };
    let content = html! {
        @if !a.same_machine_id.is_empty() {
            div.notice role="status" {
                "This agent reported the same machine-id as " (layout::clones(&a.same_machine_id)) ": "
                "an image cloned without resetting /etc/machine-id. Both are assessed as separate hosts."
            }
        }
        dl {
            dt { "Host" } dd { (a.hostname) }
            dt { "Health" } dd { (layout::state(a.health)) " " span.muted { (a.health_code) } @if !a.health_detail.is_empty() { " — " (a.health_detail) } }
            dt { "Addresses" } dd { @for ip in &a.addresses { code { (ip) } " " } }
            dt { "OS" } dd { (a.os) }
            dt { "Machine-id" } dd { code { (a.machine_id) } }
            dt { "Tags" } dd { (layout::tags(&a.tags)) }
            dt { "Enrolled" } dd { (time(a.enrolled_at)) }
            dt { "Last seen" } dd { (time(a.last_seen)) }
            @if a.revoked { dt { "Revoked" } dd { (layout::state("revoked")) } }
        }
        p { a href=(format!("/console/findings{}", query(&[("agent", &a.id), ("state", "open")]))) { "Its open findings" } }
        (super::inventory::of_agent(&api, &a.id).await)
    };
    layout::page(&session, "agents", &title, content)
}

fn enrollment_form(session: &Session) -> Markup {
    html! {
        form.stack method="post" action="/console/enrollments" {
            (layout::csrf(session))
            label { "Uses " input type="number" name="uses" value="1" min="1" max="100000" required; }
            label { "Expires in (hours) " input type="number" name="hours" value="24" min="1" max="8760" required; }
            label { "Tags for the agents it enrols (KEY=VALUE, one per line)" textarea name="tags" rows="3" placeholder="env=prod" {} }
            label { "Tags the agents may add themselves: keys starting with (empty: none; * for any) "
                input type="text" name="agent_tag_prefix" maxlength="64" placeholder="team."; }
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
            let f = super::failure(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, e);
            let content = html! { (layout::error(&f)) (enrollment_form(&session)) };
            return layout::page_with_status(&session, "enrollments", title, content, f.status);
        }
    };
    let body = NewEnrollment {
        uses: fields.get("uses").parse().unwrap_or(0),
        expires_in_seconds: fields.get("hours").parse::<i64>().unwrap_or(0).saturating_mul(3600),
        tags,
        agent_tag_prefix: match fields.get("agent_tag_prefix") {
            "" => None,
            "*" => Some(String::new()),
            prefix => Some(prefix.to_owned()),
        },
    };
    let api = Api::new(&app, &session);
    match api.send::<EnrollmentCreated>(Method::POST, "/v1/enrollments", &body, fields.get("csrf")).await {
        Ok(e) => {
            let content = html! {
                (layout::notice("The enrolment token is shown once: copy it now."))
                p { "Token " code #enrollment-token { (e.token) } }
                p { "Uses " (e.uses) ", expires " (time(e.expires_at)) "." }
                p { "On each host:" }
                pre { "assay agent --server https://SERVER:8444 --enroll-token " (e.token) " \\\n    --ca-fingerprint " (app.ca_fingerprint()) " --state-dir /var/lib/assay-agent" }
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

fn criteria(tags: &[TagFilter]) -> Markup {
    html! { @for f in tags { span.tag { (f) } " " } }
}

fn target_list(list: &Page<TargetView>) -> Markup {
    html! {
        @if list.items.is_empty() {
            p.muted { "No target yet." }
        } @else {
            table {
                thead { tr { th { "Target" } th { "Tags (any matches)" } th { "Created" } } }
                tbody {
                    @for t in &list.items {
                        tr {
                            td { a href=(format!("/console/targets/{}", segment(&t.name))) { (t.name) } }
                            td { (criteria(&t.tags)) }
                            td { (time(t.created_at)) }
                        }
                    }
                }
            }
            (layout::pager("/console/targets", &[], list.next.as_deref()))
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
    let tags: Vec<TagFilter> = raw
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => TagFilter { key: k.trim().to_owned(), value: Some(v.trim().to_owned()) },
            None => TagFilter { key: l.to_owned(), value: None },
        })
        .collect();
    let api = Api::new(&app, &session);
    let body = NewTarget { name: name.to_owned(), tags };
    match api.send::<TargetView>(Method::POST, "/v1/targets", &body, fields.get("csrf")).await {
        Ok(_) => Redirect::to(&format!("/console/targets/{}", segment(name))).into_response(),
        Err(f) => {
            let list = api.get("/v1/targets").await.unwrap_or(Page { items: Vec::new(), next: None });
            let content = html! { (target_list(&list)) (target_form(&session, name, raw)) };
            layout::failed_with(&session, "targets", "Targets", f, content)
        }
    }
}

pub async fn target(State(app): AppState, session: Session, Path(name): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Target {name}");
    let preview: TargetPreview = match api.get(&format!("/v1/targets/{}/preview", segment(&name))).await {
        Ok(p) => p,
        Err(f) => return layout::failed(&session, "targets", &title, f),
    };
    let content = html! {
        p.criteria { "Agents with any of " (criteria(&preview.tags)) }
        p { (preview.agents.len()) " agents match now. A run started now would leave out those with a reason." }
        table {
            thead { tr { th { "Agent" } th { "Host" } th { "Tags" } th { "Health" } th { "Excluded from a run now" } } }
            tbody {
                @for p in &preview.agents {
                    tr {
                        td { (agent_link(&p.agent.id)) }
                        td { (p.agent.hostname) }
                        td { (layout::tags(&p.agent.tags)) }
                        td { (layout::state(p.agent.health)) }
                        td { @match &p.excluded { None => span.muted { "no" }, Some(why) => (why) } }
                    }
                }
            }
        }
        p { a href=(format!("/console/templates/new{}", query(&[("target", &name)]))) { "New template for this target" } }
    };
    layout::page(&session, "targets", &title, content)
}
