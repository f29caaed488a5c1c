//! API tokens, enrolment tokens and the audit log.

use super::error::{Body, Params};
use super::{AppState, Authenticated, PageQuery};
use crate::domain::{agents, auth, Error};
use assay_api::admin::{
    AuditEntry, EnrollmentCreated, NewEnrollment, NewToken, RevokeToken, TokenCreated, TokenRevoked,
    TokenView,
};
use assay_api::Page;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// `POST /v1/tokens` (admin).
pub(super) async fn create(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<NewToken>,
) -> Result<(StatusCode, Json<TokenCreated>), Error> {
    Ok((StatusCode::CREATED, Json(auth::create_token(&app, &caller, req).await?)))
}

/// `GET /v1/tokens` (admin).
pub(super) async fn list(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<TokenView>>, Error> {
    Ok(Json(auth::list_tokens(&app, &caller, &page.request()?).await?))
}

/// `POST /v1/tokens/revoke` (admin): by id or by the token itself.
pub(super) async fn revoke(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<RevokeToken>,
) -> Result<Json<TokenRevoked>, Error> {
    Ok(Json(auth::revoke_token(&app, &caller, req).await?))
}

/// `POST /v1/enrollments` (operator).
pub(super) async fn create_enrollment(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Body(req): Body<NewEnrollment>,
) -> Result<(StatusCode, Json<EnrollmentCreated>), Error> {
    Ok((StatusCode::CREATED, Json(agents::create_enrollment(&app, &caller, req).await?)))
}

/// `GET /v1/audit` (admin).
pub(super) async fn audit(
    State(app): AppState,
    Authenticated(caller): Authenticated,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<AuditEntry>>, Error> {
    Ok(Json(auth::audit_log(&app, &caller, &page.request()?).await?))
}
