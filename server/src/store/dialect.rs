//! Where SQLite and PostgreSQL differ, each with why; every other
//! statement of the store is written once for both.

/// Which database the pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn of_url(url: &str) -> Result<Backend, String> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(format!("`{}` is neither a sqlite:// nor a postgres:// URL", super::redact(url)))
        }
    }
}

/// Leasing a job: on PostgreSQL the candidate row is locked with
/// `FOR UPDATE SKIP LOCKED`, so replicas leasing at once take different
/// jobs instead of waiting for each other; SQLite has one writer at a time
/// (`BEGIN IMMEDIATE`), which the lease runs in, and no such clause.
macro_rules! leases {
    ($head:literal, $candidates:literal, $lock:literal, $tail:literal) => {
        (concat!($head, $candidates, $tail), concat!($head, $candidates, $lock, $tail))
    };
}

/// (SQLite, PostgreSQL) statements leasing one run evaluation job.
pub(super) const LEASE_RUN_JOB: (&str, &str) = leases!(
    "UPDATE jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
     WHERE (run_id, agent_id) IN (",
    "SELECT j.run_id, j.agent_id FROM jobs j JOIN runs r ON r.id = j.run_id \
     WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < $2)) AND j.attempts < $3 \
     AND r.state IN ('START_EVALUATING_RULES_PENDING', 'EVALUATING_RULES') LIMIT 1",
    " FOR UPDATE OF j SKIP LOCKED",
    ") RETURNING run_id, agent_id, attempts"
);

/// (SQLite, PostgreSQL) statements leasing one re-evaluation job.
pub(super) const LEASE_REEVAL_JOB: (&str, &str) = leases!(
    "UPDATE reeval_jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
     WHERE agent_id IN (",
    "SELECT agent_id FROM reeval_jobs \
     WHERE (state = 'pending' OR (state = 'leased' AND lease_until < $2)) AND attempts < $3 LIMIT 1",
    " FOR UPDATE SKIP LOCKED",
    ") RETURNING agent_id, cause, attempts"
);

pub(super) fn pick(backend: Backend, (sqlite, postgres): (&'static str, &'static str)) -> &'static str {
    match backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    }
}

/// Serializes the transaction against every other writer of `table`
/// until it ends: PostgreSQL's transactions run side by side, so two
/// replicas starting at once would each find no CA (or no token) and make
/// one; on SQLite `BEGIN IMMEDIATE` already excludes other writers.
pub(super) async fn lock_table(c: &mut super::Conn, backend: Backend, table: &str) -> super::Result<()> {
    if backend == Backend::Postgres {
        let sql = format!("LOCK TABLE {table} IN EXCLUSIVE MODE");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await?;
    }
    Ok(())
}

/// After rows were copied in with their own `seq`, PostgreSQL's sequence
/// must move past them (SQLite numbers from the largest rowid by itself).
pub(super) async fn continue_sequence(
    c: &mut super::Conn,
    backend: Backend,
    table: &str,
) -> super::Result<()> {
    if backend == Backend::Postgres {
        // Tables whose `seq` is not a sequence (run_states numbers its
        // own) have none to move.
        let sql = format!(
            "SELECT setval(s.name, COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false) \
             FROM (SELECT pg_get_serial_sequence('{table}', 'seq') AS name) s WHERE s.name IS NOT NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await?;
    }
    Ok(())
}

/// The columns of `table`: name, type as the database spells it, and
/// whether it may be NULL (SQLite's catalog pragma; PostgreSQL's
/// information schema).
pub(super) fn columns_query(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT name AS name, type AS kind, CASE WHEN \"notnull\" = 0 AND pk = 0 THEN 1 ELSE 0 END AS nullable \
             FROM pragma_table_info($1) ORDER BY cid"
        }
        Backend::Postgres => {
            "SELECT column_name::text AS name, data_type::text AS kind, CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    }
}

/// The tables of the database.
pub(super) fn tables_query(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT name AS name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    }
}

/// What a database error means, read by the backend that raised it.
/// SQLite's codes are numbers (the primary code is the low byte of the
/// extended one), PostgreSQL's are SQLSTATEs: a PostgreSQL code is never
/// read as a SQLite number (`22021` would be SQLITE_BUSY by its low byte).
pub(super) fn classify(e: &sqlx::Error) -> super::Failure {
    use super::Failure;
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            Failure::Unavailable
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => Failure::Conflict,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let state = pg.code();
                // 57P: operator intervention (shutdown, cannot connect now);
                // 08: connection exceptions; 53: insufficient resources;
                // 40001/40P01: serialization failure, deadlock (retry).
                if ["57P", "08", "53", "40001", "40P01"].iter().any(|p| state.starts_with(p)) {
                    Failure::Unavailable
                } else if state.starts_with("22") {
                    // Data exceptions: invalid encoding (a NUL byte is
                    // 22021), a number out of range, text too long.
                    Failure::BadValue
                } else {
                    Failure::Other
                }
            } else if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                match code.parse::<i32>().map(|c| c & 0xff) {
                    // SQLITE_BUSY, SQLITE_LOCKED.
                    Ok(5 | 6) => Failure::Unavailable,
                    // SQLITE_TOOBIG, SQLITE_MISMATCH.
                    Ok(18 | 20) => Failure::BadValue,
                    _ => Failure::Other,
                }
            } else {
                Failure::Other
            }
        }
        _ => Failure::Other,
    }
}
