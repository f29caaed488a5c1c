//! The fleet's package inventory: which agents run a package, an agent's
//! packages, an agent's SBOM.

use super::error::Params;
use super::{AppState, Authenticated, PageQuery};
use crate::domain::{inventory, Error};
use assay_api::admin::{AgentPackages, InstalledView};
use assay_api::Page;
use assay_runtime::sbom::Format;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;

/// `GET /v1/inventory?name=N&ecosystem=E&version=REQ&purl=P&limit=N&after=ID`.
pub(super) async fn installed(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(q): Params<Vec<(String, String)>>,
) -> Result<Json<Page<InstalledView>>, Error> {
    let one =
        |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let query = inventory::Query::parse(one("name"), one("ecosystem"), one("version"), one("purl"))?;
    let page = PageQuery { limit: one("limit").map(str::to_owned), after: one("after").map(str::to_owned) }
        .request()?;
    Ok(Json(inventory::installed(&app, &caller, &query, &page).await?))
}

/// `GET /v1/agents/{id}/packages`.
pub(super) async fn of_agent(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AgentPackages>, Error> {
    Ok(Json(inventory::of_agent(&app, &caller, &id).await?))
}

/// `GET /v1/agents/{id}/sbom?format=cyclonedx|spdx`.
pub(super) async fn sbom(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Params(q): Params<Vec<(String, String)>>,
) -> Result<impl IntoResponse, Error> {
    let format = match q.iter().find(|(k, _)| k == "format").map(|(_, v)| v.as_str()) {
        None | Some("" | "cyclonedx") => Format::CycloneDx,
        Some("spdx") => Format::Spdx,
        Some(other) => return Err(Error::Invalid(format!("format `{other}` is not cyclonedx or spdx"))),
    };
    let media = match format {
        Format::CycloneDx => "application/vnd.cyclonedx+json",
        Format::Spdx => "application/spdx+json",
    };
    let text = inventory::sbom(&app, &caller, &id, format).await?;
    Ok(([(CONTENT_TYPE, media)], text))
}
