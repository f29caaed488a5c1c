//! Assessment runs: starting one over the agents its target matches (two
//! unfinished runs never share an agent), Inspector's states moved only
//! by [`transition`] (a compare-and-set recorded in the run's history, with
//! its notifications, in the transaction that causes it), stopping, the
//! views, and the background [`tick`] that moves runs on when time passes
//! or work is done elsewhere. Everything a run needs to continue is in
//! the database, so any server process advances it.

use super::auth::{self, Caller};
use super::{notify, packages, App, Error, PageRequest, Result};
use crate::faults::crash_point;
use crate::ids::{now, random_hex};
use crate::store::{self, agents, jobs, outbox, runs as rows, targets, telemetry, templates, Conn, Tx};
use assay_api::admin::{Exclusion, RunAgentView, RunSummary, RunView, StopRun};
use assay_api::webhook::NoticeDetail;
use assay_api::{Event, HeldAgent, HostRef, JobState, Page, Role, RunAgentStatus, RunState};
use serde_json::json;

/// How long past its duration a run waits for late telemetry; longer
/// while uploads keep arriving (a large fleet's collections all end at the
/// same moment, and their uploads queue), up to [`MAX_GRACE_MS`].
pub(crate) const GRACE_MS: i64 = 30_000;
pub(crate) const MAX_GRACE_MS: i64 = 10 * 60_000;
/// Uploads "keep arriving" when one completed within this.
const ARRIVING_MS: i64 = 10_000;

/// Moves `run` from `from` to `to` if it is still in `from`, recording the
/// change and queueing its notifications; a final state frees the run's
/// agents. Whether this call made the change.
pub(crate) async fn transition(tx: &mut Tx, run: &str, from: RunState, to: RunState) -> store::Result<bool> {
    if !rows::set_state(tx, run, from, to).await? {
        return Ok(false);
    }
    let at = now();
    rows::record_state(tx, run, to, at).await?;
    let detail = NoticeDetail::State { from, state: to };
    notify::enqueue(tx, run, Event::RunStateChanged, &detail).await?;
    if to == RunState::StartPending {
        notify::enqueue(tx, run, Event::RunStarted, &detail).await?;
    }
    if to.is_final() {
        notify::enqueue(tx, run, Event::RunCompleted, &detail).await?;
        rows::finish(tx, run, at).await?;
    }
    Ok(true)
}

/// `POST /v1/runs`: starts a run of the template's latest version.
pub(crate) async fn start_run(app: &App, caller: &Caller, template: &str) -> Result<RunView> {
    caller.require(Role::Operator)?;
    let id = start(app, template).await?;
    auth::audit(app, &caller.token_id, "run.start", json!({ "run": id, "template": template })).await?;
    view(app, &id, caller).await
}

/// Starts a run of `template` (its latest version) over the agents its
/// target matches now; the run's id. The agents are locked for the run in
/// its transaction, one key each: a concurrent start that wants one of
/// them fails on the key, never both succeed.
pub(crate) async fn start(app: &App, template: &str) -> Result<String> {
    let mut tx = app.store.write().await?;
    let t = templates::latest(&mut tx, template).await?;
    let t = t.ok_or_else(|| Error::NotFound(format!("no template `{template}`")))?;
    let target = targets::get(&mut tx, &t.target).await?;
    let target = target.ok_or_else(|| Error::NotFound(format!("no target `{}`", t.target)))?;
    let members = agents::matching(&mut tx, &target.tags.0, app.stale_before()).await?;
    if members.is_empty() {
        return Err(Error::Conflict(format!(
            "no agent matches target `{}`; `assay fleet target preview` shows which do",
            t.target
        )));
    }
    if members.len() as i64 > app.config.max_agents_per_run {
        return Err(Error::Conflict(format!(
            "{} agents match, more than the limit of {} per run",
            members.len(),
            app.config.max_agents_per_run
        )));
    }
    // The exact versions this run evaluates, whatever is published later.
    let mut resolved = Vec::new();
    for requirement in &t.packages.0 {
        resolved.push(packages::resolve(&mut tx, requirement, false).await?);
    }
    let at = now();
    let run = rows::Run {
        id: format!("run-{}", random_hex(8)),
        template: t.name.clone(),
        template_version: t.version,
        state: RunState::Created,
        created_at: at,
        collect_until: at + t.duration_seconds * 1000,
        finished_at: None,
    };
    rows::insert(&mut tx, &run).await?;
    rows::set_packages(&mut tx, &run.id, &resolved).await?;
    rows::record_state(&mut tx, &run.id, RunState::Created, at).await?;
    let wanted: Vec<String> = members.iter().map(|a| a.id.clone()).collect();
    for agent in &wanted {
        if let Err(e) = rows::lock_agent(&mut tx, &run.id, agent).await {
            drop(tx);
            return Err(overlap_or(app, &wanted, e).await);
        }
    }
    transition(&mut tx, &run.id, RunState::Created, RunState::StartPending).await?;
    if let Err(e) = tx.commit().await {
        return Err(overlap_or(app, &wanted, e).await);
    }
    app.wake.notify_waiters();
    Ok(run.id)
}

/// The error of a start that failed on `e`: an overlap with runs in
/// progress (which agents, held by which runs) when it is a key conflict.
async fn overlap_or(app: &App, wanted: &[String], e: sqlx::Error) -> Error {
    if store::classify(&e) != store::Failure::Conflict {
        return e.into();
    }
    let held = match app.store.read().await {
        Ok(mut c) => rows::locks(&mut c).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    Error::AgentsInRun(
        held.into_iter()
            .filter(|l| wanted.contains(&l.agent_id))
            .map(|l| HeldAgent { agent: l.agent_id, run: l.run_id })
            .collect(),
    )
}

/// `POST /v1/runs/{id}/stop`: stops collection now (the telemetry that
/// arrived is evaluated), or with `skip_evaluation` cancels the run.
pub(crate) async fn stop(app: &App, caller: &Caller, id: &str, req: StopRun) -> Result<RunView> {
    caller.require(Role::Operator)?;
    let skip = req.skip_evaluation;
    let mut tx = app.store.write().await?;
    let run = rows::get(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("no run `{id}`")))?;
    let state = run.state;
    let stoppable = state.is_collecting()
        || (skip
            && [RunState::StopPending, RunState::DataCollected, RunState::EvalPending, RunState::Evaluating]
                .contains(&state));
    if !stoppable {
        return Err(Error::Conflict(format!("run {id} is {state}: there is no collection to stop")));
    }
    let to = if skip { RunState::Canceled } else { RunState::StopPending };
    if !transition(&mut tx, id, state, to).await? {
        return Err(Error::Conflict(format!("run {id} changed state meanwhile; try again")));
    }
    if skip {
        jobs::cancel_run(&mut tx, id).await?;
    }
    tx.commit().await?;
    auth::audit(app, &caller.token_id, "run.stop", json!({ "run": id, "skip_evaluation": skip })).await?;
    view(app, id, caller).await
}

/// `GET /v1/runs/{id}`.
pub(crate) async fn get(app: &App, caller: &Caller, id: &str) -> Result<RunView> {
    caller.require(Role::ReadOnly)?;
    view(app, id, caller).await
}

/// A run with its history, agents, exclusions, deliveries and findings.
/// Why a webhook delivery failed is an admin's to read: to anyone else a
/// receiver's answer ("connection refused", "answered 401") would map
/// what the server can reach.
pub(crate) async fn view(app: &App, id: &str, caller: &Caller) -> Result<RunView> {
    let mut c = app.store.read().await?;
    let run = rows::get(&mut c, id).await?.ok_or_else(|| Error::NotFound(format!("no run `{id}`")))?;
    let history = rows::history(&mut c, id).await?;
    let listed = run_packages(&mut c, &run).await?;
    let selection = packages::select(app, &mut c, &listed).await?;
    let members = rows::members(&mut c, id).await?;
    let mut notifications = outbox::of_run(&mut c, id).await?;
    if caller.role < Role::Admin {
        for n in notifications.iter_mut().filter(|n| n.error.is_some()) {
            n.error = Some("the delivery failed (an admin sees why)".to_owned());
        }
    }
    let findings = store::findings::counts(&mut c, id).await?;
    let host = |m: &rows::Member| HostRef {
        agent: m.agent_id.clone(),
        hostname: m.hostname.clone(),
        addresses: m.addresses.0.clone(),
    };
    let mut exclusions: Vec<Exclusion> = members
        .iter()
        .filter_map(|m| {
            let reason = match (m.status, m.job.0) {
                (RunAgentStatus::Missing, _) => "no telemetry arrived before the collection ended".to_owned(),
                (RunAgentStatus::Revoked, _) => "the agent was revoked during the run".to_owned(),
                (_, Some(JobState::Failed)) => {
                    format!("evaluation failed: {}", m.error.as_deref().unwrap_or("no reason recorded"))
                }
                _ => return None,
            };
            Some(Exclusion { host: host(m), reason })
        })
        .collect();
    for m in &members {
        for reason in packages::unsupported(&selection, &m.os) {
            exclusions.push(Exclusion { host: host(m), reason });
        }
    }
    let agents = members
        .iter()
        .map(|m| RunAgentView {
            agent: m.agent_id.clone(),
            hostname: m.hostname.clone(),
            status: m.status,
            chunks_received: m.chunks_received,
            chunks_total: m.chunks_total,
            evaluation: m.job.0,
            evaluation_attempts: m.attempts,
            reported_hostname: m.reported_hostname.clone(),
        })
        .collect();
    Ok(RunView {
        id: run.id,
        template: run.template,
        template_version: run.template_version,
        state: run.state,
        created_at: run.created_at,
        collect_until: run.collect_until,
        finished_at: run.finished_at,
        history,
        agents,
        exclusions,
        notifications,
        findings,
    })
}

/// The packages `run` evaluates: the exact versions resolved when it
/// started (a run from before the registry: its template's package names).
pub(crate) async fn run_packages(c: &mut Conn, run: &rows::Run) -> Result<Vec<String>> {
    rows::packages(c, &run.id).await?.ok_or_else(|| {
        Error::Internal(format!(
            "run {} names template {} version {}, which is gone",
            run.id, run.template, run.template_version
        ))
    })
}

pub(crate) fn summary(run: rows::Run) -> RunSummary {
    RunSummary {
        id: run.id,
        template: run.template,
        template_version: run.template_version,
        state: run.state,
        created_at: run.created_at,
        finished_at: run.finished_at,
    }
}

/// `GET /v1/runs`: newest first; the cursor is `created_at/id` of the
/// last run of a page.
pub(crate) async fn list(app: &App, caller: &Caller, page: &PageRequest) -> Result<Page<RunSummary>> {
    caller.require(Role::ReadOnly)?;
    // No run was created at i64::MAX, so the first page has no bound.
    let (before_at, before_id) = match page.after.as_deref() {
        None => (i64::MAX, String::new()),
        Some(a) => a
            .split_once('/')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
            .ok_or_else(|| Error::Invalid(format!("`after={a}` is not a cursor of this list")))?,
    };
    let mut c = app.store.read().await?;
    let found = rows::list(&mut c, (before_at, &before_id), page.limit()).await?;
    let items: Vec<RunSummary> = found.into_iter().map(summary).collect();
    let next = page.next(&items, |r| format!("{}/{}", r.created_at, r.id));
    Ok(Page { items, next })
}

/// Advances every unfinished run whose next step depends on time or on
/// work done elsewhere: collection over (duration plus grace, or every
/// agent delivered), evaluation finished. Idempotent; any replica may run
/// it at any time.
pub(crate) async fn tick(app: &App) -> Result<()> {
    let at = now();
    let unfinished = {
        let mut c = app.store.read().await?;
        rows::unfinished(&mut c).await?
    };
    for run in unfinished {
        let (id, state, until) = (run.id.as_str(), run.state, run.collect_until);
        // Most ticks change nothing: look before taking the write lock (the
        // transition below checks again, by compare-and-set).
        let idle = {
            let mut c = app.store.read().await?;
            if state.is_collecting() {
                if rows::count_members(&mut c, id, WAITING).await? == 0 {
                    false
                } else if at <= until + GRACE_MS {
                    true
                } else if at <= until + MAX_GRACE_MS {
                    let last = telemetry::last_received(&mut c, id).await?;
                    last.is_some_and(|last| last > at - ARRIVING_MS)
                } else {
                    false
                }
            } else if matches!(state, RunState::EvalPending | RunState::Evaluating) {
                jobs::count_of_run(&mut c, id, OPEN_JOBS).await? > 0
            } else {
                false
            }
        };
        if idle {
            continue;
        }
        let mut tx = app.store.write().await?;
        match state {
            _ if state.is_collecting() => {
                let waiting = rows::count_members(&mut tx, id, WAITING).await?;
                if waiting == 0 || at > until + GRACE_MS {
                    transition(&mut tx, id, state, RunState::StopPending).await?;
                }
            }
            RunState::StopPending => {
                rows::mark_missing(&mut tx, id).await?;
                transition(&mut tx, id, RunState::StopPending, RunState::DataCollected).await?;
            }
            RunState::DataCollected => {
                let delivered = rows::count_members(&mut tx, id, &[RunAgentStatus::Delivered]).await?;
                let next = if delivered == 0 { RunState::Failed } else { RunState::EvalPending };
                transition(&mut tx, id, RunState::DataCollected, next).await?;
            }
            RunState::EvalPending | RunState::Evaluating => end_evaluation(&mut tx, id, state).await?,
            // A run is created and started in one transaction, so this is
            // a run of an older server; it cannot be resumed.
            RunState::Created => {
                transition(&mut tx, id, RunState::Created, RunState::Error).await?;
            }
            _ => {}
        }
        tx.commit().await?;
        crash_point("run.tick");
    }
    Ok(())
}

/// Ends a run whose evaluation jobs are all finished: COMPLETED, with
/// errors when an agent was left out or its evaluation failed, ERROR when
/// none succeeded.
async fn end_evaluation(tx: &mut Tx, id: &str, state: RunState) -> store::Result<()> {
    if jobs::count_of_run(tx, id, OPEN_JOBS).await? > 0 {
        return Ok(());
    }
    let failed = jobs::count_of_run(tx, id, &[JobState::Failed]).await?;
    let missing = rows::count_members(tx, id, &[RunAgentStatus::Missing, RunAgentStatus::Revoked]).await?;
    let done = jobs::count_of_run(tx, id, &[JobState::Done]).await?;
    let end = if done == 0 {
        RunState::Error
    } else if failed + missing > 0 {
        RunState::CompletedWithErrors
    } else {
        RunState::Completed
    };
    transition(tx, id, state, end).await?;
    Ok(())
}

/// A run's agents that have not delivered.
const WAITING: &[RunAgentStatus] = &[RunAgentStatus::Pending, RunAgentStatus::Collecting];
/// A run's evaluation jobs not finished.
const OPEN_JOBS: &[JobState] = &[JobState::Pending, JobState::Leased];
