//! Agents' heartbeats: each recorded (in one write a second with the
//! others, so a heartbeat waits for no writer) and answered with an
//! instruction from the closed set ([`Instruction`]). A heartbeat with
//! `wait` long-polls: an idle answer is held until there is work.

use super::identity::Agent;
use super::uploads::MAX_CHUNK;
use super::{auth, runs, App, Error, Result};
use crate::ids::now;
use crate::store::{self, agents, runs as run_rows, Failure, Store};
use assay_api::agent::{Heartbeat, HeartbeatAnswer, Instruction};
use assay_api::{HealthCode, ReportedHealth, RunAgentStatus, RunState};
use assay_model::lookup::CollectionPlan;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest a heartbeat waits for an instruction.
const MAX_WAIT: u64 = 30;
/// Heartbeats allowed per agent per window; more are THROTTLED (429).
const HEARTBEATS_PER_WINDOW: u32 = 20;
const WINDOW_MS: i64 = 10_000;
/// At most this many addresses are kept per agent.
const MAX_ADDRESSES: usize = 64;

/// An agent's last heartbeat not yet written: its time, and its health
/// and addresses when they differ from the database's.
pub(crate) struct Seen {
    at: i64,
    health: Option<(HealthCode, String, Vec<String>)>,
}

/// `addresses` as stored: each a valid IP address in its canonical form,
/// sorted, without repeats.
fn canonical_addresses(addresses: &[String]) -> Result<Vec<String>> {
    if addresses.len() > MAX_ADDRESSES {
        return Err(Error::Invalid(format!("at most {MAX_ADDRESSES} addresses")));
    }
    let mut parsed = std::collections::BTreeSet::new();
    for a in addresses {
        let ip: std::net::IpAddr =
            a.parse().map_err(|_| Error::Invalid(format!("`{a}` is not an IP address")))?;
        parsed.insert(ip);
    }
    Ok(parsed.iter().map(|a| a.to_string()).collect())
}

/// The most upload losses one heartbeat reports (the agent's spool
/// reports at most this many at a time), and their sizes.
const MAX_LOST: usize = 100;

/// Refuses a heartbeat whose fields would add more than a few KiB to the
/// audit log or the agent's row.
fn bounded(beat: &Heartbeat) -> Result<()> {
    if beat.lost.len() > MAX_LOST || beat.lost.iter().any(|l| l.run.len() > 128 || l.reason.len() > 500) {
        return Err(Error::Invalid(format!(
            "lost: at most {MAX_LOST} entries, runs of at most 128 bytes and reasons of at most 500"
        )));
    }
    if beat.collecting.as_ref().is_some_and(|r| r.len() > 128) || beat.detail.len() > 4096 {
        return Err(Error::Invalid("collecting is at most 128 bytes and detail at most 4096".into()));
    }
    Ok(())
}

/// Records the heartbeat and answers with what to do. With `wait`
/// seconds an idle answer is held (at most 30) until there is work: a
/// run started in this process wakes it at once, one started by another
/// replica within two seconds.
pub(crate) async fn heartbeat(
    app: &App,
    agent: &Agent,
    beat: Heartbeat,
    wait: u64,
) -> Result<HeartbeatAnswer> {
    if let Some(first) = throttled(app, &agent.id) {
        if first {
            let mut tx = app.store.write().await?;
            agents::set_health_code(&mut tx, &agent.id, HealthCode::Throttled).await?;
            tx.commit().await?;
            auth::audit_failure(app, &agent.id, "agent.throttled", json!({ "window_ms": WINDOW_MS })).await?;
        }
        return Err(Error::Throttled(format!(
            "more than {HEARTBEATS_PER_WINDOW} heartbeats in {} s",
            WINDOW_MS / 1000
        )));
    }
    bounded(&beat)?;
    let code = HealthCode::from(beat.health_code.unwrap_or(ReportedHealth::Idle));
    let detail: String = beat.detail.chars().take(500).collect();
    let addresses = match &beat.addresses {
        Some(a) => canonical_addresses(a)?,
        None => agent.addresses.clone(),
    };
    let same =
        (code, detail.as_str(), &addresses) == (agent.health.0, agent.health.1.as_str(), &agent.addresses);
    {
        // Recorded with the other heartbeats in one write a second
        // ([`flush`]): a heartbeat waits for no writer. A change is kept
        // until written, and a later heartbeat's state replaces an
        // unwritten one (even when it is what the database still holds).
        let mut seen = app.seen.lock().unwrap_or_else(|p| p.into_inner());
        let pending = seen.get(&agent.id).is_some_and(|s| s.health.is_some());
        let health = (!same || pending).then_some((code, detail, addresses));
        seen.insert(agent.id.clone(), Seen { at: now(), health });
    }
    if !beat.lost.is_empty() {
        auth::audit(app, &agent.id, "agent.spool.lost", json!({ "lost": beat.lost })).await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait.min(MAX_WAIT));
    loop {
        let woken = app.wake.notified();
        let instruction = instruction(app, agent, beat.collecting.as_deref()).await?;
        if instruction != Instruction::Idle || tokio::time::Instant::now() >= deadline {
            return Ok(HeartbeatAnswer { instruction, agent_id: agent.id.clone() });
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Writes the heartbeats gathered since the last call; kept for the next
/// call when the database is away. A heartbeat never overwrites a later
/// one (another replica may have written it).
pub(crate) async fn flush(app: &App) -> Result<()> {
    let seen = std::mem::take(&mut *app.seen.lock().unwrap_or_else(|p| p.into_inner()));
    if seen.is_empty() {
        return Ok(());
    }
    match write(&app.store, &seen).await {
        Ok(dropped) => {
            for (agent, why) in dropped {
                tracing::warn!(agent = %agent, reason = %why, "heartbeat not recorded");
            }
            Ok(())
        }
        Err(e) => {
            // Merged with what arrived meanwhile: the later heartbeat wins.
            let mut pending = app.seen.lock().unwrap_or_else(|p| p.into_inner());
            for (agent, beat) in seen {
                match pending.get(&agent) {
                    Some(newer) if newer.at >= beat.at => {}
                    _ => {
                        pending.insert(agent, beat);
                    }
                }
            }
            Err(e)
        }
    }
}

/// Writes `seen` in one transaction, or, when that fails for a reason
/// other than the database being away, each heartbeat in its own: one
/// row the database refuses never keeps the others from being recorded
/// (it is dropped, and returned with why). An error: the database is
/// away, and nothing was written.
async fn write(store: &Store, seen: &HashMap<String, Seen>) -> Result<Vec<(String, String)>> {
    let batch = async {
        let mut tx = store.write().await?;
        for (agent, beat) in seen {
            record(&mut tx, agent, beat).await?;
        }
        tx.commit().await
    }
    .await;
    let Err(e) = batch else { return Ok(Vec::new()) };
    if store::classify(&e) == Failure::Unavailable {
        return Err(e.into());
    }
    let mut dropped = Vec::new();
    for (agent, beat) in seen {
        let written = async {
            let mut tx = store.write().await?;
            record(&mut tx, agent, beat).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => {}
            Err(e) if store::classify(&e) == Failure::Unavailable => return Err(e.into()),
            Err(e) => dropped.push((agent.clone(), e.to_string())),
        }
    }
    Ok(dropped)
}

async fn record(c: &mut store::Conn, agent: &str, beat: &Seen) -> store::Result<()> {
    let health =
        beat.health.as_ref().map(|(code, detail, addresses)| (*code, detail.as_str(), &addresses[..]));
    agents::seen(c, agent, beat.at, health).await
}

/// Some(first-in-window) when `agent` is over its heartbeat budget. Kept
/// in this process only: a replica's budget is its own.
fn throttled(app: &App, agent: &str) -> Option<bool> {
    let at = now();
    let mut windows = app.heartbeat_windows.lock().unwrap_or_else(|p| p.into_inner());
    if windows.len() > 100_000 {
        windows.retain(|_, (start, _)| at - *start < WINDOW_MS);
    }
    let entry = windows.entry(agent.to_owned()).or_insert((at, 0));
    if at - entry.0 >= WINDOW_MS {
        *entry = (at, 0);
    }
    entry.1 += 1;
    (entry.1 > HEARTBEATS_PER_WINDOW).then_some(entry.1 == HEARTBEATS_PER_WINDOW + 1)
}

/// What `agent` should do now.
async fn instruction(app: &App, agent: &Agent, collecting: Option<&str>) -> Result<Instruction> {
    // A run the agent collects for that no longer wants its data.
    if let Some(run) = collecting {
        let member = {
            let mut c = app.store.read().await?;
            run_rows::membership(&mut c, run, &agent.id).await?
        };
        let wanted = member.is_some_and(|m| m.status.waiting() && m.state.is_collecting());
        if !wanted {
            return Ok(Instruction::Stop { run: run.to_owned() });
        }
    }
    if now() >= super::identity::renewal_opens(agent.issued_at, agent.not_after) {
        return Ok(Instruction::RenewCertificate);
    }
    let assigned = {
        let mut c = app.store.read().await?;
        run_rows::assignment(&mut c, &agent.id).await?
    };
    let Some(run) = assigned else { return Ok(Instruction::Idle) };
    if run.status == RunAgentStatus::Pending {
        start_collecting(app, &run.id, &agent.id).await?;
    }
    let plan = plan(app, &run.id).await?;
    Ok(Instruction::Collect {
        duration_seconds: ((run.collect_until - now()) / 1000).max(0) as u64,
        run: run.id,
        plan: (*plan).clone(),
        max_chunk: app.config.chunk_bytes.min(MAX_CHUNK) as u64,
    })
}

/// What a run's agents collect: everything its packages look up.
async fn plan(app: &App, run: &str) -> Result<Arc<CollectionPlan>> {
    if let Some(plan) = app.plans.lock().unwrap_or_else(|p| p.into_inner()).get(run) {
        return Ok(plan.clone());
    }
    let selected = {
        let mut c = app.store.read().await?;
        let packages = run_rows::packages(&mut c, run).await?.unwrap_or_default();
        super::packages::select(app, &mut c, &packages).await
    };
    let plan = match selected {
        Ok(selection) => Arc::new(super::packages::plan(&selection)),
        // A package this server cannot load (asked again next time): the
        // evaluation will say why; collect what the built-in packages need.
        Err(_) => return Ok(Arc::new(app.bundle.content.plan.clone())),
    };
    let mut plans = app.plans.lock().unwrap_or_else(|p| p.into_inner());
    // Runs that collect at once are few; older ones are not asked again.
    if plans.len() >= 256 {
        plans.clear();
    }
    plans.insert(run.to_owned(), plan.clone());
    Ok(plan)
}

/// The first heartbeat of an agent in a run: it collects, and the run
/// with it once every agent does.
async fn start_collecting(app: &App, run: &str, agent: &str) -> store::Result<()> {
    let mut tx = app.store.write().await?;
    if run_rows::set_member_status(&mut tx, run, agent, RunAgentStatus::Pending, RunAgentStatus::Collecting)
        .await?
    {
        runs::transition(&mut tx, run, RunState::StartPending, RunState::StartInProgress).await?;
        if !run_rows::any_pending(&mut tx, run).await? {
            runs::transition(&mut tx, run, RunState::StartInProgress, RunState::Collecting).await?;
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    /// One heartbeat PostgreSQL refuses (a NUL in its detail: text cannot
    /// hold one) is dropped; the others of the same write are recorded.
    /// Before, the whole batch failed and was retried forever, and every
    /// agent's `last_seen` froze.
    #[tokio::test]
    async fn a_heartbeat_the_database_refuses_does_not_block_the_others() {
        let Some((store, name)) = testing::postgres("assay_heartbeats").await else { return };
        for id in ["good", "bad"] {
            let mut tx = store.write().await.unwrap();
            testing::enrol(&mut tx, id).await;
            tx.commit().await.unwrap();
        }
        let mut seen = HashMap::new();
        seen.insert("good".to_owned(), Seen { at: 5000, health: None });
        let poisoned = Some((HealthCode::Unhealthy, "bad\0detail".to_owned(), Vec::new()));
        seen.insert("bad".to_owned(), Seen { at: 5000, health: poisoned });
        let dropped = write(&store, &seen).await;
        let last_seen = |id: &'static str| {
            let store = &store;
            async move {
                let mut c = store.read().await.unwrap();
                agents::get(&mut c, id, 0).await.unwrap().unwrap().last_seen
            }
        };
        let good = last_seen("good").await;
        let bad = last_seen("bad").await;
        testing::drop_postgres(store, &name).await;
        let dropped = dropped.unwrap();
        assert_eq!(dropped.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["bad"], "{dropped:?}");
        assert_eq!((good, bad), (5000, 1));
    }
}
