//! Evaluation on the server. Two queues in the database: a job per (run,
//! agent) and a re-evaluation per agent (its latest telemetry, after a
//! feed import, new waivers or new rules packages). Any replica leases
//! from them (on PostgreSQL with `FOR UPDATE SKIP LOCKED`); a job a worker
//! died holding is taken over when its lease ends, up to [`MAX_ATTEMPTS`]
//! times. What a job writes (its findings, its host report, the fleet's
//! open and resolved findings) and its completion are one transaction,
//! and findings are unique per run, agent and fingerprint, so a retried
//! job never duplicates one.

use super::{agents, findings, inventory, notify, packages, runs, uploads, App, Error, Result};
use crate::faults::crash_point;
use crate::ids::now;
use crate::store::{self, jobs, telemetry, Conn};
use assay_api::webhook::NoticeDetail;
use assay_api::{Event, JobState, RunState};
use assay_model::bundle::Bundle;
use assay_model::findings::{AssetRef, Finding, KeyValue, Outcome, Report, Summary};
use assay_model::telemetry::{Asset, SkippedSection, Telemetry};
use assay_runtime::feed::Feed;
use assay_runtime::value::Host;
use assay_runtime::vex::Statement;
use assay_runtime::vm::{Options, Program};
use std::sync::Arc;

pub(crate) const MAX_ATTEMPTS: i64 = 3;

/// A feed indexed for matching, shared by this process's evaluations.
pub(crate) type FeedIndex = assay_runtime::feed::Index<Arc<Feed>>;

/// Leases one job of either queue and does it; `Ok(false)` when both are
/// empty.
pub(crate) async fn work_one(app: &App) -> Result<bool> {
    if run_job(app).await? {
        return Ok(true);
    }
    reevaluation(app).await
}

/// Fails the jobs of both queues whose last attempt ran out (the lease
/// queries no longer pick them). Called from the background tick, not
/// from every worker poll.
pub(crate) async fn expire(app: &App) -> Result<()> {
    let mut tx = app.store.write().await?;
    jobs::expire(&mut tx, now(), MAX_ATTEMPTS).await?;
    tx.commit().await?;
    Ok(())
}

/// Queues the re-evaluation of every agent's latest telemetry; how many.
pub(crate) async fn queue_reevaluation(c: &mut Conn, cause: &str) -> store::Result<u64> {
    jobs::queue_reevaluation(c, cause).await
}

async fn run_job(app: &App) -> Result<bool> {
    let at = now();
    let mut tx = app.store.write().await?;
    let Some(job) =
        jobs::lease_run_job(&mut tx, app.store.backend(), at + app.config.job_lease_ms, at, MAX_ATTEMPTS)
            .await?
    else {
        return Ok(false);
    };
    let (run, agent) = (job.run_id.as_str(), job.agent_id.as_str());
    runs::transition(&mut tx, run, RunState::EvalPending, RunState::Evaluating).await?;
    tx.commit().await?;
    if job.attempts > 1 {
        // A lease that ended unfinished: its worker died or failed.
        tracing::warn!(run, agent, attempt = job.attempts, "evaluation job taken over");
    }
    crash_point("eval.job.leased");

    let delivered = {
        let mut c = app.store.read().await?;
        telemetry::of_run(&mut c, run, agent).await?
    };
    let evaluated = match &delivered {
        None => Evaluated::failed("the run has no telemetry from this agent".to_owned()),
        Some(d) => evaluate_delivered(app, d, &[], Versions::OfRun).await?,
    };
    let mut tx = app.store.write().await?;
    if let (Some(d), Some(taken)) = (&delivered, &evaluated.inventory) {
        inventory::record(&mut tx, agent, run, d.received_at, taken).await?;
    }
    match evaluated.report {
        Ok(report) => {
            store::findings::set_host_report(&mut tx, run, agent, &report).await?;
            let asset = store::findings::put_asset(&mut tx, &report.asset).await?;
            store::findings::insert(&mut tx, run, agent, &report.findings, &asset, now()).await?;
            findings::reconcile(&mut tx, agent, &report, &asset, &format!("run {run}")).await?;
            let detail = NoticeDetail::Host {
                agent: agent.to_owned(),
                hostname: report.asset.hostname.clone(),
                summary: report.summary.clone(),
            };
            notify::enqueue(&mut tx, run, Event::FindingReported, &detail).await?;
            jobs::set_run_job(&mut tx, run, agent, JobState::Done, None).await?;
        }
        Err(message) => {
            let state = if job.attempts >= MAX_ATTEMPTS { JobState::Failed } else { JobState::Pending };
            tracing::warn!(run, agent, attempt = job.attempts, error = %message, "evaluation failed");
            jobs::set_run_job(&mut tx, run, agent, state, Some(&message)).await?;
        }
    }
    crash_point("eval.job.written");
    tx.commit().await?;
    crash_point("eval.job.done");
    Ok(true)
}

async fn reevaluation(app: &App) -> Result<bool> {
    let at = now();
    let mut tx = app.store.write().await?;
    let Some(job) = jobs::lease_reevaluation(
        &mut tx,
        app.store.backend(),
        at + app.config.job_lease_ms,
        at,
        MAX_ATTEMPTS,
    )
    .await?
    else {
        return Ok(false);
    };
    tx.commit().await?;
    let agent = job.agent_id.as_str();
    let (delivered, extra) = {
        let mut c = app.store.read().await?;
        // The agent's latest telemetry, with the packages of the run it
        // came from, and every package it has fleet findings of, so a
        // finding found by another template's run is kept current.
        (telemetry::latest(&mut c, agent).await?, store::findings::packages_of(&mut c, agent).await?)
    };
    let evaluated = match &delivered {
        None => Evaluated::failed("the agent has no telemetry".to_owned()),
        Some(d) => evaluate_delivered(app, d, &extra, Versions::Newest).await?,
    };
    let mut tx = app.store.write().await?;
    if let (Some(d), Some(taken)) = (&delivered, &evaluated.inventory) {
        inventory::record(&mut tx, agent, &d.run_id, d.received_at, taken).await?;
    }
    match evaluated.report {
        Ok(report) => {
            let asset = store::findings::put_asset(&mut tx, &report.asset).await?;
            findings::reconcile(&mut tx, agent, &report, &asset, &job.cause).await?;
            jobs::set_reevaluation(&mut tx, agent, JobState::Done, None).await?;
        }
        Err(message) => {
            let state = if job.attempts >= MAX_ATTEMPTS { JobState::Failed } else { JobState::Pending };
            jobs::set_reevaluation(&mut tx, agent, state, Some(&message)).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Which versions of its packages a document is evaluated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Versions {
    /// Those its run resolved when it started (the run's own evaluation).
    OfRun,
    /// The newest its template's requirements match now (re-evaluation:
    /// a new version that templates follow reaches the fleet's findings).
    Newest,
}

/// What [`evaluate_delivered`] made of a document: its report (or why
/// there is none) and, when the document could be read, its inventory.
struct Evaluated {
    report: std::result::Result<Report, String>,
    inventory: Option<inventory::Taken>,
}

impl Evaluated {
    fn failed(why: String) -> Evaluated {
        Evaluated { report: Err(why), inventory: None }
    }
}

/// A document that cannot be evaluated now (its packages cannot be
/// selected, the feed, waivers or VEX no longer parse) still says what the
/// host runs: its inventory is recorded with the failure.
async fn failed_after_reading(app: &App, body: uploads::Fetched, why: String) -> Evaluated {
    let inventory = app
        .cpu
        .run(move || body.open().ok().and_then(|b| parse(&b).ok()).map(|t| inventory::take(&t)))
        .await
        .ok()
        .flatten();
    Evaluated { report: Err(why), inventory }
}

/// Evaluates a delivered document off the async threads with its run's
/// packages and `extra` ones, the latest feed and waivers; the host is
/// named as the server knows it (its tags from enrolment, its addresses
/// from its heartbeats). `Ok(Err)`: the evaluation failed, with why.
async fn evaluate_delivered(
    app: &App,
    delivered: &telemetry::Delivered,
    extra: &[String],
    versions: Versions,
) -> Result<Evaluated> {
    let body = match uploads::fetch(app, delivered).await? {
        Ok(body) => body,
        Err(e) => return Ok(Evaluated::failed(e)),
    };
    let mut packages = match versions {
        Versions::OfRun => delivered.packages.0.clone(),
        Versions::Newest => {
            let mut c = app.store.read().await?;
            let mut newest = Vec::new();
            for requirement in &delivered.requirements.0 {
                match packages::resolve(&mut c, requirement, false).await {
                    Ok(exact) => newest.push(exact),
                    // Nothing matches any more (every version yanked):
                    // the versions the run evaluated.
                    Err(Error::Invalid(_)) => {
                        let name = packages::name_of(requirement);
                        newest.extend(
                            delivered.packages.0.iter().filter(|p| packages::name_of(p) == name).cloned(),
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            newest
        }
    };
    let listed = |packages: &[String], name: &str| packages.iter().any(|p| packages::name_of(p) == name);
    let selection = {
        let mut c = app.store.read().await?;
        for name in extra {
            if listed(&packages, name) {
                continue;
            }
            // A package the host has fleet findings of from another run:
            // its newest version (a built-in one by name, as before the
            // registry); one no longer published is left out.
            match packages::resolve(&mut c, name, false).await {
                Ok(exact) => packages.push(exact),
                Err(Error::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
        }
        match packages::select(app, &mut c, &packages).await {
            Ok(selection) => selection,
            Err(Error::Invalid(why)) => return Ok(failed_after_reading(app, body, why).await),
            Err(e) => return Err(e),
        }
    };
    let attributes: Vec<(String, String)> = delivered.attributes.0.clone().into_iter().collect();
    let params: Vec<(String, serde_json::Value)> = delivered.params.0.clone().into_iter().collect();
    let feed = match latest_feed(app).await? {
        Ok(feed) => feed,
        Err(e) => return Ok(failed_after_reading(app, body, e).await),
    };
    let waivers = match latest_waivers(app).await? {
        Ok(waivers) => waivers,
        Err(e) => return Ok(failed_after_reading(app, body, e).await),
    };
    let vex = match latest_vex(app).await? {
        Ok(vex) => vex,
        Err(e) => return Ok(failed_after_reading(app, body, e).await),
    };
    let identity = agents::enrolled_as(app, &delivered.agent_id).await?;
    let evaluated = app
        .cpu
        .run(move || {
            let telemetry = match body.open().and_then(|b| parse(&b)) {
                Ok(t) => t,
                Err(why) => return Evaluated::failed(why),
            };
            let inventory = Some(inventory::take(&telemetry));
            let report =
                evaluate(&selection, telemetry, attributes, &params, feed.as_deref(), &vex, &identity);
            Evaluated { report: report.map(|r| waived(r, &waivers)), inventory }
        })
        .await;
    Ok(evaluated.unwrap_or_else(|e| Evaluated::failed(format!("the evaluation failed: {e}"))))
}

/// `report` with the fleet's waivers applied.
fn waived(mut report: Report, waivers: &[assay_runtime::waivers::Waiver]) -> Report {
    // The fleet's waivers, matched on the enrolled identity: accepted
    // findings are marked (and counted apart), an expired waiver raises a
    // finding of its own.
    assay_runtime::waivers::apply(
        waivers,
        std::slice::from_mut(&mut report),
        assay_runtime::waivers::today(),
    );
    report.summary = Summary::of(&report.findings, &report.rules);
    report
}

/// One agent's latest telemetry evaluated with `old` and with `new`, as
/// its run's evaluation would (enrolled identity, the feed), writing
/// nothing: `(hostname, old report, new report)`, or why it could not be.
pub(crate) async fn preview_host(
    app: &App,
    agent_id: &str,
    old: packages::Selection,
    new: packages::Selection,
) -> Result<std::result::Result<(String, Report, Report), String>> {
    let delivered = {
        let mut c = app.store.read().await?;
        telemetry::latest(&mut c, agent_id).await?
    };
    let Some(delivered) = delivered else { return Ok(Err("no telemetry".into())) };
    let body = match uploads::fetch(app, &delivered).await? {
        Ok(body) => body,
        Err(e) => return Ok(Err(e)),
    };
    let attributes: Vec<(String, String)> = delivered.attributes.0.clone().into_iter().collect();
    let params: Vec<(String, serde_json::Value)> = delivered.params.0.clone().into_iter().collect();
    let feed = match latest_feed(app).await? {
        Ok(feed) => feed,
        Err(e) => return Ok(Err(e)),
    };
    let vex = match latest_vex(app).await? {
        Ok(vex) => vex,
        Err(e) => return Ok(Err(e)),
    };
    let identity = agents::enrolled_as(app, agent_id).await?;
    let evaluated = app
        .cpu
        .run(move || {
            let telemetry = parse(&body.open()?)?;
            let before = if old.is_empty() {
                Report {
                    bundle_digest: String::new(),
                    asset: identity.clone(),
                    findings: Vec::new(),
                    rules: Vec::new(),
                    summary: Summary::default(),
                    params: Vec::new(),
                }
            } else {
                evaluate(
                    &old,
                    telemetry.clone(),
                    attributes.clone(),
                    &params,
                    feed.as_deref(),
                    &vex,
                    &identity,
                )?
            };
            let after = evaluate(&new, telemetry, attributes, &params, feed.as_deref(), &vex, &identity)?;
            Ok((identity.hostname.clone(), before, after))
        })
        .await;
    Ok(evaluated.unwrap_or_else(|e| Err(format!("the evaluation failed: {e}"))))
}

/// The latest uploaded waivers. They were validated on upload: a file
/// that no longer parses (another version of assay) fails the evaluation
/// with why, rather than applying none.
async fn latest_waivers(
    app: &App,
) -> Result<std::result::Result<Vec<assay_runtime::waivers::Waiver>, String>> {
    let text = {
        let mut c = app.store.read().await?;
        store::feeds::latest_waivers(&mut c).await?
    };
    Ok(match text {
        None => Ok(Vec::new()),
        Some(text) => assay_runtime::waivers::parse(&text, "the server's waivers")
            .map_err(|e| format!("the server's waivers no longer parse: {e}")),
    })
}

/// The fleet's VEX statements (the latest uploaded set), parsed once per
/// process and set. A stored document that no longer parses fails the
/// evaluation with why, rather than suppressing nothing.
async fn latest_vex(app: &App) -> Result<std::result::Result<Arc<Vec<Statement>>, String>> {
    let mut c = app.store.read().await?;
    let Some(digest) = store::feeds::latest_vex_digest(&mut c).await? else { return Ok(Ok(Arc::default())) };
    if let Some((cached, statements)) = app.vex.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if *cached == digest {
            return Ok(Ok(statements.clone()));
        }
    }
    let row = store::feeds::latest_vex(&mut c).await?;
    let row = row.ok_or_else(|| Error::Internal(format!("VEX set {digest} vanished")))?;
    let mut statements = Vec::new();
    for d in &row.documents.0 {
        match assay_runtime::vex::read(d.text.as_bytes(), &d.name) {
            Ok(read) => statements.extend(read),
            Err(e) => return Ok(Err(format!("the server's VEX document {} no longer parses: {e}", d.name))),
        }
    }
    let statements = Arc::new(statements);
    *app.vex.lock().unwrap_or_else(|p| p.into_inner()) = Some((row.digest, statements.clone()));
    Ok(Ok(statements))
}

/// The latest uploaded feed, parsed and indexed once per process and
/// version. A stored feed that no longer parses fails the evaluation with
/// why, never passes the CVE rules.
async fn latest_feed(app: &App) -> Result<std::result::Result<Option<Arc<FeedIndex>>, String>> {
    let mut c = app.store.read().await?;
    let Some(latest) = store::feeds::latest_feed_id(&mut c).await? else { return Ok(Ok(None)) };
    if let Some((seq, feed)) = app.feed.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        if *seq == latest.seq {
            return Ok(Ok(Some(feed.clone())));
        }
    }
    let body = store::feeds::feed_body(&mut c, latest.seq).await?;
    let body = body.ok_or_else(|| Error::Internal(format!("feed {} vanished", latest.digest)))?;
    let feed = match Feed::from_bytes(&body) {
        Ok(feed) => feed,
        Err(e) => return Ok(Err(format!("the server's feed {} no longer parses: {e}", latest.digest))),
    };
    let feed = Arc::new(assay_runtime::feed::Index::new(Arc::new(feed)));
    *app.feed.lock().unwrap_or_else(|p| p.into_inner()) = Some((latest.seq, feed.clone()));
    Ok(Ok(Some(feed)))
}

/// The report of the selected packages (of one or several bundles) for
/// one host's telemetry, matched against the feed (without one the CVE
/// rules are skipped, never passed), plus Inspector's informational "no
/// potential security issues found" for each package that found nothing.
/// A rule that fails to evaluate is an error of that rule only; the
/// others' findings are kept. Each finding carries its own bundle's digest.
/// A delivered document, parsed.
fn parse(body: &[u8]) -> std::result::Result<Telemetry, String> {
    assay_model::telemetry::from_json(body).map_err(|e| format!("the telemetry does not validate: {e}"))
}

fn evaluate(
    selection: &packages::Selection,
    mut telemetry: Telemetry,
    mut attributes: Vec<(String, String)>,
    params: &[(String, serde_json::Value)],
    feed: Option<&FeedIndex>,
    vex: &[Statement],
    identity: &AssetRef,
) -> std::result::Result<Report, String> {
    // The host is the one its agent was enrolled as, whatever the document
    // says: findings (and their fingerprints), reports and waivers use the
    // enrolled identity; a different claim is kept as an attribute.
    if telemetry.asset.hostname != identity.hostname {
        attributes.push(("reported_hostname".to_owned(), telemetry.asset.hostname.clone()));
    }
    telemetry.asset.id.clone_from(&identity.id);
    telemetry.asset.hostname.clone_from(&identity.hostname);
    telemetry.asset.tags = identity
        .tags
        .iter()
        .map(|t| assay_model::telemetry::Tag { key: t.key.clone(), value: t.value.clone() })
        .collect();
    match feed {
        Some(index) => {
            let installed = telemetry.packages.as_deref().unwrap_or(&[]);
            telemetry.vulnerabilities = Some(index.matches(installed, telemetry.asset.os.as_ref()));
            if let Some(c) = telemetry.collection.as_mut() {
                c.skipped_sections.retain(|s| s.section != "vulnerabilities");
            }
        }
        None => {
            if let Some(c) = telemetry.collection.as_mut() {
                c.skipped_sections.push(SkippedSection {
                    section: "vulnerabilities".into(),
                    reason: "no vulnerability feed on the server (`assay fleet feed import --osv PATH`)"
                        .into(),
                });
            }
        }
    }
    // What VEX statements are matched against: the host's OS, packages and
    // vulnerabilities (the VM takes the document).
    let for_vex = (!vex.is_empty()).then(|| Telemetry {
        asset: Asset { os: telemetry.asset.os.clone(), ..Asset::default() },
        packages: telemetry.packages.clone(),
        vulnerabilities: telemetry.vulnerabilities.clone(),
        ..Telemetry::default()
    });
    let host = Host::new(telemetry).map_err(|e| format!("the telemetry does not validate: {e}"))?;
    let options = Options { attributes, ..Options::default() };
    // The template's parameters, checked when it was saved; a package
    // version published since may have dropped one: an error, never a
    // silent default.
    let contents: Vec<_> = selection.iter().map(|(b, _)| &b.content).collect();
    let values = assay_model::bundle::params::resolve_each(&contents, params)
        .map_err(|e| format!("the template's parameters: {e}"))?;
    let mut merged: Option<Report> = None;
    for ((bundle, names), params) in selection.iter().zip(values) {
        let options = Options { params, ..options.clone() };
        let report = evaluate_bundle(bundle, names, &host, &options, identity);
        match merged.as_mut() {
            None => merged = Some(report),
            Some(all) => {
                all.findings.extend(report.findings);
                all.rules.extend(report.rules);
                all.params.extend(report.params);
            }
        }
    }
    let mut report = merged.ok_or_else(|| "the run names no rules package".to_owned())?;
    if let Some(t) = &for_vex {
        assay_runtime::vex::suppress(&mut report, t, vex);
    }
    bound(&mut report)?;
    report.summary = Summary::of(&report.findings, &report.rules);
    Ok(report)
}

/// One bundle's part of [`evaluate`]: its packages named in `packages`.
fn evaluate_bundle(
    bundle: &Bundle,
    packages: &[String],
    host: &Host,
    options: &Options,
    identity: &AssetRef,
) -> Report {
    let mut report = Program::new(bundle).evaluate(host, options);
    report.asset.addresses.clone_from(&identity.addresses);
    for f in &mut report.findings {
        f.asset.addresses.clone_from(&identity.addresses);
    }
    report.findings.retain(|f| packages.contains(&f.package));
    report.rules.retain(|r| packages.contains(&r.package));
    for p in bundle.content.packages.iter().filter(|p| packages.contains(&p.name)) {
        let of_package = report.rules.iter().filter(|r| r.package == p.name);
        let skipped = of_package.clone().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count();
        let evaluated = of_package.count() - skipped;
        if evaluated > 0 && !report.findings.iter().any(|f| f.package == p.name) {
            // "No issues" is only as good as what was evaluated: say how
            // much, and what was skipped (a root has no running kernel).
            let scope = match skipped {
                0 => format!("by the {evaluated} rules evaluated"),
                n => format!(
                    "by the {evaluated} rules evaluated; {n} more were skipped, an input they need not collected"
                ),
            };
            let rule_id = format!("{}:no-findings", p.name);
            let fingerprint = assay_model::findings::fingerprint(&assay_model::findings::Identity {
                package: &p.name,
                rule_id: &rule_id,
                asset_id: &report.asset.id,
                clause: 0,
                items: &[],
            });
            report.findings.push(Finding {
                rule_id,
                package: p.name.clone(),
                package_version: p.version.clone(),
                title: "No potential security issues found".to_owned(),
                severity: assay_model::Severity::Informational,
                severity_score: 0.0,
                description: format!("No rule of {} found a potential security issue on this host.", p.name),
                recommendation: "No action is required.".to_owned(),
                message: format!("{}: no potential security issues found {scope}", p.name),
                asset: report.asset.clone(),
                attributes: options
                    .attributes
                    .iter()
                    .map(|(k, v)| KeyValue { key: k.clone(), value: v.clone() })
                    .collect(),
                evidence: Vec::new(),
                fingerprint,
                bundle_digest: report.bundle_digest.clone(),
                waived: None,
                suppressed: None,
                params: Vec::new(),
            });
        }
    }
    report
}

/// The most findings one host's evaluation may write.
pub(crate) const MAX_FINDINGS: usize = 20_000;
/// The longest message and evidence value a finding keeps, and the most
/// evidence entries.
const MAX_TEXT: usize = 4096;
const MAX_EVIDENCE: usize = 100;

/// Bounds what one host's evaluation writes: messages and evidence values
/// cut (marked with an ellipsis), evidence lists cut, and an evaluation
/// with more findings than [`MAX_FINDINGS`] refused with why (one upload
/// must not fill the database).
fn bound(report: &mut Report) -> std::result::Result<(), String> {
    if report.findings.len() > MAX_FINDINGS {
        return Err(format!(
            "the evaluation found {} findings, more than the {MAX_FINDINGS} one host may have",
            report.findings.len()
        ));
    }
    let cut = |text: &mut String| {
        if text.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
    };
    for f in &mut report.findings {
        cut(&mut f.message);
        f.evidence.truncate(MAX_EVIDENCE);
        for e in &mut f.evidence {
            cut(&mut e.value);
            if let Some(source) = &mut e.source {
                cut(source);
            }
        }
    }
    Ok(())
}

/// Deletes telemetry past retention (rows, then their blobs), then the
/// keys of finished runs with no telemetry left, the chunks of uploads
/// that runs no longer wait for, and blobs of days past retention that no
/// row names (a crash between a blob's write and its row's commit leaves
/// one); and audit entries past the audit log's retention.
pub(crate) async fn retention(app: &App) -> Result<()> {
    let cutoff = now() - app.config.retention_ms;
    let mut tx = app.store.write().await?;
    let expired = telemetry::delete_before(&mut tx, cutoff).await?;
    telemetry::delete_leftovers(&mut tx).await?;
    store::audit::delete_before(&mut tx, now() - app.config.audit_retention_ms).await?;
    tx.commit().await?;
    // Best effort: what is left now is deleted by a later sweep.
    for blob in &expired {
        let _ = app.blobs.delete(blob).await;
    }
    let _ = app.blobs.sweep_days_before(cutoff).await;
    Ok(())
}
