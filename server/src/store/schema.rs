//! The tables of the service, as the code knows them, and as a database
//! says it has them. `copy` moves exactly [`TABLES`]; a test migrates an
//! empty SQLite and an empty PostgreSQL database and checks that both
//! have the same tables, columns, types and nullability, and that every
//! table is in [`TABLES`] or in [`NOT_COPIED`] with the reason.

use super::{dialect, Backend, Conn, Result};

/// Every table of the service, parents before children (the order a copy
/// inserts in, so foreign keys hold at every row).
pub(crate) const TABLES: [&str; 34] = [
    "api_tokens",
    "sessions",
    "enrollments",
    "agents",
    "agent_tags",
    "agent_certs",
    "targets",
    "templates",
    "schedules",
    "runs",
    "run_states",
    "run_agents",
    "agent_locks",
    "run_keys",
    "telemetry_chunks",
    "telemetry",
    "jobs",
    "assets",
    "findings",
    "host_reports",
    "fleet_findings",
    "finding_events",
    "feeds",
    "reeval_jobs",
    "audit_log",
    "server_state",
    "outbox",
    "waiver_sets",
    "vex_sets",
    "package_bundles",
    "package_versions",
    "package_sets",
    "set_packages",
    "agent_inventories",
];

/// Tables a copy leaves out, and why.
pub(crate) const NOT_COPIED: [(&str, &str); 1] = [(
    "_sqlx_migrations",
    "each database keeps its own migration history: the target is migrated before the copy",
)];

/// What a column holds, whatever the database calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Integer,
    Text,
    Bytes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub kind: Kind,
    pub nullable: bool,
}

#[derive(sqlx::FromRow)]
struct Described {
    name: String,
    kind: String,
    nullable: i64,
}

fn kind(table: &str, column: &str, spelled: &str) -> Result<Kind> {
    let lower = spelled.to_ascii_lowercase();
    if lower.contains("int") {
        Ok(Kind::Integer)
    } else if lower == "text" || lower.starts_with("character") {
        Ok(Kind::Text)
    } else if lower == "blob" || lower == "bytea" {
        Ok(Kind::Bytes)
    } else {
        Err(sqlx::Error::Protocol(format!(
            "{table}.{column} has the type {spelled}, which the service does not use"
        )))
    }
}

/// The columns of `table`, in their order.
pub(crate) async fn columns(c: &mut Conn, backend: Backend, table: &str) -> Result<Vec<Column>> {
    let rows: Vec<Described> =
        sqlx::query_as(dialect::columns_query(backend)).bind(table).fetch_all(c).await?;
    rows.into_iter()
        .map(|r| Ok(Column { kind: kind(table, &r.name, &r.kind)?, name: r.name, nullable: r.nullable == 1 }))
        .collect()
}

/// The tables of the database, by name.
pub(crate) async fn tables(c: &mut Conn, backend: Backend) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(dialect::tables_query(backend)).fetch_all(c).await?;
    Ok(rows.into_iter().map(|(t,)| t).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    use std::collections::BTreeMap;

    type Schema = BTreeMap<String, Vec<Column>>;

    async fn schema(store: &Store) -> Schema {
        let mut c = store.read().await.expect("a connection");
        let mut out = BTreeMap::new();
        for table in tables(&mut c, store.backend()).await.expect("the tables") {
            // The migrations' own bookkeeping is sqlx's, per backend.
            let columns = if NOT_COPIED.iter().any(|(t, _)| *t == table) {
                Vec::new()
            } else {
                columns(&mut c, store.backend(), &table).await.expect("the columns")
            };
            out.insert(table, columns);
        }
        out
    }

    #[tokio::test]
    async fn sqlite_and_postgres_have_the_same_tables_and_copy_covers_them() {
        let dir = tempfile::tempdir().expect("a directory");
        let sqlite = crate::store::testing::sqlite(dir.path()).await;
        let lite = schema(&sqlite).await;
        let named: Vec<&str> = TABLES.iter().copied().chain(NOT_COPIED.iter().map(|(t, _)| *t)).collect();
        let mut sorted = named.clone();
        sorted.sort_unstable();
        assert_eq!(lite.keys().map(String::as_str).collect::<Vec<_>>(), sorted, "TABLES is not every table");
        let Some((pg, name)) = crate::store::testing::postgres("assay_parity").await else { return };
        let theirs = schema(&pg).await;
        crate::store::testing::drop_postgres(pg, &name).await;
        for (table, columns) in &lite {
            if table == "_sqlx_migrations" {
                continue;
            }
            assert_eq!(Some(columns), theirs.get(table), "{table} differs between SQLite and PostgreSQL");
        }
        assert_eq!(
            lite.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "the databases have different tables"
        );
    }
}
