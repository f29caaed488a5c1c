//! SARIF 2.1.0 through the `serde-sarif` types. A finding on a host has no
//! source file, so its location is logical: the asset, and the rule's
//! evidence as related properties.

use crate::findings::{Report, Severity};
use assay_model::bundle::Bundle;
use serde_json::json;
use serde_sarif::sarif::{
    Location, LogicalLocation, Message, MultiformatMessageString, PropertyBag, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::BTreeMap;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Informational => ResultLevel::Note,
    }
}

pub fn sarif(bundle: &Bundle, reports: &[Report]) -> Result<String, super::RenderError> {
    let content = &bundle.content;
    let rules: Vec<ReportingDescriptor> = content
        .rules
        .iter()
        .map(|r| {
            let mut props = BTreeMap::new();
            let severity = r.severity;
            // GitHub code scanning reads `security-severity` (0-10) to rank results.
            props.insert("security-severity".to_owned(), json!(format!("{:.1}", severity.score())));
            props.insert("severity".to_owned(), json!(r.severity));
            if !r.references.is_empty() {
                props.insert("references".to_owned(), json!(r.references));
            }
            let mut d = ReportingDescriptor::builder()
                .id(r.id.clone())
                .name(r.title.clone())
                .short_description(MultiformatMessageString::builder().text(r.title.clone()).build())
                .properties(PropertyBag::builder().tags(r.tags.clone()).additional_properties(props).build())
                .build();
            if !r.description.is_empty() {
                d.full_description =
                    Some(MultiformatMessageString::builder().text(r.description.clone()).build());
            }
            if !r.recommendation.is_empty() {
                d.help = Some(MultiformatMessageString::builder().text(r.recommendation.clone()).build());
            }
            if let Some(url) = r.references.iter().find(|x| x.starts_with("https://")) {
                d.help_uri = Some(url.clone());
            }
            d
        })
        .collect();
    let mut results = Vec::new();
    for report in reports {
        for f in &report.findings {
            let mut fingerprints = BTreeMap::new();
            fingerprints.insert("assayFingerprint/v1".to_owned(), f.fingerprint.clone());
            let mut props = BTreeMap::new();
            props.insert("severity".to_owned(), json!(f.severity));
            props.insert("evidence".to_owned(), json!(f.evidence));
            props.insert("asset".to_owned(), json!(f.asset));
            props.insert("bundleDigest".to_owned(), json!(f.bundle_digest));
            props.insert("package".to_owned(), json!(format!("{} {}", f.package, f.package_version)));
            if !f.attributes.is_empty() {
                props.insert("attributes".to_owned(), json!(f.attributes));
            }
            let location = Location::builder()
                .logical_locations(vec![LogicalLocation::builder()
                    .name(f.asset.hostname.clone())
                    .fully_qualified_name(format!("{}/{}", f.asset.id, f.rule_id))
                    .kind("host")
                    .build()])
                .build();
            let index = content.rules.iter().position(|r| r.id == f.rule_id).unwrap_or(0) as i64;
            results.push(
                SarifResult::builder()
                    .rule_id(f.rule_id.clone())
                    .rule_index(index)
                    .level(level(f.severity))
                    .message(Message::builder().text(f.message.clone()).build())
                    .locations(vec![location])
                    .partial_fingerprints(fingerprints)
                    .properties(PropertyBag::builder().additional_properties(props).build())
                    .build(),
            );
        }
    }
    let mut run_props = BTreeMap::new();
    run_props.insert("bundleDigest".to_owned(), json!(bundle.digest));
    let run = Run::builder()
        .tool(
            Tool::builder()
                .driver(
                    ToolComponent::builder()
                        .name("assay")
                        .version(env!("CARGO_PKG_VERSION"))
                        .information_uri("https://github.com/assay-policy/assay")
                        .rules(rules)
                        .build(),
                )
                .build(),
        )
        .results(results)
        .properties(PropertyBag::builder().additional_properties(run_props).build())
        .build();
    let log = Sarif::builder().schema(SCHEMA).version(json!("2.1.0")).runs(vec![run]).build();
    let mut text = serde_json::to_string_pretty(&log)
        .map_err(|e| super::RenderError { format: "SARIF", message: e.to_string() })?;
    text.push('\n');
    Ok(text)
}
