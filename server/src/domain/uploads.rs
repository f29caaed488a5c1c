//! Telemetry uploads: gzip-compressed documents in numbered chunks, each
//! idempotent (its digest is checked; the same chunk twice is accepted
//! once, a different one for the same number refused) and sealed with
//! the run's data key as it is stored. The chunk that completes an upload
//! assembles, validates and stores the document (in the blob store, the
//! row naming it after) and queues its evaluation.

use super::{auth, identity::Agent, App, Error, Result};
use crate::faults::crash_point;
use crate::ids::{digest, now};
use crate::keys::{self, Key};
use crate::store::{self, jobs, runs, telemetry, Conn};
use assay_api::agent::ChunkAnswer;
use assay_api::RunAgentStatus;
use serde_json::json;
use std::io::Read;

/// The largest telemetry document accepted, uncompressed.
pub(crate) const MAX_TELEMETRY: usize = 64 << 20;
/// The largest chunk, and the most chunks of one upload.
pub(crate) const MAX_CHUNK: usize = 4 << 20;
pub(crate) const MAX_CHUNKS: i64 = 64;
/// The most one agent's upload for a run may weigh, compressed: a host's
/// telemetry is a few hundred KiB.
pub(crate) const MAX_UPLOAD: i64 = 32 << 20;

/// What happened to a chunk: stored by this request (`Created`), or known
/// already.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    Created,
    Known,
}

/// Stores chunk `seq` of `total` of `agent`'s telemetry for `run`;
/// `claimed` is the digest the agent sent with it.
pub(crate) async fn chunk(
    app: &App,
    agent: &Agent,
    run: &str,
    seq: i64,
    total: i64,
    claimed: &str,
    body: Vec<u8>,
) -> Result<(Stored, ChunkAnswer)> {
    let reject = |reason: &'static str| async move {
        let detail = json!({ "run": run, "seq": seq, "reason": reason });
        let _ = auth::audit_failure(app, &agent.id, "agent.chunk.rejected", detail).await;
    };
    if !(1..=MAX_CHUNKS).contains(&total) || !(0..total).contains(&seq) {
        return Err(Error::Invalid(format!(
            "chunk {seq} of {total}: an upload has 1 to {MAX_CHUNKS} chunks"
        )));
    }
    let sum = digest(&body);
    if claimed != sum {
        return Err(Error::Invalid(
            "X-Assay-Digest is not the SHA-256 of the chunk (corrupted on the way?)".into(),
        ));
    }
    let mut tx = app.store.write().await?;
    let member = runs::membership(&mut tx, run, &agent.id).await?;
    let member = member.ok_or_else(|| Error::NotFound(format!("this agent is not in run {run}")))?;
    if member.status == RunAgentStatus::Delivered {
        let answer = ChunkAnswer { accepted: false, duplicate: true, complete: true, digest: None };
        return Ok((Stored::Known, answer));
    }
    if !member.state.is_collecting() {
        return Err(Error::Conflict(format!("run {run} is {}: it no longer collects", member.state)));
    }
    let existing = telemetry::chunks(&mut tx, run, &agent.id).await?;
    let received: i64 = existing.iter().map(|c| c.size - keys::OVERHEAD as i64).sum();
    if received + body.len() as i64 > MAX_UPLOAD {
        drop(tx);
        reject("upload too large").await;
        return Err(Error::TooLarge(format!(
            "an upload is at most {} MiB compressed; this one would be more",
            MAX_UPLOAD >> 20
        )));
    }
    if let Some(other) = existing.iter().find(|c| c.total != total) {
        drop(tx);
        reject("total differs").await;
        return Err(Error::Conflict(format!(
            "this upload has {} chunks, not {total}; finish it or let the run end",
            other.total
        )));
    }
    let mut stored = existing.len() as i64;
    let outcome = match existing.iter().find(|c| c.seq == seq) {
        Some(c) if c.digest == sum => Stored::Known,
        Some(_) => {
            drop(tx);
            reject("replaced with other data").await;
            return Err(Error::Conflict(format!("chunk {seq} was delivered with other data")));
        }
        None => {
            let key = run_key(&mut tx, app, run).await?;
            let sealed = key.seal(&body, &keys::chunk_aad(run, &agent.id, seq));
            let chunk =
                telemetry::NewChunk { run, agent: &agent.id, seq, total, digest: &sum, sealed, now: now() };
            telemetry::insert_chunk(&mut tx, chunk).await?;
            // Counted with the insert: the count is what was accepted, so
            // a chunk accepted twice would show.
            runs::count_chunk(&mut tx, run, &agent.id, total).await?;
            stored += 1;
            Stored::Created
        }
    };
    tx.commit().await?;
    crash_point("agent.chunk.stored");
    let accepted = outcome == Stored::Created;
    if stored < total {
        return Ok((outcome, ChunkAnswer { accepted, duplicate: false, complete: false, digest: None }));
    }
    match assemble(app, run, &agent.id).await? {
        Ok(digest) => Ok((
            outcome,
            ChunkAnswer { accepted: true, duplicate: false, complete: true, digest: Some(digest) },
        )),
        Err(why) => {
            let _ = auth::audit_failure(
                app,
                &agent.id,
                "agent.telemetry.rejected",
                json!({ "run": run, "reason": why }),
            )
            .await;
            Err(Error::Invalid(format!("the telemetry does not validate: {why}")))
        }
    }
}

/// The data key of `run`, made and stored (wrapped) on first use.
async fn run_key(c: &mut Conn, app: &App, run: &str) -> Result<Key> {
    if let Some(key) = existing_run_key(c, app, run).await? {
        return Ok(key);
    }
    let (_, bytes) = Key::generate();
    telemetry::insert_run_key(c, run, &app.master.seal(&bytes, &keys::run_key_aad(run)), now()).await?;
    // Two transactions making it at once keep the first one committed.
    existing_run_key(c, app, run)
        .await?
        .ok_or_else(|| Error::Internal(format!("the key of run {run} vanished")))
}

/// The data key of `run` if it still exists (retention deletes it).
pub(crate) async fn existing_run_key(c: &mut Conn, app: &App, run: &str) -> Result<Option<Key>> {
    let Some(wrapped) = telemetry::run_key(c, run).await? else { return Ok(None) };
    let plain = app
        .master
        .open(&wrapped, &keys::run_key_aad(run))
        .map_err(|e| Error::Internal(format!("the key of run {run}: {e}")))?;
    Key::from_bytes(plain).map(Some).map_err(|e| Error::Internal(format!("the key of run {run}: {e}")))
}

/// What a validated document claims of its host, where it is not the
/// identity its agent was enrolled with.
struct Claimed {
    hostname: Option<String>,
    id: Option<String>,
}

/// Joins a complete upload's chunks, validates the document, and stores it
/// (sealed) with its evaluation job, deleting the chunks: the document's
/// digest, or why it does not validate (then it is dropped with its
/// chunks, so a corrected one can be sent). Outside the write lock except
/// for the final insert, which is idempotent: two requests completing at
/// once store it once.
async fn assemble(app: &App, run: &str, agent: &str) -> Result<std::result::Result<String, String>> {
    let (chunks, key, enrolled) = {
        let mut c = app.store.read().await?;
        let chunks = telemetry::chunk_bodies(&mut c, run, agent).await?;
        let key = existing_run_key(&mut c, app, run).await?;
        let enrolled = store::agents::get(&mut c, agent, app.stale_before()).await?;
        let enrolled = enrolled.ok_or_else(|| Error::Internal(format!("no agent `{agent}`")))?;
        (chunks, key.ok_or_else(|| Error::Internal(format!("run {run} has chunks but no key")))?, enrolled)
    };
    let mut compressed = Vec::new();
    for c in &chunks {
        let plain = key.open(&c.body, &keys::chunk_aad(run, agent, c.seq)).map_err(Error::Internal)?;
        compressed.extend(plain);
    }
    let checked = app
        .cpu
        .run(move || {
            let json = gunzip(&compressed, MAX_TELEMETRY)?;
            let telemetry = assay_model::telemetry::from_json(&json).map_err(|e| e.to_string())?;
            bounded(&telemetry.asset)?;
            let asset = &telemetry.asset;
            let enrolled_id =
                if enrolled.machine_id.is_empty() { &enrolled.hostname } else { &enrolled.machine_id };
            let claimed = Claimed {
                hostname: (asset.hostname != enrolled.hostname).then(|| asset.hostname.clone()),
                id: (&asset.id != enrolled_id).then(|| asset.id.clone()),
            };
            assay_runtime::value::Host::new(telemetry).map_err(|e| e.to_string())?;
            Ok::<_, String>((digest(&json), compressed, claimed))
        })
        .await
        .map_err(Error::Internal)?;
    // The sealed document goes to the blob store before the row naming it
    // is committed (see `blobs`); a store that fails is a 503 the agent
    // retries, its chunks still here.
    let received_at = now();
    let blob = match &checked {
        Ok((digest, compressed, _)) => {
            let name = crate::blobs::Blobs::telemetry_key(run, agent, digest, received_at);
            let sealed = key.seal(compressed, &keys::telemetry_aad(run, agent));
            app.blobs.put(&name, sealed).await.map_err(Error::Unavailable)?;
            Some(name)
        }
        Err(_) => None,
    };
    let mut tx = app.store.write().await?;
    telemetry::delete_chunks(&mut tx, run, agent).await?;
    let (digest, blob, claimed) = match (checked, blob) {
        (Ok((digest, _, claimed)), Some(blob)) => (digest, blob, claimed),
        (Err(why), _) => {
            tx.commit().await?;
            return Ok(Err(why));
        }
        (Ok(_), None) => return Err(Error::Internal("a checked upload without its blob".into())),
    };
    let document = telemetry::NewDocument {
        run,
        agent,
        digest: &digest,
        at: received_at,
        blob: &blob,
        reported_hostname: claimed.hostname.as_deref(),
        reported_id: claimed.id.as_deref(),
    };
    let stored = telemetry::insert(&mut tx, &document).await?;
    if stored {
        runs::mark_delivered(&mut tx, run, agent).await?;
        jobs::insert(&mut tx, run, agent).await?;
    }
    tx.commit().await?;
    crash_point("agent.telemetry.stored");
    if stored && (claimed.hostname.is_some() || claimed.id.is_some()) {
        let detail = json!({ "run": run, "reported_hostname": claimed.hostname, "reported_id": claimed.id });
        let _ = auth::audit(app, agent, "agent.identity.mismatch", detail).await;
    }
    Ok(Ok(digest))
}

/// The identity a document claims, bounded as enrolment bounds it: a
/// hostname as DNS allows it, an id and tags of bounded size. A document
/// whose identity would fill every finding and report (a 4 MiB hostname)
/// is refused.
fn bounded(asset: &assay_model::telemetry::Asset) -> std::result::Result<(), String> {
    if asset.hostname.len() > 253 {
        return Err(format!("asset.hostname is {} bytes: a hostname is at most 253", asset.hostname.len()));
    }
    if asset.id.len() > 256 {
        return Err(format!("asset.id is {} bytes: at most 256", asset.id.len()));
    }
    if asset.tags.len() > super::agents::MAX_TAGS
        || asset.tags.iter().any(|t| t.key.len() > 128 || t.value.len() > 256)
    {
        return Err(format!(
            "asset.tags: at most {} tags, keys of at most 128 bytes and values of at most 256",
            super::agents::MAX_TAGS
        ));
    }
    for (field, value) in [("kernel_release", &asset.kernel_release), ("architecture", &asset.architecture)] {
        if value.as_ref().is_some_and(|v| v.len() > 256) {
            return Err(format!("asset.{field} is more than 256 bytes"));
        }
    }
    Ok(())
}

/// Decompresses one gzip stream, refusing more than `limit` bytes of
/// output (a small upload must not inflate into gigabytes) and anything
/// after the stream's end (padding a valid upload to hundreds of MiB).
pub(crate) fn gunzip(compressed: &[u8], limit: usize) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut decoder = flate2::bufread::GzDecoder::new(compressed);
    (&mut decoder).take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| format!("not gzip: {e}"))?;
    if out.len() > limit {
        return Err(format!("it inflates beyond {limit} bytes"));
    }
    let rest = decoder.into_inner();
    if !rest.is_empty() {
        return Err(format!("{} bytes follow the end of the gzip stream", rest.len()));
    }
    Ok(out)
}

/// A delivered document, opened with its run's key (gone after
/// retention) and decompressed, or as it is for rows from before sealing;
/// `Ok(Err)` when it cannot be read (an answer, not a fault to retry).
pub(crate) async fn open(
    app: &App,
    delivered: &store::telemetry::Delivered,
) -> Result<std::result::Result<Vec<u8>, String>> {
    Ok(fetch(app, delivered).await?.and_then(Fetched::open))
}

/// A delivered document as stored, with what opens it.
pub(crate) struct Fetched {
    body: Vec<u8>,
    /// The run's key and the document's associated data, for a sealed
    /// one.
    key: Option<(Key, Vec<u8>)>,
}

impl Fetched {
    /// The document: decrypted and decompressed (milliseconds of CPU for
    /// a large one: an evaluation does it on the CPU pool, off the threads
    /// that answer heartbeats).
    pub(crate) fn open(self) -> std::result::Result<Vec<u8>, String> {
        match self.key {
            None => Ok(self.body),
            Some((key, aad)) => key.open(&self.body, &aad).and_then(|c| gunzip(&c, MAX_TELEMETRY)),
        }
    }
}

/// [`open`]'s reads: the stored document and its run's key, opened later.
pub(crate) async fn fetch(
    app: &App,
    delivered: &store::telemetry::Delivered,
) -> Result<std::result::Result<Fetched, String>> {
    let (run, agent) = (delivered.run_id.as_str(), delivered.agent_id.as_str());
    // For the fault tests: telemetry that cannot be read, as a blob store
    // that lost it or a key that was deleted would give.
    fail::fail_point!("eval.telemetry.unreadable", |_| Ok(Err(format!(
        "the telemetry of agent {agent} in run {run} cannot be read (fail point eval.telemetry.unreadable)"
    ))));
    let body = match &delivered.blob {
        None => delivered.body.clone(),
        // A store that cannot answer now is retried with the job; a blob
        // that is gone is an answer.
        Some(name) => match app.blobs.get(name).await.map_err(Error::Unavailable)? {
            Some(body) => body,
            None => {
                return Ok(Err(format!(
                    "the telemetry of agent {agent} in run {run} is missing from the blob store ({name})"
                )))
            }
        },
    };
    if delivered.sealed == 0 {
        return Ok(Ok(Fetched { body, key: None }));
    }
    let key = {
        let mut c = app.store.read().await?;
        existing_run_key(&mut c, app, run).await
    };
    let key = match key {
        Ok(Some(key)) => key,
        Ok(None) => {
            return Ok(Err(format!("the key of run {run} was deleted: its telemetry cannot be read")))
        }
        Err(Error::Internal(e)) => return Ok(Err(e)),
        Err(e) => return Err(e),
    };
    Ok(Ok(Fetched { body, key: Some((key, keys::telemetry_aad(run, agent))) }))
}
