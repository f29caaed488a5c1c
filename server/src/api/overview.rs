//! The overview, the rules packages, and the metrics.

use super::{AppState, Authenticated};
use crate::domain::{overview, packages, Error};
use assay_api::admin::{Overview, Packages};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;

pub(super) async fn overview(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<Json<Overview>, Error> {
    Ok(Json(overview::overview(&app, &caller).await?))
}

pub(super) async fn packages(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<Json<Packages>, Error> {
    Ok(Json(packages::list(&app, &caller)?))
}

/// Prometheus metrics (a read-only token, as Prometheus's `authorization`
/// setting sends it).
pub(super) async fn metrics(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<impl IntoResponse, Error> {
    let text = overview::metrics(&app, &caller).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
