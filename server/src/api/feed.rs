//! The vulnerability feed and the waiver file of the fleet.

use super::error::Raw;
use super::{AppState, Authenticated};
use crate::domain::{feeds, Error};
use assay_api::admin::{FeedImported, FeedView, WaiversUploaded};
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
