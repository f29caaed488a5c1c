//! The vulnerability feed, the waiver file and the VEX documents of the fleet.

use super::error::{Body, Raw};
use super::{AppState, Authenticated};
use crate::domain::{feeds, Error};
use assay_api::admin::{FeedImported, FeedView, VexSet, VexUpload, VexUploaded, WaiversUploaded};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;

pub(super) async fn put_feed(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Raw(body): Raw,
) -> Result<Json<FeedImported>, Error> {
    Ok(Json(feeds::put_feed(&app, &caller, &body).await?))
}

pub(super) async fn feed(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<Json<FeedView>, Error> {
    Ok(Json(feeds::feed(&app, &caller).await?))
}

pub(super) async fn put_waivers(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Raw(body): Raw,
) -> Result<Json<WaiversUploaded>, Error> {
    Ok(Json(feeds::put_waivers(&app, &caller, &body).await?))
}

/// `GET /v1/waivers`: the file as uploaded (YAML).
pub(super) async fn waivers(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<impl IntoResponse, Error> {
    let text = feeds::waivers(&app, &caller).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/yaml")], text))
}

/// `PUT /v1/vex` (admin): the fleet's VEX documents, replacing those in use.
pub(super) async fn put_vex(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(upload): Body<VexUpload>,
) -> Result<Json<VexUploaded>, Error> {
    Ok(Json(feeds::put_vex(&app, &caller, upload).await?))
}

/// `GET /v1/vex`.
pub(super) async fn vex(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<Json<VexSet>, Error> {
    Ok(Json(feeds::vex(&app, &caller).await?))
}
