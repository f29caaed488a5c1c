//! Runs: start, list, one run, stop, and its reports (JSON or one HTML
//! page).

use super::error::{Body, Params, Raw};
use super::{report_page, AppState, Authenticated, PageQuery};
use crate::domain::{reports, runs, Error};
use assay_api::admin::{NewRun, RunSummary, RunView, StopRun};
use assay_api::Page;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `POST /v1/runs` (operator).
pub(super) async fn start(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<NewRun>,
) -> Result<(StatusCode, Json<RunView>), Error> {
    Ok((StatusCode::CREATED, Json(runs::start_run(&app, &caller, &req.template).await?)))
}

/// `GET /v1/runs`: newest first.
pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<RunSummary>>, Error> {
    Ok(Json(runs::list(&app, &caller, &page.request()?).await?))
}

pub(super) async fn get(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Error> {
    Ok(Json(runs::get(&app, &caller, &id).await?))
}

/// `POST /v1/runs/{id}/stop` (operator); the body is optional: none means
/// "stop and evaluate".
pub(super) async fn stop(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Raw(body): Raw,
) -> Result<Json<RunView>, Error> {
    let request: StopRun = if body.iter().all(u8::is_ascii_whitespace) {
        StopRun::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::Invalid(format!("the body is not a stop request: {e}")))?
    };
    Ok(Json(runs::stop(&app, &caller, &id, request).await?))
}

#[derive(serde::Deserialize)]
pub(super) struct ReportQuery {
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /v1/runs/{id}/report?full=true&format=html`: the findings report
/// (or the full report) of a finished run.
pub(super) async fn report(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Params(q): Params<ReportQuery>,
) -> Result<Response, Error> {
    let full = matches!(q.full.as_deref(), Some("true" | "1" | "yes"));
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "html"].contains(&format) {
        return Err(Error::Invalid(format!("format `{format}` is not json or html")));
    }
    let report = reports::build(&app, &caller, &id, full).await?;
    Ok(match format {
        "html" => (
            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            report_page::render(&report).into_string(),
        )
            .into_response(),
        _ => Json(report).into_response(),
    })
}
