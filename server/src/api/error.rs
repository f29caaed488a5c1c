//! Errors as HTTP answers, in one place: every error of both APIs is
//! `{"error": {"code", "message", "details"}}` with the status its code
//! has; and the extractors whose rejections (not JSON, a missing field,
//! too large, a bad query) become such errors too.

use crate::domain::Error;
use assay_api::{ErrorBody, ErrorCode, ErrorDetail};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub(crate) fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Conflict | ErrorCode::AgentsInRun => StatusCode::CONFLICT,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error with the status it is answered with (a malformed body is 400,
/// not the 422 of an invalid value).
pub(crate) struct Answer(pub StatusCode, pub Error);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Answer(status(self.code()), self).into_response()
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let Answer(status, e) = self;
        let body =
            ErrorBody { error: ErrorDetail { code: e.code(), message: e.message(), details: e.details() } };
        (status, axum::Json(body)).into_response()
    }
}

/// A JSON body whose rejection (not JSON, a missing or unknown field, a
/// NUL character, too large) is an error like every other, naming the
/// field.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Answer;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(e) => return Err(rejected(e.status(), e.body_text())),
        };
        if let Some(path) = nul_at(&value, "") {
            let what = if path.is_empty() { "the body".to_owned() } else { format!("`{path}`") };
            return Err(Answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                Error::Invalid(format!("{what} holds a NUL character, which no text of this API may")),
            ));
        }
        serde_path_to_error::deserialize(value).map(Body).map_err(|e| {
            let at = e.path().to_string();
            let message = if at == "." { e.inner().to_string() } else { format!("{at}: {}", e.inner()) };
            Answer(StatusCode::UNPROCESSABLE_ENTITY, Error::Invalid(message))
        })
    }
}

/// Where `value` holds a NUL character (a string or a key), as a path.
/// PostgreSQL's text cannot hold one, and no text the service keeps needs
/// one: it is refused at the door rather than failing a write later.
fn nul_at(value: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(at.to_owned()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_at(v, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, &here)
            }
        }),
        _ => None,
    }
}

/// Middleware: refuses a request whose path or query holds an encoded NUL
/// (`%00`), before any handler binds it to a statement.
pub(crate) async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri().to_string();
    if uri.to_ascii_lowercase().contains("%00") {
        let e = Error::Invalid(
            "the path or query holds a NUL character (%00), which no text of this API may".into(),
        );
        let peer =
            request.extensions().get::<axum::extract::ConnectInfo<crate::tls::Peer>>().map(|c| c.0.addr);
        tracing::info!(peer = ?peer, method = %request.method(), "request refused: NUL in the path or query");
        return e.into_response();
    }
    next.run(request).await
}

/// Query parameters, rejected as an error.
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = Answer;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(rejected(e.status(), e.body_text())),
        }
    }
}

/// Raw bytes of a body, with a too-large body rejected as an error.
pub(crate) struct Raw(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Raw {
    type Rejection = Answer;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Raw(b)),
            Err(e) => Err(rejected(e.status(), e.body_text())),
        }
    }
}

fn rejected(status: StatusCode, message: String) -> Answer {
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge(message)
    } else {
        Error::Invalid(message)
    };
    Answer(status, error)
}

/// The answer to a path no route has.
pub(crate) async fn no_route() -> Error {
    Error::NotFound("no such endpoint; the API is described at /v1/openapi.json".into())
}
