//! API errors: data with a status and a stable code, rendered as JSON in
//! one place (`{"error": {"code": ..., "message": ..., "details": ...}}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, for clients: `unauthorized`, `forbidden`, `not_found`,
    /// `invalid`, `conflict`, `agents_in_run`, `unavailable`, `internal`.
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Value::Null }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// Something the request needs cannot serve now (the database, the
    /// blob store): retry.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }
}

/// A database error: unavailable (503, retry) when the database cannot be
/// reached or stays locked, a conflict for a unique key, otherwise
/// internal.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        match &e {
            _ if crate::db::is_unavailable(&e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the database is unavailable: {e}"),
            ),
            _ if crate::db::is_conflict(&e) => ApiError::conflict(format!("it exists already: {e}")),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("database error: {e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if !self.details.is_null() {
            body["details"] = self.details;
        }
        (self.status, axum::Json(json!({ "error": body }))).into_response()
    }
}

/// A JSON body whose rejection (not JSON, a missing field, too large) is
/// an [`ApiError`] like every other error.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(rejected(e.status(), e.body_text())),
        }
    }
}

/// Query parameters, rejected as an [`ApiError`].
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

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

/// Raw bytes of a body, with a too-large body rejected as an [`ApiError`].
pub struct Raw(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Raw {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Raw(b)),
            Err(e) => Err(rejected(e.status(), e.body_text())),
        }
    }
}

fn rejected(status: StatusCode, message: String) -> ApiError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid" };
    ApiError::new(status, code, message)
}

/// The answer to a path no route has.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint; the API is described at /v1/openapi.json")
}
