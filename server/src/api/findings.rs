//! Findings of runs and of the fleet: filtered lists, one fleet finding
//! with its history, and user attributes.

use super::error::{Body, Params};
use super::{AppState, Authenticated, PageQuery};
use crate::domain::findings::{self, FleetFilter, RunFilter};
use crate::domain::Error;
use assay_api::admin::{FindingView, FleetFindingView, NewAttributes};
use assay_api::{FindingState, Page, Severity};
use axum::extract::{Path, State};
use axum::Json;

fn severity(s: Option<String>) -> Result<Option<Severity>, Error> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Severity::parse(&s).map(Some).ok_or_else(|| {
            Error::Invalid(format!("severity `{s}` is not high, medium, low or informational"))
        }),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct FindingQuery {
    run: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    agent: Option<String>,
    /// `KEY=VALUE`, or `KEY` for any value.
    attribute: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /v1/findings`: findings of runs.
pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(q): Params<FindingQuery>,
) -> Result<Json<Page<FindingView>>, Error> {
    let page = q.page.request()?;
    let filter = RunFilter {
        run: q.run.unwrap_or_default(),
        severity: severity(q.severity)?,
        rule: q.rule.unwrap_or_default(),
        agent: q.agent.unwrap_or_default(),
        attribute: q.attribute,
    };
    Ok(Json(findings::list(&app, &caller, &filter, &page).await?))
}

/// `POST /v1/findings/{id}/attributes` (operator).
pub(super) async fn add_attributes(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Body(req): Body<NewAttributes>,
) -> Result<Json<FindingView>, Error> {
    Ok(Json(findings::add_attributes(&app, &caller, &id, req).await?))
}

#[derive(serde::Deserialize)]
pub(super) struct FleetQuery {
    state: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    agent: Option<String>,
    package: Option<String>,
    attribute: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /v1/fleet-findings`.
pub(super) async fn fleet_list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(q): Params<FleetQuery>,
) -> Result<Json<Page<FleetFindingView>>, Error> {
    let page = q.page.request()?;
    let state = match q.state.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            FindingState::parse(&s)
                .map_err(|_| Error::Invalid(format!("state `{s}` is not open, resolved or waived")))?,
        ),
    };
    let filter = FleetFilter {
        state,
        severity: severity(q.severity)?,
        rule: q.rule.unwrap_or_default(),
        agent: q.agent.unwrap_or_default(),
        package: q.package.unwrap_or_default(),
        attribute: q.attribute,
    };
    Ok(Json(findings::fleet_list(&app, &caller, &filter, &page).await?))
}

pub(super) async fn fleet_get(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path((agent, fingerprint)): Path<(String, String)>,
) -> Result<Json<FleetFindingView>, Error> {
    Ok(Json(findings::fleet_get(&app, &caller, &agent, &fingerprint).await?))
}

/// `POST /v1/fleet-findings/{agent}/{fingerprint}/attributes` (operator).
pub(super) async fn add_fleet_attributes(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path((agent, fingerprint)): Path<(String, String)>,
    Body(req): Body<NewAttributes>,
) -> Result<Json<FleetFindingView>, Error> {
    Ok(Json(findings::add_fleet_attributes(&app, &caller, &agent, &fingerprint, req).await?))
}
