//! The database: one pool over SQLite or PostgreSQL (sqlx's `Any` driver,
//! so every query is written once), the migrations of each, and the few
//! statements whose dialects differ.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::sync::Arc;
use std::time::Duration;

/// Which database the pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite's writers queue here, in order and without a connection
    /// ([`Db::write`]).
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction: a connection of the pool (as `&mut *tx`) in a
/// transaction, which rolls back when dropped uncommitted. On SQLite it
/// also holds this process's write lock until then.
pub struct Tx {
    // Declared first, so it is dropped (rolled back) before the lock is.
    inner: sqlx::Transaction<'static, sqlx::Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

/// How long a writer waits for SQLite's write lock, in this process (the
/// mutex) and then in SQLite (`busy_timeout`, for other processes), before
/// it is told the database is unavailable.
const WRITE_WAIT: Duration = Duration::from_secs(5);

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Db, String> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(format!("`{url}` is neither a sqlite:// nor a postgres:// URL"));
        };
        let options = AnyPoolOptions::new()
            // SQLite's writers take turns on one of them (`write`); the
            // others read, concurrently under WAL.
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // A request waits this long for a connection, then is told
            // the database is unavailable (503) rather than hanging.
            .acquire_timeout(Duration::from_secs(5));
        let options = if backend == Backend::Sqlite {
            // Writers wait for each other instead of failing at once.
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    let busy = format!("PRAGMA busy_timeout = {}", WRITE_WAIT.as_millis());
                    conn.execute(sqlx::AssertSqlSafe(busy)).await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|e| format!("cannot open the database {}: {e}", redact(url)))?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(|e| format!("cannot switch the database to WAL: {e}"))?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator.run(&pool).await.map_err(|e| format!("cannot migrate the database: {e}"))?;
        Ok(Db { pool, backend, writer: Default::default() })
    }

    /// A write transaction. SQLite's takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of one failing
    /// when it upgrades from reading, and first this process's mutex:
    /// without it, writers wait in SQLite's busy handler, which sleeps up
    /// to 100 ms between tries while holding one of the pool's few
    /// connections, and readers (every heartbeat) wait for a connection
    /// behind them.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let writer = tokio::time::timeout(WRITE_WAIT, self.writer.clone().lock_owned())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)?;
                let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx { inner, _writer: Some(writer) })
            }
            Backend::Postgres => Ok(Tx { inner: self.pool.begin().await?, _writer: None }),
        }
    }

    /// One statement on its own: on SQLite in a write transaction (so it
    /// queues with the others), on PostgreSQL as it is.
    pub async fn execute(
        &self,
        query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<sqlx::any::AnyQueryResult, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.write().await?;
                let done = query.execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done)
            }
            Backend::Postgres => query.execute(&self.pool).await,
        }
    }
}

/// The `VALUES` list of a multi-row insert: `rows` tuples of `columns`
/// placeholders, numbered from `$1` (a host's findings in one statement
/// rather than one each, which the write lock is held for).
pub fn values(rows: usize, columns: usize) -> String {
    let tuple = |r: usize| {
        let cells: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(tuple).collect::<Vec<_>>().join(", ")
}

/// Rows per multi-row statement (well under both databases' limits on
/// parameters).
pub const BATCH: usize = 100;

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // getrandom fails only without an entropy source; a zero id would
    // then collide at once on a primary key rather than pass silently.
    let _ = getrandom::fill(&mut bytes);
    hex(&bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower- or upper-case hex to bytes; `None` unless every digit is hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The SHA-256 of a secret, as stored: tokens are never kept in clear.
pub fn hash(secret: &str) -> String {
    digest(secret.as_bytes())
}

/// The SHA-256 of `bytes` in hex: the digest of an upload.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// A text column.
pub fn text(row: &AnyRow, column: &str) -> String {
    row.try_get::<String, _>(column).unwrap_or_default()
}

/// A text column that may be NULL.
pub fn opt_text(row: &AnyRow, column: &str) -> Option<String> {
    row.try_get::<Option<String>, _>(column).ok().flatten()
}

/// A binary column.
pub fn blob(row: &AnyRow, column: &str) -> Vec<u8> {
    row.try_get::<Vec<u8>, _>(column).unwrap_or_default()
}

/// An integer column.
pub fn int(row: &AnyRow, column: &str) -> i64 {
    row.try_get::<i64, _>(column).unwrap_or_default()
}

/// An integer column that may be NULL.
pub fn opt_int(row: &AnyRow, column: &str) -> Option<i64> {
    row.try_get::<Option<i64>, _>(column).ok().flatten()
}

/// Whether `e` means the database cannot serve now but may soon: it
/// cannot be reached (PostgreSQL down, the connection cut, no connection
/// free in time), or SQLite stayed locked past the busy timeout (another
/// process holds it), or PostgreSQL is shutting down or starting up.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(d) => {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6) with their extended
            // codes; PostgreSQL's class 57P (operator intervention:
            // admin_shutdown, crash_shutdown, cannot_connect_now) and 08
            // (connection exceptions).
            let code = d.code().unwrap_or_default();
            let sqlite_busy = code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy || code.starts_with("57P") || code.starts_with("08")
        }
        _ => false,
    }
}

/// Whether `e` is a unique-key violation (the overlap of two runs, a
/// duplicate name).
pub fn is_conflict(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}
