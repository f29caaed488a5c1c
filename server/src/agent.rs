//! The agent endpoint: enrolment with an enrolment token, heartbeats that
//! answer with an instruction from a closed set, and telemetry uploads that
//! are idempotent (the same document twice is accepted once; a different
//! one for the same run is refused).
//!
//! This listener speaks plain HTTP and binds to loopback by default; mutual
//! TLS with certificates from the server's CA is the agent issue's work.

use crate::auth;
use crate::db::{self, Backend};
use crate::error::{ApiError, ApiResult, Body, Raw};
use crate::runs;
use crate::App;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest telemetry document accepted.
pub const MAX_TELEMETRY: usize = 64 << 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/agent/v1/enroll", post(enroll))
        .route("/agent/v1/heartbeat", post(heartbeat))
        .route("/agent/v1/runs/{run}/telemetry", put(upload).layer(DefaultBodyLimit::max(MAX_TELEMETRY)))
        .fallback(crate::error::no_route)
}

#[derive(Deserialize)]
struct Enroll {
    token: String,
    hostname: String,
    #[serde(default)]
    machine_id: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Spends one use of an enrolment token and creates an agent with a new
/// id and secret. Agents reporting a machine-id another agent has are
/// flagged (a cloned image), never merged.
async fn enroll(State(app): AppState, Body(req): Body<Enroll>) -> ApiResult<(StatusCode, Json<Value>)> {
    if req.hostname.is_empty() || req.hostname.len() > 255 || req.tags.len() > 50 {
        return Err(ApiError::invalid("hostname must be 1 to 255 characters and tags at most 50"));
    }
    let mut tx = app.db.write().await?;
    let spent = sqlx::query(
        "UPDATE enrollments SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0 AND expires_at > $2 RETURNING tags",
    )
    .bind(db::hash(&req.token))
    .bind(db::now())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::unauthorized("the enrolment token is unknown, used up or expired"))?;
    let mut tags: BTreeMap<String, String> =
        serde_json::from_str(&db::text(&spent, "tags")).unwrap_or_default();
    // The token's tags win over the agent's own.
    for (k, v) in req.tags {
        tags.entry(k).or_insert(v);
    }
    let clones = if req.machine_id.is_empty() {
        Vec::new()
    } else {
        sqlx::query("SELECT id FROM agents WHERE machine_id = $1 AND revoked_at IS NULL")
            .bind(&req.machine_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| db::text(r, "id"))
            .collect::<Vec<_>>()
    };
    let id = format!("agent-{}", db::random_hex(8));
    let secret = format!("assay_agent_{}", db::random_hex(32));
    let now = db::now();
    sqlx::query(
        "INSERT INTO agents (id, secret_hash, hostname, machine_id, os, tags, enrolled_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(db::hash(&secret))
    .bind(&req.hostname)
    .bind(&req.machine_id)
    .bind(&req.os)
    .bind(serde_json::to_string(&tags).unwrap_or_default())
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    auth::audit(&app.db, &id, "agent.enroll", json!({ "hostname": req.hostname, "same_machine_id": clones }))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "agent_id": id, "secret": secret, "same_machine_id": clones }))))
}

type AppState = State<Arc<App>>;

/// Records the heartbeat and answers with what to do: `collect` for the
/// first unfinished run this agent is in and has not delivered, else
/// `idle`.
async fn heartbeat(State(app): AppState, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let agent = auth::agent(&app.db, &headers).await?;
    let mut tx = app.db.write().await?;
    sqlx::query("UPDATE agents SET last_seen = $1 WHERE id = $2")
        .bind(db::now())
        .bind(&agent)
        .execute(&mut *tx)
        .await?;
    let run = sqlx::query(
        "SELECT r.id, r.state, r.collect_until, r.template, r.template_version, ra.status FROM run_agents ra JOIN runs r ON r.id = ra.run_id \
         WHERE ra.agent_id = $1 AND ra.status IN ('pending', 'collecting') \
         AND r.state IN ('START_DATA_COLLECTION_PENDING', 'START_DATA_COLLECTION_IN_PROGRESS', 'COLLECTING_DATA') \
         ORDER BY r.created_at LIMIT 1",
    )
    .bind(&agent)
    .fetch_optional(&mut *tx)
    .await?;
    let instruction = match run {
        None => json!({ "kind": "idle" }),
        Some(r) => {
            let id = db::text(&r, "id");
            if db::text(&r, "status") == "pending" {
                sqlx::query(
                    "UPDATE run_agents SET status = 'collecting' WHERE run_id = $1 AND agent_id = $2",
                )
                .bind(&id)
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
                runs::transition(&mut tx, &id, runs::START_PENDING, runs::START_IN_PROGRESS).await?;
                let waiting = sqlx::query(
                    "SELECT COUNT(*) AS n FROM run_agents WHERE run_id = $1 AND status = 'pending'",
                )
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                if db::int(&waiting, "n") == 0 {
                    runs::transition(&mut tx, &id, runs::START_IN_PROGRESS, runs::COLLECTING).await?;
                }
            }
            let remaining = ((db::int(&r, "collect_until") - db::now()) / 1000).max(0);
            json!({ "kind": "collect", "run": id, "duration_seconds": remaining, "plan": app.bundle.content.plan })
        }
    };
    tx.commit().await?;
    Ok(Json(json!({ "instruction": instruction })))
}

/// Stores the agent's telemetry for a run and queues its evaluation, in
/// one transaction.
async fn upload(
    State(app): AppState,
    headers: HeaderMap,
    Path(run): Path<String>,
    Raw(body): Raw,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let agent = auth::agent(&app.db, &headers).await?;
    // Validated before it is stored: what the server keeps, it can evaluate.
    if let Err(e) = assay_runtime::value::Host::from_json(&body) {
        return Err(ApiError::invalid(format!("the telemetry does not validate: {e}")));
    }
    let digest = db::digest(&body);
    let mut tx = app.db.write().await?;
    let member = sqlx::query(
        "SELECT ra.status, r.state FROM run_agents ra JOIN runs r ON r.id = ra.run_id WHERE ra.run_id = $1 AND ra.agent_id = $2",
    )
    .bind(&run)
    .bind(&agent)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("this agent is not in run {run}")))?;
    let existing = sqlx::query("SELECT digest FROM telemetry WHERE run_id = $1 AND agent_id = $2")
        .bind(&run)
        .bind(&agent)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(e) = existing {
        return if db::text(&e, "digest") == digest {
            Ok((StatusCode::OK, Json(json!({ "accepted": false, "duplicate": true, "digest": digest }))))
        } else {
            Err(ApiError::conflict("this agent already delivered different telemetry for this run"))
        };
    }
    let state = db::text(&member, "state");
    if !runs::COLLECTING_STATES.contains(&state.as_str()) {
        return Err(ApiError::conflict(format!("run {run} is {state}: it no longer collects")));
    }
    sqlx::query(
        "INSERT INTO telemetry (run_id, agent_id, digest, body, received_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&run)
    .bind(&agent)
    .bind(&digest)
    .bind(body.to_vec())
    .bind(db::now())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE run_agents SET status = 'delivered' WHERE run_id = $1 AND agent_id = $2")
        .bind(&run)
        .bind(&agent)
        .execute(&mut *tx)
        .await?;
    let job = match app.db.backend {
        Backend::Postgres => "INSERT INTO jobs (run_id, agent_id, state, attempts, lease_until) VALUES ($1, $2, 'pending', 0, 0) ON CONFLICT DO NOTHING",
        Backend::Sqlite => "INSERT OR IGNORE INTO jobs (run_id, agent_id, state, attempts, lease_until) VALUES ($1, $2, 'pending', 0, 0)",
    };
    sqlx::query(job).bind(&run).bind(&agent).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({ "accepted": true, "digest": digest }))))
}
