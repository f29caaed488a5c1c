//! Vulnerability feeds, waiver files and VEX documents uploaded to the
//! server; the latest of each applies.

use super::{Conn, Result};

pub(crate) async fn insert_feed(
    c: &mut Conn,
    digest: &str,
    body: &[u8],
    advisories: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO feeds (digest, body, advisories, imported_at) VALUES ($1, $2, $3, $4)")
        .bind(digest)
        .bind(body)
        .bind(advisories)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Feed {
    pub digest: String,
    pub advisories: i64,
    pub imported_at: i64,
}

/// Which feed is the latest: its sequence number and digest.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FeedId {
    pub seq: i64,
    pub digest: String,
}

/// The latest feed's id, which every evaluation asks. Only the columns
/// before the feed's body: on SQLite a column stored after it is reached
/// through the body's chain of overflow pages (a feed of several MB: 1.8 ms
/// per evaluation, where this takes microseconds).
pub(crate) async fn latest_feed_id(c: &mut Conn) -> Result<Option<FeedId>> {
    sqlx::query_as("SELECT seq, digest FROM feeds ORDER BY seq DESC LIMIT 1").fetch_optional(c).await
}

/// The latest feed's description.
pub(crate) async fn latest_feed(c: &mut Conn) -> Result<Option<Feed>> {
    sqlx::query_as("SELECT digest, advisories, imported_at FROM feeds ORDER BY seq DESC LIMIT 1")
        .fetch_optional(c)
        .await
}

pub(crate) async fn feed_body(c: &mut Conn, seq: i64) -> Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT body FROM feeds WHERE seq = $1").bind(seq).fetch_optional(c).await?;
    Ok(row.map(|(b,)| b))
}

pub(crate) async fn insert_waivers(
    c: &mut Conn,
    digest: &str,
    body: &str,
    waivers: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO waiver_sets (digest, body, waivers, uploaded_at) VALUES ($1, $2, $3, $4)")
        .bind(digest)
        .bind(body)
        .bind(waivers)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// The latest waiver file.
pub(crate) async fn latest_waivers(c: &mut Conn) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT body FROM waiver_sets ORDER BY seq DESC LIMIT 1").fetch_optional(c).await?;
    Ok(row.map(|(b,)| b))
}

/// A set of VEX documents as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct VexRow {
    pub digest: String,
    #[sqlx(try_from = "String")]
    pub documents: super::Json<Vec<assay_api::admin::VexDocument>>,
    pub statements: i64,
    pub uploaded_at: i64,
}

pub(crate) async fn insert_vex(c: &mut Conn, row: &VexRow) -> Result<()> {
    sqlx::query("INSERT INTO vex_sets (digest, documents, statements, uploaded_at) VALUES ($1, $2, $3, $4)")
        .bind(&row.digest)
        .bind(super::json(&row.documents.0)?)
        .bind(row.statements)
        .bind(row.uploaded_at)
        .execute(c)
        .await?;
    Ok(())
}

/// The latest set of VEX documents.
pub(crate) async fn latest_vex(c: &mut Conn) -> Result<Option<VexRow>> {
    sqlx::query_as(
        "SELECT digest, documents, statements, uploaded_at FROM vex_sets ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(c)
    .await
}

/// The digest of the latest set of VEX documents.
pub(crate) async fn latest_vex_digest(c: &mut Conn) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT digest FROM vex_sets ORDER BY seq DESC LIMIT 1").fetch_optional(c).await?;
    Ok(row.map(|(d,)| d))
}
