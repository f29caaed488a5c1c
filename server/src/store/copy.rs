//! `assay server copy --from URL --to URL`: moves a service's database to
//! another (SQLite to PostgreSQL when one server is outgrown). The target
//! must be empty; it is migrated first, every table of
//! [`schema::TABLES`] is copied in one transaction in the order of its
//! foreign keys, each value bound by the type the target's column has,
//! and PostgreSQL's sequences are moved past the copied rows. Copy while
//! no server runs on the source.

use super::schema::{self, Kind, NOT_COPIED, TABLES};
use super::{dialect, Store};
use sqlx::Row;

/// Copies every row of `from` into `to`; the rows copied per table.
pub(crate) async fn copy(from: &str, to: &str) -> Result<Vec<(String, u64)>, String> {
    let source = Store::open(from).await?;
    let target = Store::open(to).await?;
    let err = |e: sqlx::Error| e.to_string();
    let mut read = source.read().await.map_err(err)?;
    // A table this copy does not know (a migration newer than the list)
    // would be left behind silently: refuse instead.
    for table in schema::tables(&mut read, source.backend()).await.map_err(err)? {
        if !TABLES.contains(&table.as_str()) && !NOT_COPIED.iter().any(|(t, _)| *t == table) {
            return Err(format!("the source has a table `{table}` this version of assay does not copy"));
        }
    }
    let mut tx = target.write().await.map_err(err)?;
    for table in TABLES {
        let sql = format!("SELECT 1 FROM {table} LIMIT 1");
        if sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_optional(&mut *tx).await.map_err(err)?.is_some() {
            return Err(format!("the target is not empty: {table} has rows; copy into a new database"));
        }
    }
    let mut counts = Vec::new();
    for table in TABLES {
        let columns = schema::columns(&mut tx, target.backend(), table).await.map_err(err)?;
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let sql = format!("SELECT {} FROM {table}", names.join(", "));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *read)
            .await
            .map_err(|e| format!("{table}: {e}"))?;
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            super::placeholders(1, names.len())
        );
        for row in &rows {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for (i, column) in columns.iter().enumerate() {
                let bad = |e: sqlx::Error| format!("{table}.{}: {e}", column.name);
                query = match column.kind {
                    Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(i).map_err(bad)?),
                    Kind::Text => query.bind(row.try_get::<Option<String>, _>(i).map_err(bad)?),
                    Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(i).map_err(bad)?),
                };
            }
            query.execute(&mut *tx).await.map_err(|e| format!("{table}: {e}"))?;
        }
        if names.contains(&"seq") {
            dialect::continue_sequence(&mut tx, target.backend(), table).await.map_err(err)?;
        }
        counts.push((table.to_owned(), rows.len() as u64));
    }
    tx.commit().await.map_err(err)?;
    Ok(counts)
}
