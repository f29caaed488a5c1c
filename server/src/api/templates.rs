//! Templates: save a version, list, every version of one, delete.

use super::error::{Body, Params};
use super::{AppState, Authenticated, PageQuery};
use crate::domain::{templates, Error};
use assay_api::admin::{Deleted, TemplateBody, TemplateVersions, TemplateView};
use assay_api::Page;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// `PUT /v1/templates/{name}`: 201 for a new template, 200 for a new
/// version.
pub(super) async fn put(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    Body(req): Body<TemplateBody>,
) -> Result<(StatusCode, Json<TemplateView>), Error> {
    let (created, view) = templates::put(&app, &caller, &name, req).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(view)))
}

pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<TemplateView>>, Error> {
    Ok(Json(templates::list(&app, &caller, &page.request()?).await?))
}

pub(super) async fn get(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<TemplateVersions>, Error> {
    Ok(Json(templates::get(&app, &caller, &name).await?))
}

pub(super) async fn delete(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Deleted>, Error> {
    Ok(Json(templates::delete(&app, &caller, &name).await?))
}
