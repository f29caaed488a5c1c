//! The fleet's vulnerability feed and waiver file: each upload applies to
//! every evaluation from then on and queues the re-evaluation of every
//! agent's latest telemetry with it.

use super::auth::{self, Caller};
use super::{eval, App, Error, Result};
use crate::ids::{digest, hash, now};
use crate::store::{feeds, jobs};
use assay_api::admin::{FeedImported, FeedView, WaiversUploaded};
use assay_api::Role;
use serde_json::json;

/// `PUT /v1/feed`: a feed as `assay feed import` writes it.
pub(crate) async fn put_feed(app: &App, caller: &Caller, body: &[u8]) -> Result<FeedImported> {
    // A feed (like the waivers) changes every host's findings: an admin's.
    caller.require(Role::Admin)?;
    let feed = assay_runtime::feed::Feed::from_bytes(body)
        .map_err(|e| Error::Invalid(format!("the body is not a vulnerability feed: {e}")))?;
    let sum = digest(body);
    let advisories = feed.advisories.len() as u64;
    let mut tx = app.store.write().await?;
    feeds::insert_feed(&mut tx, &sum, body, advisories as i64, now()).await?;
    let queued = eval::queue_reevaluation(&mut tx, &format!("feed {} imported", &sum[..16])).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "feed.import", json!({ "digest": sum, "advisories": advisories }))
        .await?;
    Ok(FeedImported { digest: sum, advisories, agents_queued: queued })
}

/// `GET /v1/feed`: the feed in use.
pub(crate) async fn feed(app: &App, caller: &Caller) -> Result<FeedView> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let latest = feeds::latest_feed(&mut c).await?;
    let latest = latest.ok_or_else(|| {
        Error::NotFound("no feed was imported: `assay fleet feed import --osv PATH`".into())
    })?;
    let (_, pending) = jobs::depths(&mut c).await?;
    Ok(FeedView {
        digest: latest.digest,
        advisories: latest.advisories.max(0) as u64,
        imported_at: latest.imported_at,
        reevaluations_pending: pending.max(0) as u64,
    })
}

/// `PUT /v1/waivers`: the fleet's waiver file (docs/waivers.md).
pub(crate) async fn put_waivers(app: &App, caller: &Caller, body: &[u8]) -> Result<WaiversUploaded> {
    caller.require(Role::Admin)?;
    let text =
        std::str::from_utf8(body).map_err(|_| Error::Invalid("the waiver file is not UTF-8 text".into()))?;
    let waivers = assay_runtime::waivers::parse(text, "waivers").map_err(Error::Invalid)?;
    let sum = hash(text);
    let mut tx = app.store.write().await?;
    feeds::insert_waivers(&mut tx, &sum, text, waivers.len() as i64, now()).await?;
    let queued = eval::queue_reevaluation(&mut tx, &format!("waivers {} uploaded", &sum[..16])).await?;
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "waivers.upload", json!({ "digest": sum, "waivers": waivers.len() }))
        .await?;
    Ok(WaiversUploaded { digest: sum, waivers: waivers.len() as u64, agents_queued: queued })
}

/// `GET /v1/waivers`: the waiver file in use.
pub(crate) async fn waivers(app: &App, caller: &Caller) -> Result<String> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let text = feeds::latest_waivers(&mut c).await?;
    text.ok_or_else(|| Error::NotFound("no waivers were uploaded: `assay fleet waivers upload FILE`".into()))
}
