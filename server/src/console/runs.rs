//! Runs (start, live progress, stop, reports) and the fleet's findings
//! (filters, a finding with its evidence and history, attributes).

use super::layout::{self, text, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

/// States after which nothing changes.
const FINAL: [&str; 5] = ["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR", "CANCELED"];
const COLLECTING: [&str; 4] =
    ["CREATED", "START_DATA_COLLECTION_PENDING", "START_DATA_COLLECTION_IN_PROGRESS", "COLLECTING_DATA"];

fn run_link(id: &str) -> String {
    format!("/console/runs/{}", segment(id))
}

pub async fn runs(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let list = match api.get(&format!("/v1/runs{}", query(&[("after", param(&q, "after"))]))).await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "runs", "Runs", f),
    };
    let templates = api.get("/v1/templates?limit=1000").await.unwrap_or_default();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let content = html! {
        form.inline method="post" action="/console/runs" {
            (layout::csrf(&session))
            label { "Template "
                select name="template" required {
                    @for t in templates["items"].as_array().into_iter().flatten() { option value=(text(&t["name"])) { (text(&t["name"])) " (v" (text(&t["version"])) ")" } }
                }
            }
            button type="submit" { "Start run" }
        }
        @if items.is_empty() {
            p.muted { "No run yet." }
        } @else {
            table {
                thead { tr { th { "Run" } th { "Template" } th { "State" } th { "Started" } th { "Finished" } } }
                tbody {
                    @for r in &items {
                        tr {
                            td { a href=(run_link(&text(&r["id"]))) { (text(&r["id"])) } }
                            td { (text(&r["template"])) " v" (text(&r["template_version"])) }
                            td { (layout::state(&text(&r["state"]))) }
                            td { (time(&r["created_at"])) }
                            td { (time(&r["finished_at"])) }
                        }
                    }
                }
            }
            (layout::pager("/console/runs", &[], &list["next"]))
        }
    };
    layout::page(&session, "runs", "Runs", content)
}

pub async fn start_run(State(app): AppState, session: Session, Form(form): Form<Pairs>) -> Response {
    let fields = Fields(form);
    let api = Api::new(&app, &session);
    let body = json!({ "template": fields.get("template") });
    match api.send(Method::POST, "/v1/runs", &body, fields.get("csrf")).await {
        Ok(run) => Redirect::to(&run_link(&text(&run["id"]))).into_response(),
        Err(f) => layout::failed(&session, "runs", "The run did not start", f),
    }
}

/// What changes while a run goes on: what can be done with it (stop, or
/// the reports once finished), its state timeline, each agent's
/// collection and evaluation, the exclusions, the findings so far. The
/// page polls it (console.js) until the run is final.
fn progress(session: &Session, run: &Value) -> Markup {
    let state = text(&run["state"]);
    let id = text(&run["id"]);
    let finished = FINAL.contains(&state.as_str());
    let link = run_link(&id);
    let agents = run["agents"].as_array().cloned().unwrap_or_default();
    let delivered =
        agents.iter().filter(|a| !["pending", "collecting"].contains(&text(&a["status"]).as_str())).count();
    html! {
        div.progress data-state=(state) data-final=(finished) {
            @if COLLECTING.contains(&state.as_str()) {
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
                    a href=(format!("/console/findings{}", query(&[("run", &id)]))) { "Findings of this run's hosts" }
                }
            } @else {
                p.muted { "This page follows the run as it goes." }
            }
            p.now { "State " (layout::state(&state)) " · " (delivered) " of " (agents.len()) " agents delivered"
                @if let Some(f) = run["findings"].as_object() {
                    " · findings: "
                    @for (s, n) in f { (layout::severity(s)) " " (text(n)) " " }
                }
            }
            h2 { "State timeline" }
            ol.timeline {
                @for h in run["history"].as_array().into_iter().flatten() {
                    li { (layout::state(&text(&h["state"]))) " " (time(&h["at"])) }
                }
            }
            h2 { "Agents" }
            table {
                thead { tr { th { "Agent" } th { "Host" } th { "Collection" } th { "Upload" } th { "Evaluation" } } }
                tbody {
                    @for a in &agents {
                        @let (got, all) = (a["chunks_received"].as_i64().unwrap_or(0), a["chunks_total"].as_i64().unwrap_or(0));
                        tr {
                            td { code { (text(&a["agent"])) } }
                            td { (text(&a["hostname"])) }
                            td { (text(&a["status"])) }
                            td {
                                @if all > 0 {
                                    progress value=(got) max=(all) aria-label=(format!("{got} of {all} chunks")) { (got) "/" (all) }
                                    " " (got) "/" (all) " chunks"
                                } @else { span.muted { "—" } }
                            }
                            td { (text(&a["evaluation"]))
                                @if a["evaluation_attempts"].as_i64().unwrap_or(0) > 1 { span.muted { " (" (text(&a["evaluation_attempts"])) " attempts)" } } }
                        }
                    }
                }
            }
            h2 { "Exclusions" }
            @let exclusions = run["exclusions"].as_array().cloned().unwrap_or_default();
            @if exclusions.is_empty() { p.muted { "None." } } @else {
                ul { @for e in &exclusions { li { (text(&e["hostname"])) " (" code { (text(&e["agent"])) } "): " (text(&e["reason"])) } } }
            }
            @let notes = run["notifications"].as_array().cloned().unwrap_or_default();
            @if !notes.is_empty() {
                h2 { "Notifications" }
                table {
                    thead { tr { th { "Event" } th { "URL" } th { "Delivery" } th.num { "Attempts" } th { "Sent" } } }
                    tbody { @for n in &notes { tr { td { code { (text(&n["event"])) } } td { (text(&n["url"])) } td { (text(&n["state"])) " " span.muted { (text(&n["error"])) } } td.num { (text(&n["attempts"])) } td { (time(&n["sent_at"])) } } } }
                }
            }
        }
    }
}

pub async fn run(State(app): AppState, session: Session, Path(id): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    let title = format!("Run {id}");
    let run = match api.get(&format!("/v1/runs/{}", segment(&id))).await {
        Ok(r) => r,
        Err(f) => return layout::failed(&session, "runs", &title, f),
    };
    let content = html! {
        p { "Template " a href=(format!("/console/templates/{}", segment(&text(&run["template"])))) { (text(&run["template"])) } " version " (text(&run["template_version"]))
            ", started " (time(&run["created_at"])) ", collecting until " (time(&run["collect_until"])) "." }
        div #live data-live=(format!("{}/live", run_link(&id))) { (progress(&session, &run)) }
    };
    layout::page(&session, "runs", &title, content)
}

/// The progress fragment alone, for polling.
pub async fn live(State(app): AppState, session: Session, Path(id): Path<String>) -> Response {
    let api = Api::new(&app, &session);
    match api.get(&format!("/v1/runs/{}", segment(&id))).await {
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
    let body = json!({ "skip_evaluation": fields.get("skip_evaluation") == "true" });
    match api.send(Method::POST, &format!("/v1/runs/{}/stop", segment(&id)), &body, fields.get("csrf")).await
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

const FILTERS: [&str; 6] = ["state", "severity", "rule", "package", "agent", "attribute"];

pub async fn findings(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let filters: Vec<(&str, &str)> = FILTERS.iter().map(|f| (*f, param(&q, f))).collect();
    let run = param(&q, "run");
    let mut uri = filters.clone();
    uri.push(("after", param(&q, "after")));
    // A run's findings are those of its hosts' latest evaluations: the
    // fleet list filtered by each of its agents.
    let list = if run.is_empty() {
        api.get(&format!("/v1/fleet-findings{}", query(&uri))).await
    } else {
        let mut run_uri = vec![("run", run)];
        run_uri.extend(
            filters.iter().filter(|(k, _)| ["severity", "rule", "agent", "attribute"].contains(k)).copied(),
        );
        run_uri.push(("after", param(&q, "after")));
        api.get(&format!("/v1/findings{}", query(&run_uri))).await
    };
    let packages = api.get("/v1/packages").await.unwrap_or_default();
    let select = |name: &str, options: &[&str]| {
        let current = param(&q, name);
        html! {
            select name=(name) {
                option value="" selected[current.is_empty()] { "any" }
                @for o in options { option value=(o) selected[current == *o] { (o) } }
            }
        }
    };
    let package_names: Vec<String> =
        packages["items"].as_array().into_iter().flatten().map(|p| text(&p["name"])).collect();
    let package_refs: Vec<&str> = package_names.iter().map(String::as_str).collect();
    let mut keep = filters.clone();
    if !run.is_empty() {
        keep.push(("run", run));
    }
    let content = html! {
        form.filters method="get" action="/console/findings" {
            @if !run.is_empty() { input type="hidden" name="run" value=(run); }
            @if run.is_empty() { label { "State " (select("state", &["open", "resolved", "waived"])) } }
            label { "Severity " (select("severity", &["high", "medium", "low", "informational"])) }
            label { "Rule " input type="text" name="rule" value=(param(&q, "rule")) placeholder="CIS-5.1.20" size="14"; }
            @if run.is_empty() { label { "Package " (select("package", &package_refs)) } }
            label { "Agent " input type="text" name="agent" value=(param(&q, "agent")) placeholder="agent-…" size="14"; }
            label { "Attribute " input type="text" name="attribute" value=(param(&q, "attribute")) placeholder="owner=web" size="14"; }
            button type="submit" { "Filter" }
        }
        @if !run.is_empty() { p { "Findings of run " a href=(run_link(run)) { (run) } ". " a href="/console/findings" { "All findings of the fleet" } } }
        @match &list {
            Err(f) => (layout::error(f)),
            Ok(list) => {
                @let items = list["items"].as_array().cloned().unwrap_or_default();
                @if items.is_empty() { p.muted { "No finding matches." } } @else {
                    table {
                        thead { tr { th { "Severity" } th { "Rule" } th { "Finding" } th { "Host" } @if run.is_empty() { th { "State" } th { "Last seen" } } } }
                        tbody {
                            @for f in &items {
                                @let agent = text(&f["agent_id"]);
                                @let href = format!("/console/findings/{}/{}", segment(&agent), segment(&text(&f["fingerprint"])));
                                tr {
                                    td { (layout::severity(&text(&f["severity"]))) }
                                    td { code { (text(&f["rule_id"])) } }
                                    td { a href=(href) { (text(&f["title"])) } br; span.muted { (text(&f["message"])) } }
                                    td { (text(&f["asset"]["hostname"])) }
                                    @if run.is_empty() { td { (layout::state(&text(&f["state"]))) } td { (time(&f["last_seen"])) } }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/findings", &keep, &list["next"]))
                }
            }
        }
    };
    layout::page(&session, "findings", "Findings", content)
}

fn finding_page(
    session: &Session,
    f: &Value,
    agent: &str,
    fingerprint: &str,
    problem: Option<Markup>,
) -> Markup {
    html! {
        @if let Some(p) = problem { (p) }
        p { (layout::severity(&text(&f["severity"]))) " " (layout::state(&text(&f["state"])))
            " · rule " code { (text(&f["rule_id"])) } " of " a href=(format!("/console/packages/{}#{}", segment(&text(&f["package"])), text(&f["rule_id"]))) { (text(&f["package"])) }
            " · host " (text(&f["asset"]["hostname"])) " (" code { (agent) } ")" }
        p.message { (text(&f["message"])) }
        dl {
            dt { "Description" } dd { (layout::prose(&text(&f["description"]))) }
            dt { "Recommendation" } dd { (layout::prose(&text(&f["recommendation"]))) }
            dt { "First seen" } dd { (time(&f["first_seen"])) }
            dt { "Last seen" } dd { (time(&f["last_seen"])) }
            @if !f["resolved_at"].is_null() { dt { "Resolved" } dd { (time(&f["resolved_at"])) } }
            @if let Some(w) = f["waived"].as_object() {
                dt { "Waived" } dd { "by " (text(&w["owner"])) " until " (text(&w["expires"])) ": " (text(&w["justification"])) }
            }
            dt { "Fingerprint" } dd { code { (fingerprint) } }
            dt { "Bundle" } dd { code { (text(&f["bundle_digest"])) } }
        }
        h2 { "Evidence" }
        table {
            thead { tr { th { "What" } th { "Value" } th { "Where" } } }
            tbody { @for e in f["evidence"].as_array().into_iter().flatten() { tr { td { code { (text(&e["path"])) } } td { code { (text(&e["value"])) } } td { (text(&e["source"])) } } } }
        }
        h2 { "Attributes" }
        ul.attributes { @for a in f["attributes"].as_array().into_iter().flatten() { li { span.tag { (text(&a["key"])) "=" (text(&a["value"])) } } } }
        form.inline method="post" action=(format!("/console/findings/{}/{}/attributes", segment(agent), segment(fingerprint))) {
            (layout::csrf(session))
            label { "Add attributes (KEY=VALUE, commas between) " input type="text" name="attributes" required placeholder="owner=web-team, ticket=SEC-12"; }
            button type="submit" { "Add" }
        }
        h2 { "History" }
        ol.timeline { @for h in f["history"].as_array().into_iter().flatten() { li { strong { (text(&h["event"])) } " " (time(&h["at"])) " — " (text(&h["cause"])) } } }
    }
}

pub async fn finding(
    State(app): AppState,
    session: Session,
    Path((agent, fingerprint)): Path<(String, String)>,
) -> Response {
    let api = Api::new(&app, &session);
    match api.get(&format!("/v1/fleet-findings/{}/{}", segment(&agent), segment(&fingerprint))).await {
        Ok(f) => {
            let title = text(&f["title"]);
            layout::page(&session, "findings", &title, finding_page(&session, &f, &agent, &fingerprint, None))
        }
        Err(f) => layout::failed(&session, "findings", "Finding", f),
    }
}

pub async fn add_attributes(
    State(app): AppState,
    session: Session,
    Path((agent, fingerprint)): Path<(String, String)>,
    Form(form): Form<Pairs>,
) -> Response {
    let fields = Fields(form);
    let api = Api::new(&app, &session);
    let uri = format!("/v1/fleet-findings/{}/{}", segment(&agent), segment(&fingerprint));
    let sent = match pairs(fields.get("attributes")) {
        Ok(a) => {
            api.send(
                Method::POST,
                &format!("{uri}/attributes"),
                &json!({ "attributes": a }),
                fields.get("csrf"),
            )
            .await
        }
        Err(e) => Err(super::failure(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e)),
    };
    match sent {
        Ok(_) => Redirect::to(&format!("/console/findings/{}/{}", segment(&agent), segment(&fingerprint)))
            .into_response(),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => Redirect::to("/console/login").into_response(),
        Err(failure) => match api.get(&uri).await {
            Ok(found) => {
                let status = failure.status;
                let page =
                    finding_page(&session, &found, &agent, &fingerprint, Some(layout::error(&failure)));
                layout::page_with_status(&session, "findings", &text(&found["title"]), page, status)
            }
            Err(f) => layout::failed(&session, "findings", "Finding", f),
        },
    }
}
