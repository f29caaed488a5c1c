//! What the fleet looks like: the console's overview, and `/metrics` in
//! Prometheus's text format (Inspector's CloudWatch metrics: matching and
//! healthy agents per target, runs, findings per template; queue depths;
//! this process's request counts and latencies). The database figures are
//! the fleet's, whichever replica is asked.

use super::auth::Caller;
use super::{packages, runs, App, Result};
use crate::ids::now;
use crate::requests::BUCKETS;
use crate::store::{agents, findings, jobs, outbox, runs as run_rows, targets};
use assay_api::admin::{DayCounts, Overview, TagFilter, TopRule};
use assay_api::{Health, Role};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The days the overview charts.
const OVERVIEW_DAYS: i64 = 14;
const DAY: i64 = 86_400_000;

/// `GET /v1/overview`.
pub(crate) async fn overview(app: &App, caller: &Caller) -> Result<Overview> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let mut by_health = agents::health_counts(&mut c, app.stale_before()).await?;
    for h in Health::ALL {
        by_health.entry(*h).or_insert(0);
    }
    let running = run_rows::in_progress(&mut c, 50).await?;
    let today = now() / DAY;
    let days: Vec<i64> = (today - OVERVIEW_DAYS + 1..=today).collect();
    let ends: Vec<i64> = days.iter().map(|d| (d + 1) * DAY - 1).collect();
    let open = findings::open_at(&mut c, &ends).await?;
    let top = findings::top_rules(&mut c, 10).await?;
    Ok(Overview {
        agents: by_health,
        runs_in_progress: running.into_iter().map(runs::summary).collect(),
        findings_per_day: days
            .iter()
            .zip(open)
            .map(|(d, counts)| DayCounts { day: d * DAY, counts })
            .collect(),
        top_rules: top
            .into_iter()
            .map(|r| TopRule {
                title: packages::title(app, &r.rule_id),
                rule_id: r.rule_id,
                package: r.package,
                severity: r.severity,
                hosts: r.hosts.max(0) as u64,
            })
            .collect(),
    })
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Whether an agent with `tags` matches any of `filters` (Inspector's rule).
fn matches(tags: &BTreeMap<String, String>, filters: &[TagFilter]) -> bool {
    filters.iter().any(|f| match (&f.value, tags.get(&f.key)) {
        (None, Some(_)) => true,
        (Some(want), Some(have)) => want == have,
        _ => false,
    })
}

/// `/metrics` (read-only), as text.
pub(crate) async fn metrics(app: &App, caller: &Caller) -> Result<String> {
    caller.require(Role::ReadOnly)?;
    let mut c = app.store.read().await?;
    let mut out = String::new();
    let by_health = agents::health_counts(&mut c, app.stale_before()).await?;
    header(&mut out, "assay_agents", "gauge", "Enrolled agents by health.");
    for h in Health::ALL {
        let _ = writeln!(out, "assay_agents{{health=\"{h}\"}} {}", by_health.get(h).copied().unwrap_or(0));
    }
    // Every target against the whole fleet's tags: one read of each.
    let mut fleet: BTreeMap<String, (BTreeMap<String, String>, Health)> = BTreeMap::new();
    for t in agents::all_tags(&mut c, app.stale_before()).await? {
        fleet.entry(t.agent_id).or_insert_with(|| (BTreeMap::new(), t.health)).0.insert(t.key, t.value);
    }
    header(&mut out, "assay_target_matching_agents", "gauge", "Agents a target's tags match.");
    let mut healthy = String::new();
    for t in targets::all(&mut c).await? {
        let matching: Vec<Health> =
            fleet.values().filter(|(tags, _)| matches(tags, &t.tags.0)).map(|(_, h)| *h).collect();
        let name = label(&t.name);
        let _ = writeln!(out, "assay_target_matching_agents{{target=\"{name}\"}} {}", matching.len());
        let n = matching.iter().filter(|h| **h == Health::Healthy).count();
        let _ = writeln!(healthy, "assay_target_healthy_agents{{target=\"{name}\"}} {n}");
    }
    header(&mut out, "assay_target_healthy_agents", "gauge", "Healthy agents a target's tags match.");
    out.push_str(&healthy);
    header(&mut out, "assay_runs", "gauge", "Runs by state.");
    for (state, n) in run_rows::count_by_state(&mut c).await? {
        let _ = writeln!(out, "assay_runs{{state=\"{state}\"}} {n}");
    }
    header(&mut out, "assay_findings", "gauge", "Findings of runs by template and severity.");
    for (template, severity, n) in findings::counts_by_template(&mut c).await? {
        let _ =
            writeln!(out, "assay_findings{{template=\"{}\",severity=\"{severity}\"}} {n}", label(&template));
    }
    header(&mut out, "assay_fleet_findings", "gauge", "The fleet's findings by state and severity.");
    for (state, severity, n) in findings::fleet_counts(&mut c).await? {
        let _ = writeln!(out, "assay_fleet_findings{{state=\"{state}\",severity=\"{severity}\"}} {n}");
    }
    header(&mut out, "assay_queue_depth", "gauge", "Work waiting or in progress, by queue.");
    let (evaluation, reevaluation) = jobs::depths(&mut c).await?;
    let notifications = outbox::depth(&mut c).await?;
    for (queue, n) in
        [("evaluation", evaluation), ("reevaluation", reevaluation), ("notifications", notifications)]
    {
        let _ = writeln!(out, "assay_queue_depth{{queue=\"{queue}\"}} {n}");
    }
    drop(c);
    requests(&mut out, &app.requests);
    Ok(out)
}

/// This process's request counts and latency histogram.
fn requests(out: &mut String, requests: &crate::requests::Requests) {
    let routes = requests.snapshot();
    header(
        out,
        "assay_http_requests_total",
        "counter",
        "Requests this process answered, by route and status.",
    );
    for (route, r) in &routes {
        for (status, n) in &r.statuses {
            let _ = writeln!(
                out,
                "assay_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
    }
    header(
        out,
        "assay_http_request_duration_seconds",
        "histogram",
        "How long this process took to answer, by route.",
    );
    for (route, r) in &routes {
        let route = label(route);
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "assay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                r.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "assay_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
            r.count
        );
        let _ = writeln!(out, "assay_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", r.sum);
        let _ = writeln!(out, "assay_http_request_duration_seconds_count{{route=\"{route}\"}} {}", r.count);
    }
}
