//! Templates (each version a row; runs pin the version they started with)
//! and their schedules. A template is deleted when its latest version is;
//! saving it again makes a new, live version.

use super::{Conn, Json, Result};
use assay_api::admin::Notification;
use std::collections::BTreeMap;

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Template {
    pub name: String,
    pub version: i64,
    pub target: String,
    #[sqlx(try_from = "String")]
    pub packages: Json<Vec<String>>,
    pub duration_seconds: i64,
    #[sqlx(try_from = "String")]
    pub attributes: Json<BTreeMap<String, String>>,
    /// Package parameters set (`PACKAGE.NAME` → value).
    #[sqlx(try_from = "String")]
    pub params: Json<BTreeMap<String, serde_json::Value>>,
    pub schedule: Option<String>,
    #[sqlx(try_from = "String")]
    pub notifications: Json<Vec<Notification>>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "t.name, t.version, t.target, t.packages, t.duration_seconds, t.attributes, t.params, t.schedule, t.notifications, t.created_at";

/// The latest version of a live template.
pub(crate) async fn latest(c: &mut Conn, name: &str) -> Result<Option<Template>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM templates t WHERE t.name = $1 AND t.deleted_at IS NULL \
         AND t.version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name)"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(c).await
}

/// Every version of a live template, oldest first; none when it is
/// deleted.
pub(crate) async fn versions(c: &mut Conn, name: &str) -> Result<Vec<Template>> {
    if latest(c, name).await?.is_none() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM templates t WHERE t.name = $1 ORDER BY t.version");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(name).fetch_all(c).await
}

/// A page of live templates (their latest versions) by name.
pub(crate) async fn list(c: &mut Conn, after: &str, limit: i64) -> Result<Vec<Template>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM templates t WHERE t.deleted_at IS NULL \
         AND t.version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name) \
         AND t.name > $1 ORDER BY t.name LIMIT $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(c).await
}

/// The number the next version of `name` gets (1 for a new name).
pub(crate) async fn next_version(c: &mut Conn, name: &str) -> Result<i64> {
    let (v,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(version), 0) + 1 FROM templates WHERE name = $1")
        .bind(name)
        .fetch_one(c)
        .await?;
    Ok(v)
}

/// Live templates.
pub(crate) async fn count(c: &mut Conn) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM templates t WHERE t.deleted_at IS NULL \
         AND t.version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name)",
    )
    .fetch_one(c)
    .await?;
    Ok(n)
}

pub(crate) async fn insert(c: &mut Conn, t: &Template) -> Result<()> {
    sqlx::query(
        "INSERT INTO templates (name, version, target, packages, duration_seconds, attributes, created_at, schedule, notifications, params) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&t.name)
    .bind(t.version)
    .bind(&t.target)
    .bind(super::json(&t.packages.0)?)
    .bind(t.duration_seconds)
    .bind(super::json(&t.attributes.0)?)
    .bind(t.created_at)
    .bind(t.schedule.clone())
    .bind(super::json(&t.notifications.0)?)
    .bind(super::json(&t.params.0)?)
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes a live template (every version, and its schedule); false when
/// there is none.
pub(crate) async fn delete(c: &mut Conn, name: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE templates SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL")
        .bind(now)
        .bind(name)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM schedules WHERE template = $1").bind(name).execute(c).await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces the schedule of `template` (none: it has no schedule).
pub(crate) async fn set_schedule(c: &mut Conn, template: &str, schedule: Option<(&str, i64)>) -> Result<()> {
    sqlx::query("DELETE FROM schedules WHERE template = $1").bind(template).execute(&mut *c).await?;
    if let Some((cron, next)) = schedule {
        sqlx::query("INSERT INTO schedules (template, cron, next_run_at) VALUES ($1, $2, $3)")
            .bind(template)
            .bind(cron)
            .bind(next)
            .execute(c)
            .await?;
    }
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Schedule {
    pub template: String,
    pub cron: String,
    pub next_run_at: i64,
}

/// The schedules due at `now`.
pub(crate) async fn due(c: &mut Conn, now: i64) -> Result<Vec<Schedule>> {
    sqlx::query_as("SELECT template, cron, next_run_at FROM schedules WHERE next_run_at <= $1")
        .bind(now)
        .fetch_all(c)
        .await
}

/// Moves a schedule from `at` to `next`, unless another replica did:
/// whether this call did.
pub(crate) async fn advance(c: &mut Conn, template: &str, at: i64, next: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE schedules SET next_run_at = $1 WHERE template = $2 AND next_run_at = $3")
        .bind(next)
        .bind(template)
        .bind(at)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}
