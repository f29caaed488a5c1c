//! Diagnostics as SARIF 2.1.0 (`assay check --format sarif`), for code
//! scanning of a policy repository: one rule per diagnostic code (its
//! title, its explanation as help), one result per diagnostic at its
//! primary span (relative to `SRCROOT`, the folder `check` ran in), the
//! other labels as related locations, and each suggested edit as a SARIF
//! fix.

use super::{Code, Diagnostic, Level};
use crate::source::{FileId, SourceMap, Span};
use serde_json::json;
use serde_sarif::sarif::{
    ArtifactChange, ArtifactContent, ArtifactLocation, Fix, Location, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, Replacement, ReportingDescriptor, Result as SarifResult,
    ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::BTreeMap;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders `diagnostics`; `uri_of` gives each file's URI relative to
/// `srcroot` (an absolute `file://` URI ending in `/`), or, for a file
/// outside it, `Err` with its absolute URI.
pub fn render_sarif(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    srcroot: &str,
    uri_of: &dyn Fn(FileId) -> Result<String, String>,
) -> Result<String, serde_json::Error> {
    let mut codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<ReportingDescriptor> = codes
        .iter()
        .map(|c| {
            ReportingDescriptor::builder()
                .id(c.as_str())
                .name(c.title())
                .short_description(MultiformatMessageString::builder().text(c.title()).build())
                .help(MultiformatMessageString::builder().text(c.explanation()).build())
                .properties(PropertyBag::builder().tags(vec!["policy".to_owned()]).build())
                .build()
        })
        .collect();
    let location = |span: Span, message: Option<&str>| -> Location {
        let mut l = Location::builder().physical_location(physical(sources, span, uri_of)).build();
        if let Some(m) = message.filter(|m| !m.is_empty()) {
            l.message = Some(Message::builder().text(m).build());
        }
        l
    };
    let results: Vec<SarifResult> = diagnostics
        .iter()
        .filter_map(|d| {
            let primary = d.primary_span()?;
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text = format!("{text}\nhelp: {help}");
            }
            for note in &d.notes {
                text = format!("{text}\nnote: {note}");
            }
            let level = match d.level {
                Level::Error => ResultLevel::Error,
                Level::Warning => ResultLevel::Warning,
            };
            let mut result = SarifResult::builder()
                .rule_id(d.code.as_str())
                .rule_index(codes.iter().position(|c| *c == d.code).unwrap_or(0) as i64)
                .level(level)
                .message(Message::builder().text(text).build())
                .locations(vec![location(primary, None)])
                .build();
            let related: Vec<Location> =
                d.labels.iter().filter(|l| !l.primary).map(|l| location(l.span, Some(&l.message))).collect();
            if !related.is_empty() {
                result.related_locations = Some(related);
            }
            let fixes: Vec<Fix> = d
                .suggestions
                .iter()
                .map(|s| {
                    let replacement = Replacement::builder()
                        .deleted_region(region(sources, s.span))
                        .inserted_content(ArtifactContent::builder().text(s.replacement.clone()).build())
                        .build();
                    let change = ArtifactChange::builder()
                        .artifact_location(artifact(s.span.file, uri_of))
                        .replacements(vec![replacement])
                        .build();
                    Fix::builder()
                        .description(Message::builder().text(s.title.clone()).build())
                        .artifact_changes(vec![change])
                        .build()
                })
                .collect();
            if !fixes.is_empty() {
                result.fixes = Some(fixes);
            }
            Some(result)
        })
        .collect();
    let driver =
        ToolComponent::builder().name("assay").version(env!("CARGO_PKG_VERSION")).rules(rules).build();
    let mut bases = BTreeMap::new();
    bases.insert("SRCROOT".to_owned(), ArtifactLocation::builder().uri(srcroot).build());
    let mut run = Run::builder().tool(Tool::builder().driver(driver).build()).results(results).build();
    run.original_uri_base_ids = Some(bases);
    // Columns count characters, as the human rendering does.
    run.column_kind = Some(json!("unicodeCodePoints"));
    let log = Sarif::builder().version(json!("2.1.0")).schema(SCHEMA).runs(vec![run]).build();
    serde_json::to_string_pretty(&log)
}

fn artifact(file: FileId, uri_of: &dyn Fn(FileId) -> Result<String, String>) -> ArtifactLocation {
    match uri_of(file) {
        Ok(relative) => ArtifactLocation::builder().uri(relative).uri_base_id("SRCROOT").build(),
        Err(absolute) => ArtifactLocation::builder().uri(absolute).build(),
    }
}

/// 1-based lines and character columns; an empty span is one column wide
/// at its start (SARIF regions may not be empty where GitHub shows them).
fn region(sources: &SourceMap, span: Span) -> Region {
    let Some(file) = sources.get(span.file) else { return Region::builder().start_line(1).build() };
    let (start_line, start_column) = file.line_col(span.start);
    let (end_line, end_column) = file.line_col(span.end);
    let mut region =
        Region::builder().start_line(start_line as i64).start_column(start_column as i64).build();
    region.end_line = Some(end_line as i64);
    region.end_column = Some(end_column.max(if end_line == start_line { start_column } else { 1 }) as i64);
    region
}

fn physical(
    sources: &SourceMap,
    span: Span,
    uri_of: &dyn Fn(FileId) -> Result<String, String>,
) -> PhysicalLocation {
    PhysicalLocation::builder()
        .artifact_location(artifact(span.file, uri_of))
        .region(region(sources, span))
        .build()
}
