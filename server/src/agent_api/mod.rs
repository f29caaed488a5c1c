//! The agent endpoint (`/agent/v1`), over mutual TLS only: enrolment and
//! the CA's certificate need no client certificate; every other request
//! is its agent's, by the certificate it shows ([`Peer`]). The protocol's
//! messages are `assay_api::agent`'s types.

mod chunks;
mod enroll;
mod heartbeat;

use crate::domain::{identity, App, Error};
use crate::tls::Peer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

type AppState = axum::extract::State<Arc<App>>;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/agent/v1/ca", get(enroll::ca))
        .route("/agent/v1/enroll", post(enroll::enroll))
        .route("/agent/v1/certificate", post(enroll::renew))
        .route("/agent/v1/heartbeat", post(heartbeat::heartbeat))
        .route(
            "/agent/v1/runs/{run}/chunks/{seq}",
            put(chunks::chunk).layer(DefaultBodyLimit::max(crate::domain::uploads::MAX_CHUNK + 1)),
        )
        .fallback(crate::api::error::no_route)
}

/// The agent of the request's client certificate.
async fn agent(app: &App, peer: &Peer) -> Result<identity::Agent, Error> {
    identity::authenticate(app, &peer.addr.ip().to_string(), peer.fingerprint.as_deref()).await
}
