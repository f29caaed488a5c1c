//! Agents' heartbeats: each recorded (in one write a second with the
//! others, so a heartbeat waits for no writer) and answered with an
//! instruction from the closed set ([`Instruction`]). A heartbeat with
//! `wait` long-polls: an idle answer is held until there is work.

use super::identity::Agent;
use super::uploads::MAX_CHUNK;
use super::{auth, runs, App, Error, Result};
use crate::ids::now;
use crate::store::{self, agents, runs as run_rows};
use assay_api::agent::{Heartbeat, HeartbeatAnswer, Instruction};
use assay_api::{HealthCode, ReportedHealth, RunAgentStatus, RunState};
use serde_json::json;
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
            auth::audit(app, &agent.id, "agent.throttled", json!({ "window_ms": WINDOW_MS })).await?;
        }
        return Err(Error::Throttled(format!(
            "more than {HEARTBEATS_PER_WINDOW} heartbeats in {} s",
            WINDOW_MS / 1000
        )));
    }
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

/// Writes the heartbeats gathered since the last call, in one
/// transaction; kept for the next call when the database is away. A
/// heartbeat never overwrites a later one (another replica may have
/// written it).
pub(crate) async fn flush(app: &App) -> Result<()> {
    let seen = std::mem::take(&mut *app.seen.lock().unwrap_or_else(|p| p.into_inner()));
    if seen.is_empty() {
        return Ok(());
    }
    let written = async {
        let mut tx = app.store.write().await?;
        for (agent, beat) in &seen {
            let health = beat
                .health
                .as_ref()
                .map(|(code, detail, addresses)| (*code, detail.as_str(), &addresses[..]));
            agents::seen(&mut tx, agent, beat.at, health).await?;
        }
        tx.commit().await
    }
    .await;
    if written.is_err() {
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
    }
    Ok(written?)
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
    if agent.not_after - now() < app.config.agent_cert_lifetime_ms / 3 {
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
    Ok(Instruction::Collect {
        duration_seconds: ((run.collect_until - now()) / 1000).max(0) as u64,
        run: run.id,
        plan: app.bundle.content.plan.clone(),
        max_chunk: app.config.chunk_bytes.min(MAX_CHUNK) as u64,
    })
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
