//! The fleet's vulnerability feed and waiver file: each upload applies to
//! every evaluation from then on and queues the re-evaluation of every
//! agent's latest telemetry with it.

use super::auth::{self, Caller};
use super::{eval, App, Error, Result};
use crate::ids::{digest, hash, now};
use crate::store::{feeds, jobs};
use assay_api::admin::{FeedImported, FeedView, VexSet, VexUpload, VexUploaded, WaiversUploaded};
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

/// At most this many VEX documents in a set, and statements in all.
const MAX_VEX_DOCUMENTS: usize = 100;
const MAX_VEX_STATEMENTS: usize = 100_000;

/// `PUT /v1/vex`: the fleet's VEX documents, each checked as `--vex` reads
/// it, replacing the set in use; every agent is re-evaluated with them.
pub(crate) async fn put_vex(app: &App, caller: &Caller, upload: VexUpload) -> Result<VexUploaded> {
    caller.require(Role::Admin)?;
    if upload.documents.len() > MAX_VEX_DOCUMENTS {
        return Err(Error::Invalid(format!("at most {MAX_VEX_DOCUMENTS} VEX documents")));
    }
    let mut statements = 0;
    for d in &upload.documents {
        if d.name.is_empty() || d.name.len() > 256 || d.name.chars().any(char::is_control) {
            return Err(Error::Invalid(format!(
                "the VEX document name `{}` must be 1 to 256 characters without control characters",
                d.name.escape_debug()
            )));
        }
        let read = assay_runtime::vex::read(d.text.as_bytes(), &d.name)
            .map_err(|e| Error::Invalid(format!("{}: {e}", d.name)))?;
        statements += read.len();
    }
    if statements > MAX_VEX_STATEMENTS {
        return Err(Error::Invalid(format!("{statements} VEX statements: at most {MAX_VEX_STATEMENTS}")));
    }
    // The digest of the documents as stored.
    let sum = digest(crate::store::json(&upload.documents)?.as_bytes());
    let documents = upload.documents.len() as u64;
    let row = feeds::VexRow {
        digest: sum.clone(),
        documents: crate::store::Json(upload.documents),
        statements: statements as i64,
        uploaded_at: now(),
    };
    let mut tx = app.store.write().await?;
    feeds::insert_vex(&mut tx, &row).await?;
    let queued = eval::queue_reevaluation(&mut tx, &format!("VEX {} uploaded", &sum[..16])).await?;
    tx.commit().await?;
    let detail = json!({ "digest": sum, "documents": documents, "statements": statements });
    auth::audit(app, &caller.token_id, "vex.upload", detail).await?;
    Ok(VexUploaded { digest: sum, documents, statements: statements as u64, agents_queued: queued })
}

/// `GET /v1/vex`: the VEX documents in use.
pub(crate) async fn vex(app: &App, caller: &Caller) -> Result<VexSet> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let row = feeds::latest_vex(&mut c).await?;
    let row = row.ok_or_else(|| {
        Error::NotFound("no VEX documents were uploaded: `assay fleet vex upload FILE`".into())
    })?;
    Ok(VexSet {
        digest: row.digest,
        statements: row.statements.max(0) as u64,
        uploaded_at: row.uploaded_at,
        documents: row.documents.0,
    })
}
