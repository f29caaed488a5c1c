//! Enrolment, certificate renewal, and the CA an agent pins.

use super::AppState;
use crate::api::error::Body;
use crate::domain::{identity, Error};
use crate::tls::Peer;
use assay_api::agent::{Enroll, Enrolled, Renew, Renewed};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;

/// The CA's certificate, for an agent that pins it by fingerprint.
pub(super) async fn ca(State(app): AppState) -> String {
    app.ca.cert_pem.clone()
}

pub(super) async fn enroll(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Body(req): Body<Enroll>,
) -> Result<(StatusCode, Json<Enrolled>), Error> {
    Ok((StatusCode::CREATED, Json(identity::enroll(&app, &peer.addr.ip().to_string(), req).await?)))
}

pub(super) async fn renew(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Body(req): Body<Renew>,
) -> Result<Json<Renewed>, Error> {
    let agent = super::agent(&app, &peer).await?;
    Ok(Json(identity::renew(&app, &agent, req).await?))
}
