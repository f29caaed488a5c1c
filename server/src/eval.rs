//! Evaluation on the server. Two queues in the database: a job per (run,
//! agent) and a re-evaluation per agent (its latest telemetry, after a
//! feed import or new rules packages). Any replica leases from them (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`); a job a worker died holding
//! is taken over when its lease ends, up to [`MAX_ATTEMPTS`] times. What a
//! job writes (its findings, its host report, the fleet's open and
//! resolved findings) and its completion are one transaction, and findings
//! are unique per run, agent and fingerprint, so a retried job never
//! duplicates one.

use crate::db::{self, Backend, Tx};
use crate::runs;
use crate::App;
use assay_model::bundle::Bundle;
use assay_model::telemetry::SkippedSection;
use assay_runtime::feed::Feed;
use assay_runtime::findings::{Finding, Outcome, Report};
use assay_runtime::value::Host;
use assay_runtime::vm::{Options, Program};
use serde_json::json;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const MAX_ATTEMPTS: i64 = 3;

const LEASE_RUN_POSTGRES: &str =
    "UPDATE jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE (run_id, agent_id) IN (SELECT j.run_id, j.agent_id FROM jobs j JOIN runs r ON r.id = j.run_id \
      WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < $2)) AND j.attempts < $3 \
      AND r.state IN ('START_EVALUATING_RULES_PENDING', 'EVALUATING_RULES') \
      LIMIT 1 FOR UPDATE OF j SKIP LOCKED) \
    RETURNING run_id, agent_id, attempts";
const LEASE_RUN_SQLITE: &str = "UPDATE jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE (run_id, agent_id) IN (SELECT j.run_id, j.agent_id FROM jobs j JOIN runs r ON r.id = j.run_id \
      WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < $2)) AND j.attempts < $3 \
      AND r.state IN ('START_EVALUATING_RULES_PENDING', 'EVALUATING_RULES') \
      LIMIT 1) \
    RETURNING run_id, agent_id, attempts";
const LEASE_REEVAL_POSTGRES: &str =
    "UPDATE reeval_jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE agent_id IN (SELECT agent_id FROM reeval_jobs \
      WHERE (state = 'pending' OR (state = 'leased' AND lease_until < $2)) AND attempts < $3 \
      LIMIT 1 FOR UPDATE SKIP LOCKED) \
    RETURNING agent_id, cause, attempts";
const LEASE_REEVAL_SQLITE: &str =
    "UPDATE reeval_jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE agent_id IN (SELECT agent_id FROM reeval_jobs \
      WHERE (state = 'pending' OR (state = 'leased' AND lease_until < $2)) AND attempts < $3 LIMIT 1) \
    RETURNING agent_id, cause, attempts";

/// Queues the re-evaluation of every agent's latest telemetry.
pub async fn queue_reevaluation(tx: &mut Tx, cause: &str) -> Result<u64, sqlx::Error> {
    // `WHERE true` lets SQLite tell the upsert's ON CONFLICT from a join.
    let n = sqlx::query(
        "INSERT INTO reeval_jobs (agent_id, cause, state, attempts, lease_until) \
         SELECT DISTINCT agent_id, $1, 'pending', 0, 0 FROM telemetry WHERE true \
         ON CONFLICT (agent_id) DO UPDATE SET cause = EXCLUDED.cause, state = 'pending', attempts = 0, lease_until = 0, error = NULL",
    )
    .bind(cause)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n)
}

/// Deletes telemetry past retention (rows, then their blobs), then the
/// keys of finished runs with no telemetry left (whatever of theirs might
/// remain is unreadable), the chunks of uploads that runs no longer wait
/// for, and blobs of days past retention that no row names (a crash
/// between a blob's write and its row's commit leaves one).
pub async fn retention(app: &App) -> Result<(), sqlx::Error> {
    let db = &app.db;
    let cutoff = db::now() - app.config.retention_ms;
    let mut tx = db.write().await?;
    let expired = sqlx::query("SELECT blob FROM telemetry WHERE received_at < $1 AND blob IS NOT NULL")
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM telemetry WHERE received_at < $1").bind(cutoff).execute(&mut *tx).await?;
    sqlx::query(
        "DELETE FROM telemetry_chunks WHERE run_id IN (SELECT id FROM runs WHERE finished_at IS NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM run_keys WHERE run_id IN (SELECT id FROM runs WHERE finished_at IS NOT NULL) \
         AND run_id NOT IN (SELECT run_id FROM telemetry)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // Best effort: what is left now is deleted by a later sweep.
    for row in &expired {
        let _ = app.blobs.delete(&db::text(row, "blob")).await;
    }
    let _ = app.blobs.sweep_days_before(cutoff).await;
    Ok(())
}

/// Fails the jobs of both queues whose last attempt ran out, with the
/// reason (the lease queries no longer pick them). Called from the
/// background tick, not from every worker poll.
pub async fn expire(db: &crate::db::Db) -> Result<(), sqlx::Error> {
    let now = db::now();
    for sql in [
        "UPDATE jobs SET state = 'failed', error = COALESCE(error, 'the evaluation did not finish') \
         WHERE state = 'leased' AND lease_until < $1 AND attempts >= $2",
        "UPDATE reeval_jobs SET state = 'failed', error = COALESCE(error, 'the evaluation did not finish') \
         WHERE state = 'leased' AND lease_until < $1 AND attempts >= $2",
    ] {
        db.execute(sqlx::query(sql).bind(now).bind(MAX_ATTEMPTS)).await?;
    }
    Ok(())
}

/// Leases one job of either queue and does it; `Ok(false)` when both are
/// empty.
pub async fn work_one(app: &App) -> Result<bool, sqlx::Error> {
    if run_job(app).await? {
        return Ok(true);
    }
    reeval_job(app).await
}

/// Leases one job with the backend's statement (pending, or leased by a
/// worker whose lease ended; fewer than MAX_ATTEMPTS): the open
/// transaction and the job's row, or `None` when there is none.
async fn lease(
    app: &App,
    postgres: &'static str,
    sqlite: &'static str,
) -> Result<Option<(db::Tx, sqlx::any::AnyRow)>, sqlx::Error> {
    let now = db::now();
    let mut tx = app.db.write().await?;
    let sql = match app.db.backend {
        Backend::Postgres => postgres,
        Backend::Sqlite => sqlite,
    };
    let leased = sqlx::query(sql)
        .bind(now + app.config.job_lease_ms)
        .bind(now)
        .bind(MAX_ATTEMPTS)
        .fetch_optional(&mut *tx)
        .await?;
    match leased {
        Some(job) => Ok(Some((tx, job))),
        None => {
            tx.rollback().await?;
            Ok(None)
        }
    }
}

async fn run_job(app: &App) -> Result<bool, sqlx::Error> {
    let db = &app.db;
    let Some((mut tx, job)) = lease(app, LEASE_RUN_POSTGRES, LEASE_RUN_SQLITE).await? else {
        return Ok(false);
    };
    let (run, agent) = (db::text(&job, "run_id"), db::text(&job, "agent_id"));
    runs::transition(&mut tx, &run, runs::EVAL_PENDING, runs::EVALUATING).await?;
    tx.commit().await?;
    crate::crash_point("eval.job.leased");

    let context = sqlx::query(
        "SELECT t.run_id, t.agent_id, t.sealed, t.body, t.blob, tp.packages, tp.attributes FROM telemetry t \
         JOIN runs r ON r.id = t.run_id JOIN templates tp ON tp.name = r.template AND tp.version = r.template_version \
         WHERE t.run_id = $1 AND t.agent_id = $2",
    )
    .bind(&run)
    .bind(&agent)
    .fetch_optional(&db.pool)
    .await?;
    let result = match context {
        None => Err("the run has no telemetry from this agent".to_owned()),
        Some(row) => evaluate_with(app, &row, &[]).await?,
    };
    let mut tx = db.write().await?;
    match result {
        Ok(report) => {
            let upsert = match db.backend {
                Backend::Postgres => {
                    "INSERT INTO host_reports (run_id, agent_id, body) VALUES ($1, $2, $3) \
                    ON CONFLICT (run_id, agent_id) DO UPDATE SET body = EXCLUDED.body"
                }
                Backend::Sqlite => {
                    "INSERT OR REPLACE INTO host_reports (run_id, agent_id, body) VALUES ($1, $2, $3)"
                }
            };
            let addresses = addresses(&mut tx, &agent).await?;
            let mut host = serde_json::to_value(&report).unwrap_or_default();
            host["asset"]["addresses"] = addresses.clone();
            sqlx::query(upsert).bind(&run).bind(&agent).bind(host.to_string()).execute(&mut *tx).await?;
            for batch in report.findings.chunks(db::BATCH) {
                let sql = format!(
                    "INSERT INTO findings (run_id, agent_id, rule_id, package, severity, fingerprint, body, created_at) \
                     VALUES {} ON CONFLICT DO NOTHING",
                    db::values(batch.len(), 8)
                );
                let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
                for f in batch {
                    let mut body = serde_json::to_value(f).unwrap_or_default();
                    body["agent_id"] = json!(agent);
                    body["run_id"] = json!(run);
                    body["asset"]["addresses"] = addresses.clone();
                    insert = insert
                        .bind(run.clone())
                        .bind(agent.clone())
                        .bind(f.rule_id.clone())
                        .bind(f.package.clone())
                        .bind(f.severity.as_str())
                        .bind(f.fingerprint.clone())
                        .bind(body.to_string())
                        .bind(db::now());
                }
                insert.execute(&mut *tx).await?;
            }
            reconcile(&mut tx, &agent, &report, &format!("run {run}")).await?;
            let detail =
                json!({ "agent": agent, "hostname": report.asset.hostname, "summary": report.summary });
            crate::notify::enqueue(&mut tx, &run, "FINDING_REPORTED", detail).await?;
            sqlx::query("UPDATE jobs SET state = 'done', error = NULL WHERE run_id = $1 AND agent_id = $2")
                .bind(&run)
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
        }
        Err(message) => {
            let state = if db::int(&job, "attempts") >= MAX_ATTEMPTS { "failed" } else { "pending" };
            sqlx::query("UPDATE jobs SET state = $1, error = $2 WHERE run_id = $3 AND agent_id = $4")
                .bind(state)
                .bind(message)
                .bind(&run)
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
        }
    }
    crate::crash_point("eval.job.written");
    tx.commit().await?;
    crate::crash_point("eval.job.done");
    Ok(true)
}

async fn reeval_job(app: &App) -> Result<bool, sqlx::Error> {
    let db = &app.db;
    let Some((tx, job)) = lease(app, LEASE_REEVAL_POSTGRES, LEASE_REEVAL_SQLITE).await? else {
        return Ok(false);
    };
    tx.commit().await?;
    let (agent, cause) = (db::text(&job, "agent_id"), db::text(&job, "cause"));
    // The agent's latest telemetry, with the packages of the run it came from.
    let context = sqlx::query(
        "SELECT t.run_id, t.agent_id, t.sealed, t.body, t.blob, tp.packages, tp.attributes FROM telemetry t \
         JOIN runs r ON r.id = t.run_id JOIN templates tp ON tp.name = r.template AND tp.version = r.template_version \
         WHERE t.agent_id = $1 ORDER BY t.received_at DESC LIMIT 1",
    )
    .bind(&agent)
    .fetch_optional(&db.pool)
    .await?;
    // Every package the agent has fleet findings of is evaluated too, so a
    // finding found by another template's run is kept current.
    let others = sqlx::query("SELECT DISTINCT package FROM fleet_findings WHERE agent_id = $1")
        .bind(&agent)
        .fetch_all(&db.pool)
        .await?;
    let extra: Vec<String> = others.iter().map(|r| db::text(r, "package")).collect();
    let result = match context {
        None => Err("the agent has no telemetry".to_owned()),
        Some(row) => evaluate_with(app, &row, &extra).await?,
    };
    let mut tx = db.write().await?;
    match result {
        Ok(report) => {
            reconcile(&mut tx, &agent, &report, &cause).await?;
            sqlx::query("UPDATE reeval_jobs SET state = 'done', error = NULL WHERE agent_id = $1 AND state = 'leased'")
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
        }
        Err(message) => {
            let state = if db::int(&job, "attempts") >= MAX_ATTEMPTS { "failed" } else { "pending" };
            sqlx::query(
                "UPDATE reeval_jobs SET state = $1, error = $2 WHERE agent_id = $3 AND state = 'leased'",
            )
            .bind(state)
            .bind(message)
            .bind(&agent)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// The IP addresses the agent last reported: an asset attribute of its
/// findings, as of their evaluation.
async fn addresses(tx: &mut Tx, agent: &str) -> Result<serde_json::Value, sqlx::Error> {
    let row = sqlx::query("SELECT addresses FROM agents WHERE id = $1")
        .bind(agent)
        .fetch_optional(&mut **tx)
        .await?;
    let text = row.map(|r| db::text(&r, "addresses")).unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or_else(|_| json!([])))
}

/// Evaluates a `(body, packages, attributes)` row off the async threads,
/// with `extra` packages besides the row's.
async fn evaluate_with(
    app: &App,
    row: &sqlx::any::AnyRow,
    extra: &[String],
) -> Result<Result<Report, String>, sqlx::Error> {
    let body = match crate::agent::opened(app, row).await? {
        Ok(body) => body,
        Err(e) => return Ok(Err(e)),
    };
    let mut packages: Vec<String> = serde_json::from_str(&db::text(row, "packages")).unwrap_or_default();
    for p in extra {
        if !packages.contains(p) {
            packages.push(p.clone());
        }
    }
    let attributes: Vec<(String, String)> =
        serde_json::from_str::<BTreeMap<String, String>>(&db::text(row, "attributes"))
            .unwrap_or_default()
            .into_iter()
            .collect();
    let feed = latest_feed(app).await?;
    let waivers = latest_waivers(app).await?;
    let bundle = app.bundle;
    Ok(app
        .cpu
        .run(move || {
            let mut report = evaluate(bundle, &body, &packages, attributes, feed.as_deref())?;
            // The fleet's waivers: accepted findings are marked (and counted
            // apart), an expired waiver raises a finding of its own.
            assay_runtime::waivers::apply(
                &waivers,
                std::slice::from_mut(&mut report),
                assay_runtime::waivers::today(),
            );
            report.summary = assay_runtime::findings::Summary::of(&report.findings, &report.rules);
            Ok(report)
        })
        .await
        .unwrap_or_else(|e| Err(format!("the evaluation failed: {e}"))))
}

/// The latest uploaded waivers (validated on upload).
async fn latest_waivers(app: &App) -> Result<Vec<assay_runtime::waivers::Waiver>, sqlx::Error> {
    let row = sqlx::query("SELECT body FROM waiver_sets ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&app.db.pool)
        .await?;
    Ok(row
        .and_then(|r| assay_runtime::waivers::parse(&db::text(&r, "body"), "the server's waivers").ok())
        .unwrap_or_default())
}

/// A feed indexed for matching, shared by this process's evaluations.
pub(crate) type FeedIndex = assay_runtime::feed::Index<Arc<Feed>>;

/// The latest uploaded feed, parsed and indexed once per process and
/// version.
async fn latest_feed(app: &App) -> Result<Option<Arc<FeedIndex>>, sqlx::Error> {
    let Some(row) =
        sqlx::query("SELECT seq FROM feeds ORDER BY seq DESC LIMIT 1").fetch_optional(&app.db.pool).await?
    else {
        return Ok(None);
    };
    let seq = db::int(&row, "seq");
    if let Ok(cache) = app.feed.lock() {
        if let Some((cached, feed)) = cache.as_ref() {
            if *cached == seq {
                return Ok(Some(feed.clone()));
            }
        }
    }
    let row = sqlx::query("SELECT body FROM feeds WHERE seq = $1").bind(seq).fetch_one(&app.db.pool).await?;
    let body: Vec<u8> = row.try_get("body").unwrap_or_default();
    // Feeds are validated on upload; one that no longer parses is treated
    // as absent (the CVE rules are then skipped, never passed).
    let Ok(feed) = Feed::from_bytes(&body) else { return Ok(None) };
    let feed = Arc::new(assay_runtime::feed::Index::new(Arc::new(feed)));
    if let Ok(mut cache) = app.feed.lock() {
        *cache = Some((seq, feed.clone()));
    }
    Ok(Some(feed))
}

/// Brings the fleet's findings of `agent` in line with a new evaluation:
/// a finding seen again stays open (or reopens), a new one opens, and an
/// open one whose rule now passes or does not apply is resolved. A rule
/// that was skipped or failed to evaluate changes nothing.
async fn reconcile(tx: &mut Tx, agent: &str, report: &Report, cause: &str) -> Result<(), sqlx::Error> {
    let now = db::now();
    let decided: BTreeSet<&str> = report
        .rules
        .iter()
        .filter(|r| {
            matches!(r.outcome, Outcome::Passed | Outcome::NotApplicable { .. } | Outcome::Failed { .. })
        })
        .map(|r| r.rule_id.as_str())
        .collect();
    let existing = sqlx::query("SELECT fingerprint, rule_id, state FROM fleet_findings WHERE agent_id = $1")
        .bind(agent)
        .fetch_all(&mut **tx)
        .await?;
    let states: BTreeMap<String, (String, String)> = existing
        .iter()
        .map(|r| (db::text(r, "fingerprint"), (db::text(r, "rule_id"), db::text(r, "state"))))
        .collect();
    // Each fingerprint once: one upsert may not touch a row twice.
    let mut unique = BTreeSet::new();
    let current: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !f.rule_id.ends_with(":no-findings") && unique.insert(f.fingerprint.as_str()))
        .collect();
    let seen: BTreeSet<&str> = current.iter().map(|f| f.fingerprint.as_str()).collect();
    let mut events: Vec<(&str, &str)> = Vec::new();
    // New and seen-again findings in one upsert per batch: first_seen is
    // kept for the ones there already, a resolved one reopens.
    let addresses = addresses(tx, agent).await?;
    for batch in current.chunks(db::BATCH) {
        let sql = format!(
            "INSERT INTO fleet_findings (agent_id, fingerprint, rule_id, package, severity, state, first_seen, last_seen, body) \
             VALUES {} ON CONFLICT (agent_id, fingerprint) DO UPDATE SET state = EXCLUDED.state, resolved_at = NULL, \
             last_seen = EXCLUDED.last_seen, body = EXCLUDED.body, severity = EXCLUDED.severity",
            db::values(batch.len(), 9)
        );
        let mut upsert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in batch {
            let mut body = serde_json::to_value(f).unwrap_or_default();
            body["agent_id"] = json!(agent);
            body["asset"]["addresses"] = addresses.clone();
            let state = if f.waived.is_some() { "waived" } else { "open" };
            let event = match states.get(&f.fingerprint).map(|(_, s)| s.as_str()) {
                None => Some(if state == "waived" { "waived" } else { "opened" }),
                Some(before) => match (before, state) {
                    ("resolved", "open") => Some("reopened"),
                    (b, "waived") if b != "waived" => Some("waived"),
                    ("waived", "open") => Some("unwaived"),
                    _ => None,
                },
            };
            if let Some(event) = event {
                events.push((f.fingerprint.as_str(), event));
            }
            upsert = upsert
                .bind(agent.to_owned())
                .bind(f.fingerprint.clone())
                .bind(f.rule_id.clone())
                .bind(f.package.clone())
                .bind(f.severity.as_str())
                .bind(state)
                .bind(now)
                .bind(now)
                .bind(body.to_string());
        }
        upsert.execute(&mut **tx).await?;
    }
    let resolved: Vec<&str> = states
        .iter()
        .filter(|(fingerprint, (rule, state))| {
            (state == "open" || state == "waived")
                && !seen.contains(fingerprint.as_str())
                && decided.contains(rule.as_str())
        })
        .map(|(fingerprint, _)| fingerprint.as_str())
        .collect();
    for batch in resolved.chunks(db::BATCH) {
        let list: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "UPDATE fleet_findings SET state = 'resolved', resolved_at = $1 WHERE agent_id = $2 AND fingerprint IN ({})",
            list.join(", ")
        );
        let mut update = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(agent.to_owned());
        for fingerprint in batch {
            update = update.bind(fingerprint.to_string());
        }
        update.execute(&mut **tx).await?;
        events.extend(batch.iter().map(|f| (*f, "resolved")));
    }
    for batch in events.chunks(db::BATCH) {
        let sql = format!(
            "INSERT INTO finding_events (agent_id, fingerprint, event, cause, at) VALUES {}",
            db::values(batch.len(), 5)
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (fingerprint, event) in batch {
            insert = insert
                .bind(agent.to_owned())
                .bind(fingerprint.to_string())
                .bind(event.to_string())
                .bind(cause.to_owned())
                .bind(now);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The report of `packages` for one host's telemetry, matched against the
/// feed (without one the CVE rules are skipped, never passed), plus
/// Inspector's informational "no potential security issues found" for
/// each package that found nothing. A rule that fails to evaluate is an
/// error of that rule only; the others' findings are kept.
fn evaluate(
    bundle: &Bundle,
    telemetry: &[u8],
    packages: &[String],
    attributes: Vec<(String, String)>,
    feed: Option<&FeedIndex>,
) -> Result<Report, String> {
    let mut telemetry = assay_model::telemetry::from_json(telemetry)
        .map_err(|e| format!("the telemetry does not validate: {e}"))?;
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
    let host = Host::new(telemetry).map_err(|e| format!("the telemetry does not validate: {e}"))?;
    let options = Options { attributes, ..Options::default() };
    let mut report = Program::new(bundle).evaluate(&host, &options);
    report.findings.retain(|f| packages.contains(&f.package));
    report.rules.retain(|r| packages.contains(&r.package));
    for p in bundle.content.packages.iter().filter(|p| packages.contains(&p.name)) {
        let evaluated =
            report.rules.iter().any(|r| r.package == p.name && !matches!(r.outcome, Outcome::Skipped { .. }));
        if evaluated && !report.findings.iter().any(|f| f.package == p.name) {
            let rule_id = format!("{}:no-findings", p.name);
            let fingerprint = assay_runtime::findings::fingerprint(&rule_id, &report.asset.id, "");
            report.findings.push(Finding {
                rule_id,
                package: p.name.clone(),
                package_version: p.version.clone(),
                title: "No potential security issues found".to_owned(),
                severity: assay_model::Severity::Informational,
                severity_score: 0.0,
                description: format!("No rule of {} found a potential security issue on this host.", p.name),
                recommendation: "No action is required.".to_owned(),
                message: format!("{}: no potential security issues found", p.name),
                asset: report.asset.clone(),
                attributes: options
                    .attributes
                    .iter()
                    .map(|(k, v)| assay_runtime::findings::KeyValue { key: k.clone(), value: v.clone() })
                    .collect(),
                evidence: Vec::new(),
                fingerprint,
                bundle_digest: report.bundle_digest.clone(),
                waived: None,
            });
        }
    }
    report.summary = assay_runtime::findings::Summary::of(&report.findings, &report.rules);
    Ok(report)
}
