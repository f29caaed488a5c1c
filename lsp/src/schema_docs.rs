//! The telemetry model's documentation (the text docs/telemetry.md is
//! generated from), by record and field name.

use assay_model::telemetry::schema::{self, FieldSchema, RecordSchema};
use assay_model::telemetry::Telemetry;
use std::sync::OnceLock;

fn all() -> &'static [RecordSchema] {
    static RECORDS: OnceLock<Vec<RecordSchema>> = OnceLock::new();
    RECORDS.get_or_init(|| schema::records(Telemetry::schema))
}

/// A doc comment as prose: the lines of a paragraph joined, paragraphs
/// kept apart.
pub(crate) fn prose(doc: &str) -> String {
    doc.split("\n\n")
        .map(|p| p.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

pub(crate) fn record(name: &str) -> Option<&'static RecordSchema> {
    all().iter().find(|r| r.name == name)
}

pub(crate) fn field(record_name: &str, name: &str) -> Option<&'static FieldSchema> {
    record(record_name)?.fields.iter().find(|f| f.name == name)
}
