//! Notifications.
//!
//! A template's notifications are webhooks: for each event it names, the
//! server POSTs a JSON document to the URL. Events are written to an outbox
//! in the transaction that causes them and sent afterwards, with retries
//! and backoff, so a crash loses none and a replica can send another's.
//! Each body is signed: `X-Assay-Signature: sha256=HEX`, the HMAC-SHA256
//! of the body under the server's webhook key.
//! Inspector's events ([`Event`]); `FINDING_REPORTED` is one per host
//! evaluated, with its counts, rather than one per finding.

use super::{App, Error, Result};
use crate::ids::{now, random_hex};
use crate::store::{self, outbox, state, Conn};
use assay_api::admin::Notification;
use assay_api::webhook::{Notice, NoticeDetail};
use assay_api::{DeliveryState, Event};
use assay_model::hex;
use std::time::Duration;

/// Sends give up after this many attempts.
const MAX_ATTEMPTS: i64 = 8;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a template's notifications: at most 10, http(s) URLs, events.
pub(crate) fn validate(list: &[Notification]) -> Result<()> {
    if list.len() > 10 {
        return Err(Error::Invalid("at most 10 notifications per template".into()));
    }
    for n in list {
        if !(n.url.starts_with("http://") || n.url.starts_with("https://")) || n.url.len() > 2048 {
            return Err(Error::Invalid(format!(
                "notification URL `{}` is not an http:// or https:// URL",
                n.url
            )));
        }
        if n.events.is_empty() {
            let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
            return Err(Error::Invalid(format!(
                "the notification to {} names no event: {}",
                n.url,
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// Queues `event` about `run` for every notification of its template that
/// asks for it.
pub(crate) async fn enqueue(
    c: &mut Conn,
    run: &str,
    event: Event,
    detail: &NoticeDetail,
) -> store::Result<()> {
    let Some(subscribers) = outbox::subscribers(c, run).await? else { return Ok(()) };
    let at = now();
    let notice =
        Notice { event, run: run.to_owned(), template: subscribers.template, at, detail: detail.clone() };
    let body = store::json(&notice)?;
    for n in subscribers.notifications.0.iter().filter(|n| n.events.contains(&event)) {
        outbox::insert(c, run, &n.url, event, &body, at).await?;
    }
    Ok(())
}

/// Sends one due notification; `Ok(false)` when none is due.
pub(crate) async fn send_one(app: &App) -> Result<bool> {
    let at = now();
    let mut tx = app.store.write().await?;
    // Leased for twice the send timeout: a sender that dies mid-send is
    // replaced (the receiver may then get it twice; the body carries the
    // event's time and run to tell).
    let leased = outbox::lease(&mut tx, at, at + 2 * SEND_TIMEOUT.as_millis() as i64).await?;
    tx.commit().await?;
    let Some(leased) = leased else { return Ok(false) };
    let key = signing_key(app).await?;
    let (url, body) = (leased.url.clone(), leased.body.clone());
    let sent = tokio::task::spawn_blocking(move || post(&url, &body, &key))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let (state, next, error) = match sent {
        Ok(()) => (DeliveryState::Sent, at, None),
        Err(e) if leased.attempts >= MAX_ATTEMPTS => (DeliveryState::Failed, at, Some(e)),
        // 2, 4, 8 ... seconds, at most an hour.
        Err(e) => {
            (DeliveryState::Pending, now() + (1000i64 << leased.attempts.min(11)).min(3_600_000), Some(e))
        }
    };
    let sent_at = (state == DeliveryState::Sent).then(now);
    let mut tx = app.store.write().await?;
    outbox::settle(&mut tx, leased.seq, state, next, error.as_deref(), sent_at).await?;
    tx.commit().await?;
    Ok(true)
}

/// The key webhook bodies are signed with: made at the first start, kept
/// in the database (`assay server webhook-key` prints it for receivers).
pub(crate) async fn signing_key(app: &App) -> Result<String> {
    webhook_key(&app.store).await
}

pub(crate) async fn webhook_key(s: &store::Store) -> Result<String> {
    {
        let mut c = s.read().await?;
        if let Some(key) = state::get(&mut c, state::Entry::WebhookKey).await? {
            return Ok(key);
        }
    }
    let mut tx = s.write().await?;
    state::lock(&mut tx, s.backend()).await?;
    let key = match state::get(&mut tx, state::Entry::WebhookKey).await? {
        Some(key) => key,
        None => {
            let key = random_hex(32);
            state::set(&mut tx, state::Entry::WebhookKey, &key).await?;
            key
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `key`: what a
/// receiver recomputes to know the notification is the server's.
pub(crate) fn signature(key: &str, body: &str) -> String {
    use hmac::Mac;
    // HMAC takes a key of any length; this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(&mac.finalize().into_bytes()))
}

fn post(url: &str, body: &str, key: &str) -> std::result::Result<(), String> {
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
