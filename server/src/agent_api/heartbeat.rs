//! Heartbeats, long-polled for an instruction.

use super::AppState;
use crate::api::error::Body;
use crate::api::error::Params;
use crate::domain::{heartbeats, Error};
use crate::tls::Peer;
use assay_api::agent::{Heartbeat, HeartbeatAnswer};
use axum::extract::{ConnectInfo, State};
use axum::Json;

#[derive(serde::Deserialize)]
pub(super) struct Wait {
    /// Hold an idle answer up to this many seconds (at most 30).
    #[serde(default)]
    wait: u64,
}

pub(super) async fn heartbeat(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Params(wait): Params<Wait>,
    Body(beat): Body<Heartbeat>,
) -> Result<Json<HeartbeatAnswer>, Error> {
    let agent = super::agent(&app, &peer).await?;
    Ok(Json(heartbeats::heartbeat(&app, &agent, beat, wait.wait).await?))
}
