//! `/metrics` in Prometheus's text format: Inspector's CloudWatch metrics
//! (matching and healthy agents per target, runs, findings per template)
//! from the database, queue depths, and this process's request counts and
//! latencies. The database figures are the fleet's, whichever replica is
//! asked; the request figures are this process's, as Prometheus expects
//! of each scraped instance.

use crate::api::{health, matches, TagFilter};
use crate::db;
use crate::error::ApiResult;
use crate::App;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Route {
    /// Requests per status code.
    statuses: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket, then the total and the sum.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Requests {
    routes: Mutex<BTreeMap<String, Route>>,
}

impl Requests {
    fn record(&self, route: &str, status: u16, seconds: f64) {
        let Ok(mut routes) = self.routes.lock() else { return };
        let r = routes.entry(route.to_owned()).or_default();
        *r.statuses.entry(status).or_default() += 1;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                r.buckets[i] += 1;
            }
        }
        r.count += 1;
        r.sum += seconds;
    }
}

/// Middleware: times every request by its route pattern.
pub async fn track(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    app.requests.record(
        &format!("{method} {route}"),
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The text exposition.
pub async fn render(app: &App) -> ApiResult<String> {
    let pool = &app.db.pool;
    let mut out = String::new();
    let agents = sqlx::query("SELECT id, tags, last_seen, revoked_at, health_code FROM agents")
        .fetch_all(pool)
        .await?;
    let agent_info: Vec<(BTreeMap<String, String>, &'static str)> = agents
        .iter()
        .map(|r| {
            let tags = serde_json::from_str(&db::text(r, "tags")).unwrap_or_default();
            (tags, health(r, app.config.unknown_after_ms).0)
        })
        .collect();
    header(&mut out, "assay_agents", "gauge", "Enrolled agents by health.");
    for h in ["HEALTHY", "UNHEALTHY", "UNKNOWN"] {
        let n = agent_info.iter().filter(|(_, x)| *x == h).count();
        let _ = writeln!(out, "assay_agents{{health=\"{h}\"}} {n}");
    }
    let targets = sqlx::query("SELECT name, tags FROM targets ORDER BY name").fetch_all(pool).await?;
    header(&mut out, "assay_target_matching_agents", "gauge", "Agents a target's tags match.");
    let mut healthy = String::new();
    for t in &targets {
        let filters: Vec<TagFilter> = serde_json::from_str(&db::text(t, "tags")).unwrap_or_default();
        let matching: Vec<&(BTreeMap<String, String>, &str)> =
            agent_info.iter().filter(|(tags, _)| matches(tags, &filters)).collect();
        let name = label(&db::text(t, "name"));
        let _ = writeln!(out, "assay_target_matching_agents{{target=\"{name}\"}} {}", matching.len());
        let _ = writeln!(
            healthy,
            "assay_target_healthy_agents{{target=\"{name}\"}} {}",
            matching.iter().filter(|(_, h)| *h == "HEALTHY").count()
        );
    }
    header(&mut out, "assay_target_healthy_agents", "gauge", "Healthy agents a target's tags match.");
    out.push_str(&healthy);
    header(&mut out, "assay_runs", "gauge", "Runs by state.");
    for r in sqlx::query("SELECT state, COUNT(*) AS n FROM runs GROUP BY state ORDER BY state")
        .fetch_all(pool)
        .await?
    {
        let _ =
            writeln!(out, "assay_runs{{state=\"{}\"}} {}", label(&db::text(&r, "state")), db::int(&r, "n"));
    }
    header(&mut out, "assay_findings", "gauge", "Findings of runs by template and severity.");
    let findings = sqlx::query(
        "SELECT r.template, f.severity, COUNT(*) AS n FROM findings f JOIN runs r ON r.id = f.run_id \
         GROUP BY r.template, f.severity ORDER BY r.template, f.severity",
    )
    .fetch_all(pool)
    .await?;
    for f in findings {
        let _ = writeln!(
            out,
            "assay_findings{{template=\"{}\",severity=\"{}\"}} {}",
            label(&db::text(&f, "template")),
            label(&db::text(&f, "severity")),
            db::int(&f, "n")
        );
    }
    header(&mut out, "assay_fleet_findings", "gauge", "The fleet's findings by state and severity.");
    for f in sqlx::query("SELECT state, severity, COUNT(*) AS n FROM fleet_findings GROUP BY state, severity ORDER BY state, severity")
        .fetch_all(pool)
        .await?
    {
        let _ = writeln!(
            out,
            "assay_fleet_findings{{state=\"{}\",severity=\"{}\"}} {}",
            label(&db::text(&f, "state")),
            label(&db::text(&f, "severity")),
            db::int(&f, "n")
        );
    }
    header(&mut out, "assay_queue_depth", "gauge", "Work waiting or in progress, by queue.");
    for (queue, sql) in [
        ("evaluation", "SELECT COUNT(*) AS n FROM jobs WHERE state IN ('pending', 'leased')"),
        ("reevaluation", "SELECT COUNT(*) AS n FROM reeval_jobs WHERE state IN ('pending', 'leased')"),
        ("notifications", "SELECT COUNT(*) AS n FROM outbox WHERE state IN ('pending', 'leased')"),
    ] {
        let n = sqlx::query(sql).fetch_one(pool).await?;
        let _ = writeln!(out, "assay_queue_depth{{queue=\"{queue}\"}} {}", db::int(&n, "n"));
    }
    if let Ok(routes) = app.requests.routes.lock() {
        header(
            &mut out,
            "assay_http_requests_total",
            "counter",
            "Requests this process answered, by route and status.",
        );
        for (route, r) in routes.iter() {
            for (status, n) in &r.statuses {
                let _ = writeln!(
                    out,
                    "assay_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
        }
        header(
            &mut out,
            "assay_http_request_duration_seconds",
            "histogram",
            "How long this process took to answer, by route.",
        );
        for (route, r) in routes.iter() {
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
            let _ =
                writeln!(out, "assay_http_request_duration_seconds_count{{route=\"{route}\"}} {}", r.count);
        }
    }
    Ok(out)
}
