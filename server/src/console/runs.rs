//! Runs: the list, starting one, a run followed live to its end (its
//! actions, state timeline, each agent's collection and evaluation,
//! exclusions, deliveries, findings so far), stopping, and its reports.

use super::layout::{self, maybe_time, time};
use super::{param, query, segment, Api, AppState, Fields, Pairs, Session};
use assay_api::admin::{NewRun, RunSummary, RunView, StopRun, TemplateView};
use assay_api::{Page, RunState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

fn run_link(id: &str) -> String {
    format!("/console/runs/{}", segment(id))
}

pub async fn runs(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let list: Page<RunSummary> =
        match api.get(&format!("/v1/runs{}", query(&[("after", param(&q, "after"))]))).await {
            Ok(l) => l,
            Err(f) => return layout::failed(&session, "runs", "Runs", f),
        };
    let templates =
        api.get::<Page<TemplateView>>("/v1/templates?limit=1000").await.map(|p| p.items).unwrap_or_default();
    let content = html! {
        form.inline method="post" action="/console/runs" {
            (layout::csrf(&session))
            label { "Template "
                select name="template" required {
                    @for t in &templates { option value=(t.name) { (t.name) " (v" (t.version) ")" } }
                }
            }
            button type="submit" { "Start run" }
        }
        @if list.items.is_empty() {
            p.muted { "No run yet." }
        } @else {
            table {
                thead { tr { th { "Run" } th { "Template" } th { "State" } th { "Started" } th { "Finished" } } }
                tbody {
                    @for r in &list.items {
                        tr {
                            td { a href=(run_link(&r.id)) { (r.id) } }
                            td { (r.template) " v" (r.template_version) }
                            td { (layout::state(r.state)) }
                            td { (time(r.created_at)) }
                            td { (maybe_time(r.finished_at)) }
                        }
                    }
                }
            }
            (layout::pager("/console/runs", &[], list.next.as_deref()))
        }
    };
    layout::page(&session, "runs", "Runs", content)
}

pub async fn start_run(State(app): AppState, session: Session, Form(form): Form<Pairs>) -> Response {
    let fields = Fields(form);
    let api = Api::new(&app, &session);
    let body = NewRun { template: fields.get("template").to_owned() };
    match api.send::<RunView>(Method::POST, "/v1/runs", &body, fields.get("csrf")).await {
        Ok(run) => Redirect::to(&run_link(&run.id)).into_response(),
        Err(f) => layout::failed(&session, "runs", "The run did not start", f),
    }
}

/// What changes while a run goes on; the page polls it (console.js) until
/// the run is final.
fn progress(session: &Session, run: &RunView) -> Markup {
    let finished = run.state.is_final();
    let link = run_link(&run.id);
    let collecting = run.state == RunState::Created || run.state.is_collecting();
    html! {
        div.progress data-state=(run.state) data-final=(finished) {
            @if collecting {
                div.actions {
                    form.inline method="post" action=(format!("{link}/stop")) data-confirm="Stop collecting and evaluate what arrived?" {
                        (layout::csrf(session)) button type="submit" { "Stop and evaluate" }
                    }
                    form.inline method="post" action=(format!("{link}/stop")) data-confirm="Cancel the run without evaluating?" {
                        (layout::csrf(session)) input type="hidden" name="skip_evaluation" value="true";
                        button.danger type="submit" { "Stop without evaluating" }
                    }
                }
            }
            @if finished {
                div.actions {
                    "Reports: "
                    a.button href=(format!("{link}/report?format=html")) download { "Findings report (HTML)" } " "
                    a.button href=(format!("{link}/report?format=json")) download { "Findings report (JSON)" } " "
                    a.button href=(format!("{link}/report?format=html&full=true")) download { "Full report (HTML)" } " "
                    a.button href=(format!("{link}/report?format=json&full=true")) download { "Full report (JSON)" } " "
                    a href=(format!("/console/findings{}", query(&[("run", &run.id)]))) { "Findings of this run's hosts" }
                }
            } @else {
                p.muted { "This page follows the run as it goes." }
            }
            p.now { "State " (layout::state(run.state)) " · " (run.delivered()) " of " (run.agents.len()) " agents delivered"
                " · findings: "
                @for (s, n) in run.findings.iter() { (layout::severity(s)) " " (n) " " }
            }
            h2 { "State timeline" }
            ol.timeline {
                @for h in &run.history { li { (layout::state(h.state)) " " (time(h.at)) } }
            }
            h2 { "Agents" }
            table {
                thead { tr { th { "Agent" } th { "Host" } th { "Collection" } th { "Upload" } th { "Evaluation" } } }
                tbody {
                    @for a in &run.agents {
                        tr {
                            td { a href=(format!("/console/agents/{}", segment(&a.agent))) { code { (a.agent) } } }
                            td { (a.hostname) }
                            td { (layout::state(a.status)) }
                            td {
                                @if a.chunks_total > 0 {
                                    progress value=(a.chunks_received) max=(a.chunks_total) aria-label=(format!("{} of {} chunks", a.chunks_received, a.chunks_total)) { (a.chunks_received) "/" (a.chunks_total) }
                                    " " (a.chunks_received) "/" (a.chunks_total) " chunks"
                                } @else { span.muted { "—" } }
                            }
                            td {
                                @if let Some(e) = a.evaluation { (e) }
                                @if a.evaluation_attempts.unwrap_or(0) > 1 { span.muted { " (" (a.evaluation_attempts.unwrap_or(0)) " attempts)" } }
                            }
                        }
                    }
                }
            }
            h2 { "Exclusions" }
            @if run.exclusions.is_empty() { p.muted { "None." } } @else {
                ul { @for e in &run.exclusions { li { (e.host.hostname) " (" code { (e.host.agent) } "): " (e.reason) } } }
            }
            @if !run.notifications.is_empty() {
                h2 { "Notifications" }
                table {
                    thead { tr { th { "Event" } th { "URL" } th { "Delivery" } th.num { "Attempts" } th { "Sent" } } }
                    tbody { @for n in &run.notifications {
                        tr { td { code { (n.event) } } td { (n.url) } td { (n.state) " " span.muted { (n.error.as_deref().unwrap_or("")) } } td.num { (n.attempts) } td { (maybe_time(n.sent_at)) } }
                    } }
                }
            }
        }
    }
}

pub async fn run(State(app): AppState, session: Session, Path(id): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Run {id}");
    let run: RunView = match api.get(&format!("/v1/runs/{}", segment(&id))).await {
        Ok(r) => r,
        Err(f) => return layout::failed(&session, "runs", &title, f),
    };
    let content = html! {
        p { "Template " a href=(format!("/console/templates/{}", segment(&run.template))) { (run.template) } " version " (run.template_version)
            ", started " (time(run.created_at)) ", collecting until " (time(run.collect_until)) "." }
        div #live data-live=(format!("{}/live", run_link(&id))) { (progress(&session, &run)) }
    };
    layout::page(&session, "runs", &title, content)
}

/// The progress fragment alone, for polling.
pub async fn live(State(app): AppState, session: Session, Path(id): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    match api.get::<RunView>(&format!("/v1/runs/{}", segment(&id))).await {
        Ok(run) => Html(progress(&session, &run).into_string()).into_response(),
        Err(f) => (f.status, f.message).into_response(),
    }
}

pub async fn stop_run(
    State(app): AppState,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<Pairs>,
) -> Response {
    let fields = Fields(form);
    let api = Api::new(&app, &session);
    let body = StopRun { skip_evaluation: fields.get("skip_evaluation") == "true" };
    match api
        .send::<RunView>(Method::POST, &format!("/v1/runs/{}/stop", segment(&id)), &body, fields.get("csrf"))
        .await
    {
        Ok(_) => Redirect::to(&run_link(&id)).into_response(),
        Err(f) => layout::failed(&session, "runs", &format!("Run {id}"), f),
    }
}

/// A report of a finished run as a download.
pub async fn report(
    State(app): AppState,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> Response {
    let api = Api::new(&app, &session);
    let (format, full) = (param(&q, "format"), param(&q, "full") == "true");
    let format = if format == "json" { "json" } else { "html" };
    let uri = format!(
        "/v1/runs/{}/report{}",
        segment(&id),
        query(&[("format", format), ("full", if full { "true" } else { "" })])
    );
    match api.call(Method::GET, &uri, None, None).await {
        Ok((_, headers, body)) => {
            let name = format!("{id}-{}.{format}", if full { "full-report" } else { "findings-report" });
            let mut response = body.into_response();
            let h = response.headers_mut();
            if let Some(kind) = headers.get(header::CONTENT_TYPE) {
                h.insert(header::CONTENT_TYPE, kind.clone());
            }
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            response
        }
        Err(f) => layout::failed(&session, "runs", &format!("Run {id}"), f),
    }
}
