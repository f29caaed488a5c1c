//! Agents: the list (by tag and health), one agent, revocation.

use super::error::Body;
use super::error::Params;
use super::{AppState, Authenticated, PageQuery};
use crate::domain::{agents, Error};
use assay_api::admin::{AgentTags, AgentView, Revoked};
use assay_api::{Health, Page};
use axum::extract::{Path, State};
use axum::Json;

/// `GET /v1/agents?tag=K[=V]&health=H&limit=N&after=ID` (`tag` repeats:
/// any matches).
pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(q): Params<Vec<(String, String)>>,
) -> Result<Json<Page<AgentView>>, Error> {
    let one = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let tags: Vec<String> = q.iter().filter(|(k, _)| k == "tag").map(|(_, v)| v.clone()).collect();
    let health = match one("health").filter(|h| !h.is_empty()) {
        None => None,
        Some(h) => Some(
            Health::parse(&h)
                .map_err(|_| Error::Invalid(format!("health `{h}` is not HEALTHY, UNHEALTHY or UNKNOWN")))?,
        ),
    };
    let page = PageQuery { limit: one("limit"), after: one("after") }.request()?;
    Ok(Json(agents::list(&app, &caller, &tags, health, &page).await?))
}

/// `GET /v1/agents/{id}`.
pub(super) async fn get(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<AgentView>, Error> {
    Ok(Json(agents::get(&app, &caller, &id).await?))
}

/// `PUT /v1/agents/{id}/tags` (admin): the agent's tags, replaced.
pub(super) async fn set_tags(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Body(req): Body<AgentTags>,
) -> Result<Json<AgentView>, Error> {
    Ok(Json(agents::set_tags(&app, &caller, &id, req.tags).await?))
}

/// `POST /v1/agents/{id}/revoke` (operator).
pub(super) async fn revoke(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, Error> {
    Ok(Json(agents::revoke(&app, &caller, &id).await?))
}
