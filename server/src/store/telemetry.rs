//! Telemetry: the chunks of uploads in progress (sealed), the documents
//! delivered (a row naming a blob in the blob store), and the data key of
//! each run, wrapped by the master key.

use super::{Conn, Json, Result};
use std::collections::BTreeMap;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Chunk {
    pub seq: i64,
    pub total: i64,
    pub digest: String,
    /// Its stored (sealed) size in bytes.
    pub size: i64,
}

/// The chunks of `agent`'s upload for `run` received so far.
pub(crate) async fn chunks(c: &mut Conn, run: &str, agent: &str) -> Result<Vec<Chunk>> {
    sqlx::query_as(
        "SELECT seq, total, digest, CAST(LENGTH(body) AS BIGINT) AS size FROM telemetry_chunks \
         WHERE run_id = $1 AND agent_id = $2 ORDER BY seq",
    )
    .bind(run)
    .bind(agent)
    .fetch_all(c)
    .await
}

pub(crate) struct NewChunk<'a> {
    pub run: &'a str,
    pub agent: &'a str,
    pub seq: i64,
    pub total: i64,
    pub digest: &'a str,
    pub sealed: Vec<u8>,
    pub now: i64,
}

pub(crate) async fn insert_chunk(c: &mut Conn, chunk: NewChunk<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO telemetry_chunks (run_id, agent_id, seq, total, digest, body, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(chunk.run)
    .bind(chunk.agent)
    .bind(chunk.seq)
    .bind(chunk.total)
    .bind(chunk.digest)
    .bind(chunk.sealed)
    .bind(chunk.now)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub(crate) struct SealedChunk {
    pub seq: i64,
    pub body: Vec<u8>,
}

/// The sealed bodies of a complete upload, in order.
pub(crate) async fn chunk_bodies(c: &mut Conn, run: &str, agent: &str) -> Result<Vec<SealedChunk>> {
    sqlx::query_as("SELECT seq, body FROM telemetry_chunks WHERE run_id = $1 AND agent_id = $2 ORDER BY seq")
        .bind(run)
        .bind(agent)
        .fetch_all(c)
        .await
}

pub(crate) async fn delete_chunks(c: &mut Conn, run: &str, agent: &str) -> Result<()> {
    sqlx::query("DELETE FROM telemetry_chunks WHERE run_id = $1 AND agent_id = $2")
        .bind(run)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}

/// A delivered document (sealed, in the blob store at `blob`).
pub(crate) struct NewDocument<'a> {
    pub run: &'a str,
    pub agent: &'a str,
    pub digest: &'a str,
    pub at: i64,
    pub blob: &'a str,
    /// What the document claimed of its host, when it is not the agent's
    /// enrolled identity.
    pub reported_hostname: Option<&'a str>,
    pub reported_id: Option<&'a str>,
}

/// Records a delivered document; false when the run has one from this
/// agent already (two requests completing the same upload store it once).
pub(crate) async fn insert(c: &mut Conn, d: &NewDocument<'_>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO telemetry (run_id, agent_id, digest, body, received_at, sealed, blob, reported_hostname, reported_id) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(d.run)
    .bind(d.agent)
    .bind(d.digest)
    .bind(Vec::<u8>::new())
    .bind(d.at)
    .bind(d.blob)
    .bind(d.reported_hostname)
    .bind(d.reported_id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivered document and what to evaluate it with: the packages of its
/// run (exact versions, or a pre-registry run's package names) and the
/// attributes and parameters of its template version.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Delivered {
    pub run_id: String,
    pub agent_id: String,
    pub received_at: i64,
    /// 1: sealed with the run's key (gzip inside); 0: plain JSON, from
    /// before sealing.
    pub sealed: i64,
    /// The document itself when `blob` is NULL (rows from before the blob
    /// store).
    pub body: Vec<u8>,
    pub blob: Option<String>,
    #[sqlx(try_from = "String")]
    pub packages: Json<Vec<String>>,
    /// What its template version asks for (`name`, `name@1`, ...): a
    /// re-evaluation follows these to the newest versions published.
    #[sqlx(try_from = "String")]
    pub requirements: Json<Vec<String>>,
    #[sqlx(try_from = "String")]
    pub attributes: Json<BTreeMap<String, String>>,
    /// The package parameters its template version sets.
    #[sqlx(try_from = "String")]
    pub params: Json<BTreeMap<String, serde_json::Value>>,
}

const DELIVERED: &str = "SELECT t.run_id, t.agent_id, t.received_at, t.sealed, t.body, t.blob, COALESCE(r.packages, tp.packages) AS packages, tp.packages AS requirements, tp.attributes, tp.params FROM telemetry t \
     JOIN runs r ON r.id = t.run_id JOIN templates tp ON tp.name = r.template AND tp.version = r.template_version";

/// What `agent` delivered for `run`.
pub(crate) async fn of_run(c: &mut Conn, run: &str, agent: &str) -> Result<Option<Delivered>> {
    let sql = format!("{DELIVERED} WHERE t.run_id = $1 AND t.agent_id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(run).bind(agent).fetch_optional(c).await
}

/// What `agent` delivered last, for any run.
pub(crate) async fn latest(c: &mut Conn, agent: &str) -> Result<Option<Delivered>> {
    let sql = format!("{DELIVERED} WHERE t.agent_id = $1 ORDER BY t.received_at DESC LIMIT 1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(agent).fetch_optional(c).await
}

/// When the last upload of `run` completed.
pub(crate) async fn last_received(c: &mut Conn, run: &str) -> Result<Option<i64>> {
    let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(received_at) FROM telemetry WHERE run_id = $1")
        .bind(run)
        .fetch_one(c)
        .await?;
    Ok(last)
}

/// Deletes the documents received before `cutoff`: the blobs they named.
pub(crate) async fn delete_before(c: &mut Conn, cutoff: i64) -> Result<Vec<String>> {
    let blobs: Vec<(String,)> =
        sqlx::query_as("SELECT blob FROM telemetry WHERE received_at < $1 AND blob IS NOT NULL")
            .bind(cutoff)
            .fetch_all(&mut *c)
            .await?;
    sqlx::query("DELETE FROM telemetry WHERE received_at < $1").bind(cutoff).execute(&mut *c).await?;
    Ok(blobs.into_iter().map(|(b,)| b).collect())
}

/// Deletes the chunks of uploads that finished runs no longer wait for,
/// and the keys of finished runs with no telemetry left (whatever of
/// theirs might remain is unreadable).
pub(crate) async fn delete_leftovers(c: &mut Conn) -> Result<()> {
    sqlx::query(
        "DELETE FROM telemetry_chunks WHERE run_id IN (SELECT id FROM runs WHERE finished_at IS NOT NULL)",
    )
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "DELETE FROM run_keys WHERE run_id IN (SELECT id FROM runs WHERE finished_at IS NOT NULL) \
         AND run_id NOT IN (SELECT run_id FROM telemetry)",
    )
    .execute(c)
    .await?;
    Ok(())
}

/// The wrapped data key of `run`, if it still exists.
pub(crate) async fn run_key(c: &mut Conn, run: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT wrapped FROM run_keys WHERE run_id = $1").bind(run).fetch_optional(c).await?;
    Ok(row.map(|(w,)| w))
}

/// Stores the wrapped data key of `run` unless it has one (two
/// transactions making it at once keep the first one committed).
pub(crate) async fn insert_run_key(c: &mut Conn, run: &str, wrapped: &[u8], now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO run_keys (run_id, wrapped, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(run)
    .bind(wrapped)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// Every agent that delivered telemetry, in id order.
pub(crate) async fn agents(c: &mut Conn) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT agent_id FROM telemetry ORDER BY agent_id").fetch_all(c).await?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}
