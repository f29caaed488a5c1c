//! Targets: a name and tag criteria. A deleted target keeps its row for
//! the template versions (and so the runs) that named it.

use super::{Conn, Json, Result};
use assay_api::admin::TagFilter;

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Target {
    pub name: String,
    #[sqlx(try_from = "String")]
    pub tags: Json<Vec<TagFilter>>,
    pub created_at: i64,
}

pub(crate) async fn count(c: &mut Conn) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM targets WHERE deleted_at IS NULL").fetch_one(c).await?;
    Ok(n)
}

/// Creates target `name`, or takes over a deleted one's name; false when
/// a live target has it.
pub(crate) async fn create(c: &mut Conn, name: &str, tags: &[TagFilter], now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO targets (name, tags, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET tags = EXCLUDED.tags, created_at = EXCLUDED.created_at, deleted_at = NULL \
         WHERE targets.deleted_at IS NOT NULL",
    )
    .bind(name)
    .bind(super::json(tags)?)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a live target's tag criteria; false when there is none.
pub(crate) async fn set_tags(c: &mut Conn, name: &str, tags: &[TagFilter]) -> Result<bool> {
    let done = sqlx::query("UPDATE targets SET tags = $1 WHERE name = $2 AND deleted_at IS NULL")
        .bind(super::json(tags)?)
        .bind(name)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A live target.
pub(crate) async fn get(c: &mut Conn, name: &str) -> Result<Option<Target>> {
    sqlx::query_as("SELECT name, tags, created_at FROM targets WHERE name = $1 AND deleted_at IS NULL")
        .bind(name)
        .fetch_optional(c)
        .await
}

/// A page of live targets by name.
pub(crate) async fn list(c: &mut Conn, after: &str, limit: i64) -> Result<Vec<Target>> {
    sqlx::query_as(
        "SELECT name, tags, created_at FROM targets WHERE deleted_at IS NULL AND name > $1 ORDER BY name LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Every live target.
pub(crate) async fn all(c: &mut Conn) -> Result<Vec<Target>> {
    sqlx::query_as("SELECT name, tags, created_at FROM targets WHERE deleted_at IS NULL ORDER BY name")
        .fetch_all(c)
        .await
}

/// Deletes a live target; false when there is none.
pub(crate) async fn delete(c: &mut Conn, name: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE targets SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL")
        .bind(now)
        .bind(name)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The live templates whose latest version names `target`.
pub(crate) async fn templates_using(c: &mut Conn, target: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT t.name FROM templates t WHERE t.target = $1 AND t.deleted_at IS NULL \
         AND t.version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name) ORDER BY t.name",
    )
    .bind(target)
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}
