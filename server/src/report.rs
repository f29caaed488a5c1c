//! Run reports, as Inspector had them, for finished runs: the findings
//! report (summary, hosts assessed and excluded, packages, findings per
//! rule with the hosts they were found on) and the full report, which adds
//! every rule's outcome on every host (passed, not applicable, skipped,
//! error). One JSON model, rendered as JSON or as one self-contained HTML
//! page (no scripts, no external resources, everything escaped).

use crate::api::run_json;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::runs;
use crate::App;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The report model of run `id`.
pub async fn build(app: &App, id: &str, full: bool) -> ApiResult<Value> {
    let run = run_json(app, id).await?;
    let state = run["state"].as_str().unwrap_or_default().to_owned();
    if !runs::FINAL_STATES.contains(&state.as_str()) {
        return Err(ApiError::conflict(format!("run {id} is {state}: reports are for finished runs")));
    }
    let rows = sqlx::query("SELECT agent_id, body FROM host_reports WHERE run_id = $1 ORDER BY agent_id")
        .bind(id)
        .fetch_all(&app.db.pool)
        .await?;
    let hosts: Vec<(String, Value)> = rows
        .iter()
        .map(|r| (db::text(r, "agent_id"), serde_json::from_str(&db::text(r, "body")).unwrap_or_default()))
        .collect();
    let mut summary: BTreeMap<String, i64> = BTreeMap::new();
    // rule id -> (metadata, hosts it was found on, findings)
    let mut by_rule: BTreeMap<String, (Value, Vec<String>, i64)> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, (Value, BTreeMap<String, Vec<String>>)> = BTreeMap::new();
    let mut packages: Vec<String> = Vec::new();
    let mut digest = String::new();
    for (agent, report) in &hosts {
        let host = report["asset"]["hostname"].as_str().unwrap_or(agent).to_owned();
        digest = report["bundle_digest"].as_str().unwrap_or_default().to_owned();
        for f in report["findings"].as_array().into_iter().flatten() {
            *summary.entry(f["severity"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
            let rule = f["rule_id"].as_str().unwrap_or_default().to_owned();
            let entry = by_rule.entry(rule.clone()).or_insert_with(|| {
                let meta = json!({
                    "rule_id": rule,
                    "title": f["title"],
                    "severity": f["severity"],
                    "package": f["package"],
                    "description": f["description"],
                    "recommendation": f["recommendation"],
                });
                (meta, Vec::new(), 0)
            });
            if !entry.1.contains(&host) {
                entry.1.push(host.clone());
            }
            entry.2 += 1;
        }
        for r in report["rules"].as_array().into_iter().flatten() {
            let p = r["package"].as_str().unwrap_or_default().to_owned();
            if !packages.contains(&p) {
                packages.push(p);
            }
            if full {
                let rule = r["rule_id"].as_str().unwrap_or_default().to_owned();
                let entry = outcomes.entry(rule.clone()).or_insert_with(|| {
                    (json!({ "rule_id": rule, "title": r["title"], "severity": r["severity"], "package": r["package"] }), BTreeMap::new())
                });
                let outcome = r["outcome"].as_str().unwrap_or_default().to_owned();
                entry.1.entry(outcome).or_default().push(host.clone());
            }
        }
    }
    let severity_order = |s: &Value| match s.as_str() {
        Some("high") => 0,
        Some("medium") => 1,
        Some("low") => 2,
        _ => 3,
    };
    let mut rules: Vec<Value> = by_rule
        .into_values()
        .map(|(mut meta, mut hosts, n)| {
            hosts.sort();
            meta["hosts"] = json!(hosts);
            meta["findings"] = json!(n);
            meta
        })
        .collect();
    rules.sort_by_key(|r| {
        (severity_order(&r["severity"]), r["rule_id"].as_str().unwrap_or_default().to_owned())
    });
    let mut assessed: Vec<Value> = hosts
        .iter()
        .map(|(agent, r)| {
            json!({
                "agent": agent,
                "hostname": r["asset"]["hostname"],
                "addresses": if r["asset"]["addresses"].is_array() { r["asset"]["addresses"].clone() } else { json!([]) },
                "os": r["asset"]["os"],
                "summary": r["summary"],
            })
        })
        .collect();
    assessed.sort_by_key(|h| h["hostname"].as_str().unwrap_or_default().to_owned());
    let mut out = json!({
        "kind": if full { "full" } else { "findings" },
        "run": {
            "id": id,
            "template": run["template"],
            "template_version": run["template_version"],
            "state": state,
            "created_at": run["created_at"],
            "finished_at": run["finished_at"],
        },
        "bundle_digest": digest,
        "packages": packages,
        "summary": {
            "high": summary.get("high").copied().unwrap_or(0),
            "medium": summary.get("medium").copied().unwrap_or(0),
            "low": summary.get("low").copied().unwrap_or(0),
            "informational": summary.get("informational").copied().unwrap_or(0),
            "hosts_assessed": hosts.len(),
            "hosts_excluded": run["exclusions"]
                .as_array()
                .map(|a| a.iter().map(|e| e["agent"].as_str().unwrap_or_default()).collect::<std::collections::BTreeSet<_>>().len())
                .unwrap_or(0),
        },
        "hosts": assessed,
        "exclusions": run["exclusions"],
        "findings_by_rule": rules,
    });
    if full {
        out["rules"] = json!(outcomes
            .into_values()
            .map(|(mut meta, mut by_outcome)| {
                by_outcome.values_mut().for_each(|hosts| hosts.sort());
                meta["outcomes"] = json!(by_outcome);
                meta
            })
            .collect::<Vec<_>>());
    }
    Ok(out)
}

fn esc(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1b1f24;padding:0 1rem}\
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}table{border-collapse:collapse;width:100%}\
td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}\
.counts{display:flex;gap:.75rem;flex-wrap:wrap}.count{padding:.6rem 1rem;border-radius:.4rem;background:#f6f8fa;min-width:7rem}\
.count b{display:block;font-size:1.5rem}.high{border-left:6px solid #cf222e}.medium{border-left:6px solid #d4a72c}\
.low{border-left:6px solid #2f81f7}.informational{border-left:6px solid #8c959f}code{font-family:ui-monospace,monospace}\
.muted{color:#57606a}";

/// The report as one HTML page.
pub fn html(r: &Value) -> String {
    let mut o = String::new();
    let run = &r["run"];
    let title = if r["kind"] == "full" { "Full report" } else { "Findings report" };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}: {}</title>\n<style>{STYLE}</style></head><body>\n<h1>{title}: run <code>{}</code></h1>\n\
         <p class=\"muted\">template {} version {} · {} · bundle <code>sha256:{}</code> · packages {}</p>\n<div class=\"counts\">",
        esc(&run["id"]),
        esc(&run["id"]),
        esc(&run["template"]),
        esc(&run["template_version"]),
        esc(&run["state"]),
        esc(&r["bundle_digest"]),
        esc(&json!(r["packages"].as_array().into_iter().flatten().map(|p| p.as_str().unwrap_or_default()).collect::<Vec<_>>().join(", "))),
    );
    let s = &r["summary"];
    for label in ["high", "medium", "low", "informational"] {
        let _ = write!(o, "<div class=\"count {label}\"><b>{}</b>{label}</div>", esc(&s[label]));
    }
    let _ = writeln!(
        o,
        "<div class=\"count\"><b>{}</b>hosts assessed</div><div class=\"count\"><b>{}</b>hosts excluded</div></div>",
        esc(&s["hosts_assessed"]),
        esc(&s["hosts_excluded"])
    );
    o.push_str("<h2>Hosts</h2>\n<table><tr><th>host</th><th>addresses</th><th>agent</th><th>high</th><th>medium</th><th>low</th><th>informational</th></tr>\n");
    for h in r["hosts"].as_array().into_iter().flatten() {
        let sm = &h["summary"];
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&h["hostname"]),
            esc(&json!(h["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "))),
            esc(&h["agent"]),
            esc(&sm["high"]),
            esc(&sm["medium"]),
            esc(&sm["low"]),
            esc(&sm["informational"])
        );
    }
    o.push_str("</table>\n");
    if let Some(ex) = r["exclusions"].as_array().filter(|e| !e.is_empty()) {
        o.push_str("<h2>Excluded</h2>\n<table><tr><th>host</th><th>agent</th><th>why</th></tr>\n");
        for e in ex {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&e["hostname"]),
                esc(&e["agent"]),
                esc(&e["reason"])
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Findings by rule</h2>\n<table><tr><th>severity</th><th>rule</th><th>hosts</th><th>recommendation</th></tr>\n");
    for f in r["findings_by_rule"].as_array().into_iter().flatten() {
        let hosts: Vec<String> = f["hosts"].as_array().into_iter().flatten().map(esc).collect();
        let _ = writeln!(
            o,
            "<tr class=\"{}\"><td>{}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
            esc(&f["severity"]),
            esc(&f["severity"]),
            esc(&f["rule_id"]),
            esc(&f["title"]),
            hosts.join(", "),
            esc(&f["recommendation"])
        );
    }
    o.push_str("</table>\n");
    if let Some(rules) = r["rules"].as_array() {
        o.push_str("<h2>Every rule</h2>\n<table><tr><th>rule</th><th>package</th><th>outcomes</th></tr>\n");
        for rule in rules {
            let outcomes: Vec<String> = rule["outcomes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, hosts)| {
                    format!("{}: {}", esc(&json!(k)), hosts.as_array().map(|h| h.len()).unwrap_or(0))
                })
                .collect();
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
                esc(&rule["rule_id"]),
                esc(&rule["title"]),
                esc(&rule["package"]),
                outcomes.join(" · ")
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</body></html>\n");
    o
}
