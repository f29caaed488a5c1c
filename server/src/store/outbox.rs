//! Webhook notifications to send, written in the transaction of the event
//! that causes them (an outbox), and their deliveries.

use super::{Conn, Json, Result};
use assay_api::admin::Delivery;
use assay_api::{DeliveryState, Event};

pub(crate) async fn insert(
    c: &mut Conn,
    run: &str,
    url: &str,
    event: Event,
    body: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (url, event, body, state, attempts, next_at, run_id) VALUES ($1, $2, $3, 'pending', 0, $4, $5)",
    )
    .bind(url)
    .bind(event.as_str())
    .bind(body)
    .bind(now)
    .bind(run)
    .execute(c)
    .await?;
    Ok(())
}

/// A notification leased for sending.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Leased {
    pub seq: i64,
    pub url: String,
    pub body: String,
    pub attempts: i64,
}

/// Leases the oldest due notification until `until`.
pub(crate) async fn lease(c: &mut Conn, now: i64, until: i64) -> Result<Option<Leased>> {
    sqlx::query_as(
        "UPDATE outbox SET state = 'leased', next_at = $1, attempts = attempts + 1 WHERE seq IN \
         (SELECT seq FROM outbox WHERE state IN ('pending', 'leased') AND next_at <= $2 ORDER BY seq LIMIT 1) \
         RETURNING seq, url, body, attempts",
    )
    .bind(until)
    .bind(now)
    .fetch_optional(c)
    .await
}

/// Ends the leases of notifications being sent, as
/// [`super::jobs::release_leases`]: they are due at once.
pub(crate) async fn release_leases(c: &mut Conn, now: i64) -> Result<u64> {
    let done = sqlx::query("UPDATE outbox SET next_at = $1 WHERE state = 'leased' AND next_at > $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(done.rows_affected())
}

/// Records how a send went.
pub(crate) async fn settle(
    c: &mut Conn,
    seq: i64,
    state: DeliveryState,
    next_at: i64,
    error: Option<&str>,
    sent_at: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE outbox SET state = $1, next_at = $2, error = $3, sent_at = $4 WHERE seq = $5")
        .bind(state.as_str())
        .bind(next_at)
        .bind(error)
        .bind(sent_at)
        .bind(seq)
        .execute(c)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    url: String,
    #[sqlx(try_from = "String")]
    event: Event,
    #[sqlx(try_from = "String")]
    state: DeliveryState,
    attempts: i64,
    error: Option<String>,
    sent_at: Option<i64>,
}

/// The deliveries of `run`'s events, in order.
pub(crate) async fn of_run(c: &mut Conn, run: &str) -> Result<Vec<Delivery>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT url, event, state, attempts, error, sent_at FROM outbox WHERE run_id = $1 ORDER BY seq",
    )
    .bind(run)
    .fetch_all(c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Delivery {
            url: r.url,
            event: r.event,
            state: r.state,
            attempts: r.attempts,
            error: r.error,
            sent_at: r.sent_at,
        })
        .collect())
}

/// Notifications waiting or being sent.
pub(crate) async fn depth(c: &mut Conn) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'leased')")
        .fetch_one(c)
        .await?;
    Ok(n)
}

/// The webhooks of a run's template version, for `enqueue`.
#[derive(sqlx::FromRow)]
pub(crate) struct Subscribers {
    pub template: String,
    #[sqlx(try_from = "String")]
    pub notifications: Json<Vec<assay_api::admin::Notification>>,
}

pub(crate) async fn subscribers(c: &mut Conn, run: &str) -> Result<Option<Subscribers>> {
    sqlx::query_as(
        "SELECT r.template, t.notifications FROM runs r JOIN templates t ON t.name = r.template AND t.version = r.template_version \
         WHERE r.id = $1",
    )
    .bind(run)
    .fetch_optional(c)
    .await
}
