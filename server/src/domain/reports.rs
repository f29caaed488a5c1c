//! Run reports for finished runs, built from each host's stored report:
//! the findings report (summary, hosts assessed and excluded, packages,
//! findings per rule with the hosts they were found on) and the full
//! report, which adds every rule's outcome on every host. Hosts are
//! named by agent and hostname, so two hosts with one hostname stay two.

use super::auth::Caller;
use super::{runs, App, Error, Result};
use crate::store::{self, runs as run_rows};
use assay_api::report::{ReportHost, ReportKind, ReportSummary, RuleFindings, RuleOutcomes, RunReport};
use assay_api::{HostRef, OutcomeKind, Role, SeverityCounts};
use std::collections::{BTreeMap, BTreeSet};

/// The report of run `id`, refused until the run is finished.
pub(crate) async fn build(app: &App, caller: &Caller, id: &str, full: bool) -> Result<RunReport> {
    caller.require(Role::ReadOnly)?;
    let run = runs::view(app, id, caller).await?;
    if !run.state.is_final() {
        return Err(Error::Conflict(format!("run {id} is {}: reports are for finished runs", run.state)));
    }
    let (reports, members) = {
        let mut c = app.store.read().await?;
        (store::findings::host_reports(&mut c, id).await?, run_rows::members(&mut c, id).await?)
    };
    let os: BTreeMap<&str, &str> = members.iter().map(|m| (m.agent_id.as_str(), m.os.as_str())).collect();
    let mut summary = SeverityCounts::default();
    let mut by_rule: BTreeMap<String, RuleFindings> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, RuleOutcomes> = BTreeMap::new();
    let mut packages: Vec<String> = Vec::new();
    let mut digest = String::new();
    let mut hosts = Vec::new();
    for stored in reports {
        let report = stored.body.0;
        let host = HostRef {
            agent: stored.agent_id.clone(),
            hostname: report.asset.hostname.clone(),
            addresses: report.asset.addresses.clone(),
        };
        digest.clone_from(&report.bundle_digest);
        for f in report.findings.iter().filter(|f| f.waived.is_none()) {
            summary.add(f.severity, 1);
        }
        for f in &report.findings {
            let entry = by_rule.entry(f.rule_id.clone()).or_insert_with(|| RuleFindings {
                rule_id: f.rule_id.clone(),
                title: f.title.clone(),
                severity: f.severity,
                package: f.package.clone(),
                description: f.description.clone(),
                recommendation: f.recommendation.clone(),
                hosts: Vec::new(),
                findings: 0,
            });
            if !entry.hosts.contains(&host) {
                entry.hosts.push(host.clone());
            }
            entry.findings += 1;
        }
        for r in &report.rules {
            if !packages.contains(&r.package) {
                packages.push(r.package.clone());
            }
            if full {
                let entry = outcomes.entry(r.rule_id.clone()).or_insert_with(|| RuleOutcomes {
                    rule_id: r.rule_id.clone(),
                    title: r.title.clone(),
                    severity: r.severity,
                    package: r.package.clone(),
                    outcomes: BTreeMap::new(),
                });
                entry.outcomes.entry(OutcomeKind::from(&r.outcome)).or_default().push(host.clone());
            }
        }
        let os = os.get(stored.agent_id.as_str()).filter(|o| !o.is_empty()).map(|o| (*o).to_owned());
        hosts.push(ReportHost { host, os, summary: report.summary });
    }
    let mut findings_by_rule: Vec<RuleFindings> = by_rule.into_values().collect();
    for rule in &mut findings_by_rule {
        rule.hosts.sort_by(by_host);
    }
    // Most serious first (Severity orders informational lowest).
    findings_by_rule.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.rule_id.cmp(&b.rule_id)));
    hosts.sort_by(|a, b| by_host(&a.host, &b.host));
    let excluded: BTreeSet<&str> = run.exclusions.iter().map(|e| e.host.agent.as_str()).collect();
    let rules = full.then(|| {
        outcomes
            .into_values()
            .map(|mut r| {
                r.outcomes.values_mut().for_each(|hosts| hosts.sort_by(by_host));
                r
            })
            .collect()
    });
    Ok(RunReport {
        kind: if full { ReportKind::Full } else { ReportKind::Findings },
        summary: ReportSummary {
            findings: summary,
            hosts_assessed: hosts.len() as u64,
            hosts_excluded: excluded.len() as u64,
        },
        run: run.summary(),
        bundle_digest: digest,
        packages,
        hosts,
        exclusions: run.exclusions,
        findings_by_rule,
        rules,
    })
}

/// Hosts are listed by hostname, the agent id only telling apart two hosts
/// with one hostname (agent ids are random, so they cannot lead the order).
fn by_host(a: &HostRef, b: &HostRef) -> std::cmp::Ordering {
    (&a.hostname, &a.agent, &a.addresses).cmp(&(&b.hostname, &b.agent, &b.addresses))
}
