//! `assay server copy --from URL --to URL`: moves a service's database to
//! another (SQLite to PostgreSQL when one server is outgrown). The target
//! must be empty; it is migrated first, every table is copied in one
//! transaction in the order of its foreign keys, and PostgreSQL's
//! sequences are moved past the copied rows. Copy while no server runs on
//! the source.

use crate::db::{self, Backend, Db};
use sqlx::Row;

/// Every table, parents before children.
const TABLES: [&str; 25] = [
    "api_tokens",
    "enrollments",
    "agents",
    "agent_certs",
    "targets",
    "templates",
    "runs",
    "run_states",
    "run_agents",
    "agent_locks",
    "run_keys",
    "telemetry_chunks",
    "telemetry",
    "jobs",
    "findings",
    "host_reports",
    "audit_log",
    "fleet_findings",
    "finding_events",
    "feeds",
    "reeval_jobs",
    "server_state",
    "schedules",
    "outbox",
    "waiver_sets",
];

/// Columns holding integers (all others hold text, but for the blobs).
const INTEGERS: [&str; 31] = [
    "chunks_received",
    "chunks_total",
    "issued_at",
    "not_after",
    "total",
    "sealed",
    "created_at",
    "revoked_at",
    "uses_left",
    "expires_at",
    "enrolled_at",
    "last_seen",
    "version",
    "duration_seconds",
    "template_version",
    "collect_until",
    "finished_at",
    "seq",
    "at",
    "attempts",
    "lease_until",
    "received_at",
    "first_seen",
    "resolved_at",
    "advisories",
    "imported_at",
    "next_run_at",
    "next_at",
    "sent_at",
    "waivers",
    "uploaded_at",
];

/// Tables whose `seq` the database numbers.
const SEQUENCED: [&str; 6] = ["findings", "audit_log", "finding_events", "feeds", "outbox", "waiver_sets"];

fn is_blob(table: &str, column: &str) -> bool {
    (column == "body" && ["telemetry", "telemetry_chunks", "feeds"].contains(&table))
        || (table == "run_keys" && column == "wrapped")
}

/// Copies every row of `from` into `to`; the rows copied per table.
pub async fn copy(from: &str, to: &str) -> Result<Vec<(String, u64)>, String> {
    let source = Db::open(from).await?;
    let target = Db::open(to).await?;
    let err = |e: sqlx::Error| e.to_string();
    let mut tx = target.write().await.map_err(err)?;
    for table in TABLES {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
        if db::int(&n, "n") > 0 {
            return Err(format!("the target is not empty: {table} has rows; copy into a new database"));
        }
    }
    let mut counts = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(&source.pool)
            .await
            .map_err(err)?;
        for row in &rows {
            use sqlx::Column;
            let columns: Vec<String> = row.columns().iter().map(|c| c.name().to_owned()).collect();
            let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let sql =
                format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), placeholders.join(", "));
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, column) in columns.iter().enumerate() {
                insert = if INTEGERS.contains(&column.as_str()) {
                    insert.bind(row.try_get::<Option<i64>, _>(i).map_err(err)?)
                } else if is_blob(table, column) {
                    insert.bind(row.try_get::<Option<Vec<u8>>, _>(i).map_err(err)?)
                } else {
                    insert.bind(row.try_get::<Option<String>, _>(i).map_err(err)?)
                };
            }
            insert.execute(&mut *tx).await.map_err(|e| format!("{table}: {e}"))?;
        }
        counts.push((table.to_owned(), rows.len() as u64));
    }
    if target.backend == Backend::Postgres {
        for table in SEQUENCED {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'seq'), COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(err)?;
        }
    }
    tx.commit().await.map_err(err)?;
    Ok(counts)
}
