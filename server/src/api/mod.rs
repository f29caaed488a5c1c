//! The admin API under `/v1`: one file per resource, each handler thin
//! (parse, call one domain function, answer its view or its error). Every
//! route but the OpenAPI document needs a valid token or console session
//! before its body is read ([`authenticate`]); the domain checks the role.

mod agents;
pub(crate) mod error;
mod feed;
mod findings;
mod inventory;
mod openapi;
mod overview;
mod packages;
mod report_page;
mod runs;
mod targets;
mod templates;
mod tokens;

use crate::domain::auth::{self, Caller};
use crate::domain::{App, Error, PageRequest};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

pub(crate) use openapi::document as openapi_document;

type AppState = State<Arc<App>>;

pub(crate) fn routes(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/v1/tokens/revoke", post(tokens::revoke))
        .route("/v1/enrollments", post(tokens::create_enrollment))
        .route("/v1/agents", get(agents::list))
        .route("/v1/agents/{id}", get(agents::get))
        .route("/v1/agents/{id}/tags", put(agents::set_tags))
        .route("/v1/agents/{id}/revoke", post(agents::revoke))
        .route("/v1/agents/{id}/packages", get(inventory::of_agent))
        .route("/v1/agents/{id}/sbom", get(inventory::sbom))
        .route("/v1/inventory", get(inventory::installed))
        .route("/v1/targets", post(targets::create).get(targets::list))
        .route("/v1/targets/{name}", axum::routing::delete(targets::delete).put(targets::update))
        .route("/v1/targets/{name}/preview", get(targets::preview))
        .route("/v1/templates", get(templates::list))
        .route("/v1/templates/{name}", put(templates::put).get(templates::get).delete(templates::delete))
        .route("/v1/runs", post(runs::start).get(runs::list))
        .route("/v1/runs/{id}", get(runs::get))
        .route("/v1/runs/{id}/stop", post(runs::stop))
        .route("/v1/runs/{id}/report", get(runs::report))
        .route("/v1/findings", get(findings::list))
        .route("/v1/findings/{id}/attributes", post(findings::add_attributes))
        .route("/v1/fleet-findings", get(findings::fleet_list))
        .route("/v1/fleet-findings/{agent}/{fingerprint}", get(findings::fleet_get))
        .route("/v1/fleet-findings/{agent}/{fingerprint}/attributes", post(findings::add_fleet_attributes))
        .route("/v1/audit", get(tokens::audit))
        .route("/metrics", get(overview::metrics))
        .route(
            "/v1/feed",
            put(feed::put_feed).get(feed::feed).layer(axum::extract::DefaultBodyLimit::max(512 << 20)),
        )
        .route("/v1/waivers", put(feed::put_waivers).get(feed::waivers))
        .route(
            "/v1/vex",
            put(feed::put_vex).get(feed::vex).layer(axum::extract::DefaultBodyLimit::max(32 << 20)),
        )
        .route("/v1/overview", get(overview::overview))
        .route(
            "/v1/packages",
            get(overview::packages).post(packages::publish).layer(axum::extract::DefaultBodyLimit::max(
                2 * crate::domain::packages::MAX_BUNDLE + (1 << 20) + (32 << 20),
            )),
        )
        .route(
            "/v1/packages/preview",
            post(packages::preview).layer(axum::extract::DefaultBodyLimit::max(
                2 * crate::domain::packages::MAX_BUNDLE + (1 << 20) + (32 << 20),
            )),
        )
        .route("/v1/package-versions", get(packages::all_versions))
        .route("/v1/packages/{name}", get(packages::versions))
        .route("/v1/packages/{name}/diff", get(packages::diff))
        .route("/v1/packages/{name}/{version}", get(packages::detail))
        .route("/v1/packages/{name}/{version}/yank", post(packages::yank))
        .fallback(error::no_route)
        // Routes above need a valid token before their body is read, so an
        // unauthenticated caller learns nothing about what they accept.
        .route_layer(axum::middleware::from_fn_with_state(app, authenticate))
        .route("/v1/openapi.json", get(openapi::serve))
}

/// The cookie a console session lives in. With TLS it is `__Host-` (the
/// browser keeps it to this origin, Secure, Path=/), without TLS (loopback
/// only, docs/server.md) a plain HttpOnly cookie.
pub(crate) const SESSION_COOKIE: &str = "assay_session";
pub(crate) const SECURE_SESSION_COOKIE: &str = "__Host-assay_session";

/// The session id in the request's cookies, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE || *k == SECURE_SESSION_COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The caller of a request: its bearer token, or its console session.
pub(crate) async fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, Error> {
    let session = session_cookie(headers);
    if headers.contains_key("authorization") || session.is_none() {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized(
                    "send `Authorization: Bearer TOKEN` (an API token from `assay fleet token create`)"
                        .into(),
                )
            })?;
        return auth::by_token(app, token).await;
    }
    let cookie = session.unwrap_or_default();
    auth::by_session(app, cookie).await?.ok_or_else(|| {
        Error::Unauthorized("the console session has ended (or its token was revoked): log in again".into())
    })
}

/// Refuses a request without a valid token or console session, and a
/// session's state-changing request without the session's CSRF token in
/// `X-CSRF-Token` (a bearer token needs none: a browser never sends one
/// by itself); hands the caller to the handler.
async fn authenticate(
    State(app): AppState,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let caller = match caller(&app, request.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if let (false, Some(csrf)) = (safe, &caller.csrf) {
        let sent = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !auth::same(sent.as_bytes(), csrf.as_bytes()) {
            return Error::Forbidden("the request carries no valid CSRF token for this session".into())
                .into_response();
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The authenticated caller, as [`authenticate`] found it.
pub(crate) struct Authenticated(pub Caller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| Error::Internal("a route without authentication".into()))
    }
}

/// Paging parameters as they arrive: `limit` is text (serde's flattening,
/// used by the filtered lists, hands numbers over as strings).
#[derive(serde::Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

impl PageQuery {
    fn request(self) -> Result<PageRequest, Error> {
        let limit = match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => None,
            Some(l) => {
                Some(l.parse::<i64>().map_err(|_| Error::Invalid(format!("`limit={l}` is not a number")))?)
            }
        };
        Ok(PageRequest { limit, after: self.after.filter(|a| !a.is_empty()) })
    }
}

/// Middleware: times every request by its route pattern.
pub(crate) async fn track(
    State(app): AppState,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let peer = request.extensions().get::<axum::extract::ConnectInfo<crate::tls::Peer>>().map(|c| c.0.addr);
    let start = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    app.requests.record(&format!("{method} {route}"), status, start.elapsed().as_secs_f64());
    // Refusals an operator may want to see (who knocks, what is too big or
    // too fast); the route, never the query or the body.
    if matches!(status, 400 | 401 | 403 | 413 | 422 | 429) {
        let peer = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
        tracing::info!(%peer, method = %method, route = %route, status, "request refused");
    }
    response
}
