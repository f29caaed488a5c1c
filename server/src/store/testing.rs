//! Databases for unit tests: a temporary SQLite file, or a fresh database
//! on the machine's PostgreSQL (127.0.0.1:5432), dropped afterwards.
//! Without PostgreSQL a test says it skipped, unless
//! `ASSAY_REQUIRE_POSTGRES` is set (CI), where it fails.

use super::Store;

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh PostgreSQL database: its store and name, or `None` (skipped).
pub(crate) async fn postgres(prefix: &str) -> Option<(Store, String)> {
    use sqlx::Connection;
    let connected =
        tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect(ADMIN)).await;
    let Ok(Ok(mut conn)) = connected else {
        assert!(
            std::env::var("ASSAY_REQUIRE_POSTGRES").is_err(),
            "PostgreSQL at 127.0.0.1:5432 is unreachable and ASSAY_REQUIRE_POSTGRES is set"
        );
        eprintln!("skipped: PostgreSQL at 127.0.0.1:5432 is unreachable");
        return None;
    };
    let name = format!("{prefix}_{}", std::process::id());
    for sql in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("a database");
    }
    let store = Store::open(&format!("postgres://postgres@127.0.0.1:5432/{name}")).await.expect("PostgreSQL");
    Some((store, name))
}

/// Drops a database `postgres` made, once its store is closed.
pub(crate) async fn drop_postgres(store: Store, name: &str) {
    use sqlx::Connection;
    store.pool.close().await;
    let mut conn = sqlx::PgConnection::connect(ADMIN).await.expect("admin");
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.expect("dropped");
}

/// A store on a new SQLite file in `dir`.
pub(crate) async fn sqlite(dir: &std::path::Path) -> Store {
    Store::open(&format!("sqlite://{}?mode=rwc", dir.join("test.db").display())).await.expect("SQLite")
}

/// Enrols an agent `id` (its hostname and secret hash `id` too, no tags),
/// for a test that needs an agent row.
pub(crate) async fn enrol(c: &mut super::Conn, id: &str) {
    let tags = std::collections::BTreeMap::new();
    let agent = super::agents::NewAgent {
        id,
        secret_hash: id,
        hostname: id,
        machine_id: "",
        os: "",
        tags: &tags,
        now: 1,
    };
    super::agents::insert(c, &agent).await.expect("an agent");
}
