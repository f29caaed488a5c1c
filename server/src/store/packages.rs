//! Published rules packages: bundles by digest, and package versions that
//! name them.

use super::{Conn, Result};

/// A bundle as published.
pub(crate) struct NewBundle<'a> {
    pub digest: &'a str,
    pub body: &'a [u8],
    pub signature: Option<&'a str>,
    pub signer: Option<&'a str>,
    pub published_by: &'a str,
    pub published_at: i64,
}

/// Stores a bundle; one already stored (the same digest, so the same
/// bytes) is left as it is.
pub(crate) async fn insert_bundle(c: &mut Conn, b: &NewBundle<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO package_bundles (digest, body, signature, signer, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(b.digest)
    .bind(b.body)
    .bind(b.signature)
    .bind(b.signer)
    .bind(b.published_by)
    .bind(b.published_at)
    .execute(c)
    .await?;
    Ok(())
}

pub(crate) async fn bundle_body(c: &mut Conn, digest: &str) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT body FROM package_bundles WHERE digest = $1")
        .bind(digest)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|(b,)| b))
}

/// One package version, without its bundle's bytes.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Version {
    pub name: String,
    pub version: String,
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub bundle: String,
    pub content: String,
    pub title: String,
    pub rules: i64,
    pub sources_digest: Option<String>,
    pub builtin: i64,
    pub published_by: String,
    pub published_at: i64,
    pub yanked_at: Option<i64>,
    pub yanked_by: Option<String>,
    /// The bundle's signer (NULL: unsigned).
    pub signer: Option<String>,
}

impl Version {
    pub(crate) fn builtin_flag(&self) -> bool {
        self.builtin != 0
    }
}

// The statements below are these constants joined: no caller's text.
const COLUMNS: &str = "v.name, v.version, v.major, v.minor, v.patch, v.bundle, v.content, v.title, v.rules, \
     v.sources_digest, v.builtin, v.published_by, v.published_at, v.yanked_at, v.yanked_by, b.signer";
const FROM: &str = "FROM package_versions v JOIN package_bundles b ON b.digest = v.bundle";
const NEWEST_FIRST: &str = "ORDER BY v.major DESC, v.minor DESC, v.patch DESC";

pub(crate) struct NewVersion<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub semver: (u64, u64, u64),
    pub bundle: &'a str,
    pub content: &'a str,
    pub title: &'a str,
    pub rules: i64,
    pub sources: Option<String>,
    pub sources_digest: Option<&'a str>,
    pub builtin: bool,
    pub published_by: &'a str,
    pub published_at: i64,
}

pub(crate) async fn insert_version(c: &mut Conn, v: &NewVersion<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO package_versions (name, version, major, minor, patch, bundle, content, title, rules, sources, \
         sources_digest, builtin, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(v.name)
    .bind(v.version)
    .bind(v.semver.0 as i64)
    .bind(v.semver.1 as i64)
    .bind(v.semver.2 as i64)
    .bind(v.bundle)
    .bind(v.content)
    .bind(v.title)
    .bind(v.rules)
    .bind(v.sources.as_deref())
    .bind(v.sources_digest)
    .bind(i64::from(v.builtin))
    .bind(v.published_by)
    .bind(v.published_at)
    .execute(c)
    .await?;
    Ok(())
}

/// What an evaluation needs of a package version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Pick {
    pub name: String,
    pub version: String,
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub bundle: String,
    pub yanked_at: Option<i64>,
}

// Only columns of the index `package_versions_pick`, which answers it
// without reading the rows (see its migration; a test checks SQLite's plan).
const PICKS: &str = "SELECT name, version, major, minor, patch, bundle, yanked_at FROM package_versions \
     WHERE name = $1 ORDER BY major DESC, minor DESC, patch DESC";

/// Every version of `name`, newest first, as [`Pick`]s.
pub(crate) async fn picks(c: &mut Conn, name: &str) -> Result<Vec<Pick>> {
    sqlx::query_as(PICKS).bind(name).fetch_all(c).await
}

/// One version of `name`, as a [`Pick`]: from its versions, because for
/// `name = $1 AND version = $2` SQLite takes the primary key's index and
/// reads the row.
pub(crate) async fn pick(c: &mut Conn, name: &str, version: &str) -> Result<Option<Pick>> {
    Ok(picks(c, name).await?.into_iter().find(|p| p.version == version))
}

pub(crate) async fn get(c: &mut Conn, name: &str, version: &str) -> Result<Option<Version>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE v.name = $1 AND v.version = $2"
    )))
    .bind(name)
    .bind(version)
    .fetch_optional(c)
    .await
}

/// Every version of `name`, newest first.
pub(crate) async fn versions(c: &mut Conn, name: &str) -> Result<Vec<Version>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} {FROM} WHERE v.name = $1 {NEWEST_FIRST}")))
        .bind(name)
        .fetch_all(c)
        .await
}

/// Every version of every package, by name and newest first.
pub(crate) async fn all(c: &mut Conn) -> Result<Vec<Version>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} ORDER BY v.name, v.major DESC, v.minor DESC, v.patch DESC"
    )))
    .fetch_all(c)
    .await
}

/// Marks a version yanked; false when it was not there or already yanked.
pub(crate) async fn yank(c: &mut Conn, name: &str, version: &str, by: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE package_versions SET yanked_at = $1, yanked_by = $2 \
         WHERE name = $3 AND version = $4 AND yanked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(name)
    .bind(version)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a built-in version the server is about to publish again with
/// its current content.
pub(crate) async fn delete_builtin(c: &mut Conn, name: &str, version: &str) -> Result<()> {
    sqlx::query("DELETE FROM package_versions WHERE name = $1 AND version = $2 AND builtin = 1")
        .bind(name)
        .bind(version)
        .execute(c)
        .await?;
    Ok(())
}

/// The kept sources of every package version in bundle `digest`, with
/// the bundle's signature: `(signature, [(name, sources JSON, sources digest)])`.
pub(crate) async fn sources_of(
    c: &mut Conn,
    digest: &str,
) -> Result<(Option<String>, Vec<(String, Option<String>, Option<String>)>)> {
    let signature: Option<(Option<String>,)> =
        sqlx::query_as("SELECT signature FROM package_bundles WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&mut *c)
            .await?;
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, sources, sources_digest FROM package_versions WHERE bundle = $1 ORDER BY name",
    )
    .bind(digest)
    .fetch_all(c)
    .await?;
    Ok((signature.and_then(|(s,)| s), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite answers an evaluation's questions from the index alone: a
    /// column read from the row would walk a published package's sources.
    #[tokio::test]
    async fn an_evaluations_lookups_read_only_the_index_on_sqlite() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = crate::store::testing::sqlite(dir.path()).await;
        let mut c = store.read().await.expect("a connection");
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {PICKS}")))
                .bind("cis-linux")
                .fetch_all(&mut *c)
                .await
                .expect("a plan");
        let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
        assert!(steps.iter().any(|s| s.contains("USING COVERING INDEX package_versions_pick")), "{steps:?}");
    }
}
