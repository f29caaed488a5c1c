//! The two queues of evaluation work: a job per (run, agent) and a
//! re-evaluation per agent (its latest telemetry). Any replica leases from
//! them; a job whose worker died is taken over when its lease ends.

use super::{dialect, Backend, Conn, Result};
use assay_api::JobState;

pub(crate) async fn insert(c: &mut Conn, run: &str, agent: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (run_id, agent_id, state, attempts, lease_until) VALUES ($1, $2, 'pending', 0, 0) ON CONFLICT DO NOTHING",
    )
    .bind(run)
    .bind(agent)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RunJob {
    pub run_id: String,
    pub agent_id: String,
    pub attempts: i64,
}

/// Leases one run job (pending, or leased by a worker whose lease ended,
/// with attempts left) until `until`.
pub(crate) async fn lease_run_job(
    c: &mut Conn,
    backend: Backend,
    until: i64,
    now: i64,
    max_attempts: i64,
) -> Result<Option<RunJob>> {
    sqlx::query_as(dialect::pick(backend, dialect::LEASE_RUN_JOB))
        .bind(until)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(c)
        .await
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Reevaluation {
    pub agent_id: String,
    pub cause: String,
    pub attempts: i64,
}

/// Leases one re-evaluation, as [`lease_run_job`].
pub(crate) async fn lease_reevaluation(
    c: &mut Conn,
    backend: Backend,
    until: i64,
    now: i64,
    max_attempts: i64,
) -> Result<Option<Reevaluation>> {
    sqlx::query_as(dialect::pick(backend, dialect::LEASE_REEVAL_JOB))
        .bind(until)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(c)
        .await
}

pub(crate) async fn set_run_job(
    c: &mut Conn,
    run: &str,
    agent: &str,
    state: JobState,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE jobs SET state = $1, error = $2 WHERE run_id = $3 AND agent_id = $4")
        .bind(state.as_str())
        .bind(error)
        .bind(run)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}

/// Ends a leased re-evaluation (one queued again meanwhile is left
/// pending).
pub(crate) async fn set_reevaluation(
    c: &mut Conn,
    agent: &str,
    state: JobState,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE reeval_jobs SET state = $1, error = $2 WHERE agent_id = $3 AND state = 'leased'")
        .bind(state.as_str())
        .bind(error)
        .bind(agent)
        .execute(c)
        .await?;
    Ok(())
}

/// Fails every unfinished job of a canceled run.
pub(crate) async fn cancel_run(c: &mut Conn, run: &str) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'failed', error = 'the run was canceled' WHERE run_id = $1 AND state IN ('pending', 'leased')",
    )
    .bind(run)
    .execute(c)
    .await?;
    Ok(())
}

/// Fails the jobs of both queues whose last attempt ran out.
pub(crate) async fn expire(c: &mut Conn, now: i64, max_attempts: i64) -> Result<()> {
    for sql in [
        "UPDATE jobs SET state = 'failed', error = COALESCE(error, 'the evaluation did not finish') \
         WHERE state = 'leased' AND lease_until < $1 AND attempts >= $2",
        "UPDATE reeval_jobs SET state = 'failed', error = COALESCE(error, 'the evaluation did not finish') \
         WHERE state = 'leased' AND lease_until < $1 AND attempts >= $2",
    ] {
        sqlx::query(sql).bind(now).bind(max_attempts).execute(&mut *c).await?;
    }
    Ok(())
}

/// Queues the re-evaluation of every agent's latest telemetry; how many.
pub(crate) async fn queue_reevaluation(c: &mut Conn, cause: &str) -> Result<u64> {
    // `WHERE true` lets SQLite tell the upsert's ON CONFLICT from a join.
    let done = sqlx::query(
        "INSERT INTO reeval_jobs (agent_id, cause, state, attempts, lease_until) \
         SELECT DISTINCT agent_id, $1, 'pending', 0, 0 FROM telemetry WHERE true \
         ON CONFLICT (agent_id) DO UPDATE SET cause = EXCLUDED.cause, state = 'pending', attempts = 0, lease_until = 0, error = NULL",
    )
    .bind(cause)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}

/// How many jobs of `run` are in one of `states`.
pub(crate) async fn count_of_run(c: &mut Conn, run: &str, states: &[JobState]) -> Result<i64> {
    let words: Vec<&'static str> = states.iter().map(|s| s.as_str()).collect();
    super::count_in_run(c, "jobs", "state", run, &words).await
}

/// Work waiting or in progress: (run jobs, re-evaluations).
pub(crate) async fn depths(c: &mut Conn) -> Result<(i64, i64)> {
    let (jobs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'leased')")
        .fetch_one(&mut *c)
        .await?;
    let (reevaluations,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM reeval_jobs WHERE state IN ('pending', 'leased')")
            .fetch_one(c)
            .await?;
    Ok((jobs, reevaluations))
}

/// Ends every lease now (evaluation and re-evaluation jobs): for a server
/// that knows their holders are gone. The jobs' attempts stand.
pub(crate) async fn release_leases(c: &mut Conn) -> Result<u64> {
    let jobs = sqlx::query("UPDATE jobs SET lease_until = 0 WHERE state = 'leased'").execute(&mut *c).await?;
    let reevals =
        sqlx::query("UPDATE reeval_jobs SET lease_until = 0 WHERE state = 'leased'").execute(&mut *c).await?;
    Ok(jobs.rows_affected() + reevals.rows_affected())
}
