//! The overview (agents by health, runs in progress, findings per day as a
//! chart, the rules failing on most hosts), the rules packages with their
//! documentation, and the audit log.

use super::layout::{self, text, time};
use super::{param, segment, Api, AppState, Session};
use axum::extract::Path;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

const SEVERITIES: [&str; 4] = ["high", "medium", "low", "informational"];

pub async fn overview(axum::extract::State(app): AppState, session: Session) -> Response {
    let api = Api::new(&app, &session);
    let o = match api.get("/v1/overview").await {
        Ok(o) => o,
        Err(f) => return layout::failed(&session, "overview", "Overview", f),
    };
    let content = html! {
        section.cards aria-label="Agents by health" {
            @for h in ["HEALTHY", "UNHEALTHY", "UNKNOWN"] {
                a.card href=(format!("/console/agents?health={h}")) {
                    span.number { (text(&o["agents"][h])) }
                    span.label { (layout::state(h)) " agents" }
                }
            }
        }
        div.columns {
            section {
                h2 { "Runs in progress" }
                @let running = o["runs_in_progress"].as_array().cloned().unwrap_or_default();
                @if running.is_empty() {
                    p.muted { "No run in progress. " a href="/console/runs" { "Start one" } "." }
                } @else {
                    table {
                        thead { tr { th { "Run" } th { "Template" } th { "State" } th { "Started" } } }
                        tbody {
                            @for r in &running {
                                tr {
                                    td { a href=(format!("/console/runs/{}", segment(&text(&r["id"])))) { (text(&r["id"])) } }
                                    td { (text(&r["template"])) }
                                    td { (layout::state(&text(&r["state"]))) }
                                    td { (time(&r["created_at"])) }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Top failing rules" }
                @let top = o["top_rules"].as_array().cloned().unwrap_or_default();
                @if top.is_empty() {
                    p.muted { "No open finding above informational." }
                } @else {
                    table {
                        thead { tr { th { "Rule" } th { "Severity" } th.num { "Hosts" } } }
                        tbody {
                            @for r in &top {
                                tr {
                                    td {
                                        a href=(format!("/console/findings{}", super::query(&[("rule", &text(&r["rule_id"])), ("state", "open")]))) { code { (text(&r["rule_id"])) } }
                                        " " (text(&r["title"]))
                                    }
                                    td { (layout::severity(&text(&r["severity"]))) }
                                    td.num { (text(&r["hosts"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 #chart-title { "Findings reported per day, by severity" }
            (chart(o["findings_per_day"].as_array().map(Vec::as_slice).unwrap_or_default()))
        }
    };
    layout::page(&session, "overview", "Overview", content)
}

/// One severity's part of a day's bar: severity, top, height, count.
type Segment<'a> = (&'a str, f64, f64, i64);

/// Stacked bars, one per day, drawn as SVG on the server; the same numbers
/// follow as a table for screen readers and for copying.
fn chart(days: &[Value]) -> Markup {
    let (width, height, pad) = (720.0_f64, 180.0_f64, 28.0_f64);
    let total = |d: &Value| SEVERITIES.iter().map(|s| d[*s].as_i64().unwrap_or(0)).sum::<i64>();
    let max = days.iter().map(total).max().unwrap_or(0).max(1) as f64;
    let slot = (width - pad) / days.len().max(1) as f64;
    let day = |d: &Value| {
        d["day"]
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%m-%d").to_string())
            .unwrap_or_default()
    };
    // Per day: where its bar starts, and its segments bottom up.
    let columns: Vec<(&Value, f64, Vec<Segment>)> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut y = height;
            let bars = SEVERITIES
                .iter()
                .filter_map(|s| {
                    let n = d[*s].as_i64().unwrap_or(0);
                    (n > 0).then(|| {
                        let h = n as f64 / max * (height - 10.0);
                        y -= h;
                        (*s, y, h, n)
                    })
                })
                .collect();
            (d, pad + i as f64 * slot + slot * 0.15, bars)
        })
        .collect();
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {}", height + 20.0)) role="img" aria-labelledby="chart-title" {
                line.axis x1=(pad) y1=(height) x2=(width) y2=(height) {}
                text.tick x="0" y="12" { (max as i64) }
                text.tick x="0" y=(height) { "0" }
                @for (i, (d, x, bars)) in columns.iter().enumerate() {
                    @for (s, y, h, n) in bars {
                        rect class=(format!("bar sev-fill-{s}")) x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.7)) height=(format!("{h:.1}")) {
                            title { (day(d)) ": " (n) " " (s) }
                        }
                    }
                    @if i % 2 == 0 {
                        text.tick x=(format!("{x:.1}")) y=(height + 16.0) { (day(d)) }
                    }
                }
            }
            figcaption.legend {
                @for s in SEVERITIES { span class=(format!("key sev-{s}")) { (s) } " " }
            }
            details {
                summary { "The numbers" }
                table {
                    thead { tr { th { "Day" } @for s in SEVERITIES { th.num { (s) } } } }
                    tbody {
                        @for d in days {
                            tr { td { (day(d)) } @for s in SEVERITIES { td.num { (text(&d[s])) } } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn packages(axum::extract::State(app): AppState, session: Session) -> Response {
    let api = Api::new(&app, &session);
    let list = match api.get("/v1/packages").await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "packages", "Rules packages", f),
    };
    let content = html! {
        p { "The packages this server evaluates (bundle " code { (text(&list["bundle_digest"]).get(..16).unwrap_or_default()) } ")." }
        table {
            thead { tr { th { "Package" } th { "Version" } th { "Platforms" } th.num { "Rules" } th { "What it checks" } } }
            tbody {
                @for p in list["items"].as_array().into_iter().flatten() {
                    tr {
                        td { a href=(format!("/console/packages/{}", segment(&text(&p["name"])))) { (text(&p["title"])) } br; code { (text(&p["name"])) } }
                        td { (text(&p["version"])) }
                        td { (p["platforms"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                        td.num { (p["rules"].as_array().map_or(0, Vec::len)) }
                        td { (layout::prose(&text(&p["description"]))) }
                    }
                }
            }
        }
    };
    layout::page(&session, "packages", "Rules packages", content)
}

pub async fn package(
    axum::extract::State(app): AppState,
    session: Session,
    Path(name): Path<String>,
) -> Response {
    let api = Api::new(&app, &session);
    let list = match api.get("/v1/packages").await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "packages", "Rules packages", f),
    };
    let Some(p) = list["items"].as_array().into_iter().flatten().find(|p| p["name"] == name.as_str()) else {
        let f = super::failure(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("no rules package `{name}`"),
        );
        return layout::failed(&session, "packages", "Rules packages", f);
    };
    let title = text(&p["title"]);
    let content = html! {
        p { (layout::prose(&text(&p["description"]))) }
        p.muted { "Package " code { (name) } " " (text(&p["version"])) ". " a href=(format!("/console/findings?package={}", segment(&name))) { "Its findings" } }
        nav.toc aria-label="Rules" {
            ul { @for r in p["rules"].as_array().into_iter().flatten() { li { a href=(format!("#{}", text(&r["id"]))) { code { (text(&r["id"])) } } " " (text(&r["title"])) } } }
        }
        @for r in p["rules"].as_array().into_iter().flatten() {
            article.rule id=(text(&r["id"])) {
                h2 { code { (text(&r["id"])) } " " (text(&r["title"])) " " (layout::severity(&text(&r["severity"]))) }
                dl {
                    dt { "What is wrong" } dd { (layout::prose(&text(&r["description"]))) }
                    dt { "Why it matters" } dd { (layout::prose(&text(&r["rationale"]))) }
                    dt { "What to do" } dd { (layout::prose(&text(&r["recommendation"]))) }
                    @if r["references"].as_array().is_some_and(|a| !a.is_empty()) {
                        dt { "References" } dd { (r["references"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join("; ")).unwrap_or_default()) }
                    }
                    @if r["tags"].as_array().is_some_and(|a| !a.is_empty()) {
                        dt { "Tags" } dd { (r["tags"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                    }
                }
                @if !text(&r["doc"]).is_empty() { p { (layout::prose(&text(&r["doc"]))) } }
            }
        }
    };
    layout::page(&session, "packages", &title, content)
}

pub async fn audit(
    axum::extract::State(app): AppState,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let after = param(&q, "after");
    let api = Api::new(&app, &session);
    let log = match api.get(&format!("/v1/audit{}", super::query(&[("after", after)]))).await {
        Ok(l) => l,
        Err(f) => return layout::failed(&session, "audit", "Audit log", f),
    };
    let content = html! {
        p { "Every call that changed state, oldest first: who (the API token), what, when." }
        table {
            thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Detail" } } }
            tbody {
                @for e in log["items"].as_array().into_iter().flatten() {
                    tr { td { (time(&e["at"])) } td { code { (text(&e["actor"])) } } td { code { (text(&e["action"])) } } td { code.detail { (e["detail"].to_string()) } } }
                }
            }
        }
        (layout::pager("/console/audit", &[], &log["next"]))
    };
    layout::page(&session, "audit", "Audit log", content)
}
