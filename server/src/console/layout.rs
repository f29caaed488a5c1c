//! The page shell (navigation, the session's role, logout) and the small
//! pieces every page uses: times, severities, states, errors, pagers.

use super::{Failure, Session};
use assay_api::Severity;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};

const NAV: [(&str, &str, &str); 11] = [
    ("overview", "/console", "Overview"),
    ("agents", "/console/agents", "Agents"),
    ("targets", "/console/targets", "Targets"),
    ("templates", "/console/templates", "Templates"),
    ("runs", "/console/runs", "Runs"),
    ("findings", "/console/findings", "Findings"),
    ("inventory", "/console/inventory", "Installed software"),
    ("packages", "/console/packages", "Rules packages"),
    ("audit", "/console/audit", "Audit log"),
    ("enrollments", "/console/enrollments", "Enrol agents"),
    ("tokens", "/console/tokens", "API tokens"),
];

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Assay" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// A console page: `active` names the navigation entry it belongs to.
pub fn page(session: &Session, active: &str, title: &str, content: Markup) -> Response {
    page_with_status(session, active, title, content, StatusCode::OK)
}

pub fn page_with_status(
    session: &Session,
    active: &str,
    title: &str,
    content: Markup,
    status: StatusCode,
) -> Response {
    let body = html! {
        a.skip href="#main" { "Skip to content" }
        header.top {
            a.brand href="/console" { "Assay" }
            nav aria-label="Console" {
                ul {
                    @for (key, href, label) in NAV {
                        li { a href=(href) aria-current=[(key == active).then_some("page")] { (label) } }
                    }
                }
            }
            form.logout method="post" action="/console/logout" {
                span.role title=(format!("token {}", session.token_id)) { (session.role.as_str()) }
                input type="hidden" name="csrf" value=(session.csrf);
                button type="submit" { "Log out" }
            }
        }
        main #main {
            h1 { (title) }
            (content)
        }
    };
    (status, Html(document(title, body).into_string())).into_response()
}

/// The answer to a failed API call: the login page when the session has
/// ended, otherwise the page with the error in place of its content.
pub fn failed(session: &Session, active: &str, title: &str, failure: Failure) -> Response {
    failed_with(session, active, title, failure, html! {})
}

/// As `failed`, with `content` (the form again, as posted) below the error.
pub fn failed_with(
    session: &Session,
    active: &str,
    title: &str,
    failure: Failure,
    content: Markup,
) -> Response {
    if failure.status == StatusCode::UNAUTHORIZED {
        return Redirect::to("/console/login").into_response();
    }
    let status = failure.status;
    page_with_status(session, active, title, html! { (error(&failure)) (content) }, status)
}

/// An error banner: the API's message, its code, and the agents and runs
/// an overlap names.
pub fn error(failure: &Failure) -> Markup {
    html! {
        div.error role="alert" {
            p { strong { (failure.message) } " " span.code { "(" (failure.code) ", " (failure.status.as_u16()) ")" } }
            @if let Some(details) = &failure.details {
                ul {
                    @for a in &details.agents {
                        li { "agent " code { (a.agent) } " is in run " a href=(format!("/console/runs/{}", super::segment(&a.run))) { (a.run) } }
                    }
                }
            }
        }
    }
}

pub fn notice(message: &str) -> Markup {
    html! { div.notice role="status" { (message) } }
}

/// A page for a request that has no session to show a shell with.
pub fn bare_error(message: &str) -> Response {
    let body = html! { main #main { h1 { "Assay" } div.error role="alert" { p { (message) } } p { a href="/console/login" { "Log in" } } } };
    (StatusCode::FORBIDDEN, Html(document("Error", body).into_string())).into_response()
}

pub fn login(message: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        main #main.login {
            h1 { "Assay console" }
            @if let Some(m) = message { div.error role="alert" { p { (m) } } }
            form method="post" action="/console/login" {
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="off" required
                    placeholder="assay_…" aria-describedby="token-help";
                p #token-help.help {
                    "An API token from " code { "assay fleet token create --role ROLE" }
                    " (or the admin token the first start printed). The console acts with its role."
                }
                button type="submit" { "Log in" }
            }
        }
    };
    (status, Html(document("Log in", body).into_string())).into_response()
}

/// A millisecond timestamp as UTC.
pub fn time(ms: i64) -> Markup {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } },
        None => html! { span.muted { "—" } },
    }
}

/// A timestamp that may not be there yet.
pub fn maybe_time(ms: Option<i64>) -> Markup {
    match ms {
        Some(ms) => time(ms),
        None => html! { span.muted { "—" } },
    }
}

pub fn severity(s: Severity) -> Markup {
    html! { span class=(format!("sev sev-{s}")) { (s) } }
}

/// A state, health or status word, coloured by what it means.
pub fn state(s: impl std::fmt::Display) -> Markup {
    let s = s.to_string();
    let kind = match s.as_str() {
        "COMPLETED" | "HEALTHY" | "open" | "delivered" => "good",
        "COMPLETED_WITH_ERRORS" | "UNKNOWN" | "waived" | "STOP_DATA_COLLECTION_PENDING" | "missing" => "warn",
        "FAILED" | "ERROR" | "CANCELED" | "UNHEALTHY" | "revoked" => "bad",
        "resolved" => "muted",
        _ => "busy",
    };
    html! { span class=(format!("state state-{kind}")) { (s) } }
}

/// Tags as `key=value` chips.
pub fn tags(tags: &std::collections::BTreeMap<String, String>) -> Markup {
    html! { @for (k, v) in tags { span.tag { (k) "=" (v) } " " } }
}

/// The other agents of a cloned image, linked.
pub fn clones(same: &[String]) -> Markup {
    html! {
        @if !same.is_empty() {
            span.clone title="Several agents reported this machine-id at enrolment: a cloned image" {
                "same machine-id as "
                @for (i, id) in same.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href=(format!("/console/agents/{}", super::segment(id))) { code { (id) } }
                }
            }
        }
    }
}

/// Backticked words of rule documentation as code, the rest as text.
pub fn prose(s: &str) -> Markup {
    html! {
        @for (i, part) in s.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// The link to the next page of a cursor-paged list, keeping the filters.
pub fn pager(base: &str, filters: &[(&str, &str)], next: Option<&str>) -> Markup {
    let Some(after) = next else { return html! {} };
    let mut pairs = filters.to_vec();
    pairs.push(("after", after));
    html! { nav.pager aria-label="Pages" { a rel="next" href=(format!("{base}{}", super::query(&pairs))) { "Next page →" } } }
}

/// Hidden CSRF field of a session's forms.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}
