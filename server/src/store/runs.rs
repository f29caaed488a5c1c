//! Runs, their state history, their agents, and the locks that keep two
//! unfinished runs from sharing an agent.

use super::{Conn, Json, Maybe, Result};
use assay_api::admin::StateChange;
use assay_api::{JobState, RunAgentStatus, RunState};

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Run {
    pub id: String,
    pub template: String,
    pub template_version: i64,
    #[sqlx(try_from = "String")]
    pub state: RunState,
    pub created_at: i64,
    pub collect_until: i64,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, template, template_version, state, created_at, collect_until, finished_at";

pub(crate) async fn insert(c: &mut Conn, run: &Run) -> Result<()> {
    sqlx::query(
        "INSERT INTO runs (id, template, template_version, state, created_at, collect_until) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&run.id)
    .bind(&run.template)
    .bind(run.template_version)
    .bind(run.state.as_str())
    .bind(run.created_at)
    .bind(run.collect_until)
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn get(c: &mut Conn, id: &str) -> Result<Option<Run>> {
    let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(c).await
}

/// Newest first: the runs created before `(at, id)`.
pub(crate) async fn list(c: &mut Conn, before: (i64, &str), limit: i64) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE created_at < $1 OR (created_at = $1 AND id < $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(before.0).bind(before.1).bind(limit).fetch_all(c).await
}

/// Runs not finished, newest first.
pub(crate) async fn in_progress(c: &mut Conn, limit: i64) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE finished_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(c).await
}

/// Runs in a state that is not final (the background tick's work).
pub(crate) async fn unfinished(c: &mut Conn) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE state NOT IN ('COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'ERROR', 'CANCELED')"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(c).await
}

/// Unfinished runs of `template`.
pub(crate) async fn unfinished_of_template(c: &mut Conn, template: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM runs WHERE template = $1 AND finished_at IS NULL ORDER BY id")
            .bind(template)
            .fetch_all(c)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Unfinished runs whose template version assesses `target`.
pub(crate) async fn unfinished_of_target(c: &mut Conn, target: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT r.id FROM runs r JOIN templates t ON t.name = r.template AND t.version = r.template_version \
         WHERE t.target = $1 AND r.finished_at IS NULL ORDER BY r.id",
    )
    .bind(target)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Moves `run` from `from` to `to` if it is still in `from` (the only way
/// a state changes); whether this call made it.
pub(crate) async fn set_state(c: &mut Conn, run: &str, from: RunState, to: RunState) -> Result<bool> {
    let done = sqlx::query("UPDATE runs SET state = $1 WHERE id = $2 AND state = $3")
        .bind(to.as_str())
        .bind(run)
        .bind(from.as_str())
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends `state` to the run's history.
pub(crate) async fn record_state(c: &mut Conn, run: &str, state: RunState, at: i64) -> Result<()> {
    let (next,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM run_states WHERE run_id = $1")
            .bind(run)
            .fetch_one(&mut *c)
            .await?;
    sqlx::query("INSERT INTO run_states (run_id, seq, state, at) VALUES ($1, $2, $3, $4)")
        .bind(run)
        .bind(next)
        .bind(state.as_str())
        .bind(at)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Change {
    #[sqlx(try_from = "String")]
    state: RunState,
    at: i64,
}

pub(crate) async fn history(c: &mut Conn, run: &str) -> Result<Vec<StateChange>> {
    let rows: Vec<Change> = sqlx::query_as("SELECT state, at FROM run_states WHERE run_id = $1 ORDER BY seq")
        .bind(run)
        .fetch_all(c)
        .await?;
    Ok(rows.into_iter().map(|r| StateChange { state: r.state, at: r.at }).collect())
}

/// A final state reached: the run records when, and frees its agents.
pub(crate) async fn finish(c: &mut Conn, run: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE runs SET finished_at = $1 WHERE id = $2")
        .bind(now)
        .bind(run)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM agent_locks WHERE run_id = $1").bind(run).execute(c).await?;
    Ok(())
}

/// Takes `agent` for `run`: a unique-key error when an unfinished run has
/// it (the key decides a race between two starts).
pub(crate) async fn lock_agent(c: &mut Conn, run: &str, agent: &str) -> Result<()> {
    sqlx::query("INSERT INTO agent_locks (agent_id, run_id) VALUES ($1, $2)")
        .bind(agent)
        .bind(run)
        .execute(&mut *c)
        .await?;
    sqlx::query("INSERT INTO run_agents (run_id, agent_id, status) VALUES ($1, $2, 'pending')")
        .bind(run)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Lock {
    pub agent_id: String,
    pub run_id: String,
}

/// Which unfinished runs hold agents.
pub(crate) async fn locks(c: &mut Conn) -> Result<Vec<Lock>> {
    sqlx::query_as("SELECT agent_id, run_id FROM agent_locks ORDER BY agent_id").fetch_all(c).await
}

/// An agent of a run, with its host and its evaluation job.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Member {
    pub agent_id: String,
    pub hostname: String,
    pub os: String,
    #[sqlx(try_from = "String")]
    pub status: RunAgentStatus,
    pub chunks_received: i64,
    pub chunks_total: i64,
    /// Its evaluation job's state, once it delivered.
    #[sqlx(try_from = "Option<String>")]
    pub job: Maybe<JobState>,
    pub attempts: Option<i64>,
    pub error: Option<String>,
    #[sqlx(try_from = "String")]
    pub addresses: Json<Vec<String>>,
    /// The hostname its telemetry claimed, when not the enrolled one.
    pub reported_hostname: Option<String>,
}

pub(crate) async fn members(c: &mut Conn, run: &str) -> Result<Vec<Member>> {
    sqlx::query_as(
        "SELECT ra.agent_id, a.hostname, a.os, ra.status, ra.chunks_received, ra.chunks_total, a.addresses, \
         j.state AS job, j.attempts, j.error, t.reported_hostname FROM run_agents ra JOIN agents a ON a.id = ra.agent_id \
         LEFT JOIN jobs j ON j.run_id = ra.run_id AND j.agent_id = ra.agent_id \
         LEFT JOIN telemetry t ON t.run_id = ra.run_id AND t.agent_id = ra.agent_id \
         WHERE ra.run_id = $1 ORDER BY ra.agent_id",
    )
    .bind(run)
    .fetch_all(c)
    .await
}

/// How many agents of `run` are in one of `statuses`.
pub(crate) async fn count_members(c: &mut Conn, run: &str, statuses: &[RunAgentStatus]) -> Result<i64> {
    let words: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
    super::count_in_run(c, "run_agents", "status", run, &words).await
}

/// Whether an agent of `run` is still pending (not how many: every agent
/// of a 10,000-agent run asks as it starts).
pub(crate) async fn any_pending(c: &mut Conn, run: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM run_agents WHERE run_id = $1 AND status = 'pending' LIMIT 1")
        .bind(run)
        .fetch_optional(c)
        .await?;
    Ok(row.is_some())
}

/// Moves an agent of a run from `from` to `to`; whether it was in `from`.
pub(crate) async fn set_member_status(
    c: &mut Conn,
    run: &str,
    agent: &str,
    from: RunAgentStatus,
    to: RunAgentStatus,
) -> Result<bool> {
    let done =
        sqlx::query("UPDATE run_agents SET status = $1 WHERE run_id = $2 AND agent_id = $3 AND status = $4")
            .bind(to.as_str())
            .bind(run)
            .bind(agent)
            .bind(from.as_str())
            .execute(c)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// An agent's telemetry for `run` is stored: delivered, whatever the run
/// had recorded of it (an upload the collection's end overtook counts).
pub(crate) async fn mark_delivered(c: &mut Conn, run: &str, agent: &str) -> Result<()> {
    sqlx::query("UPDATE run_agents SET status = 'delivered' WHERE run_id = $1 AND agent_id = $2")
        .bind(run)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}

/// The collection of `run` ended: the agents it still waited for are
/// missing.
pub(crate) async fn mark_missing(c: &mut Conn, run: &str) -> Result<()> {
    sqlx::query(
        "UPDATE run_agents SET status = 'missing' WHERE run_id = $1 AND status IN ('pending', 'collecting')",
    )
    .bind(run)
    .execute(c)
    .await?;
    Ok(())
}

/// A revoked agent leaves the runs that wait for it, and its lock.
pub(crate) async fn remove_revoked(c: &mut Conn, agent: &str) -> Result<()> {
    sqlx::query(
        "UPDATE run_agents SET status = 'revoked' WHERE agent_id = $1 AND status IN ('pending', 'collecting')",
    )
    .bind(agent)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM agent_locks WHERE agent_id = $1").bind(agent).execute(c).await?;
    Ok(())
}

/// An agent's membership of a run and the run's state.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Membership {
    #[sqlx(try_from = "String")]
    pub status: RunAgentStatus,
    #[sqlx(try_from = "String")]
    pub state: RunState,
}

pub(crate) async fn membership(c: &mut Conn, run: &str, agent: &str) -> Result<Option<Membership>> {
    sqlx::query_as(
        "SELECT ra.status, r.state FROM run_agents ra JOIN runs r ON r.id = ra.run_id WHERE ra.run_id = $1 AND ra.agent_id = $2",
    )
    .bind(run)
    .bind(agent)
    .fetch_optional(c)
    .await
}

/// The oldest run that waits for `agent`'s telemetry and is collecting.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Assignment {
    pub id: String,
    pub collect_until: i64,
    #[sqlx(try_from = "String")]
    pub status: RunAgentStatus,
}

pub(crate) async fn assignment(c: &mut Conn, agent: &str) -> Result<Option<Assignment>> {
    sqlx::query_as(
        "SELECT r.id, r.collect_until, ra.status FROM run_agents ra JOIN runs r ON r.id = ra.run_id \
         WHERE ra.agent_id = $1 AND ra.status IN ('pending', 'collecting') \
         AND r.state IN ('START_DATA_COLLECTION_PENDING', 'START_DATA_COLLECTION_IN_PROGRESS', 'COLLECTING_DATA') \
         ORDER BY r.created_at LIMIT 1",
    )
    .bind(agent)
    .fetch_optional(c)
    .await
}

/// A chunk accepted: counted in the transaction that stores it, so the
/// count is what was accepted.
pub(crate) async fn count_chunk(c: &mut Conn, run: &str, agent: &str, total: i64) -> Result<()> {
    sqlx::query(
        "UPDATE run_agents SET chunks_received = chunks_received + 1, chunks_total = $1 WHERE run_id = $2 AND agent_id = $3",
    )
    .bind(total)
    .bind(run)
    .bind(agent)
    .execute(c)
    .await?;
    Ok(())
}

/// Runs by state, for the metrics.
pub(crate) async fn count_by_state(c: &mut Conn) -> Result<Vec<(RunState, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Count {
        #[sqlx(try_from = "String")]
        state: RunState,
        n: i64,
    }
    let rows: Vec<Count> =
        sqlx::query_as("SELECT state, COUNT(*) AS n FROM runs GROUP BY state ORDER BY state")
            .fetch_all(c)
            .await?;
    Ok(rows.into_iter().map(|r| (r.state, r.n)).collect())
}

/// Records the exact package versions `run` evaluates.
pub(crate) async fn set_packages(c: &mut Conn, run: &str, packages: &[String]) -> Result<()> {
    sqlx::query("UPDATE runs SET packages = $1 WHERE id = $2")
        .bind(super::json(packages)?)
        .bind(run)
        .execute(c)
        .await?;
    Ok(())
}

/// The packages `run` evaluates: its resolved versions, or for a run from
/// before the registry its template version's package names.
pub(crate) async fn packages(c: &mut Conn, run: &str) -> Result<Option<Vec<String>>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT COALESCE(r.packages, t.packages) FROM runs r \
         JOIN templates t ON t.name = r.template AND t.version = r.template_version WHERE r.id = $1",
    )
    .bind(run)
    .fetch_optional(c)
    .await?;
    row.map(|(text,)| serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}
