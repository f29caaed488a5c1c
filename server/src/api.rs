//! The admin API under `/v1`: tokens, enrolment tokens, agents, targets,
//! templates, runs and findings. Every handler checks the caller's role
//! first; every change is one transaction and is written to the audit log.

use crate::auth::{self, Role};
use crate::db;
use crate::error::{ApiError, ApiResult, Body, Params, Raw};
use crate::runs;
use crate::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

type AppState = State<Arc<App>>;

pub fn routes(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tokens", post(create_token))
        .route("/v1/enrollments", post(create_enrollment))
        .route("/v1/agents", get(list_agents))
        .route("/v1/agents/{id}/revoke", post(revoke_agent))
        .route("/v1/targets", post(create_target).get(list_targets))
        .route("/v1/targets/{name}/preview", get(preview_target))
        .route("/v1/templates", get(list_templates))
        .route("/v1/templates/{name}", put(put_template).get(get_template))
        .route("/v1/runs", post(start_run).get(list_runs))
        .route("/v1/runs/{id}", get(get_run))
        .route("/v1/runs/{id}/stop", post(stop_run))
        .route("/v1/runs/{id}/report", get(run_report))
        .route("/v1/findings", get(list_findings))
        .route("/v1/findings/{id}/attributes", post(add_attributes))
        .route("/v1/audit", get(audit_log))
        .route("/metrics", get(metrics_text))
        .route("/v1/feed", put(put_feed).get(get_feed).layer(axum::extract::DefaultBodyLimit::max(512 << 20)))
        .route("/v1/waivers", put(put_waivers).get(get_waivers))
        .route("/v1/fleet-findings", get(list_fleet_findings))
        .route("/v1/fleet-findings/{agent}/{fingerprint}", get(get_fleet_finding))
        .route("/v1/fleet-findings/{agent}/{fingerprint}/attributes", post(add_fleet_attributes))
        .route("/v1/overview", get(overview))
        .route("/v1/packages", get(list_packages))
        .fallback(crate::error::no_route)
        // Routes above need a valid token before their body is read, so an
        // unauthenticated caller learns nothing about what they accept.
        .route_layer(axum::middleware::from_fn_with_state(app, authenticate))
        .route("/v1/openapi.json", get(openapi))
}

/// Refuses a request without a valid token or console session (and a
/// session's state-changing request without its CSRF token); each handler
/// then checks the role.
async fn authenticate(
    State(app): AppState,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(e) = auth::require(&app.db, request.headers(), Role::ReadOnly).await {
        return e.into_response();
    }
    let safe = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if !safe {
        if let Err(e) = auth::check_csrf(&app.db, request.headers()).await {
            return e.into_response();
        }
    }
    next.run(request).await
}

/// A tag filter: `key` alone matches any value.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct TagFilter {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Whether an agent with `tags` matches any of `filters` (Inspector's rule).
pub fn matches(tags: &BTreeMap<String, String>, filters: &[TagFilter]) -> bool {
    filters.iter().any(|f| match (&f.value, tags.get(&f.key)) {
        (None, Some(_)) => true,
        (Some(want), Some(have)) => want == have,
        _ => false,
    })
}

/// Why packages would not assess a host with `os` (an os-release ID such
/// as `debian`): one reason per package whose platforms leave it out.
pub(crate) fn unsupported(app: &App, packages: &[String], os: &str) -> Vec<String> {
    if os.is_empty() {
        return Vec::new();
    }
    app.bundle
        .content
        .packages
        .iter()
        .filter(|p| packages.contains(&p.name))
        .filter(|p| !p.platforms.is_empty() && !p.platforms.iter().any(|pl| pl.includes(os)))
        .map(|p| {
            let names: Vec<&str> = p.platforms.iter().map(|pl| pl.as_str()).collect();
            format!("package {} is for {}, not {os}", p.name, names.join(", "))
        })
        .collect()
}

fn valid_name(what: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("{what} `{name}` must be 1 to 128 letters, digits, `-`, `_` or `.`")))
    }
}

#[derive(Deserialize)]
struct NewToken {
    role: String,
    #[serde(default)]
    name: String,
}

async fn create_token(
    State(app): AppState,
    headers: HeaderMap,
    Body(req): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth::require(&app.db, &headers, Role::Admin).await?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::invalid(format!("role `{}` is not one of read-only, operator, admin", req.role))
    })?;
    let (id, token) = auth::mint(&app.db.pool, role, &req.name).await?;
    auth::audit(&app.db, &actor.token_id, "token.create", json!({ "id": id, "role": role.as_str() })).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "role": role.as_str(), "token": token }))))
}

#[derive(Deserialize)]
struct NewEnrollment {
    #[serde(default = "one")]
    uses: i64,
    #[serde(default = "day")]
    expires_in_seconds: i64,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn one() -> i64 {
    1
}

fn day() -> i64 {
    86_400
}

async fn create_enrollment(
    State(app): AppState,
    headers: HeaderMap,
    Body(req): Body<NewEnrollment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    if !(1..=100_000).contains(&req.uses) || !(60..=31_536_000).contains(&req.expires_in_seconds) {
        return Err(ApiError::invalid("uses must be 1 to 100000 and expires_in_seconds 60 to 31536000"));
    }
    let id = format!("enr-{}", db::random_hex(8));
    let token = format!("assay_enroll_{}", db::random_hex(32));
    let expires = db::now() + req.expires_in_seconds * 1000;
    let insert = sqlx::query(
        "INSERT INTO enrollments (id, hash, uses_left, expires_at, tags, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    );
    app.db
        .execute(
            insert
                .bind(&id)
                .bind(db::hash(&token))
                .bind(req.uses)
                .bind(expires)
                .bind(serde_json::to_string(&req.tags).unwrap_or_default())
                .bind(db::now()),
        )
        .await?;
    auth::audit(&app.db, &actor.token_id, "enrollment.create", json!({ "id": id, "uses": req.uses })).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token, "uses": req.uses, "expires_at": expires, "tags": req.tags })),
    ))
}

/// Paging: at most `limit` items after the cursor `after`.
/// (`limit` is text: serde's flattening, used by the filtered lists, hands
/// numbers over as strings.)
#[derive(Deserialize, Default)]
struct Page {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

impl Page {
    fn limit(&self) -> i64 {
        self.limit.as_deref().and_then(|l| l.parse::<i64>().ok()).unwrap_or(100).clamp(1, 1000)
    }
}

/// Health and health code as Inspector reported them: revoked agents are
/// UNHEALTHY, agents without a recent heartbeat UNKNOWN, the others as
/// their last heartbeat said (UNHEALTHY with a detail, THROTTLED when they
/// heartbeat too often, SHUTDOWN when they stopped).
pub fn health(row: &sqlx::any::AnyRow, unknown_after_ms: i64) -> (&'static str, String) {
    let code = db::text(row, "health_code");
    if db::opt_int(row, "revoked_at").is_some() {
        ("UNHEALTHY", "UNHEALTHY".into())
    } else if code == "SHUTDOWN" {
        ("UNKNOWN", code)
    } else if db::now() - db::int(row, "last_seen") > unknown_after_ms {
        ("UNKNOWN", "UNKNOWN".into())
    } else if code == "UNHEALTHY" || code == "THROTTLED" {
        ("UNHEALTHY", code)
    } else {
        ("HEALTHY", if code.is_empty() { "IDLE".into() } else { code })
    }
}

pub(crate) fn agent_json(row: &sqlx::any::AnyRow, unknown_after_ms: i64) -> Value {
    let tags: BTreeMap<String, String> = serde_json::from_str(&db::text(row, "tags")).unwrap_or_default();
    let revoked = db::opt_int(row, "revoked_at").is_some();
    let health = health(row, unknown_after_ms);
    let addresses: Vec<String> = serde_json::from_str(&db::text(row, "addresses")).unwrap_or_default();
    json!({
        "id": db::text(row, "id"),
        "hostname": db::text(row, "hostname"),
        "addresses": addresses,
        "machine_id": db::text(row, "machine_id"),
        "os": db::text(row, "os"),
        "tags": tags,
        "enrolled_at": db::int(row, "enrolled_at"),
        "last_seen": db::int(row, "last_seen"),
        "health": health.0,
        "health_code": health.1,
        "health_detail": db::text(row, "health_detail"),
        "revoked": revoked,
    })
}

#[derive(Deserialize)]
struct AgentQuery {
    #[serde(default)]
    tag: Vec<String>,
    health: Option<String>,
    #[serde(flatten)]
    page: Page,
}

fn parse_filters(tags: &[String]) -> Vec<TagFilter> {
    tags.iter()
        .map(|t| match t.split_once('=') {
            Some((k, v)) => TagFilter { key: k.to_owned(), value: Some(v.to_owned()) },
            None => TagFilter { key: t.clone(), value: None },
        })
        .collect()
}

/// Revokes an agent: every request with any of its certificates fails
/// from now on, and it leaves the runs it is in (its lock is released;
/// the run records it as missing).
async fn revoke_agent(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    let mut tx = app.db.write().await?;
    let done = sqlx::query("UPDATE agents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(db::now())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        let exists =
            sqlx::query("SELECT id FROM agents WHERE id = $1").bind(&id).fetch_optional(&mut *tx).await?;
        return match exists {
            None => Err(ApiError::not_found(format!("no agent `{id}`"))),
            Some(_) => Err(ApiError::conflict(format!("agent `{id}` is revoked already"))),
        };
    }
    sqlx::query("UPDATE run_agents SET status = 'missing' WHERE agent_id = $1 AND status IN ('pending', 'collecting')")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM agent_locks WHERE agent_id = $1").bind(&id).execute(&mut *tx).await?;
    tx.commit().await?;
    auth::audit(&app.db, &actor.token_id, "agent.revoke", json!({ "agent": id })).await?;
    Ok(Json(json!({ "agent": id, "revoked": true })))
}

async fn list_agents(
    State(app): AppState,
    headers: HeaderMap,
    Params(q): Params<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let q = AgentQuery {
        tag: q.iter().filter(|(k, _)| k == "tag").map(|(_, v)| v.clone()).collect(),
        health: q.iter().find(|(k, _)| k == "health").map(|(_, v)| v.clone()).filter(|h| !h.is_empty()),
        page: Page {
            limit: q.iter().find(|(k, _)| k == "limit").map(|(_, v)| v.clone()),
            after: q.iter().find(|(k, _)| k == "after").map(|(_, v)| v.clone()),
        },
    };
    if let Some(h) = q.health.as_deref().filter(|h| !["HEALTHY", "UNHEALTHY", "UNKNOWN"].contains(h)) {
        return Err(ApiError::invalid(format!("health `{h}` is not HEALTHY, UNHEALTHY or UNKNOWN")));
    }
    let filters = parse_filters(&q.tag);
    let rows = sqlx::query("SELECT * FROM agents WHERE id > $1 ORDER BY id")
        .bind(q.page.after.clone().unwrap_or_default())
        .fetch_all(&app.db.pool)
        .await?;
    let mut items = Vec::new();
    for row in &rows {
        let tags: BTreeMap<String, String> = serde_json::from_str(&db::text(row, "tags")).unwrap_or_default();
        let healthy = q.health.as_deref().is_none_or(|h| health(row, app.config.unknown_after_ms).0 == h);
        if (filters.is_empty() || matches(&tags, &filters)) && healthy {
            items.push(agent_json(row, app.config.unknown_after_ms));
        }
        if items.len() as i64 == q.page.limit() {
            break;
        }
    }
    let next =
        if items.len() as i64 == q.page.limit() { items.last().map(|a| a["id"].clone()) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

#[derive(Deserialize)]
struct NewTarget {
    name: String,
    tags: Vec<TagFilter>,
}

async fn create_target(
    State(app): AppState,
    headers: HeaderMap,
    Body(req): Body<NewTarget>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    valid_name("target", &req.name)?;
    if req.tags.is_empty() || req.tags.len() > 50 {
        return Err(ApiError::invalid("a target needs 1 to 50 tags (a host matches when any matches)"));
    }
    let mut tx = app.db.write().await?;
    let targets = sqlx::query("SELECT COUNT(*) AS n FROM targets").fetch_one(&mut *tx).await?;
    if db::int(&targets, "n") >= app.config.max_targets {
        return Err(ApiError::conflict(format!(
            "the limit of {} targets is reached",
            app.config.max_targets
        )));
    }
    let inserted = sqlx::query("INSERT INTO targets (name, tags, created_at) VALUES ($1, $2, $3)")
        .bind(&req.name)
        .bind(serde_json::to_string(&req.tags).unwrap_or_default())
        .bind(db::now())
        .execute(&mut *tx)
        .await;
    if let Err(e) = inserted {
        return Err(if db::is_conflict(&e) {
            ApiError::conflict(format!("target `{}` exists", req.name))
        } else {
            e.into()
        });
    }
    tx.commit().await?;
    auth::audit(&app.db, &actor.token_id, "target.create", json!({ "name": req.name })).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": req.name, "tags": req.tags }))))
}

async fn list_targets(
    State(app): AppState,
    headers: HeaderMap,
    Params(page): Params<Page>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let rows =
        sqlx::query("SELECT name, tags, created_at FROM targets WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(page.after.clone().unwrap_or_default())
            .bind(page.limit())
            .fetch_all(&app.db.pool)
            .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let tags: Value = serde_json::from_str(&db::text(r, "tags")).unwrap_or_default();
            json!({ "name": db::text(r, "name"), "tags": tags, "created_at": db::int(r, "created_at") })
        })
        .collect();
    let next =
        if items.len() as i64 == page.limit() { items.last().map(|t| t["name"].clone()) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

/// The agents a target's tags match now (not revoked).
pub(crate) async fn target_agents<'e, E>(
    executor: E,
    tags: &[TagFilter],
) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows =
        sqlx::query("SELECT * FROM agents WHERE revoked_at IS NULL ORDER BY id").fetch_all(executor).await?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            let have: BTreeMap<String, String> =
                serde_json::from_str(&db::text(r, "tags")).unwrap_or_default();
            matches(&have, tags)
        })
        .collect())
}

async fn target_tags<'e, E>(executor: E, name: &str) -> ApiResult<Vec<TagFilter>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT tags FROM targets WHERE name = $1")
        .bind(name)
        .fetch_optional(executor)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no target `{name}`")))?;
    Ok(serde_json::from_str(&db::text(&row, "tags")).unwrap_or_default())
}

#[derive(Deserialize)]
struct PreviewQuery {
    /// Also say which of this template's packages would skip each agent.
    template: Option<String>,
}

async fn preview_target(
    State(app): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Params(q): Params<PreviewQuery>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let packages: Vec<String> = match &q.template {
        None => Vec::new(),
        Some(t) => {
            let row =
                sqlx::query("SELECT packages FROM templates WHERE name = $1 ORDER BY version DESC LIMIT 1")
                    .bind(t)
                    .fetch_optional(&app.db.pool)
                    .await?
                    .ok_or_else(|| ApiError::not_found(format!("no template `{t}`")))?;
            serde_json::from_str(&db::text(&row, "packages")).unwrap_or_default()
        }
    };
    let tags = target_tags(&app.db.pool, &name).await?;
    let agents = target_agents(&app.db.pool, &tags).await?;
    let locks = sqlx::query("SELECT agent_id, run_id FROM agent_locks").fetch_all(&app.db.pool).await?;
    let held: BTreeMap<String, String> =
        locks.iter().map(|r| (db::text(r, "agent_id"), db::text(r, "run_id"))).collect();
    let items: Vec<Value> = agents
        .iter()
        .map(|r| {
            let mut a = agent_json(r, app.config.unknown_after_ms);
            // Why a matching agent would be excluded from a run started now.
            let id = db::text(r, "id");
            a["excluded"] = match (held.get(&id), a["health"].as_str()) {
                (Some(run), _) => json!(format!("already in run {run}")),
                (None, Some("UNKNOWN")) => json!("no heartbeat recently: the agent is UNKNOWN"),
                (None, Some("UNHEALTHY")) => {
                    json!(format!(
                        "the agent is UNHEALTHY ({})",
                        a["health_code"].as_str().unwrap_or_default()
                    ))
                }
                _ => Value::Null,
            };
            a["packages_excluded"] = json!(unsupported(&app, &packages, &db::text(r, "os")));
            a
        })
        .collect();
    Ok(Json(json!({ "target": name, "agents": items })))
}

#[derive(Deserialize)]
struct TemplateBody {
    target: String,
    packages: Vec<String>,
    #[serde(default = "hour")]
    duration_seconds: i64,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    /// A cron expression (UTC) that starts runs on time.
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    notifications: Vec<crate::notify::Notification>,
}

fn hour() -> i64 {
    3600
}

fn template_json(r: &sqlx::any::AnyRow) -> Value {
    json!({
        "name": db::text(r, "name"),
        "version": db::int(r, "version"),
        "target": db::text(r, "target"),
        "packages": serde_json::from_str::<Value>(&db::text(r, "packages")).unwrap_or_default(),
        "duration_seconds": db::int(r, "duration_seconds"),
        "attributes": serde_json::from_str::<Value>(&db::text(r, "attributes")).unwrap_or_default(),
        "schedule": r.try_get::<Option<String>, _>("schedule").ok().flatten(),
        "notifications": serde_json::from_str::<Value>(&db::text(r, "notifications")).unwrap_or_default(),
        "created_at": db::int(r, "created_at"),
    })
}

/// Creates a template, or a new version of it: runs pin the version they
/// started with, so an edit never changes a run in progress.
async fn put_template(
    State(app): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(req): Body<TemplateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    valid_name("template", &name)?;
    let known: Vec<&str> = app.bundle.content.packages.iter().map(|p| p.name.as_str()).collect();
    if req.packages.is_empty() {
        return Err(ApiError::invalid(format!(
            "a template needs at least one package: {}",
            known.join(", ")
        )));
    }
    if let Some(p) = req.packages.iter().find(|p| !known.contains(&p.as_str())) {
        return Err(ApiError::invalid(format!(
            "`{p}` is not a rules package of this server: {}",
            known.join(", ")
        )));
    }
    if !(60..=86_400).contains(&req.duration_seconds) {
        return Err(ApiError::invalid("duration_seconds must be 60 (1 minute) to 86400 (a day)"));
    }
    crate::notify::validate(&req.notifications).map_err(ApiError::invalid)?;
    let next_run = match &req.schedule {
        Some(cron) => Some(crate::notify::next_fire(cron, db::now()).map_err(ApiError::invalid)?),
        None => None,
    };
    let mut tx = app.db.write().await?;
    target_tags(&mut *tx, &req.target).await?;
    let last = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM templates WHERE name = $1")
        .bind(&name)
        .fetch_one(&mut *tx)
        .await?;
    let version = db::int(&last, "v") + 1;
    if version == 1 {
        let n = sqlx::query("SELECT COUNT(DISTINCT name) AS n FROM templates").fetch_one(&mut *tx).await?;
        if db::int(&n, "n") >= app.config.max_templates {
            return Err(ApiError::conflict(format!(
                "the limit of {} templates is reached",
                app.config.max_templates
            )));
        }
    }
    sqlx::query(
        "INSERT INTO templates (name, version, target, packages, duration_seconds, attributes, created_at, schedule, notifications) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&name)
    .bind(version)
    .bind(&req.target)
    .bind(serde_json::to_string(&req.packages).unwrap_or_default())
    .bind(req.duration_seconds)
    .bind(serde_json::to_string(&req.attributes).unwrap_or_default())
    .bind(db::now())
    .bind(req.schedule.clone())
    .bind(serde_json::to_string(&req.notifications).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM schedules WHERE template = $1").bind(&name).execute(&mut *tx).await?;
    if let (Some(cron), Some(next)) = (&req.schedule, next_run) {
        sqlx::query("INSERT INTO schedules (template, cron, next_run_at) VALUES ($1, $2, $3)")
            .bind(&name)
            .bind(cron)
            .bind(next)
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query("SELECT * FROM templates WHERE name = $1 AND version = $2")
        .bind(&name)
        .bind(version)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    auth::audit(&app.db, &actor.token_id, "template.put", json!({ "name": name, "version": version }))
        .await?;
    let status = if version == 1 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(template_json(&row))))
}

async fn list_templates(
    State(app): AppState,
    headers: HeaderMap,
    Params(page): Params<Page>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let rows = sqlx::query(
        "SELECT t.* FROM templates t WHERE t.version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name) \
         AND t.name > $1 ORDER BY t.name LIMIT $2",
    )
    .bind(page.after.clone().unwrap_or_default())
    .bind(page.limit())
    .fetch_all(&app.db.pool)
    .await?;
    let items: Vec<Value> = rows.iter().map(template_json).collect();
    let next =
        if items.len() as i64 == page.limit() { items.last().map(|t| t["name"].clone()) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

async fn get_template(
    State(app): AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let rows = sqlx::query("SELECT * FROM templates WHERE name = $1 ORDER BY version")
        .bind(&name)
        .fetch_all(&app.db.pool)
        .await?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("no template `{name}`")));
    }
    Ok(Json(json!({ "name": name, "versions": rows.iter().map(template_json).collect::<Vec<_>>() })))
}

#[derive(Deserialize)]
struct NewRun {
    template: String,
}

/// Starts a run of the template's latest version over the agents its
/// target matches now. The agents are locked for the run by inserting one
/// `agent_locks` row each in the same transaction: a concurrent start
/// that wants one of them fails on the key, never both succeed.
async fn start_run(
    State(app): AppState,
    headers: HeaderMap,
    Body(req): Body<NewRun>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    let id = start(&app, &req.template).await?;
    auth::audit(&app.db, &actor.token_id, "run.start", json!({ "run": id, "template": req.template }))
        .await?;
    Ok((StatusCode::CREATED, Json(run_json(&app, &id).await?)))
}

/// Starts a run of `template` (its latest version); the run's id.
pub(crate) async fn start(app: &App, template_name: &str) -> ApiResult<String> {
    let req = NewRun { template: template_name.to_owned() };
    let mut tx = app.db.write().await?;
    let template = sqlx::query("SELECT * FROM templates WHERE name = $1 ORDER BY version DESC LIMIT 1")
        .bind(&req.template)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no template `{}`", req.template)))?;
    let tags = target_tags(&mut *tx, &db::text(&template, "target")).await?;
    let agents = target_agents(&mut *tx, &tags).await?;
    if agents.is_empty() {
        return Err(ApiError::conflict(format!(
            "no agent matches target `{}`; `assay fleet target preview` shows which do",
            db::text(&template, "target")
        )));
    }
    if agents.len() as i64 > app.config.max_agents_per_run {
        return Err(ApiError::conflict(format!(
            "{} agents match, more than the limit of {} per run",
            agents.len(),
            app.config.max_agents_per_run
        )));
    }
    let id = format!("run-{}", db::random_hex(8));
    let now = db::now();
    let duration = db::int(&template, "duration_seconds");
    sqlx::query(
        "INSERT INTO runs (id, template, template_version, state, created_at, collect_until) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&req.template)
    .bind(db::int(&template, "version"))
    .bind(runs::CREATED)
    .bind(now)
    .bind(now + duration * 1000)
    .execute(&mut *tx)
    .await?;
    runs::record(&mut tx, &id, runs::CREATED).await?;
    for a in &agents {
        let agent = db::text(a, "id");
        let locked = sqlx::query("INSERT INTO agent_locks (agent_id, run_id) VALUES ($1, $2)")
            .bind(&agent)
            .bind(&id)
            .execute(&mut *tx)
            .await;
        if let Err(e) = locked {
            drop(tx);
            if !db::is_conflict(&e) {
                return Err(e.into());
            }
            return Err(overlap(app, &agents).await);
        }
        sqlx::query("INSERT INTO run_agents (run_id, agent_id, status) VALUES ($1, $2, 'pending')")
            .bind(&id)
            .bind(&agent)
            .execute(&mut *tx)
            .await?;
    }
    runs::transition(&mut tx, &id, runs::CREATED, runs::START_PENDING).await?;
    if let Err(e) = tx.commit().await {
        return Err(if db::is_conflict(&e) { overlap(app, &agents).await } else { e.into() });
    }
    app.wake.notify_waiters();
    Ok(id)
}

/// The error of a start that overlaps a run in progress: which agents, held
/// by which runs.
async fn overlap(app: &App, agents: &[sqlx::any::AnyRow]) -> ApiError {
    let wanted: Vec<String> = agents.iter().map(|a| db::text(a, "id")).collect();
    let held = match sqlx::query("SELECT agent_id, run_id FROM agent_locks").fetch_all(&app.db.pool).await {
        Ok(rows) => rows
            .iter()
            .filter(|r| wanted.contains(&db::text(r, "agent_id")))
            .map(|r| json!({ "agent": db::text(r, "agent_id"), "run": db::text(r, "run_id") }))
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    ApiError::new(
        StatusCode::CONFLICT,
        "agents_in_run",
        "agents of this target are in a run that has not finished",
    )
    .with_details(json!({ "agents": held }))
}

pub(crate) async fn run_json(app: &App, id: &str) -> ApiResult<Value> {
    let run = sqlx::query("SELECT * FROM runs WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run `{id}`")))?;
    let history = sqlx::query("SELECT state, at FROM run_states WHERE run_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&app.db.pool)
        .await?;
    let packages: Vec<String> =
        match sqlx::query("SELECT packages FROM templates WHERE name = $1 AND version = $2")
            .bind(db::text(&run, "template"))
            .bind(db::int(&run, "template_version"))
            .fetch_optional(&app.db.pool)
            .await?
        {
            Some(t) => serde_json::from_str(&db::text(&t, "packages")).unwrap_or_default(),
            None => Vec::new(),
        };
    let agents = sqlx::query(
        "SELECT ra.agent_id, ra.status, ra.chunks_received, ra.chunks_total, a.hostname, a.os, j.state AS job, j.attempts, j.error FROM run_agents ra JOIN agents a ON a.id = ra.agent_id \
         LEFT JOIN jobs j ON j.run_id = ra.run_id AND j.agent_id = ra.agent_id WHERE ra.run_id = $1 ORDER BY ra.agent_id",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await?;
    let deliveries = sqlx::query(
        "SELECT url, event, state, attempts, error, sent_at FROM outbox WHERE run_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await?;
    let findings =
        sqlx::query("SELECT severity, COUNT(*) AS n FROM findings WHERE run_id = $1 GROUP BY severity")
            .bind(id)
            .fetch_all(&app.db.pool)
            .await?;
    let mut exclusions: Vec<Value> = agents
        .iter()
        .filter_map(|a| {
            let reason = match (db::text(a, "status").as_str(), a.try_get::<Option<String>, _>("job").ok().flatten().as_deref()) {
                ("missing", _) => "no telemetry arrived before the collection ended".to_owned(),
                (_, Some("failed")) => format!(
                    "evaluation failed: {}",
                    a.try_get::<Option<String>, _>("error").ok().flatten().unwrap_or_default()
                ),
                _ => return None,
            };
            Some(json!({ "agent": db::text(a, "agent_id"), "hostname": db::text(a, "hostname"), "reason": reason }))
        })
        .collect();
    for a in &agents {
        for reason in unsupported(app, &packages, &db::text(a, "os")) {
            exclusions.push(json!({ "agent": db::text(a, "agent_id"), "hostname": db::text(a, "hostname"), "reason": reason }));
        }
    }
    Ok(json!({
        "id": id,
        "template": db::text(&run, "template"),
        "template_version": db::int(&run, "template_version"),
        "state": db::text(&run, "state"),
        "created_at": db::int(&run, "created_at"),
        "collect_until": db::int(&run, "collect_until"),
        "finished_at": db::opt_int(&run, "finished_at"),
        "history": history.iter().map(|h| json!({ "state": db::text(h, "state"), "at": db::int(h, "at") })).collect::<Vec<_>>(),
        "agents": agents.iter().map(|a| json!({
            "agent": db::text(a, "agent_id"),
            "hostname": db::text(a, "hostname"),
            "status": db::text(a, "status"),
            "chunks_received": db::int(a, "chunks_received"),
            "chunks_total": db::int(a, "chunks_total"),
            "evaluation": a.try_get::<Option<String>, _>("job").ok().flatten(),
            "evaluation_attempts": db::opt_int(a, "attempts"),
        })).collect::<Vec<_>>(),
        "exclusions": exclusions,
        "notifications": deliveries.iter().map(|d| json!({
            "url": db::text(d, "url"),
            "event": db::text(d, "event"),
            "state": db::text(d, "state"),
            "attempts": db::int(d, "attempts"),
            "error": d.try_get::<Option<String>, _>("error").ok().flatten(),
            "sent_at": db::opt_int(d, "sent_at"),
        })).collect::<Vec<_>>(),
        "findings": findings.iter().map(|f| (db::text(f, "severity"), json!(db::int(f, "n")))).collect::<serde_json::Map<_, _>>(),
    }))
}

async fn get_run(State(app): AppState, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    Ok(Json(run_json(&app, &id).await?))
}

async fn list_runs(
    State(app): AppState,
    headers: HeaderMap,
    Params(page): Params<Page>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    // Newest first; the cursor is `created_at/id` of the last run shown
    // (no run was created at i64::MAX, so the first page has no bound).
    let (before_at, before_id) = match page.after.as_deref() {
        None => (i64::MAX, String::new()),
        Some(a) => a
            .split_once('/')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
            .ok_or_else(|| ApiError::invalid(format!("`after={a}` is not a cursor of this list")))?,
    };
    let rows = sqlx::query(
        "SELECT id, template, template_version, state, created_at, finished_at FROM runs \
         WHERE created_at < $1 OR (created_at = $1 AND id < $2) ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(before_at)
    .bind(before_id)
    .bind(page.limit())
    .fetch_all(&app.db.pool)
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": db::text(r, "id"),
                "template": db::text(r, "template"),
                "template_version": db::int(r, "template_version"),
                "state": db::text(r, "state"),
                "created_at": db::int(r, "created_at"),
                "finished_at": db::opt_int(r, "finished_at"),
            })
        })
        .collect();
    let next = (items.len() as i64 == page.limit())
        .then(|| rows.last().map(|r| format!("{}/{}", db::int(r, "created_at"), db::text(r, "id"))))
        .flatten();
    Ok(Json(json!({ "items": items, "next": next })))
}

#[derive(Deserialize, Default)]
struct StopRun {
    #[serde(default)]
    skip_evaluation: bool,
}

/// Stops collection now: the telemetry that arrived is evaluated, or with
/// `skip_evaluation` the run is canceled.
async fn stop_run(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Raw(body): Raw,
) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    // The body is optional: none means "stop and evaluate".
    let request: StopRun = if body.iter().all(u8::is_ascii_whitespace) {
        StopRun::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not a stop request: {e}")))?
    };
    let skip = request.skip_evaluation;
    let mut tx = app.db.write().await?;
    let row = sqlx::query("SELECT state FROM runs WHERE id = $1")
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run `{id}`")))?;
    let state = db::text(&row, "state");
    let stoppable = runs::COLLECTING_STATES.contains(&state.as_str())
        || (skip
            && [runs::STOP_PENDING, runs::DATA_COLLECTED, runs::EVAL_PENDING, runs::EVALUATING]
                .contains(&state.as_str()));
    if !stoppable {
        return Err(ApiError::conflict(format!("run {id} is {state}: there is no collection to stop")));
    }
    let to = if skip { runs::CANCELED } else { runs::STOP_PENDING };
    if !runs::transition(&mut tx, &id, &state, to).await? {
        return Err(ApiError::conflict(format!("run {id} changed state meanwhile; try again")));
    }
    if skip {
        sqlx::query("UPDATE jobs SET state = 'failed', error = 'the run was canceled' WHERE run_id = $1 AND state IN ('pending', 'leased')")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    auth::audit(&app.db, &actor.token_id, "run.stop", json!({ "run": id, "skip_evaluation": skip })).await?;
    Ok(Json(run_json(&app, &id).await?))
}

#[derive(Deserialize)]
struct FindingQuery {
    run: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    agent: Option<String>,
    attribute: Option<String>,
    #[serde(flatten)]
    page: Page,
}

async fn list_findings(
    State(app): AppState,
    headers: HeaderMap,
    Params(q): Params<FindingQuery>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let after: i64 = match &q.page.after {
        None => 0,
        Some(a) => {
            a.parse().map_err(|_| ApiError::invalid(format!("`after={a}` is not a cursor of this list")))?
        }
    };
    if let Some(s) = &q.severity {
        if assay_model::Severity::parse(s).is_none() {
            return Err(ApiError::invalid(format!(
                "severity `{s}` is not high, medium, low or informational"
            )));
        }
    }
    let attribute = q.attribute.as_deref().map(|a| a.split_once('=').unwrap_or((a, "")));
    // Empty filters match everything; the attribute filter runs on the
    // decoded finding, so the query may return more rows than it keeps.
    let limit = q.page.limit();
    let sql = "SELECT seq, body FROM findings WHERE seq > $1 AND ($2 = '' OR run_id = $2) AND ($3 = '' OR severity = $3) \
             AND ($4 = '' OR rule_id = $4) AND ($5 = '' OR agent_id = $5) ORDER BY seq LIMIT $6";
    let mut items = Vec::new();
    let mut cursor = after;
    loop {
        let rows = sqlx::query(sql)
            .bind(cursor)
            .bind(q.run.clone().unwrap_or_default())
            .bind(q.severity.clone().unwrap_or_default())
            .bind(q.rule.clone().unwrap_or_default())
            .bind(q.agent.clone().unwrap_or_default())
            .bind(limit)
            .fetch_all(&app.db.pool)
            .await?;
        let done = (rows.len() as i64) < limit;
        for r in &rows {
            cursor = db::int(r, "seq");
            let mut body: Value = serde_json::from_str(&db::text(r, "body")).unwrap_or_default();
            if attribute.is_none_or(|a| has_attribute(&body, a)) {
                body["id"] = json!(cursor.to_string());
                items.push(body);
                if items.len() as i64 == limit {
                    break;
                }
            }
        }
        if done || items.len() as i64 == limit {
            break;
        }
    }
    let next = if items.len() as i64 == limit { Some(cursor.to_string()) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    full: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// The findings report (or with `full=true` the full report) of a finished
/// run, as JSON or (`format=html`) one HTML page.
async fn run_report(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Params(q): Params<ReportQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let full = matches!(q.full.as_deref(), Some("true" | "1" | "yes"));
    let report = crate::report::build(&app, &id, full).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "html" => Ok((
            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::report::html(&report),
        )
            .into_response()),
        other => Err(ApiError::invalid(format!("format `{other}` is not json or html"))),
    }
}

/// Uploads a vulnerability feed (the file `assay feed import` writes) and
/// queues the re-evaluation of every agent's latest telemetry with it.
async fn put_feed(State(app): AppState, headers: HeaderMap, Raw(body): Raw) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    let feed = assay_runtime::feed::Feed::from_bytes(&body)
        .map_err(|e| ApiError::invalid(format!("the body is not a vulnerability feed: {e}")))?;
    let digest = db::digest(&body);
    let mut tx = app.db.write().await?;
    sqlx::query("INSERT INTO feeds (digest, body, advisories, imported_at) VALUES ($1, $2, $3, $4)")
        .bind(&digest)
        .bind(body.to_vec())
        .bind(feed.advisories.len() as i64)
        .bind(db::now())
        .execute(&mut *tx)
        .await?;
    let queued =
        crate::eval::queue_reevaluation(&mut tx, &format!("feed {} imported", &digest[..16])).await?;
    tx.commit().await?;
    auth::audit(
        &app.db,
        &actor.token_id,
        "feed.import",
        json!({ "digest": digest, "advisories": feed.advisories.len() }),
    )
    .await?;
    Ok(Json(json!({ "digest": digest, "advisories": feed.advisories.len(), "agents_queued": queued })))
}

async fn get_feed(State(app): AppState, headers: HeaderMap) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let row = sqlx::query("SELECT digest, advisories, imported_at FROM feeds ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&app.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("no feed was imported: `assay fleet feed import --osv PATH`"))?;
    let pending = sqlx::query("SELECT COUNT(*) AS n FROM reeval_jobs WHERE state IN ('pending', 'leased')")
        .fetch_one(&app.db.pool)
        .await?;
    Ok(Json(json!({
        "digest": db::text(&row, "digest"),
        "advisories": db::int(&row, "advisories"),
        "imported_at": db::int(&row, "imported_at"),
        "reevaluations_pending": db::int(&pending, "n"),
    })))
}

#[derive(Deserialize)]
struct FleetQuery {
    state: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    agent: Option<String>,
    package: Option<String>,
    /// `KEY=VALUE`, or `KEY` for any value.
    attribute: Option<String>,
    #[serde(flatten)]
    page: Page,
}

/// Whether a finding's attributes hold `key` (with `value`, unless empty).
fn has_attribute(body: &Value, (key, value): (&str, &str)) -> bool {
    body["attributes"].as_array().is_some_and(|attrs| {
        attrs.iter().any(|a| a["key"] == key && (value.is_empty() || a["value"] == value))
    })
}

/// Adds (or replaces, key by key) attributes in a finding's list.
fn merge_attributes(body: &mut Value, added: &BTreeMap<String, String>) {
    let mut attrs: Vec<Value> = body["attributes"].as_array().cloned().unwrap_or_default();
    for (k, v) in added {
        attrs.retain(|a| a["key"] != json!(k));
        attrs.push(json!({ "key": k, "value": v }));
    }
    body["attributes"] = json!(attrs);
}

fn valid_attributes(attributes: &BTreeMap<String, String>) -> ApiResult<()> {
    if attributes.is_empty()
        || attributes.len() > 50
        || attributes.iter().any(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256)
    {
        return Err(ApiError::invalid(
            "1 to 50 attributes, keys of 1 to 128 and values of at most 256 characters",
        ));
    }
    Ok(())
}

fn fleet_finding_json(r: &sqlx::any::AnyRow) -> Value {
    let mut body: Value = serde_json::from_str(&db::text(r, "body")).unwrap_or_default();
    let added: BTreeMap<String, String> =
        serde_json::from_str(&db::text(r, "user_attributes")).unwrap_or_default();
    merge_attributes(&mut body, &added);
    body["state"] = json!(db::text(r, "state"));
    body["first_seen"] = json!(db::int(r, "first_seen"));
    body["last_seen"] = json!(db::int(r, "last_seen"));
    body["resolved_at"] = json!(db::opt_int(r, "resolved_at"));
    body
}

/// The fleet's findings with their lifecycle (open, resolved), newest
/// evaluation of each agent; paged by (agent, fingerprint).
async fn list_fleet_findings(
    State(app): AppState,
    headers: HeaderMap,
    Params(q): Params<FleetQuery>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    if let Some(s) = q.state.as_deref().filter(|s| !["open", "resolved", "waived"].contains(s)) {
        return Err(ApiError::invalid(format!("state `{s}` is not open, resolved or waived")));
    }
    let (after_agent, after_fp) = match q.page.after.as_deref() {
        None => (String::new(), String::new()),
        Some(a) => {
            let (x, y) = a
                .split_once('/')
                .ok_or_else(|| ApiError::invalid(format!("`after={a}` is not a cursor of this list")))?;
            (x.to_owned(), y.to_owned())
        }
    };
    let limit = q.page.limit();
    let attribute =
        q.attribute.as_deref().filter(|a| !a.is_empty()).map(|a| a.split_once('=').unwrap_or((a, "")));
    // The attribute filter runs on the decoded finding: read pages until
    // `limit` are kept or the rows run out.
    let (mut cursor, mut items) = ((after_agent, after_fp), Vec::new());
    loop {
        let rows = sqlx::query(
            "SELECT * FROM fleet_findings WHERE (agent_id > $1 OR (agent_id = $1 AND fingerprint > $2)) \
             AND ($3 = '' OR state = $3) AND ($4 = '' OR severity = $4) AND ($5 = '' OR rule_id = $5) AND ($6 = '' OR agent_id = $6) \
             AND ($7 = '' OR package = $7) ORDER BY agent_id, fingerprint LIMIT $8",
        )
        .bind(&cursor.0)
        .bind(&cursor.1)
        .bind(q.state.clone().unwrap_or_default())
        .bind(q.severity.clone().unwrap_or_default())
        .bind(q.rule.clone().unwrap_or_default())
        .bind(q.agent.clone().unwrap_or_default())
        .bind(q.package.clone().unwrap_or_default())
        .bind(limit)
        .fetch_all(&app.db.pool)
        .await?;
        let exhausted = (rows.len() as i64) < limit;
        for r in &rows {
            cursor = (db::text(r, "agent_id"), db::text(r, "fingerprint"));
            let body = fleet_finding_json(r);
            if attribute.is_none_or(|a| has_attribute(&body, a)) {
                items.push(body);
                if items.len() as i64 == limit {
                    break;
                }
            }
        }
        if exhausted || items.len() as i64 == limit {
            break;
        }
    }
    let next = if items.len() as i64 == limit { Some(format!("{}/{}", cursor.0, cursor.1)) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

/// Adds user attributes to a fleet finding; they outlive re-evaluations
/// (kept apart from the evaluated body) and go to the agent's latest run
/// finding of the same fingerprint too.
async fn add_fleet_attributes(
    State(app): AppState,
    headers: HeaderMap,
    Path((agent, fingerprint)): Path<(String, String)>,
    Body(req): Body<NewAttributes>,
) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    valid_attributes(&req.attributes)?;
    let mut tx = app.db.write().await?;
    add_user_attributes(&mut tx, &agent, &fingerprint, &req.attributes)
        .await?
        .ok_or_else(|| ApiError::not_found("no such finding"))?;
    let latest = sqlx::query(
        "SELECT seq, body FROM findings WHERE agent_id = $1 AND fingerprint = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&agent)
    .bind(&fingerprint)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = latest {
        let mut body: Value = serde_json::from_str(&db::text(&row, "body")).unwrap_or_default();
        merge_attributes(&mut body, &req.attributes);
        sqlx::query("UPDATE findings SET body = $1 WHERE seq = $2")
            .bind(body.to_string())
            .bind(db::int(&row, "seq"))
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query("SELECT * FROM fleet_findings WHERE agent_id = $1 AND fingerprint = $2")
        .bind(&agent)
        .bind(&fingerprint)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    auth::audit(
        &app.db,
        &actor.token_id,
        "finding.attributes",
        json!({ "agent": agent, "fingerprint": fingerprint, "attributes": req.attributes }),
    )
    .await?;
    Ok(Json(fleet_finding_json(&row)))
}

/// Merges `added` into a fleet finding's user attributes; `None` when
/// there is no such finding.
async fn add_user_attributes(
    tx: &mut db::Tx,
    agent: &str,
    fingerprint: &str,
    added: &BTreeMap<String, String>,
) -> Result<Option<()>, sqlx::Error> {
    let Some(row) =
        sqlx::query("SELECT user_attributes FROM fleet_findings WHERE agent_id = $1 AND fingerprint = $2")
            .bind(agent)
            .bind(fingerprint)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(None);
    };
    let mut attrs: BTreeMap<String, String> =
        serde_json::from_str(&db::text(&row, "user_attributes")).unwrap_or_default();
    attrs.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
    sqlx::query("UPDATE fleet_findings SET user_attributes = $1 WHERE agent_id = $2 AND fingerprint = $3")
        .bind(serde_json::to_string(&attrs).unwrap_or_default())
        .bind(agent)
        .bind(fingerprint)
        .execute(&mut **tx)
        .await?;
    Ok(Some(()))
}

/// One fleet finding with its history (opened, resolved, reopened, and why).
async fn get_fleet_finding(
    State(app): AppState,
    headers: HeaderMap,
    Path((agent, fingerprint)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let row = sqlx::query("SELECT * FROM fleet_findings WHERE agent_id = $1 AND fingerprint = $2")
        .bind(&agent)
        .bind(&fingerprint)
        .fetch_optional(&app.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("no such finding"))?;
    let events = sqlx::query(
        "SELECT event, cause, at FROM finding_events WHERE agent_id = $1 AND fingerprint = $2 ORDER BY seq",
    )
    .bind(&agent)
    .bind(&fingerprint)
    .fetch_all(&app.db.pool)
    .await?;
    let mut body = fleet_finding_json(&row);
    body["history"] = json!(events
        .iter()
        .map(|e| json!({ "event": db::text(e, "event"), "cause": db::text(e, "cause"), "at": db::int(e, "at") }))
        .collect::<Vec<_>>());
    Ok(Json(body))
}

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[derive(Deserialize)]
struct NewAttributes {
    attributes: BTreeMap<String, String>,
}

/// Adds user attributes to a finding (a key given again takes the new
/// value), and to the fleet finding of the same agent and fingerprint.
async fn add_attributes(
    State(app): AppState,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(req): Body<NewAttributes>,
) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    let seq: i64 = id.parse().map_err(|_| ApiError::not_found(format!("no finding `{id}`")))?;
    valid_attributes(&req.attributes)?;
    let mut tx = app.db.write().await?;
    let row = sqlx::query("SELECT agent_id, fingerprint, body FROM findings WHERE seq = $1")
        .bind(seq)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no finding `{id}`")))?;
    let mut body: Value = serde_json::from_str(&db::text(&row, "body")).unwrap_or_default();
    merge_attributes(&mut body, &req.attributes);
    sqlx::query("UPDATE findings SET body = $1 WHERE seq = $2")
        .bind(body.to_string())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    let (agent, fingerprint) = (db::text(&row, "agent_id"), db::text(&row, "fingerprint"));
    add_user_attributes(&mut tx, &agent, &fingerprint, &req.attributes).await?;
    tx.commit().await?;
    auth::audit(
        &app.db,
        &actor.token_id,
        "finding.attributes",
        json!({ "finding": id, "attributes": req.attributes }),
    )
    .await?;
    body["id"] = json!(id);
    Ok(Json(body))
}

/// The audit log: who did what, oldest first.
async fn audit_log(
    State(app): AppState,
    headers: HeaderMap,
    Params(page): Params<Page>,
) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::Admin).await?;
    let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, detail FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(page.limit())
    .fetch_all(&app.db.pool)
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": db::int(r, "seq").to_string(),
                "at": db::int(r, "at"),
                "actor": db::text(r, "actor"),
                "action": db::text(r, "action"),
                "detail": serde_json::from_str::<Value>(&db::text(r, "detail")).unwrap_or_default(),
            })
        })
        .collect();
    let next = if items.len() as i64 == page.limit() { items.last().map(|i| i["id"].clone()) } else { None };
    Ok(Json(json!({ "items": items, "next": next })))
}

/// Prometheus metrics (a read-only token, as Prometheus's `authorization`
/// setting sends it).
async fn metrics_text(State(app): AppState, headers: HeaderMap) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let text = crate::metrics::render(&app).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// Uploads the fleet's waiver file (docs/waivers.md); it applies to every
/// evaluation from now on, and the latest telemetry of every agent is
/// re-evaluated with it.
async fn put_waivers(State(app): AppState, headers: HeaderMap, Raw(body): Raw) -> ApiResult<Json<Value>> {
    let actor = auth::require(&app.db, &headers, Role::Operator).await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("the waiver file is not UTF-8 text"))?;
    let waivers = assay_runtime::waivers::parse(&text, "waivers").map_err(ApiError::invalid)?;
    let digest = db::hash(&text);
    let mut tx = app.db.write().await?;
    sqlx::query("INSERT INTO waiver_sets (digest, body, waivers, uploaded_at) VALUES ($1, $2, $3, $4)")
        .bind(&digest)
        .bind(&text)
        .bind(waivers.len() as i64)
        .bind(db::now())
        .execute(&mut *tx)
        .await?;
    let queued =
        crate::eval::queue_reevaluation(&mut tx, &format!("waivers {} uploaded", &digest[..16])).await?;
    tx.commit().await?;
    auth::audit(
        &app.db,
        &actor.token_id,
        "waivers.upload",
        json!({ "digest": digest, "waivers": waivers.len() }),
    )
    .await?;
    Ok(Json(json!({ "digest": digest, "waivers": waivers.len(), "agents_queued": queued })))
}

async fn get_waivers(State(app): AppState, headers: HeaderMap) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let row = sqlx::query("SELECT body FROM waiver_sets ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&app.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("no waivers were uploaded: `assay fleet waivers upload FILE`"))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/yaml")], db::text(&row, "body")).into_response())
}

/// The days the overview charts.
const OVERVIEW_DAYS: i64 = 14;

/// What the console's overview shows: agents by health, runs in progress,
/// findings reported per day and severity over the last two weeks, and
/// the rules open on the most hosts.
async fn overview(State(app): AppState, headers: HeaderMap) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let agents =
        sqlx::query("SELECT health_code, revoked_at, last_seen FROM agents").fetch_all(&app.db.pool).await?;
    let mut by_health: BTreeMap<&str, i64> = ["HEALTHY", "UNHEALTHY", "UNKNOWN"].map(|h| (h, 0)).into();
    for a in &agents {
        *by_health.entry(health(a, app.config.unknown_after_ms).0).or_default() += 1;
    }
    let running = sqlx::query(
        "SELECT id, template, state, created_at FROM runs WHERE finished_at IS NULL ORDER BY created_at DESC LIMIT 50",
    )
    .fetch_all(&app.db.pool)
    .await?;
    const DAY: i64 = 86_400_000;
    let today = db::now() / DAY;
    let per_day = sqlx::query(
        "SELECT created_at / 86400000 AS day, severity, COUNT(*) AS n FROM findings WHERE created_at >= $1 \
         GROUP BY created_at / 86400000, severity",
    )
    .bind((today - OVERVIEW_DAYS + 1) * DAY)
    .fetch_all(&app.db.pool)
    .await?;
    let days: Vec<Value> = (today - OVERVIEW_DAYS + 1..=today)
        .map(|d| {
            let mut day = json!({ "day": d * DAY });
            for s in ["high", "medium", "low", "informational"] {
                day[s] = json!(per_day
                    .iter()
                    .filter(|r| db::int(r, "day") == d && db::text(r, "severity") == s)
                    .map(|r| db::int(r, "n"))
                    .sum::<i64>());
            }
            day
        })
        .collect();
    let top = sqlx::query(
        "SELECT rule_id, package, severity, COUNT(DISTINCT agent_id) AS hosts FROM fleet_findings \
         WHERE state = 'open' AND severity <> 'informational' GROUP BY rule_id, package, severity \
         ORDER BY COUNT(DISTINCT agent_id) DESC, rule_id LIMIT 10",
    )
    .fetch_all(&app.db.pool)
    .await?;
    let title = |id: &str| app.bundle.content.rules.iter().find(|r| r.id == id).map(|r| r.title.clone());
    Ok(Json(json!({
        "agents": by_health,
        "runs_in_progress": running.iter().map(|r| json!({
            "id": db::text(r, "id"),
            "template": db::text(r, "template"),
            "state": db::text(r, "state"),
            "created_at": db::int(r, "created_at"),
        })).collect::<Vec<_>>(),
        "findings_per_day": days,
        "top_rules": top.iter().map(|r| json!({
            "rule_id": db::text(r, "rule_id"),
            "title": title(&db::text(r, "rule_id")),
            "package": db::text(r, "package"),
            "severity": db::text(r, "severity"),
            "hosts": db::int(r, "hosts"),
        })).collect::<Vec<_>>(),
    })))
}

/// The rules packages this server evaluates, with every rule's
/// documentation (what docs/rules is generated from).
async fn list_packages(State(app): AppState, headers: HeaderMap) -> ApiResult<Json<Value>> {
    auth::require(&app.db, &headers, Role::ReadOnly).await?;
    let content = &app.bundle.content;
    let items: Vec<Value> = content
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let rules: Vec<Value> = content
                .rules
                .iter()
                .filter(|r| r.package as usize == i)
                .map(|r| {
                    json!({
                        "id": r.id,
                        "title": r.title,
                        "severity": r.severity.as_str(),
                        "doc": r.doc,
                        "description": r.description,
                        "rationale": r.rationale,
                        "recommendation": r.recommendation,
                        "references": r.references,
                        "tags": r.tags,
                    })
                })
                .collect();
            json!({
                "name": p.name,
                "title": p.title,
                "version": p.version,
                "description": p.description,
                "platforms": p.platforms.iter().map(|pl| pl.as_str()).collect::<Vec<_>>(),
                "rules": rules,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "bundle_digest": app.bundle.digest })))
}
