//! The fleet's findings and a run's (filters, pages), a finding with its
//! evidence and history, and attributes added to it.

use super::layout::{self, maybe_time, time};
use super::{pairs, param, query, segment, Api, AppState, Fields, Pairs, Session};
use assay_api::admin::{FindingView, FleetFindingView, NewAttributes, Packages};
use assay_api::{ErrorCode, FindingState, Page, Severity};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

const FILTERS: [&str; 6] = ["state", "severity", "rule", "package", "agent", "attribute"];

/// One row of either list.
struct Row<'a> {
    finding: &'a assay_api::Finding,
    agent: &'a str,
    fleet: Option<(FindingState, i64)>,
}

pub async fn findings(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let filters: Vec<(&str, &str)> = FILTERS.iter().map(|f| (*f, param(&q, f))).collect();
    let run = param(&q, "run");
    let mut uri = filters.clone();
    uri.push(("after", param(&q, "after")));
    // A run's findings are those its hosts' evaluations wrote; the fleet's
    // are each host's latest, with their state.
    let (fleet, of_run) = if run.is_empty() {
        (Some(api.get::<Page<FleetFindingView>>(&format!("/v1/fleet-findings{}", query(&uri))).await), None)
    } else {
        let mut run_uri = vec![("run", run)];
        run_uri.extend(
            filters.iter().filter(|(k, _)| ["severity", "rule", "agent", "attribute"].contains(k)).copied(),
        );
        run_uri.push(("after", param(&q, "after")));
        (None, Some(api.get::<Page<FindingView>>(&format!("/v1/findings{}", query(&run_uri))).await))
    };
    let packages = api.get::<Packages>("/v1/packages").await.map(|p| p.items).unwrap_or_default();
    let select = |name: &str, options: &[&str]| {
        let current = param(&q, name);
        html! {
            select name=(name) {
                option value="" selected[current.is_empty()] { "any" }
                @for o in options { option value=(o) selected[current == *o] { (o) } }
            }
        }
    };
    let package_names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let states: Vec<&str> = FindingState::ALL.iter().map(|s| s.as_str()).collect();
    let mut keep = filters.clone();
    if !run.is_empty() {
        keep.push(("run", run));
    }
    let listed: Result<(Vec<Row>, Option<&str>), &super::Failure> = match (&fleet, &of_run) {
        (Some(Ok(page)), _) => Ok((
            page.items
                .iter()
                .map(|f| Row { finding: &f.finding, agent: &f.agent_id, fleet: Some((f.state, f.last_seen)) })
                .collect(),
            page.next.as_deref(),
        )),
        (_, Some(Ok(page))) => Ok((
            page.items.iter().map(|f| Row { finding: &f.finding, agent: &f.agent_id, fleet: None }).collect(),
            page.next.as_deref(),
        )),
        (Some(Err(f)), _) | (_, Some(Err(f))) => Err(f),
        (None, None) => Ok((Vec::new(), None)),
    };
    let content = html! {
        form.filters method="get" action="/console/findings" {
            @if !run.is_empty() { input type="hidden" name="run" value=(run); }
            @if run.is_empty() { label { "State " (select("state", &states)) } }
            label { "Severity " (select("severity", &severities)) }
            label { "Rule " input type="text" name="rule" value=(param(&q, "rule")) placeholder="CIS-5.1.20" size="14"; }
            @if run.is_empty() { label { "Package " (select("package", &package_names)) } }
            label { "Agent " input type="text" name="agent" value=(param(&q, "agent")) placeholder="agent-…" size="14"; }
            label { "Attribute " input type="text" name="attribute" value=(param(&q, "attribute")) placeholder="owner=web" size="14"; }
            button type="submit" { "Filter" }
        }
        @if !run.is_empty() { p { "Findings of run " a href=(format!("/console/runs/{}", segment(run))) { (run) } ". " a href="/console/findings" { "All findings of the fleet" } } }
        @match &listed {
            Err(f) => (layout::error(f)),
            Ok((rows, next)) => {
                @if rows.is_empty() { p.muted { "No finding matches." } } @else {
                    table {
                        thead { tr { th { "Severity" } th { "Rule" } th { "Finding" } th { "Host" } th { "Agent" } @if run.is_empty() { th { "State" } th { "Last seen" } } } }
                        tbody {
                            @for r in rows {
                                @let href = format!("/console/findings/{}/{}", segment(r.agent), segment(&r.finding.fingerprint));
                                tr {
                                    td { (layout::severity(r.finding.severity)) }
                                    td { code { (r.finding.rule_id) } }
                                    td { a href=(href) { (r.finding.title) } br; span.muted { (r.finding.message) } }
                                    td { (r.finding.asset.hostname) }
                                    td { a href=(format!("/console/agents/{}", segment(r.agent))) { code { (r.agent) } } }
                                    @if let Some((state, last_seen)) = r.fleet { td { (layout::state(state)) } td { (time(last_seen)) } }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/findings", &keep, *next))
                }
            }
        }
    };
    layout::page(&session, "findings", "Findings", content)
}

fn finding_page(session: &Session, f: &FleetFindingView, problem: Option<Markup>) -> Markup {
    let (agent, fingerprint) = (&f.agent_id, &f.finding.fingerprint);
    let finding = &f.finding;
    html! {
        @if let Some(p) = problem { (p) }
        p { (layout::severity(finding.severity)) " " (layout::state(f.state))
            " · rule " code { (finding.rule_id) } " of " a href=(format!("/console/packages/{}#{}", segment(&finding.package), finding.rule_id)) { (finding.package) }
            " · host " (finding.asset.hostname) " (" a href=(format!("/console/agents/{}", segment(agent))) { code { (agent) } } ")" }
        p.message { (finding.message) }
        dl {
            dt { "Description" } dd { (layout::prose(&finding.description)) }
            dt { "Recommendation" } dd { (layout::prose(&finding.recommendation)) }
            dt { "First seen" } dd { (time(f.first_seen)) }
            dt { "Last seen" } dd { (time(f.last_seen)) }
            @if f.resolved_at.is_some() { dt { "Resolved" } dd { (maybe_time(f.resolved_at)) } }
            @if let Some(w) = &finding.waived {
                dt { "Waived" } dd { "by " (w.owner) " until " (w.expires) ": " (w.justification) }
            }
            dt { "Fingerprint" } dd { code { (fingerprint) } }
            dt { "Bundle" } dd { code { (finding.bundle_digest) } }
        }
        h2 { "Evidence" }
        table {
            thead { tr { th { "What" } th { "Value" } th { "Where" } } }
            tbody { @for e in &finding.evidence { tr { td { code { (e.path) } } td { code { (e.value) } } td { (e.source.as_deref().unwrap_or("")) } } } }
        }
        h2 { "Attributes" }
        ul.attributes { @for a in &finding.attributes { li { span.tag { (a.key) "=" (a.value) } } } }
        form.inline method="post" action=(format!("/console/findings/{}/{}/attributes", segment(agent), segment(fingerprint))) {
            (layout::csrf(session))
            label { "Add attributes (KEY=VALUE, commas between) " input type="text" name="attributes" required placeholder="owner=web-team, ticket=SEC-12"; }
            button type="submit" { "Add" }
        }
        h2 { "History" }
        ol.timeline { @for h in f.history.iter().flatten() { li { strong { (h.event) } " " (time(h.at)) " — " (h.cause) } } }
    }
}

fn finding_uri(agent: &str, fingerprint: &str) -> String {
    format!("/v1/fleet-findings/{}/{}", segment(agent), segment(fingerprint))
}

pub async fn finding(
    State(app): AppState,
    session: Session,
    Path((agent, fingerprint)): Path<(String, String)>,
) -> Response {
    let api = Api::new(&app, &session);
    match api.get::<FleetFindingView>(&finding_uri(&agent, &fingerprint)).await {
        Ok(f) => layout::page(&session, "findings", &f.finding.title, finding_page(&session, &f, None)),
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
    let uri = finding_uri(&agent, &fingerprint);
    let sent = match pairs(fields.get("attributes")) {
        Ok(attributes) => {
            let body = NewAttributes { attributes };
            api.send::<FleetFindingView>(
                Method::POST,
                &format!("{uri}/attributes"),
                &body,
                fields.get("csrf"),
            )
            .await
        }
        Err(e) => Err(super::failure(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, e)),
    };
    match sent {
        Ok(_) => Redirect::to(&format!("/console/findings/{}/{}", segment(&agent), segment(&fingerprint)))
            .into_response(),
        Err(f) if f.status == StatusCode::UNAUTHORIZED => Redirect::to("/console/login").into_response(),
        Err(failure) => match api.get::<FleetFindingView>(&uri).await {
            Ok(found) => {
                let status = failure.status;
                let page = finding_page(&session, &found, Some(layout::error(&failure)));
                layout::page_with_status(&session, "findings", &found.finding.title, page, status)
            }
            Err(f) => layout::failed(&session, "findings", "Finding", f),
        },
    }
}
