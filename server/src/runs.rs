//! Assessment runs: Inspector's states, moved only by compare-and-set
//! updates recorded in `run_states`, each in the transaction that causes
//! it. Everything a run needs to continue is in the database, so any
//! server process (a replica, or this one after a crash) advances it.

use crate::db::{self, Db, Tx};
use sqlx::Row;

/// Inspector's run states.
pub const CREATED: &str = "CREATED";
pub const START_PENDING: &str = "START_DATA_COLLECTION_PENDING";
pub const START_IN_PROGRESS: &str = "START_DATA_COLLECTION_IN_PROGRESS";
pub const COLLECTING: &str = "COLLECTING_DATA";
pub const STOP_PENDING: &str = "STOP_DATA_COLLECTION_PENDING";
pub const DATA_COLLECTED: &str = "DATA_COLLECTED";
pub const EVAL_PENDING: &str = "START_EVALUATING_RULES_PENDING";
pub const EVALUATING: &str = "EVALUATING_RULES";
pub const COMPLETED: &str = "COMPLETED";
pub const COMPLETED_WITH_ERRORS: &str = "COMPLETED_WITH_ERRORS";
pub const FAILED: &str = "FAILED";
pub const CANCELED: &str = "CANCELED";
/// The service could not do its part: no delivered telemetry could be
/// evaluated, or the run cannot be resumed. FAILED is kept for runs whose
/// agents delivered nothing.
pub const ERROR: &str = "ERROR";

/// States in which agents collect.
pub const COLLECTING_STATES: [&str; 3] = [START_PENDING, START_IN_PROGRESS, COLLECTING];
/// States after which nothing changes.
pub const FINAL_STATES: [&str; 5] = [COMPLETED, COMPLETED_WITH_ERRORS, FAILED, ERROR, CANCELED];

/// How long past its duration a run waits for late telemetry; longer
/// while uploads keep arriving (a large fleet's collections all end at the
/// same moment, and their uploads queue), up to [`MAX_GRACE_MS`].
pub const GRACE_MS: i64 = 30_000;
pub const MAX_GRACE_MS: i64 = 10 * 60_000;
/// Uploads "keep arriving" when one completed within this.
const ARRIVING_MS: i64 = 10_000;

/// Moves `run` from `from` to `to` if it is still in `from`; records the
/// change. Returns whether this call made it.
pub async fn transition(tx: &mut Tx, run: &str, from: &str, to: &str) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query("UPDATE runs SET state = $1 WHERE id = $2 AND state = $3")
        .bind(to)
        .bind(run)
        .bind(from)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if changed == 1 {
        record(tx, run, to).await?;
        let detail = serde_json::json!({ "from": from, "state": to });
        crate::notify::enqueue(tx, run, "ASSESSMENT_RUN_STATE_CHANGED", detail.clone()).await?;
        if to == START_PENDING {
            crate::notify::enqueue(tx, run, "ASSESSMENT_RUN_STARTED", detail.clone()).await?;
        }
        if FINAL_STATES.contains(&to) {
            crate::notify::enqueue(tx, run, "ASSESSMENT_RUN_COMPLETED", detail).await?;
        }
        if FINAL_STATES.contains(&to) {
            sqlx::query("UPDATE runs SET finished_at = $1 WHERE id = $2")
                .bind(db::now())
                .bind(run)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM agent_locks WHERE run_id = $1").bind(run).execute(&mut **tx).await?;
        }
    }
    Ok(changed == 1)
}

/// Appends `state` to the run's history.
pub async fn record(tx: &mut Tx, run: &str, state: &str) -> Result<(), sqlx::Error> {
    let next = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM run_states WHERE run_id = $1")
        .bind(run)
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO run_states (run_id, seq, state, at) VALUES ($1, $2, $3, $4)")
        .bind(run)
        .bind(db::int(&next, "next"))
        .bind(state)
        .bind(db::now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Advances every unfinished run whose next step depends on time or on
/// work done elsewhere: collection over (duration plus grace, or every
/// agent delivered), evaluation finished. Idempotent; any replica may run
/// it at any time.
pub async fn tick(db: &Db) -> Result<(), sqlx::Error> {
    let now = db::now();
    let rows = sqlx::query(
        "SELECT id, state, collect_until FROM runs WHERE state NOT IN ('COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'ERROR', 'CANCELED')",
    )
    .fetch_all(&db.pool)
    .await?;
    for row in rows {
        let (id, state, until) =
            (db::text(&row, "id"), db::text(&row, "state"), db::int(&row, "collect_until"));
        // Most ticks change nothing: look before taking the write lock (the
        // transition below checks again, by compare-and-set).
        let idle = if COLLECTING_STATES.contains(&state.as_str()) {
            let waiting = count_now(db, WAITING, &id).await? > 0;
            waiting
                && (now <= until + GRACE_MS
                    || (now <= until + MAX_GRACE_MS && arriving(db, &id, now).await?))
        } else if state == EVAL_PENDING || state == EVALUATING {
            count_now(db, OPEN_JOBS, &id).await? > 0
        } else {
            false
        };
        if idle {
            continue;
        }
        let mut tx = db.write().await?;
        if COLLECTING_STATES.contains(&state.as_str()) {
            let waiting = count(&mut tx, WAITING, &id).await?;
            if waiting == 0 || now > until + GRACE_MS {
                transition(&mut tx, &id, &state, STOP_PENDING).await?;
            }
        } else if state == STOP_PENDING {
            sqlx::query(
                "UPDATE run_agents SET status = 'missing' WHERE run_id = $1 AND status <> 'delivered'",
            )
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            transition(&mut tx, &id, STOP_PENDING, DATA_COLLECTED).await?;
        } else if state == DATA_COLLECTED {
            let delivered = count(
                &mut tx,
                "SELECT COUNT(*) AS n FROM run_agents WHERE run_id = $1 AND status = 'delivered'",
                &id,
            )
            .await?;
            if delivered == 0 {
                transition(&mut tx, &id, DATA_COLLECTED, FAILED).await?;
            } else {
                transition(&mut tx, &id, DATA_COLLECTED, EVAL_PENDING).await?;
            }
        } else if state == EVAL_PENDING || state == EVALUATING {
            let open = count(&mut tx, OPEN_JOBS, &id).await?;
            if open == 0 {
                let failed = count(
                    &mut tx,
                    "SELECT COUNT(*) AS n FROM jobs WHERE run_id = $1 AND state = 'failed'",
                    &id,
                )
                .await?;
                let missing = count(
                    &mut tx,
                    "SELECT COUNT(*) AS n FROM run_agents WHERE run_id = $1 AND status = 'missing'",
                    &id,
                )
                .await?;
                let done = count(
                    &mut tx,
                    "SELECT COUNT(*) AS n FROM jobs WHERE run_id = $1 AND state = 'done'",
                    &id,
                )
                .await?;
                let end = if done == 0 {
                    ERROR
                } else if failed + missing > 0 {
                    COMPLETED_WITH_ERRORS
                } else {
                    COMPLETED
                };
                transition(&mut tx, &id, &state, end).await?;
            }
        } else if state == CREATED {
            // A run is created and started in one transaction, so this is
            // a run of an older server; it cannot be resumed.
            transition(&mut tx, &id, CREATED, ERROR).await?;
        }
        tx.commit().await?;
        crate::crash_point("run.tick");
    }
    Ok(())
}

/// A run's agents that have not delivered.
const WAITING: &str =
    "SELECT COUNT(*) AS n FROM run_agents WHERE run_id = $1 AND status IN ('pending', 'collecting')";
/// A run's evaluation jobs not finished.
const OPEN_JOBS: &str = "SELECT COUNT(*) AS n FROM jobs WHERE run_id = $1 AND state IN ('pending', 'leased')";

/// Whether an upload of `run` completed in the last [`ARRIVING_MS`].
async fn arriving(db: &Db, run: &str, now: i64) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT MAX(received_at) AS last FROM telemetry WHERE run_id = $1")
        .bind(run)
        .fetch_one(&db.pool)
        .await?;
    Ok(db::opt_int(&row, "last").is_some_and(|last| last > now - ARRIVING_MS))
}

async fn count_now(db: &Db, sql: &'static str, run: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(sql).bind(run).fetch_one(&db.pool).await?;
    Ok(row.try_get::<i64, _>("n").unwrap_or_default())
}

async fn count(tx: &mut Tx, sql: &'static str, run: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(sql).bind(run).fetch_one(&mut **tx).await?;
    Ok(row.try_get::<i64, _>("n").unwrap_or_default())
}
