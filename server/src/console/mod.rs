//! The web console: server-rendered pages over the admin API. Every page
//! reads through the API and every action is an API call made in process
//! with the session's cookie and the form's CSRF token, so the console
//! passes the same checks as `assay fleet` (roles, limits, the overlap
//! rule, the audit log) and cannot do anything the API does not.
//!
//! A browser logs in with an API token and gets a session cookie (HttpOnly,
//! SameSite=Strict, `__Host-` and Secure with TLS); the session acts with
//! the token's role until it expires or the token is revoked. Pages work
//! without JavaScript; `console.js` adds live run progress and confirms.

mod findings;
mod fleet;
mod inventory;
mod layout;
mod overview;
mod packages;
mod runs;
mod templates;
mod tokens;

use crate::api::{session_cookie, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use crate::domain::auth;
use crate::domain::App;
use assay_api::{ErrorBody, ErrorCode, ErrorDetails, Role};
use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

type AppState = State<Arc<App>>;

/// A query string or a form, in order; a name may repeat.
type Pairs = Vec<(String, String)>;

/// The first value of `name` in a query string, or "".
fn param<'a>(q: &'a [(String, String)], name: &str) -> &'a str {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(overview::overview))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/static/{file}", get(asset))
        .route("/console/agents", get(fleet::agents))
        .route("/console/agents/{id}", get(fleet::agent))
        .route("/console/agents/{id}/sbom", get(inventory::sbom))
        .route("/console/inventory", get(inventory::installed))
        .route("/console/enrollments", get(fleet::enrollment_page).post(fleet::create_enrollment))
        .route("/console/targets", get(fleet::targets).post(fleet::create_target))
        .route("/console/targets/{name}", get(fleet::target))
        .route("/console/templates", get(templates::templates))
        .route("/console/templates/new", get(templates::new_template).post(templates::create_template))
        .route("/console/templates/{name}", get(templates::template).post(templates::put_template))
        .route("/console/runs", get(runs::runs).post(runs::start_run))
        .route("/console/runs/{id}", get(runs::run))
        .route("/console/runs/{id}/live", get(runs::live))
        .route("/console/runs/{id}/stop", post(runs::stop_run))
        .route("/console/runs/{id}/report", get(runs::report))
        .route("/console/findings", get(findings::findings))
        .route("/console/findings/{agent}/{fingerprint}", get(findings::finding))
        .route("/console/findings/{agent}/{fingerprint}/attributes", post(findings::add_attributes))
        .route("/console/packages", get(packages::packages))
        .route(
            "/console/packages/preview",
            post(packages::preview).layer(axum::extract::DefaultBodyLimit::max(
                2 * crate::domain::packages::MAX_BUNDLE + (1 << 20),
            )),
        )
        .route("/console/packages/{name}", get(packages::package))
        .route("/console/packages/{name}/diff", get(packages::diff))
        .route("/console/audit", get(overview::audit))
        .route("/console/tokens", get(tokens::tokens).post(tokens::create))
        .route("/console/tokens/revoke", post(tokens::revoke))
        .layer(axum::middleware::from_fn(protect))
}

/// Headers every console answer carries (no inline script or style, no
/// framing, no caching of pages that hold findings), and the refusal of a
/// cross-origin form post (login CSRF included) before any handler runs.
async fn protect(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == Method::POST && !same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin form posts are refused").into_response();
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A post without `Origin` (an old browser, curl) passes: the session
/// cookie is SameSite=Strict and the CSRF token is checked as well.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (include_str!("static/console.css"), "text/css; charset=utf-8"),
        "console.js" => (include_str!("static/console.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// A logged-in browser: what it forwards to the API, and what a page
/// needs to know about it.
pub(crate) struct Session {
    /// The request's `Cookie` header, forwarded to the API.
    cookie: String,
    csrf: String,
    role: Role,
    token_id: String,
}

impl FromRequestParts<Arc<App>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(id) = session_cookie(&parts.headers) else { return Err(to_login()) };
        let caller = match auth::by_session(app, id).await {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(layout::bare_error(&e.message())),
        };
        let cookie = parts.headers.get(header::COOKIE).and_then(|c| c.to_str().ok()).unwrap_or_default();
        Ok(Session {
            cookie: cookie.to_owned(),
            csrf: caller.csrf.unwrap_or_default(),
            role: caller.role,
            token_id: caller.token_id,
        })
    }
}

/// An API error as the console shows it.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    code: String,
    message: String,
    details: Option<ErrorDetails>,
}

/// The admin API, called in process as the session.
pub(crate) struct Api<'a> {
    app: &'a Arc<App>,
    session: &'a Session,
}

impl<'a> Api<'a> {
    fn new(app: &'a Arc<App>, session: &'a Session) -> Api<'a> {
        Api { app, session }
    }

    /// Sends one request through the API's router; the status, headers
    /// and body of its answer. `csrf` is what the form carried: the API
    /// checks it against the session.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Vec<u8>>,
        csrf: Option<&str>,
    ) -> Result<(StatusCode, HeaderMap, axum::body::Bytes), Failure> {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &self.session.cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        let request = request
            .body(axum::body::Body::from(body.unwrap_or_default()))
            .map_err(|e| failure(StatusCode::BAD_REQUEST, ErrorCode::Invalid, e.to_string()))?;
        let router = crate::api::routes(self.app.clone()).with_state(self.app.clone());
        let response = match router.oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 << 20)
            .await
            .map_err(|e| failure(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, e.to_string()))?;
        if parts.status.is_success() {
            return Ok((parts.status, parts.headers, bytes));
        }
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => Failure {
                status: parts.status,
                code: e.error.code.as_str().to_owned(),
                message: e.error.message,
                details: e.error.details,
            },
            Err(_) => {
                failure(parts.status, ErrorCode::Internal, String::from_utf8_lossy(&bytes).into_owned())
            }
        })
    }

    /// A `GET` answered with `T`.
    async fn get<T: DeserializeOwned>(&self, uri: &str) -> Result<T, Failure> {
        let (_, _, body) = self.call(Method::GET, uri, None, None).await?;
        decode(&body)
    }

    /// A change, answered with `T`.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        uri: &str,
        body: &impl Serialize,
        csrf: &str,
    ) -> Result<T, Failure> {
        let body = serde_json::to_vec(body)
            .map_err(|e| failure(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, e.to_string()))?;
        let (_, _, answer) = self.call(method, uri, Some(body), Some(csrf)).await?;
        decode(&answer)
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("the API's answer does not read: {e}"),
        )
    })
}

fn failure(status: StatusCode, code: ErrorCode, message: String) -> Failure {
    Failure { status, code: code.as_str().to_owned(), message, details: None }
}

/// A form's fields in order; a name may repeat (checkboxes).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

/// A query string for `pairs`, leaving out empty values.
fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
    }
}

/// Everything but RFC 3986's unreserved characters is encoded.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// One path segment, percent-encoded.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// `KEY=VALUE` pairs, one per line or separated by commas.
fn pairs(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("`{l}` is not KEY=VALUE")),
        })
        .collect()
}

async fn login_page(State(app): AppState, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        if matches!(auth::by_session(&app, id).await, Ok(Some(_))) {
            return Redirect::to("/console").into_response();
        }
    }
    layout::login(None, StatusCode::OK)
}

async fn login(
    State(app): AppState,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<crate::tls::Peer>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(form);
    match auth::login(&app, &peer.addr.ip().to_string(), fields.get("token")).await {
        Ok((id, _)) => {
            let cookie = if app.config.tls.is_some() {
                format!("{SECURE_SESSION_COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict")
            } else {
                format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict")
            };
            let mut response = Redirect::to("/console").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => layout::login(Some(&e.message()), crate::api::error::status(e.code())),
    }
}

async fn logout(
    State(app): AppState,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let fields = Fields(form);
    if !auth::same(fields.get("csrf").as_bytes(), session.csrf.as_bytes()) {
        return layout::bare_error("the form carries no valid CSRF token for this session");
    }
    if let Some(cookie) = session_cookie(&headers) {
        let caller = auth::Caller { token_id: session.token_id.clone(), role: session.role, csrf: None };
        let _ = auth::logout(&app, cookie, &caller).await;
    }
    let name = if app.config.tls.is_some() { SECURE_SESSION_COOKIE } else { SESSION_COOKIE };
    let secure = if app.config.tls.is_some() { "; Secure" } else { "" };
    let mut response = Redirect::to("/console/login").into_response();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"))
    {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
