//! API tokens (admin): the list (never the tokens themselves), minting
//! one (shown once), and revoking one, which ends its console sessions.

use super::layout::{self, maybe_time, time};
use super::{param, query, Api, AppState, Fields, Pairs, Session};
use assay_api::admin::{NewToken, RevokeToken, TokenCreated, TokenRevoked, TokenView};
use assay_api::{ErrorCode, Page, Role};
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

fn form(session: &Session) -> Markup {
    html! {
        form.stack method="post" action="/console/tokens" {
            h2 { "New token" }
            (layout::csrf(session))
            label { "Role "
                select name="role" required {
                    @for r in Role::ALL { option value=(r) selected[*r == Role::ReadOnly] { (r) } }
                }
            }
            label { "Name (what it is for) " input type="text" name="name" maxlength="128" placeholder="ci"; }
            label { "Expires in (days; empty: when revoked) " input type="number" name="days" min="1" max="3650"; }
            button type="submit" { "Create token" }
        }
    }
}

fn list(session: &Session, page: &Page<TokenView>) -> Markup {
    html! {
        table {
            thead { tr { th { "Token" } th { "Role" } th { "Name" } th { "Created" } th { "Expires" } th { "Revoked" } th {} } }
            tbody {
                @for t in &page.items {
                    tr {
                        td { code { (t.id) } @if t.id == session.token_id { " " span.muted { "(this session's)" } } }
                        td { (t.role) }
                        td { (t.name) }
                        td { (time(t.created_at)) }
                        td { (maybe_time(t.expires_at)) }
                        td { (maybe_time(t.revoked_at)) }
                        td {
                            @if t.revoked_at.is_none() {
                                form.inline method="post" action="/console/tokens/revoke" data-confirm=(format!("Revoke {}? It and its console sessions stop working at once.", t.id)) {
                                    (layout::csrf(session))
                                    input type="hidden" name="id" value=(t.id);
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        (layout::pager("/console/tokens", &[], page.next.as_deref()))
    }
}

pub async fn tokens(State(app): AppState, session: Session, Query(q): Query<Pairs>) -> Response {
    let api = Api::new(&app, &session);
    let page: Page<TokenView> =
        match api.get(&format!("/v1/tokens{}", query(&[("after", param(&q, "after"))]))).await {
            Ok(p) => p,
            Err(f) => return layout::failed(&session, "tokens", "API tokens", f),
        };
    let content = html! {
        p { "Tokens for people and pipelines. The console acts with the role of the token it logged in with." }
        (list(&session, &page))
        (form(&session))
    };
    layout::page(&session, "tokens", "API tokens", content)
}

pub async fn create(State(app): AppState, session: Session, Form(form_fields): Form<Pairs>) -> Response {
    let fields = Fields(form_fields);
    let title = "API tokens";
    let role = match Role::parse(fields.get("role")) {
        Ok(r) => r,
        Err(e) => {
            let f = super::failure(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, e.to_string());
            return layout::failed_with(&session, "tokens", title, f, form(&session));
        }
    };
    let days = fields.get("days");
    let expires_in_seconds = match days {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(d) => Some(d.saturating_mul(86_400)),
            Err(_) => {
                let f = super::failure(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::Invalid,
                    format!("`{d}` is not a number of days"),
                );
                return layout::failed_with(&session, "tokens", title, f, form(&session));
            }
        },
    };
    let body = NewToken { role, name: fields.get("name").to_owned(), expires_in_seconds };
    let api = Api::new(&app, &session);
    match api.send::<TokenCreated>(Method::POST, "/v1/tokens", &body, fields.get("csrf")).await {
        Ok(t) => {
            let content = html! {
                (layout::notice("The token is shown once: copy it now."))
                p { "Token " code #api-token { (t.token) } }
                p { "Role " (t.role) @if let Some(e) = t.expires_at { ", expires " (time(e)) } "." }
                p { a href="/console/tokens" { "Back to the tokens" } }
            };
            layout::page_with_status(&session, "tokens", title, content, StatusCode::CREATED)
        }
        Err(f) => layout::failed_with(&session, "tokens", title, f, form(&session)),
    }
}

pub async fn revoke(State(app): AppState, session: Session, Form(form_fields): Form<Pairs>) -> Response {
    let fields = Fields(form_fields);
    let api = Api::new(&app, &session);
    let body = RevokeToken::Id { id: fields.get("id").to_owned() };
    match api.send::<TokenRevoked>(Method::POST, "/v1/tokens/revoke", &body, fields.get("csrf")).await {
        Ok(_) => Redirect::to("/console/tokens").into_response(),
        Err(f) => layout::failed(&session, "tokens", "API tokens", f),
    }
}
