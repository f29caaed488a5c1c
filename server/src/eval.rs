//! Evaluation on the server: a job per (run, agent) in the database,
//! leased by any replica (on PostgreSQL with `FOR UPDATE SKIP LOCKED`),
//! retried up to [`MAX_ATTEMPTS`] times when a worker dies or fails. The
//! findings of a job and its completion are one transaction, and a finding
//! is unique per run, agent and fingerprint, so a retried job never
//! duplicates one.

use crate::db::{self, Backend, Db};
use crate::runs;
use assay_model::bundle::Bundle;
use assay_runtime::findings::{Finding, Outcome, Report};
use assay_runtime::value::Host;
use assay_runtime::vm::{Options, Program};
use serde_json::json;
use sqlx::Row;

pub const MAX_ATTEMPTS: i64 = 3;
/// How long a worker holds a job before another may take it over.
pub const LEASE_MS: i64 = 120_000;

const LEASE_POSTGRES: &str = "UPDATE jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE (run_id, agent_id) IN (SELECT j.run_id, j.agent_id FROM jobs j JOIN runs r ON r.id = j.run_id \
      WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < $2)) AND j.attempts < $3 \
      AND r.state IN ('START_EVALUATING_RULES_PENDING', 'EVALUATING_RULES') \
      LIMIT 1 FOR UPDATE OF j SKIP LOCKED) \
    RETURNING run_id, agent_id, attempts";
const LEASE_SQLITE: &str = "UPDATE jobs SET state = 'leased', lease_until = $1, attempts = attempts + 1 \
    WHERE (run_id, agent_id) IN (SELECT j.run_id, j.agent_id FROM jobs j JOIN runs r ON r.id = j.run_id \
      WHERE (j.state = 'pending' OR (j.state = 'leased' AND j.lease_until < $2)) AND j.attempts < $3 \
      AND r.state IN ('START_EVALUATING_RULES_PENDING', 'EVALUATING_RULES') \
      LIMIT 1) \
    RETURNING run_id, agent_id, attempts";

/// Leases one job and evaluates it; `Ok(false)` when there was none.
pub async fn work_one(db: &Db, bundle: &'static Bundle) -> Result<bool, sqlx::Error> {
    let now = db::now();
    // Jobs whose last attempt ran out are failed, with the reason.
    sqlx::query(
        "UPDATE jobs SET state = 'failed', error = COALESCE(error, 'the evaluation did not finish') \
         WHERE state = 'leased' AND lease_until < $1 AND attempts >= $2",
    )
    .bind(now)
    .bind(MAX_ATTEMPTS)
    .execute(&db.pool)
    .await?;
    let mut tx = db.write().await?;
    let sql = match db.backend {
        Backend::Postgres => LEASE_POSTGRES,
        Backend::Sqlite => LEASE_SQLITE,
    };
    let leased =
        sqlx::query(sql).bind(now + LEASE_MS).bind(now).bind(MAX_ATTEMPTS).fetch_optional(&mut *tx).await?;
    let Some(job) = leased else {
        tx.rollback().await?;
        return Ok(false);
    };
    let (run, agent) = (db::text(&job, "run_id"), db::text(&job, "agent_id"));
    runs::transition(&mut tx, &run, runs::EVAL_PENDING, runs::EVALUATING).await?;
    tx.commit().await?;

    let context = sqlx::query(
        "SELECT t.body, tp.packages, tp.attributes, a.hostname, a.tags FROM telemetry t \
         JOIN runs r ON r.id = t.run_id JOIN templates tp ON tp.name = r.template AND tp.version = r.template_version \
         JOIN agents a ON a.id = t.agent_id WHERE t.run_id = $1 AND t.agent_id = $2",
    )
    .bind(&run)
    .bind(&agent)
    .fetch_optional(&db.pool)
    .await?;
    let result = match context {
        None => Err("the run has no telemetry from this agent".to_owned()),
        Some(row) => {
            let body: Vec<u8> = row.try_get("body").unwrap_or_default();
            let packages: Vec<String> = serde_json::from_str(&db::text(&row, "packages")).unwrap_or_default();
            let attributes: Vec<(String, String)> = serde_json::from_str::<
                serde_json::Map<String, serde_json::Value>,
            >(&db::text(&row, "attributes"))
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect();
            // The VM is synchronous and CPU-bound: off the async threads.
            tokio::task::spawn_blocking(move || evaluate(bundle, &body, &packages, attributes))
                .await
                .unwrap_or_else(|e| Err(format!("the evaluation panicked: {e}")))
        }
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
            let text = serde_json::to_string(&report).unwrap_or_default();
            sqlx::query(upsert).bind(&run).bind(&agent).bind(text).execute(&mut *tx).await?;
            for f in &report.findings {
                let insert = match db.backend {
                    Backend::Postgres => "INSERT INTO findings (run_id, agent_id, rule_id, package, severity, fingerprint, body, created_at) \
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    Backend::Sqlite => "INSERT OR IGNORE INTO findings (run_id, agent_id, rule_id, package, severity, fingerprint, body, created_at) \
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                };
                let mut body = serde_json::to_value(f).unwrap_or_default();
                body["agent_id"] = json!(agent);
                body["run_id"] = json!(run);
                sqlx::query(insert)
                    .bind(&run)
                    .bind(&agent)
                    .bind(&f.rule_id)
                    .bind(&f.package)
                    .bind(f.severity.as_str())
                    .bind(&f.fingerprint)
                    .bind(body.to_string())
                    .bind(db::now())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE jobs SET state = 'done', error = NULL WHERE run_id = $1 AND agent_id = $2")
                .bind(&run)
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
        }
        Err(message) => {
            let attempts = db::int(&job, "attempts");
            let state = if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" };
            sqlx::query("UPDATE jobs SET state = $1, error = $2 WHERE run_id = $3 AND agent_id = $4")
                .bind(state)
                .bind(message)
                .bind(&run)
                .bind(&agent)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// The report of `packages` for one host's telemetry, plus Inspector's
/// informational "no potential security issues found" for each package
/// that found nothing. A rule that fails to evaluate is an error of that
/// rule only; the others' findings are kept.
fn evaluate(
    bundle: &Bundle,
    telemetry: &[u8],
    packages: &[String],
    attributes: Vec<(String, String)>,
) -> Result<Report, String> {
    let host = Host::from_json(telemetry).map_err(|e| format!("the telemetry does not validate: {e}"))?;
    let options = Options { attributes, ..Options::default() };
    let mut report = Program::new(bundle).evaluate(&host, &options);
    report.findings.retain(|f| packages.contains(&f.package));
    report.rules.retain(|r| packages.contains(&r.package));
    let mut findings = std::mem::take(&mut report.findings);
    for p in bundle.content.packages.iter().filter(|p| packages.contains(&p.name)) {
        let evaluated =
            report.rules.iter().any(|r| r.package == p.name && !matches!(r.outcome, Outcome::Skipped { .. }));
        if evaluated && !findings.iter().any(|f| f.package == p.name) {
            findings.push(Finding {
                rule_id: format!("{}:no-findings", p.name),
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
                fingerprint: assay_runtime::findings::fingerprint(
                    &format!("{}:no-findings", p.name),
                    &report.asset.id,
                    "",
                ),
                bundle_digest: report.bundle_digest.clone(),
                waived: None,
            });
        }
    }
    report.findings = findings;
    report.summary = assay_runtime::findings::Summary::of(&report.findings, &report.rules);
    Ok(report)
}
