//! The service's database: every SQL statement of the server is in this
//! module, one function per query, each returning typed rows (`FromRow`
//! types whose enums and JSON columns are parsed, so a value the schema
//! does not allow is an error naming the column, never a blank or a
//! zero). One pool over SQLite or PostgreSQL through sqlx's `Any` driver,
//! so every query is written once; the few real differences between the
//! two are in [`dialect`].
//!
//! Functions take a connection (`&mut Conn`): a write transaction from
//! [`Store::write`] (as `&mut tx`) or a pooled connection from
//! [`Store::read`]. Which one is the caller's decision, so a domain
//! operation is one transaction however many statements it takes.

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod copy;
pub(crate) mod dialect;
pub(crate) mod feeds;
pub(crate) mod findings;
pub(crate) mod inventory;
pub(crate) mod jobs;
pub(crate) mod outbox;
pub(crate) mod packages;
pub(crate) mod runs;
pub(crate) mod schema;
pub(crate) mod state;
pub(crate) mod targets;
pub(crate) mod telemetry;
pub(crate) mod templates;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod tokens;

use serde::de::DeserializeOwned;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use dialect::Backend;

/// A connection: `&mut tx` of a [`Tx`], or `&mut conn` of a pooled one.
pub(crate) type Conn = sqlx::AnyConnection;

pub(crate) type Result<T> = std::result::Result<T, sqlx::Error>;

pub(crate) struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's writers queue here, in order and without a connection
    /// ([`Store::write`]).
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction: a connection of the pool (`&mut tx`) in a
/// transaction, which rolls back when dropped uncommitted. On SQLite it
/// also holds this process's write lock until then.
pub(crate) struct Tx {
    // Declared first, so it is dropped (rolled back) before the lock is.
    inner: sqlx::Transaction<'static, sqlx::Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<()> {
        self.inner.commit().await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.inner
    }
}

/// How long a writer waits for SQLite's write lock, in this process (the
/// mutex) and then in SQLite (`busy_timeout`, for other processes), before
/// it is told the database is unavailable.
pub(crate) const WRITE_WAIT: Duration = Duration::from_secs(5);

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and brings its
    /// schema up to date.
    pub(crate) async fn open(url: &str) -> std::result::Result<Store, String> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new()
            // SQLite's writers take turns on one of them (`write`); the
            // others read, concurrently under WAL.
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // A request waits this long for a connection, then is told
            // the database is unavailable (503) rather than hanging.
            .acquire_timeout(Duration::from_secs(5))
            // A SQLite connection is this process's own: asking it whether
            // it is alive before each use (a round trip to its thread) only
            // costs. A PostgreSQL one may have been closed by the server.
            .test_before_acquire(backend == Backend::Postgres);
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
        Ok(Store { pool, backend, writer: Default::default() })
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. SQLite's takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of one failing
    /// when it upgrades from reading, and first this process's mutex:
    /// without it, writers wait in SQLite's busy handler, which sleeps up
    /// to 100 ms between tries while holding one of the pool's few
    /// connections, and readers (every heartbeat) wait for a connection
    /// behind them.
    pub(crate) async fn write(&self) -> Result<Tx> {
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

    /// A pooled connection for reads.
    pub(crate) async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.pool.acquire().await
    }
}

/// A JSON text column, parsed: a column that does not parse is an error
/// naming it (through `FromRow`'s `try_from`), never a default.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned> TryFrom<String> for Json<T> {
    type Error = serde_json::Error;
    fn try_from(text: String) -> std::result::Result<Json<T>, serde_json::Error> {
        serde_json::from_str(&text).map(Json)
    }
}

/// A nullable column of words ([`assay_api::vocab`]): NULL is `None`, an
/// unknown word an error naming the column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Maybe<T>(pub Option<T>);

impl<T: TryFrom<String>> TryFrom<Option<String>> for Maybe<T> {
    type Error = T::Error;
    fn try_from(text: Option<String>) -> std::result::Result<Maybe<T>, T::Error> {
        text.map(T::try_from).transpose().map(Maybe)
    }
}

/// `value` as JSON text for a column.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The `VALUES` list of a multi-row insert on `c`: `rows` tuples of
/// `columns` placeholders, the statement's only ones (a host's findings in
/// one statement rather than one each, which the write lock is held for).
/// SQLite's are anonymous (`?`): binding a numbered one looks its name up
/// in a list of every name (sqlx asks for each), so a statement of 1,000
/// numbered parameters took half a million steps to name them (5% of
/// the server's time in a fleet run).
fn values(c: &Conn, rows: usize, columns: usize) -> String {
    tuples(c.backend_name() == "SQLite", rows, columns)
}

fn tuples(anonymous: bool, rows: usize, columns: usize) -> String {
    let tuple = |r: usize| {
        let cells: Vec<String> = (1..=columns)
            .map(|column| if anonymous { "?".to_owned() } else { format!("${}", r * columns + column) })
            .collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(tuple).collect::<Vec<_>>().join(", ")
}

/// `$first, $first+1, ...`: `n` placeholders for an `IN (...)` list.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// How many rows of `table` belong to `run` with `column` one of `words`
/// (the service's vocabulary, never input: they are written into the
/// statement).
async fn count_in_run(
    c: &mut Conn,
    table: &str,
    column: &str,
    run: &str,
    words: &[&'static str],
) -> Result<i64> {
    let list: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE run_id = $1 AND {column} IN ({})", list.join(", "));
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(run).fetch_one(c).await?;
    Ok(n)
}

/// Rows per multi-row statement (well under both databases' limits on
/// parameters).
pub(crate) const BATCH: usize = 100;

/// A URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// What a database error means for the caller, decided by the backend
/// that raised it ([`dialect::classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The database cannot serve now but may soon: retry.
    Unavailable,
    /// A unique key was violated (a name taken, a race lost).
    Conflict,
    /// The database refused a value (bad encoding, out of range).
    BadValue,
    /// Anything else: a fault of the server.
    Other,
}

pub(crate) fn classify(e: &sqlx::Error) -> Failure {
    dialect::classify(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_placeholders_number_from_the_given_parameter() {
        assert_eq!(tuples(false, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(tuples(true, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(placeholders(3, 2), "$3, $4");
    }

    #[test]
    fn a_json_column_that_does_not_parse_is_an_error() {
        let ok: std::result::Result<Json<Vec<String>>, _> = Json::try_from("[\"a\"]".to_owned());
        assert_eq!(ok.ok(), Some(Json(vec!["a".to_owned()])));
        assert!(Json::<Vec<String>>::try_from(String::new()).is_err());
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://[redacted]@h/db");
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}
