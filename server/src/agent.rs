//! The agent endpoint, over mutual TLS only. Enrolment spends an
//! enrolment token and signs the agent's public key with the server's CA;
//! every other request is authenticated by that client certificate (its
//! fingerprint is looked up, so a revoked agent's certificates fail even
//! before they expire). Heartbeats long-poll and answer an instruction
//! from a closed set: `idle`, `collect`, `stop`, `renew_certificate`.
//! Telemetry arrives gzip-compressed in numbered chunks, each idempotent
//! (its digest is checked; the same chunk twice is accepted once, a
//! different one for the same number refused), sealed with the run's key
//! as it is stored.

use crate::auth;
use crate::db::{self, Backend};
use crate::error::{ApiError, ApiResult, Body};
use crate::keys;
use crate::runs;
use crate::tls::Peer;
use crate::App;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// The largest telemetry document accepted, uncompressed.
pub const MAX_TELEMETRY: usize = 64 << 20;
/// The largest chunk, and the most chunks of one upload.
pub const MAX_CHUNK: usize = 4 << 20;
pub const MAX_CHUNKS: i64 = 64;
/// The longest a heartbeat waits for an instruction.
const MAX_WAIT: u64 = 30;
/// Heartbeats allowed per agent per window; more are THROTTLED (429).
const HEARTBEATS_PER_WINDOW: u32 = 20;
const WINDOW_MS: i64 = 10_000;

type AppState = State<Arc<App>>;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/agent/v1/ca", get(ca))
        .route("/agent/v1/enroll", post(enroll))
        .route("/agent/v1/certificate", post(renew))
        .route("/agent/v1/heartbeat", post(heartbeat))
        .route("/agent/v1/runs/{run}/chunks/{seq}", put(chunk).layer(DefaultBodyLimit::max(MAX_CHUNK + 1)))
        .fallback(crate::error::no_route)
}

/// The CA's certificate, for an agent that pins it by fingerprint.
async fn ca(State(app): AppState) -> String {
    app.ca.cert_pem.clone()
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
    /// The agent's P-256 public key, an uncompressed point in hex.
    public_key: String,
}

/// Spends one use of an enrolment token, creates the agent and signs its
/// first certificate, in one transaction. Agents reporting a machine-id
/// another agent has are flagged (a cloned image), never merged.
async fn enroll(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Body(req): Body<Enroll>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if req.hostname.is_empty() || req.hostname.len() > 255 || req.tags.len() > 50 {
        return Err(ApiError::invalid("hostname must be 1 to 255 characters and tags at most 50"));
    }
    let public_key = db::from_hex(&req.public_key).unwrap_or_default();
    let mut tx = app.db.write().await?;
    let spent = sqlx::query(
        "UPDATE enrollments SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0 AND expires_at > $2 RETURNING tags",
    )
    .bind(db::hash(&req.token))
    .bind(db::now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(spent) = spent else {
        drop(tx);
        let _ = auth::audit(
            &app.db,
            &peer.to_string(),
            "agent.enroll.rejected",
            json!({ "hostname": req.hostname }),
        )
        .await;
        return Err(ApiError::unauthorized("the enrolment token is unknown, used up or expired"));
    };
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
    let (pem, der, not_after) =
        app.ca.issue_agent(&id, &public_key, app.config.agent_cert_lifetime_ms).map_err(ApiError::invalid)?;
    let now = db::now();
    sqlx::query(
        "INSERT INTO agents (id, secret_hash, hostname, machine_id, os, tags, enrolled_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(db::random_hex(32))
    .bind(&req.hostname)
    .bind(&req.machine_id)
    .bind(&req.os)
    .bind(serde_json::to_string(&tags).unwrap_or_default())
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record_cert(&mut tx, &id, &der, not_after).await?;
    tx.commit().await?;
    auth::audit(&app.db, &id, "agent.enroll", json!({ "hostname": req.hostname, "same_machine_id": clones }))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "agent_id": id,
            "certificate": pem,
            "not_after": not_after,
            "ca": app.ca.cert_pem,
            "same_machine_id": clones,
        })),
    ))
}

async fn record_cert(tx: &mut db::Tx, agent: &str, der: &[u8], not_after: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agent_certs (fingerprint, agent_id, issued_at, not_after) VALUES ($1, $2, $3, $4)",
    )
    .bind(keys::fingerprint(der))
    .bind(agent)
    .bind(db::now())
    .bind(not_after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct Renew {
    public_key: String,
}

/// A new certificate for a new key of an authenticated agent; the old
/// certificate stays valid until it expires.
async fn renew(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Body(req): Body<Renew>,
) -> ApiResult<Json<Value>> {
    let agent = authenticated(&app, &peer).await?;
    let public_key = db::from_hex(&req.public_key).unwrap_or_default();
    let (pem, der, not_after) = app
        .ca
        .issue_agent(&agent.id, &public_key, app.config.agent_cert_lifetime_ms)
        .map_err(ApiError::invalid)?;
    let mut tx = app.db.write().await?;
    record_cert(&mut tx, &agent.id, &der, not_after).await?;
    tx.commit().await?;
    auth::audit(&app.db, &agent.id, "agent.certificate.renew", json!({ "not_after": not_after })).await?;
    Ok(Json(json!({ "certificate": pem, "not_after": not_after })))
}

/// An agent authenticated by its client certificate.
pub(crate) struct Agent {
    pub id: String,
    /// When the certificate it connected with expires (ms).
    pub not_after: i64,
    /// Its health as last recorded.
    pub health: (String, String),
    /// Its IP addresses as last recorded (a JSON array).
    pub addresses: String,
}

async fn authenticated(app: &App, peer: &Peer) -> ApiResult<Agent> {
    let Some(fingerprint) = &peer.fingerprint else {
        return Err(ApiError::unauthorized(
            "this endpoint needs the agent's client certificate (enrol first: `assay agent --enroll-token`)",
        ));
    };
    let row = sqlx::query(
        "SELECT a.id, a.revoked_at, a.health_code, a.health_detail, a.addresses, c.not_after FROM agent_certs c JOIN agents a ON a.id = c.agent_id WHERE c.fingerprint = $1",
    )
    .bind(fingerprint)
    .fetch_optional(&app.db.pool)
    .await?;
    let Some(row) = row else {
        let _ = auth::audit(
            &app.db,
            &peer.to_string(),
            "agent.rejected",
            json!({ "reason": "unknown certificate" }),
        )
        .await;
        return Err(ApiError::unauthorized("this certificate belongs to no agent"));
    };
    let id = db::text(&row, "id");
    if db::opt_int(&row, "revoked_at").is_some() {
        let _ = auth::audit(
            &app.db,
            &id,
            "agent.rejected",
            json!({ "reason": "revoked", "peer": peer.to_string() }),
        )
        .await;
        return Err(ApiError::forbidden("this agent is revoked"));
    }
    let health = (db::text(&row, "health_code"), db::text(&row, "health_detail"));
    Ok(Agent { id, not_after: db::int(&row, "not_after"), health, addresses: db::text(&row, "addresses") })
}

#[derive(Deserialize, Default)]
struct Beat {
    /// IDLE, RUNNING, SHUTDOWN or UNHEALTHY, as the agent sees itself.
    #[serde(default)]
    health_code: Option<String>,
    /// Why, when UNHEALTHY (a sensor failing, the spool dropping data).
    #[serde(default)]
    detail: String,
    /// The run the agent is collecting for, if any.
    #[serde(default)]
    collecting: Option<String>,
    /// Telemetry the agent's spool dropped since its last heartbeat.
    #[serde(default)]
    lost: Vec<Value>,
    /// The host's IP addresses; absent: unchanged.
    #[serde(default)]
    addresses: Option<Vec<String>>,
}

/// At most this many addresses are kept per agent.
const MAX_ADDRESSES: usize = 64;

/// `addresses` as stored: each a valid IP address in its canonical form,
/// sorted, without repeats.
fn canonical_addresses(addresses: &[String]) -> ApiResult<String> {
    if addresses.len() > MAX_ADDRESSES {
        return Err(ApiError::invalid(format!("at most {MAX_ADDRESSES} addresses")));
    }
    let mut parsed = std::collections::BTreeSet::new();
    for a in addresses {
        let ip: std::net::IpAddr =
            a.parse().map_err(|_| ApiError::invalid(format!("`{a}` is not an IP address")))?;
        parsed.insert(ip);
    }
    Ok(json!(parsed.iter().map(|a| a.to_string()).collect::<Vec<_>>()).to_string())
}

#[derive(Deserialize)]
struct Wait {
    #[serde(default)]
    wait: u64,
}

/// Records the heartbeat and answers with what to do. With `?wait=S` an
/// idle answer is held up to S seconds (at most 30) until there is work:
/// a run started in this process wakes it at once, one started by another
/// replica within two seconds.
async fn heartbeat(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(wait): Query<Wait>,
    Body(beat): Body<Beat>,
) -> ApiResult<Json<Value>> {
    let agent = authenticated(&app, &peer).await?;
    if let Some(first) = throttled(&app, &agent.id) {
        if first {
            app.db
                .execute(
                    sqlx::query("UPDATE agents SET health_code = 'THROTTLED' WHERE id = $1").bind(&agent.id),
                )
                .await?;
            auth::audit(&app.db, &agent.id, "agent.throttled", json!({ "window_ms": WINDOW_MS })).await?;
        }
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!("more than {HEARTBEATS_PER_WINDOW} heartbeats in {} s", WINDOW_MS / 1000),
        ));
    }
    let code = beat
        .health_code
        .as_deref()
        .filter(|c| ["IDLE", "RUNNING", "SHUTDOWN", "UNHEALTHY"].contains(c))
        .unwrap_or("IDLE");
    let detail: String = beat.detail.chars().take(500).collect();
    let addresses = match &beat.addresses {
        Some(a) => canonical_addresses(a)?,
        None => agent.addresses.clone(),
    };
    let same = (code, detail.as_str(), addresses.as_str())
        == (agent.health.0.as_str(), agent.health.1.as_str(), agent.addresses.as_str());
    {
        // Recorded with the other heartbeats in one write a second
        // ([`flush_seen`]): a heartbeat waits for no writer. A change is
        // kept until written, and a later heartbeat's state replaces an
        // unwritten one (even when it is what the database still holds).
        let mut seen = app.seen.lock().unwrap_or_else(|p| p.into_inner());
        let pending = seen.get(&agent.id).is_some_and(|s| s.health.is_some());
        let health = (!same || pending).then(|| (code.to_owned(), detail, addresses));
        seen.insert(agent.id.clone(), Seen { at: db::now(), health });
    }
    if !beat.lost.is_empty() {
        auth::audit(&app.db, &agent.id, "agent.spool.lost", json!({ "lost": beat.lost })).await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.wait.min(MAX_WAIT));
    loop {
        let woken = app.wake.notified();
        let instruction = instruction(&app, &agent, beat.collecting.as_deref()).await?;
        if instruction["kind"] != "idle" || tokio::time::Instant::now() >= deadline {
            return Ok(Json(json!({ "instruction": instruction, "agent_id": agent.id })));
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// An agent's last heartbeat not yet written: its time, and its health
/// and addresses when they differ from the database's.
pub(crate) struct Seen {
    at: i64,
    health: Option<(String, String, String)>,
}

/// Writes the heartbeats gathered since the last call, in one transaction;
/// kept for the next call when the database is away. A heartbeat never
/// overwrites a later one (another replica may have written it).
pub(crate) async fn flush_seen(app: &App) -> Result<(), sqlx::Error> {
    let seen = std::mem::take(&mut *app.seen.lock().unwrap_or_else(|p| p.into_inner()));
    if seen.is_empty() {
        return Ok(());
    }
    let written = async {
        let mut tx = app.db.write().await?;
        for (agent, beat) in &seen {
            match &beat.health {
                None => {
                    sqlx::query("UPDATE agents SET last_seen = $1 WHERE id = $2 AND last_seen < $1")
                        .bind(beat.at)
                        .bind(agent)
                        .execute(&mut *tx)
                        .await?
                }
                Some((code, detail, addresses)) => sqlx::query(
                    "UPDATE agents SET last_seen = $1, health_code = $2, health_detail = $3, addresses = $4 \
                         WHERE id = $5 AND last_seen <= $1",
                )
                .bind(beat.at)
                .bind(code)
                .bind(detail)
                .bind(addresses)
                .bind(agent)
                .execute(&mut *tx)
                .await?,
            };
        }
        tx.commit().await
    }
    .await;
    if written.is_err() {
        // Merged with what arrived meanwhile: the later heartbeat wins.
        let mut pending = app.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (agent, beat) in seen {
            match pending.get(&agent) {
                Some(newer) if newer.at >= beat.at => {}
                _ => {
                    pending.insert(agent, beat);
                }
            }
        }
    }
    written
}

/// Some(first-in-window) when `agent` is over its heartbeat budget. Kept in
/// this process only: a replica's budget is its own.
fn throttled(app: &App, agent: &str) -> Option<bool> {
    let now = db::now();
    let mut windows = app.heartbeats.lock().unwrap_or_else(|p| p.into_inner());
    if windows.len() > 100_000 {
        windows.retain(|_, (start, _)| now - *start < WINDOW_MS);
    }
    let entry = windows.entry(agent.to_owned()).or_insert((now, 0));
    if now - entry.0 >= WINDOW_MS {
        *entry = (now, 0);
    }
    entry.1 += 1;
    (entry.1 > HEARTBEATS_PER_WINDOW).then_some(entry.1 == HEARTBEATS_PER_WINDOW + 1)
}

/// What `agent` should do now.
async fn instruction(app: &App, agent: &Agent, collecting: Option<&str>) -> ApiResult<Value> {
    // A run the agent collects for that no longer wants its data.
    if let Some(run) = collecting {
        let still = sqlx::query(
            "SELECT r.state FROM run_agents ra JOIN runs r ON r.id = ra.run_id \
             WHERE ra.run_id = $1 AND ra.agent_id = $2 AND ra.status IN ('pending', 'collecting')",
        )
        .bind(run)
        .bind(&agent.id)
        .fetch_optional(&app.db.pool)
        .await?;
        let wanted = still.is_some_and(|r| runs::COLLECTING_STATES.contains(&db::text(&r, "state").as_str()));
        if !wanted {
            return Ok(json!({ "kind": "stop", "run": run }));
        }
    }
    if agent.not_after - db::now() < app.config.agent_cert_lifetime_ms / 3 {
        return Ok(json!({ "kind": "renew_certificate" }));
    }
    let run = sqlx::query(
        "SELECT r.id, r.collect_until, ra.status FROM run_agents ra JOIN runs r ON r.id = ra.run_id \
         WHERE ra.agent_id = $1 AND ra.status IN ('pending', 'collecting') \
         AND r.state IN ('START_DATA_COLLECTION_PENDING', 'START_DATA_COLLECTION_IN_PROGRESS', 'COLLECTING_DATA') \
         ORDER BY r.created_at LIMIT 1",
    )
    .bind(&agent.id)
    .fetch_optional(&app.db.pool)
    .await?;
    let Some(r) = run else { return Ok(json!({ "kind": "idle" })) };
    let id = db::text(&r, "id");
    if db::text(&r, "status") == "pending" {
        let mut tx = app.db.write().await?;
        let moved = sqlx::query(
            "UPDATE run_agents SET status = 'collecting' WHERE run_id = $1 AND agent_id = $2 AND status = 'pending'",
        )
        .bind(&id)
        .bind(&agent.id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() > 0 {
            runs::transition(&mut tx, &id, runs::START_PENDING, runs::START_IN_PROGRESS).await?;
            // Whether one is still pending, not how many: every agent of a
            // 10,000-agent run passes here as it starts.
            let waiting =
                sqlx::query("SELECT 1 AS n FROM run_agents WHERE run_id = $1 AND status = 'pending' LIMIT 1")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if waiting.is_none() {
                runs::transition(&mut tx, &id, runs::START_IN_PROGRESS, runs::COLLECTING).await?;
            }
        }
        tx.commit().await?;
    }
    let remaining = ((db::int(&r, "collect_until") - db::now()) / 1000).max(0);
    Ok(json!({
        "kind": "collect",
        "run": id,
        "duration_seconds": remaining,
        "plan": app.bundle.content.plan,
        "max_chunk": app.config.chunk_bytes.min(MAX_CHUNK),
    }))
}

#[derive(Deserialize)]
struct ChunkQuery {
    total: i64,
}

/// Stores one chunk of an agent's telemetry for a run. The chunk that
/// completes the upload assembles, validates and stores the document and
/// queues its evaluation; a retried chunk after that answers `complete`.
async fn chunk(
    State(app): AppState,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Path((run, seq)): Path<(String, i64)>,
    Query(q): Query<ChunkQuery>,
    body: axum::body::Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let agent = authenticated(&app, &peer).await?.id;
    let reject = |action: &'static str, detail: Value| {
        let app = app.clone();
        let agent = agent.clone();
        async move {
            let _ = auth::audit(&app.db, &agent, action, detail).await;
        }
    };
    if !(1..=MAX_CHUNKS).contains(&q.total) || !(0..q.total).contains(&seq) {
        return Err(ApiError::invalid(format!(
            "chunk {seq} of {}: an upload has 1 to {MAX_CHUNKS} chunks",
            q.total
        )));
    }
    let Ok(body) = read_chunk(body).await else {
        reject("agent.chunk.rejected", json!({ "run": run, "seq": seq, "reason": "too large" })).await;
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a chunk is at most {MAX_CHUNK} bytes"),
        ));
    };
    let digest = db::digest(&body);
    let claimed = headers.get("x-assay-digest").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if claimed != digest {
        return Err(ApiError::invalid(
            "X-Assay-Digest is not the SHA-256 of the chunk (corrupted on the way?)",
        ));
    }
    let mut tx = app.db.write().await?;
    let member = sqlx::query(
        "SELECT ra.status, r.state FROM run_agents ra JOIN runs r ON r.id = ra.run_id WHERE ra.run_id = $1 AND ra.agent_id = $2",
    )
    .bind(&run)
    .bind(&agent)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("this agent is not in run {run}")))?;
    if db::text(&member, "status") == "delivered" {
        return Ok((StatusCode::OK, Json(json!({ "accepted": false, "duplicate": true, "complete": true }))));
    }
    let state = db::text(&member, "state");
    if !runs::COLLECTING_STATES.contains(&state.as_str()) {
        return Err(ApiError::conflict(format!("run {run} is {state}: it no longer collects")));
    }
    let existing =
        sqlx::query("SELECT seq, total, digest FROM telemetry_chunks WHERE run_id = $1 AND agent_id = $2")
            .bind(&run)
            .bind(&agent)
            .fetch_all(&mut *tx)
            .await?;
    if let Some(other) = existing.iter().find(|r| db::int(r, "total") != q.total) {
        drop(tx);
        reject("agent.chunk.rejected", json!({ "run": run, "seq": seq, "reason": "total differs" })).await;
        return Err(ApiError::conflict(format!(
            "this upload has {} chunks, not {}; finish it or let the run end",
            db::int(other, "total"),
            q.total
        )));
    }
    let mut stored = existing.len() as i64;
    let status = match existing.iter().find(|r| db::int(r, "seq") == seq) {
        Some(r) if db::text(r, "digest") == digest => StatusCode::OK,
        Some(_) => {
            drop(tx);
            reject(
                "agent.chunk.rejected",
                json!({ "run": run, "seq": seq, "reason": "replaced with other data" }),
            )
            .await;
            return Err(ApiError::conflict(format!("chunk {seq} was delivered with other data")));
        }
        None => {
            let key = keys::run_key(&mut tx, app.db.backend, &app.master, &run)
                .await
                .map_err(ApiError::internal)?;
            sqlx::query(
                "INSERT INTO telemetry_chunks (run_id, agent_id, seq, total, digest, body, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&run)
            .bind(&agent)
            .bind(seq)
            .bind(q.total)
            .bind(&digest)
            .bind(key.seal(&body, &keys::chunk_aad(&run, &agent, seq)))
            .bind(db::now())
            .execute(&mut *tx)
            .await?;
            // Counted with the insert: the count is what was accepted, so
            // a chunk accepted twice would show.
            sqlx::query(
                "UPDATE run_agents SET chunks_received = chunks_received + 1, chunks_total = $1 WHERE run_id = $2 AND agent_id = $3",
            )
            .bind(q.total)
            .bind(&run)
            .bind(&agent)
            .execute(&mut *tx)
            .await?;
            stored += 1;
            StatusCode::CREATED
        }
    };
    tx.commit().await?;
    crate::crash_point("agent.chunk.stored");
    if stored < q.total {
        return Ok((status, Json(json!({ "accepted": status == StatusCode::CREATED, "complete": false }))));
    }
    match assemble(&app, &run, &agent).await? {
        Ok(digest) => Ok((status, Json(json!({ "accepted": true, "complete": true, "digest": digest })))),
        Err(why) => {
            reject("agent.telemetry.rejected", json!({ "run": run, "reason": why })).await;
            Err(ApiError::invalid(format!("the telemetry does not validate: {why}")))
        }
    }
}

/// How much of a too large chunk is read (and dropped) before the 413 is
/// answered, and for how long at most.
const DRAIN: usize = 4 * MAX_CHUNK;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// A chunk's body, at most [`MAX_CHUNK`] bytes. A larger one is read on
/// and dropped (up to [`DRAIN`]) before it is refused: a server that stops
/// reading and closes the connection makes the client's write fail (a
/// broken pipe, a reset) before it can read why.
async fn read_chunk(body: axum::body::Body) -> Result<Vec<u8>, ()> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(frame) = stream.next().await {
        let bytes = frame.map_err(|_| ())?;
        if out.len() + bytes.len() > MAX_CHUNK {
            let mut read = out.len() + bytes.len();
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while read <= DRAIN {
                    match stream.next().await {
                        Some(Ok(more)) => read += more.len(),
                        _ => break,
                    }
                }
            })
            .await;
            return Err(());
        }
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Joins a complete upload's chunks, validates the document, and stores it
/// (sealed) with its evaluation job, deleting the chunks. A document that
/// fails validation is dropped with its chunks, so a corrected one can be
/// sent. Outside the write lock except for the final insert, which is
/// idempotent: two requests completing at once store it once.
async fn assemble(app: &App, run: &str, agent: &str) -> ApiResult<Result<String, String>> {
    let chunks = sqlx::query(
        "SELECT seq, body FROM telemetry_chunks WHERE run_id = $1 AND agent_id = $2 ORDER BY seq",
    )
    .bind(run)
    .bind(agent)
    .fetch_all(&app.db.pool)
    .await?;
    let key = keys::existing_run_key(&app.db.pool, &app.master, run)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("run {run} has chunks but no key")))?;
    let mut compressed = Vec::new();
    for c in &chunks {
        let plain = key.open(&db::blob(c, "body"), &keys::chunk_aad(run, agent, db::int(c, "seq")));
        compressed.extend(plain.map_err(ApiError::internal)?);
    }
    let checked = app
        .cpu
        .run(move || {
            let json = gunzip(&compressed, MAX_TELEMETRY)?;
            assay_runtime::value::Host::from_json(&json).map_err(|e| e.to_string())?;
            Ok::<_, String>((db::digest(&json), compressed))
        })
        .await
        .map_err(ApiError::internal)?;
    // The sealed document goes to the blob store before the row naming it
    // is committed (see `blobs`); a store that fails is a 503 the agent
    // retries, its chunks still here.
    let received_at = db::now();
    let blob = match &checked {
        Ok((digest, compressed)) => {
            let name = crate::blobs::Blobs::telemetry_key(run, agent, digest, received_at);
            let sealed = key.seal(compressed, &keys::telemetry_aad(run, agent));
            app.blobs.put(&name, sealed).await.map_err(ApiError::unavailable)?;
            Some(name)
        }
        Err(_) => None,
    };
    let mut tx = app.db.write().await?;
    sqlx::query("DELETE FROM telemetry_chunks WHERE run_id = $1 AND agent_id = $2")
        .bind(run)
        .bind(agent)
        .execute(&mut *tx)
        .await?;
    let (digest, blob) = match (checked, blob) {
        (Ok((digest, _)), Some(blob)) => (digest, blob),
        (Err(why), _) => {
            tx.commit().await?;
            return Ok(Err(why));
        }
        (Ok(_), None) => return Err(ApiError::internal("a checked upload without its blob")),
    };
    let insert = match app.db.backend {
        Backend::Postgres => "INSERT INTO telemetry (run_id, agent_id, digest, body, received_at, sealed, blob) VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT DO NOTHING",
        Backend::Sqlite => "INSERT OR IGNORE INTO telemetry (run_id, agent_id, digest, body, received_at, sealed, blob) VALUES ($1, $2, $3, $4, $5, 1, $6)",
    };
    let stored = sqlx::query(insert)
        .bind(run)
        .bind(agent)
        .bind(&digest)
        .bind(Vec::<u8>::new())
        .bind(received_at)
        .bind(&blob)
        .execute(&mut *tx)
        .await?;
    if stored.rows_affected() > 0 {
        sqlx::query("UPDATE run_agents SET status = 'delivered' WHERE run_id = $1 AND agent_id = $2")
            .bind(run)
            .bind(agent)
            .execute(&mut *tx)
            .await?;
        let job = match app.db.backend {
            Backend::Postgres => "INSERT INTO jobs (run_id, agent_id, state, attempts, lease_until) VALUES ($1, $2, 'pending', 0, 0) ON CONFLICT DO NOTHING",
            Backend::Sqlite => "INSERT OR IGNORE INTO jobs (run_id, agent_id, state, attempts, lease_until) VALUES ($1, $2, 'pending', 0, 0)",
        };
        sqlx::query(job).bind(run).bind(agent).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    crate::crash_point("agent.telemetry.stored");
    Ok(Ok(digest))
}

/// Decompresses gzip, refusing more than `limit` bytes of output (a small
/// upload must not inflate into gigabytes).
pub(crate) fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    if out.len() > limit {
        return Err(format!("it inflates beyond {limit} bytes"));
    }
    Ok(out)
}

/// A stored telemetry row's document: opened with its run's key (gone
/// after retention) and decompressed, or as it is for rows from before
/// sealing.
pub(crate) async fn opened(
    app: &App,
    row: &sqlx::any::AnyRow,
) -> Result<Result<Vec<u8>, String>, sqlx::Error> {
    let (run, agent) = (db::text(row, "run_id"), db::text(row, "agent_id"));
    // For the fault tests: telemetry that cannot be read, as a blob store
    // that lost it or a key that was deleted would give.
    fail::fail_point!("eval.telemetry.unreadable", |_| Ok(Err(format!(
        "the telemetry of agent {agent} in run {run} cannot be read (fail point eval.telemetry.unreadable)"
    ))));
    let body = match db::opt_text(row, "blob") {
        None => db::blob(row, "body"),
        // A store that cannot answer now is retried with the job; a blob
        // that is gone is an answer.
        Some(name) => {
            match app.blobs.get(&name).await.map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))? {
                Some(body) => body,
                None => {
                    return Ok(Err(format!(
                        "the telemetry of agent {agent} in run {run} is missing from the blob store ({name})"
                    )))
                }
            }
        }
    };
    if db::int(row, "sealed") == 0 {
        return Ok(Ok(body));
    }
    let key = match keys::existing_run_key(&app.db.pool, &app.master, &run).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            return Ok(Err(format!("the key of run {run} was deleted: its telemetry cannot be read")))
        }
        Err(e) => return Ok(Err(e)),
    };
    Ok(key.open(&body, &keys::telemetry_aad(&run, &agent)).and_then(|c| gunzip(&c, MAX_TELEMETRY)))
}
