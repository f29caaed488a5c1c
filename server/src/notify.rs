//! Notifications and schedules.
//!
//! A template's notifications are webhooks: for each event it names, the
//! server POSTs a JSON document to the URL. Events are written to an outbox
//! in the transaction that causes them and sent afterwards, with retries
//! and backoff, so a crash loses none and a replica can send another's.
//! Each body is signed: `X-Assay-Signature: sha256=HEX`, the HMAC-SHA256
//! of the body under the server's webhook key.
//! Inspector's events: `ASSESSMENT_RUN_STARTED`, `ASSESSMENT_RUN_STATE_CHANGED`,
//! `ASSESSMENT_RUN_COMPLETED`, `FINDING_REPORTED` (one per host evaluated,
//! with its counts, rather than one per finding).
//!
//! A template's schedule is a cron expression (UTC); the next start of each
//! scheduled template is moved forward by compare-and-set before the run
//! starts, so several servers start it once.

use crate::db::{self, Tx};
use crate::App;
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration;

pub const EVENTS: [&str; 4] = [
    "ASSESSMENT_RUN_STARTED",
    "ASSESSMENT_RUN_STATE_CHANGED",
    "ASSESSMENT_RUN_COMPLETED",
    "FINDING_REPORTED",
];

/// Sends give up after this many attempts.
const MAX_ATTEMPTS: i64 = 8;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook of a template.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Notification {
    pub url: String,
    pub events: Vec<String>,
}

/// Checks a template's notifications: http(s) URLs, known events.
pub fn validate(list: &[Notification]) -> Result<(), String> {
    if list.len() > 10 {
        return Err("at most 10 notifications per template".into());
    }
    for n in list {
        if !(n.url.starts_with("http://") || n.url.starts_with("https://")) || n.url.len() > 2048 {
            return Err(format!("notification URL `{}` is not an http:// or https:// URL", n.url));
        }
        if n.events.is_empty() {
            return Err(format!("the notification to {} names no event: {}", n.url, EVENTS.join(", ")));
        }
        if let Some(e) = n.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(format!("event `{e}` is not one of {}", EVENTS.join(", ")));
        }
    }
    Ok(())
}

/// Queues `event` about `run` for every notification of its template that
/// asks for it.
pub async fn enqueue(tx: &mut Tx, run: &str, event: &str, detail: Value) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.notifications, r.template FROM runs r JOIN templates t ON t.name = r.template AND t.version = r.template_version WHERE r.id = $1",
    )
    .bind(run)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let list: Vec<Notification> = serde_json::from_str(&db::text(&row, "notifications")).unwrap_or_default();
    let now = db::now();
    for n in list.iter().filter(|n| n.events.iter().any(|e| e == event)) {
        let body = json!({ "event": event, "run": run, "template": db::text(&row, "template"), "at": now, "detail": detail });
        sqlx::query("INSERT INTO outbox (url, event, body, state, attempts, next_at, run_id) VALUES ($1, $2, $3, 'pending', 0, $4, $5)")
            .bind(&n.url)
            .bind(event)
            .bind(body.to_string())
            .bind(now)
            .bind(run)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Sends one due notification; `Ok(false)` when none is due.
pub async fn send_one(app: &App) -> Result<bool, sqlx::Error> {
    let now = db::now();
    let mut tx = app.db.write().await?;
    // Leased for twice the send timeout: a sender that dies mid-send is
    // replaced (the receiver may then get it twice; the body carries the
    // event's time and run to tell).
    let leased = sqlx::query(
        "UPDATE outbox SET state = 'leased', next_at = $1, attempts = attempts + 1 WHERE seq IN \
         (SELECT seq FROM outbox WHERE state IN ('pending', 'leased') AND next_at <= $2 ORDER BY seq LIMIT 1) \
         RETURNING seq, url, body, attempts",
    )
    .bind(now + 2 * SEND_TIMEOUT.as_millis() as i64)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = leased else { return Ok(false) };
    let (seq, url, body, attempts) =
        (db::int(&row, "seq"), db::text(&row, "url"), db::text(&row, "body"), db::int(&row, "attempts"));
    let key = signing_key(&app.db).await?;
    let sent = tokio::task::spawn_blocking(move || post(&url, &body, &key))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let (state, next, error) = match sent {
        Ok(()) => ("sent", now, None),
        Err(e) if attempts >= MAX_ATTEMPTS => ("failed", now, Some(e)),
        // 2, 4, 8 ... seconds, at most an hour.
        Err(e) => ("pending", db::now() + (1000i64 << attempts.min(11)).min(3_600_000), Some(e)),
    };
    let sent_at = (state == "sent").then(db::now);
    app.db
        .execute(
            sqlx::query(
                "UPDATE outbox SET state = $1, next_at = $2, error = $3, sent_at = $4 WHERE seq = $5",
            )
            .bind(state)
            .bind(next)
            .bind(error)
            .bind(sent_at)
            .bind(seq),
        )
        .await?;
    Ok(true)
}

/// The key webhook bodies are signed with: made at the first start, kept in
/// the database (`assay server webhook-key` prints it for receivers).
pub async fn signing_key(db: &db::Db) -> Result<String, sqlx::Error> {
    if let Some(row) = sqlx::query("SELECT value FROM server_state WHERE key = 'webhook_key'")
        .fetch_optional(&db.pool)
        .await?
    {
        return Ok(db::text(&row, "value"));
    }
    let mut tx = db.write().await?;
    let existing = sqlx::query("SELECT value FROM server_state WHERE key = 'webhook_key'")
        .fetch_optional(&mut *tx)
        .await?;
    let key = match existing {
        Some(row) => db::text(&row, "value"),
        None => {
            let key = db::random_hex(32);
            sqlx::query("INSERT INTO server_state (key, value) VALUES ('webhook_key', $1)")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            key
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `key`: what a
/// receiver recomputes to know the notification is the server's.
pub fn signature(key: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body.as_bytes());
    format!("sha256={}", db::hex(&mac.finalize().into_bytes()))
}

fn post(url: &str, body: &str, key: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(SEND_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .header("x-assay-signature", signature(key, body))
        .header("user-agent", concat!("assay-server/", env!("CARGO_PKG_VERSION")))
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

/// The next time `cron` (UTC) fires after `after` (Unix milliseconds).
pub fn next_fire(cron: &str, after: i64) -> Result<i64, String> {
    let cron = croner::Cron::from_str(cron).map_err(|e| format!("`{cron}` is not a cron schedule: {e}"))?;
    let start = chrono::DateTime::from_timestamp_millis(after).ok_or("the clock is out of range")?;
    let next =
        cron.find_next_occurrence(&start, false).map_err(|e| format!("the schedule never fires: {e}"))?;
    Ok(next.timestamp_millis())
}

/// Starts the runs whose schedule is due. A start that cannot happen (no
/// agent, agents still in a run) is recorded in the audit log; the schedule
/// moves on either way.
pub async fn schedules(app: &App) -> Result<(), sqlx::Error> {
    let now = db::now();
    let due = sqlx::query("SELECT template, cron, next_run_at FROM schedules WHERE next_run_at <= $1")
        .bind(now)
        .fetch_all(&app.db.pool)
        .await?;
    for row in due {
        let (template, cron, at) =
            (db::text(&row, "template"), db::text(&row, "cron"), db::int(&row, "next_run_at"));
        let Ok(next) = next_fire(&cron, now) else { continue };
        let moved = app
            .db
            .execute(
                sqlx::query("UPDATE schedules SET next_run_at = $1 WHERE template = $2 AND next_run_at = $3")
                    .bind(next)
                    .bind(&template)
                    .bind(at),
            )
            .await?
            .rows_affected();
        if moved != 1 {
            continue; // another replica took this one
        }
        let detail = match crate::api::start(app, &template).await {
            Ok(run) => json!({ "template": template, "run": run }),
            Err(e) => json!({ "template": template, "skipped": e.message, "details": e.details }),
        };
        crate::auth::audit(&app.db, "schedule", "run.scheduled", detail).await?;
    }
    Ok(())
}
