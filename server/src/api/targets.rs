//! Targets: create, list, delete, preview.

use super::error::{Body, Params};
use super::{AppState, Authenticated, PageQuery};
use crate::domain::{targets, Error};
use assay_api::admin::{Deleted, NewTarget, TargetPreview, TargetTags, TargetView};
use assay_api::Page;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

pub(super) async fn create(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<NewTarget>,
) -> Result<(StatusCode, Json<TargetView>), Error> {
    Ok((StatusCode::CREATED, Json(targets::create(&app, &caller, req).await?)))
}

pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<TargetView>>, Error> {
    Ok(Json(targets::list(&app, &caller, &page.request()?).await?))
}

pub(super) async fn delete(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Deleted>, Error> {
    Ok(Json(targets::delete(&app, &caller, &name).await?))
}

#[derive(serde::Deserialize)]
pub(super) struct PreviewQuery {
    /// Also say which of this template's packages would skip each agent.
    template: Option<String>,
}

pub(super) async fn preview(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Params(q): Params<PreviewQuery>,
) -> Result<Json<TargetPreview>, Error> {
    Ok(Json(targets::preview(&app, &caller, &name, q.template.as_deref()).await?))
}

pub(super) async fn update(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Body(req): Body<TargetTags>,
) -> Result<Json<TargetView>, Error> {
    Ok(Json(targets::update(&app, &caller, &name, req).await?))
}
