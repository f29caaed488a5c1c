//! Vulnerability feeds and waiver files uploaded to the server; the latest
//! of each applies.

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
    pub seq: i64,
    pub digest: String,
    pub advisories: i64,
    pub imported_at: i64,
}

/// The latest feed's description.
pub(crate) async fn latest_feed(c: &mut Conn) -> Result<Option<Feed>> {
    sqlx::query_as("SELECT seq, digest, advisories, imported_at FROM feeds ORDER BY seq DESC LIMIT 1")
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
