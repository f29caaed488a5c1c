//! Published rules packages: publish, list, show, yank.

use super::error::Body;
use super::{AppState, Authenticated};
use crate::domain::{packages, Error};
use assay_api::admin::{PackageDetail, PackageVersionView, PackageVersions, PublishBody, Published};
use axum::extract::{Path, State};
use axum::Json;

/// `POST /v1/packages`: each package says whether it is new (publishing
/// the same content again is a success that changes nothing).
pub(super) async fn publish(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<PublishBody>,
) -> Result<Json<Published>, Error> {
    Ok(Json(packages::publish(&app, &caller, req).await?))
}

pub(super) async fn all_versions(
    State(app): AppState,
    Authenticated(caller): Authenticated,
) -> Result<Json<PackageVersions>, Error> {
    Ok(Json(packages::all_versions(&app, &caller).await?))
}

pub(super) async fn versions(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<PackageVersions>, Error> {
    Ok(Json(packages::versions(&app, &caller, &name).await?))
}

pub(super) async fn detail(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PackageDetail>, Error> {
    Ok(Json(packages::detail(&app, &caller, &name, &version).await?))
}

pub(super) async fn yank(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PackageVersionView>, Error> {
    Ok(Json(packages::yank(&app, &caller, &name, &version).await?))
}

/// `POST /v1/packages/preview`: publishing's effect on the fleet, nothing written.
pub(super) async fn preview(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<PublishBody>,
) -> Result<Json<assay_model::diff::Diff>, Error> {
    Ok(Json(crate::domain::preview::preview(&app, &caller, req).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Versions {
    from: String,
    to: String,
}

/// `GET /v1/packages/{name}/diff?from=V&to=W`.
pub(super) async fn diff(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    super::error::Params(q): super::error::Params<Versions>,
) -> Result<Json<assay_model::diff::Diff>, Error> {
    Ok(Json(packages::diff_versions(&app, &caller, &name, &q.from, &q.to).await?))
}
