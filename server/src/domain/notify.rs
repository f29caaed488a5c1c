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
use std::net::IpAddr;
use std::time::Duration;

/// Sends give up after this many attempts.
const MAX_ATTEMPTS: i64 = 8;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a template's notifications: at most 10, http(s) URLs, events;
/// a URL whose host is an internal address is refused now (one that
/// resolves to one is refused when sent).
pub(crate) fn validate(list: &[Notification], allow: &[ipnet::IpNet]) -> Result<()> {
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
        let host = ureq::http::Uri::try_from(n.url.as_str()).ok().and_then(|u| u.host().map(str::to_owned));
        let ip = host
            .as_deref()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(ip) = ip {
            if let Some(kind) = internal(ip).filter(|_| !allow.iter().any(|net| net.contains(&ip))) {
                return Err(Error::Invalid(format!(
                    "notification URL `{}` is a {kind} address, which webhooks may not reach",
                    n.url
                )));
            }
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
    let allow = app.config.allow_webhook_to.clone();
    let sent = tokio::task::spawn_blocking(move || post(&url, &body, &key, &allow))
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
    if let Some(e) = &error {
        // The host only: a URL's path or query may hold a receiver's secret.
        let host =
            ureq::http::Uri::try_from(leased.url.as_str()).ok().and_then(|u| u.host().map(str::to_owned));
        tracing::warn!(
            notification = leased.seq,
            host = host.as_deref().unwrap_or("?"),
            attempt = leased.attempts,
            gave_up = state == DeliveryState::Failed,
            error = %e,
            "webhook delivery failed"
        );
    }
    let sent_at = (state == DeliveryState::Sent).then(now);
    let mut tx = app.store.write().await?;
    outbox::settle(&mut tx, leased.seq, state, next, error.as_deref(), sent_at).await?;
    tx.commit().await?;
    Ok(true)
}

/// The key webhook bodies are signed with: made at the first start, kept
/// in the database sealed with the master key (`assay server
/// webhook-key` prints it for receivers).
pub(crate) async fn signing_key(app: &App) -> Result<String> {
    webhook_key(&app.store, &app.master).await
}

const WEBHOOK_KEY_AAD: &[u8] = b"assay/webhook-key";

/// The webhook key, made (sealed) when there is none, and sealed in place
/// when a database from before keeps it in clear.
pub(crate) async fn webhook_key(s: &store::Store, master: &crate::keys::Key) -> Result<String> {
    let open = |stored: &str| -> Option<String> {
        let sealed = hex::decode(stored)?;
        master.open(&sealed, WEBHOOK_KEY_AAD).ok().and_then(|k| String::from_utf8(k).ok())
    };
    {
        let mut c = s.read().await?;
        if let Some(key) = state::get(&mut c, state::Entry::WebhookKey).await?.as_deref().and_then(open) {
            return Ok(key);
        }
    }
    let mut tx = s.write().await?;
    state::lock(&mut tx, s.backend()).await?;
    let stored = state::get(&mut tx, state::Entry::WebhookKey).await?;
    let key = match stored {
        Some(stored) => match open(&stored) {
            Some(key) => return Ok(key),
            // 64 hex digits in clear: a key from before it was sealed.
            None if stored.len() == 64 && hex::decode(&stored).is_some() => stored,
            None => {
                return Err(Error::Internal(
                    "the webhook key in the database does not open with this master key".into(),
                ))
            }
        },
        None => random_hex(32),
    };
    let sealed = hex::encode(&master.seal(key.as_bytes(), WEBHOOK_KEY_AAD));
    state::set(&mut tx, state::Entry::WebhookKey, &sealed).await?;
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

/// Why webhooks may not reach `ip` (unless allowed): the server's own
/// host, its networks, and the cloud's metadata service are not places a
/// template's author should reach through the server.
pub(crate) fn internal(ip: IpAddr) -> Option<&'static str> {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    if let Some(v4) = v4 {
        let [a, b, ..] = v4.octets();
        return if v4.is_loopback() {
            Some("loopback")
        } else if v4.is_link_local() {
            Some("link-local (the cloud's metadata service lives there)")
        } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
            Some("private")
        } else if v4.is_multicast() || v4.is_broadcast() {
            Some("multicast or broadcast")
        } else if v4.is_unspecified() || a == 0 {
            Some("unspecified")
        } else {
            None
        };
    }
    let IpAddr::V6(v6) = ip else { return None };
    let first = v6.segments()[0];
    if v6.is_loopback() {
        Some("loopback")
    } else if v6.is_unspecified() {
        Some("unspecified")
    } else if v6.is_multicast() {
        Some("multicast")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else {
        None
    }
}

/// Resolves a webhook's host and refuses it when an address it resolves
/// to is internal: checked on the very addresses the connection is made
/// to, so a name that resolves elsewhere the second time (DNS rebinding)
/// gains nothing.
#[derive(Debug)]
struct Guarded {
    allow: Vec<ipnet::IpNet>,
}

impl ureq::unversioned::resolver::Resolver for Guarded {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        use ureq::unversioned::resolver::DefaultResolver;
        let addresses = DefaultResolver::default().resolve(uri, config, timeout)?;
        for a in addresses.iter() {
            let ip = a.ip();
            if let Some(kind) = internal(ip) {
                if !self.allow.iter().any(|net| net.contains(&ip)) {
                    let host = uri.host().unwrap_or_default();
                    return Err(ureq::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!(
                            "{host} resolves to {ip}, a {kind} address, which webhooks may not reach \
                             (assay server --allow-webhook-to allows a network)"
                        ),
                    )));
                }
            }
        }
        Ok(addresses)
    }
}

fn post(url: &str, body: &str, key: &str, allow: &[ipnet::IpNet]) -> std::result::Result<(), String> {
    let config =
        ureq::Agent::config_builder().timeout_global(Some(SEND_TIMEOUT)).http_status_as_error(false).build();
    let agent = ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::new(),
        Guarded { allow: allow.to_vec() },
    );
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
