//! The overview (agents by health, runs in progress, the fleet's open
//! findings per day as a chart, the rules open on most hosts) and the
//! audit log.

use super::layout::{self, time};
use super::{param, segment, Api, AppState, Session};
use assay_api::admin::{AuditEntry, DayCounts, Overview};
use assay_api::{Health, Page, Severity};
use axum::response::Response;
use maud::{html, Markup};

pub async fn overview(axum::extract::State(app): AppState, session: Session) -> Response {
    let api = Api::new(&app, &session);
    let o: Overview = match api.get("/v1/overview").await {
        Ok(o) => o,
        Err(f) => return layout::failed(&session, "overview", "Overview", f),
    };
    let content = html! {
        section.cards aria-label="Agents by health" {
            @for h in Health::ALL {
                a.card href=(format!("/console/agents?health={h}")) {
                    span.number { (o.agents.get(h).copied().unwrap_or(0)) }
                    span.label { (layout::state(h)) " agents" }
                }
            }
        }
        div.columns {
            section {
                h2 { "Runs in progress" }
                @if o.runs_in_progress.is_empty() {
                    p.muted { "No run in progress. " a href="/console/runs" { "Start one" } "." }
                } @else {
                    table {
                        thead { tr { th { "Run" } th { "Template" } th { "State" } th { "Started" } } }
                        tbody {
                            @for r in &o.runs_in_progress {
                                tr {
                                    td { a href=(format!("/console/runs/{}", segment(&r.id))) { (r.id) } }
                                    td { (r.template) }
                                    td { (layout::state(r.state)) }
                                    td { (time(r.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Top failing rules" }
                @if o.top_rules.is_empty() {
                    p.muted { "No open finding above informational." }
                } @else {
                    table {
                        thead { tr { th { "Rule" } th { "Severity" } th.num { "Hosts" } } }
                        tbody {
                            @for r in &o.top_rules {
                                tr {
                                    td {
                                        a href=(format!("/console/findings{}", super::query(&[("rule", &r.rule_id), ("state", "open")]))) { code { (r.rule_id) } }
                                        " " (r.title.as_deref().unwrap_or(""))
                                    }
                                    td { (layout::severity(r.severity)) }
                                    td.num { (r.hosts) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 #chart-title { "Open findings at the end of each day, by severity" }
            (chart(&o.findings_per_day))
        }
    };
    layout::page(&session, "overview", "Overview", content)
}

/// One severity's part of a day's bar: severity, top, height, count.
type Segment = (Severity, f64, f64, u64);

fn day_label(d: &DayCounts) -> String {
    chrono::DateTime::from_timestamp_millis(d.day).map(|t| t.format("%m-%d").to_string()).unwrap_or_default()
}

/// Stacked bars, one per day, drawn as SVG on the server; the same numbers
/// follow as a table for screen readers and for copying.
fn chart(days: &[DayCounts]) -> Markup {
    let (width, height, pad) = (720.0_f64, 180.0_f64, 28.0_f64);
    let max = days.iter().map(|d| d.counts.total()).max().unwrap_or(0).max(1) as f64;
    let slot = (width - pad) / days.len().max(1) as f64;
    // Per day: where its bar starts, and its segments bottom up.
    let columns: Vec<(&DayCounts, f64, Vec<Segment>)> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut y = height;
            let bars = d
                .counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| {
                    let h = n as f64 / max * (height - 10.0);
                    y -= h;
                    (s, y, h, n)
                })
                .collect();
            (d, pad + i as f64 * slot + slot * 0.15, bars)
        })
        .collect();
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {}", height + 20.0)) role="img" aria-labelledby="chart-title" {
                line.axis x1=(pad) y1=(height) x2=(width) y2=(height) {}
                text.tick x="0" y="12" { (max as u64) }
                text.tick x="0" y=(height) { "0" }
                @for (i, (d, x, bars)) in columns.iter().enumerate() {
                    @for (s, y, h, n) in bars {
                        rect class=(format!("bar sev-fill-{s}")) x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.7)) height=(format!("{h:.1}")) {
                            title { (day_label(d)) ": " (n) " " (s) }
                        }
                    }
                    @if i % 2 == 0 {
                        text.tick x=(format!("{x:.1}")) y=(height + 16.0) { (day_label(d)) }
                    }
                }
            }
            figcaption.legend {
                @for s in Severity::ALL { span class=(format!("key sev-{s}")) { (s) } " " }
            }
            details {
                summary { "The numbers" }
                table {
                    thead { tr { th { "Day" } @for s in Severity::ALL { th.num { (s) } } } }
                    tbody {
                        @for d in days {
                            tr { td { (day_label(d)) } @for (_, n) in d.counts.iter() { td.num { (n) } } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn audit(
    axum::extract::State(app): AppState,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let after = param(&q, "after");
    let api = Api::new(&app, &session);
    let log: Page<AuditEntry> =
        match api.get(&format!("/v1/audit{}", super::query(&[("after", after)]))).await {
            Ok(l) => l,
            Err(f) => return layout::failed(&session, "audit", "Audit log", f),
        };
    let content = html! {
        p { "Every call that changed state, oldest first: who (the API token), what, when." }
        table {
            thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Detail" } } }
            tbody {
                @for e in &log.items {
                    tr { td { (time(e.at)) } td { code { (e.actor) } } td { code { (e.action) } } td { code.detail { (e.detail.to_string()) } } }
                }
            }
        }
        (layout::pager("/console/audit", &[], log.next.as_deref()))
    };
    layout::page(&session, "audit", "Audit log", content)
}
