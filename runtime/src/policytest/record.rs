//! `assay test --record TELEMETRY`: a policy-test case from a host's
//! telemetry, trimmed to the sections the package's rules read, with the
//! outcome each rule has on it now: a skeleton to rename, trim and keep.

use super::{host, outcome_name};
use crate::vm::{Options, Program};
use assay_model::bundle::Bundle;
use assay_model::lookup::LookupKind;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct File {
    cases: Vec<Recorded>,
}

#[derive(Serialize)]
struct Recorded {
    name: String,
    telemetry: serde_json::Value,
    expect: BTreeMap<String, String>,
}

/// The key of `collection.looked_up` listing lookups of `kind`.
fn looked_up_key(kind: LookupKind) -> Option<&'static str> {
    match kind {
        LookupKind::Sysctl => Some("sysctls"),
        LookupKind::File => Some("files"),
        LookupKind::Module => Some("modules"),
        LookupKind::Content => Some("contents"),
        LookupKind::Certificate => Some("certificates"),
        LookupKind::Service => None,
    }
}

/// The YAML of one case recorded from `telemetry` (a whole document, as
/// `assay collect` writes it) for `bundle`'s rules; `source` names the
/// document in the header comment.
pub fn record(bundle: &Bundle, telemetry: &serde_json::Value, source: &str) -> Result<String, String> {
    let Some(doc) = telemetry.as_object() else {
        return Err("the telemetry is not a JSON object".into());
    };
    let mut read: Vec<&str> =
        bundle.content.rules.iter().flat_map(|r| r.reads.iter().map(String::as_str)).collect();
    read.sort_unstable();
    read.dedup();
    let mut trimmed = serde_json::Map::new();
    // The platform decides which rules apply; the rest of the asset names
    // the host, which a test does not need.
    if let Some(os) = doc.get("asset").and_then(|a| a.get("os")).filter(|os| !os.is_null()) {
        trimmed.insert("asset".into(), serde_json::json!({ "os": os }));
    }
    // What was looked up by name and which sections could not be
    // collected decide whether a rule runs at all.
    if let Some(collection) = doc.get("collection").filter(|c| !c.is_null()) {
        let mut kept = serde_json::Map::new();
        let skipped: Vec<serde_json::Value> = collection
            .get("skipped_sections")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter(|s| s.get("section").and_then(|n| n.as_str()).is_some_and(|n| read.contains(&n)))
            .cloned()
            .collect();
        if !skipped.is_empty() {
            kept.insert("skipped_sections".into(), serde_json::Value::Array(skipped));
        }
        // Of what was looked up, what the rules look up.
        let wanted = |key: &str, name: &str| {
            bundle
                .content
                .rules
                .iter()
                .flat_map(|r| &r.lookups)
                .any(|l| looked_up_key(l.kind) == Some(key) && l.name == name)
        };
        // Recorded whenever the document has it, even empty: a lookup the
        // collection did not make leaves its rule skipped, in the case too.
        if let Some(serde_json::Value::Object(lists)) = collection.get("looked_up") {
            let mut looked_up = serde_json::Map::new();
            for (key, list) in lists {
                let items: Vec<serde_json::Value> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|item| item.as_str().is_some_and(|name| wanted(key, name)))
                    .cloned()
                    .collect();
                looked_up.insert(key.clone(), serde_json::Value::Array(items));
            }
            kept.insert("looked_up".into(), serde_json::Value::Object(looked_up));
        }
        if !kept.is_empty() {
            trimmed.insert("collection".into(), serde_json::Value::Object(kept));
        }
    }
    for section in &read {
        if let Some(v) = doc.get(*section).filter(|v| !v.is_null()) {
            trimmed.insert((*section).to_owned(), v.clone());
        }
    }
    let trimmed = serde_json::Value::Object(trimmed);
    // The outcomes of the case as written, so the skeleton holds as it is.
    let host =
        host(&trimmed).map_err(|e| format!("the telemetry is not valid at `{}`: {}", e.path, e.message))?;
    let report = Program::new(bundle).evaluate(&host, &Options::default());
    let expect =
        report.rules.iter().map(|r| (r.rule_id.clone(), outcome_name(&r.outcome).to_owned())).collect();
    let hostname =
        doc.get("asset").and_then(|a| a.get("hostname")).and_then(|h| h.as_str()).unwrap_or("a host");
    let file = File {
        cases: vec![Recorded { name: format!("recorded from {hostname}"), telemetry: trimmed, expect }],
    };
    let yaml = serde_yaml::to_string(&file).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Recorded from {source} by `assay test --record`: the sections the rules read\n\
         # ({}) and each rule's outcome on them now. Rename the case, trim what it does\n\
         # not need, and keep the outcomes you mean to hold (docs/testing.md).\n{yaml}",
        if read.is_empty() { "none".to_owned() } else { read.join(", ") }
    ))
}
