//! Partial telemetry documents, for policy tests: a fixture states only what
//! it is about, and everything it leaves out is filled in.
//!
//! - A top-level section left out stays absent (the sensor did not run), so
//!   a fixture without `sshd` tests the rule on a host without sshd.
//! - Inside a record, a field left out gets a neutral value: absent when it
//!   is optional, `false`, `0`, `""` or `[]` otherwise, the first value of an
//!   enumeration, a record completed the same way.
//! - A configuration (sourced) field may be written as its bare value; its
//!   provenance is then `fixture` (or give `{value, source}` in full).
//! - `schema_version`, `asset` and `errors` have defaults too.

use super::schema::{self, Shape};
use super::Telemetry;
use serde_json::{json, Map, Value};

/// Completes a partial document (JSON or YAML already parsed to JSON) into
/// one that deserializes as [`Telemetry`]. Unknown keys are kept, so the
/// strict loader still reports them.
pub fn complete(partial: &Value) -> Value {
    let mut doc = match partial {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => return other.clone(),
    };
    doc.entry("schema_version").or_insert(json!(super::SCHEMA_VERSION));
    doc.entry("errors").or_insert(json!([]));
    let asset = doc.entry("asset").or_insert(json!({}));
    if let Value::Object(a) = asset {
        a.entry("id").or_insert(json!("test-host"));
        a.entry("hostname").or_insert(json!("test-host"));
    }
    let root = Telemetry::schema();
    for field in &root.fields {
        if let Some(v) = doc.get_mut(field.name) {
            if !v.is_null() {
                *v = fill(v, &field.shape);
            }
        }
    }
    Value::Object(doc)
}

fn neutral(shape: &Shape) -> Value {
    match shape {
        Shape::Bool => json!(false),
        Shape::Int { .. } => json!(0),
        Shape::Str | Shape::Version => json!(""),
        Shape::List(_) => json!([]),
        Shape::Optional(_) => Value::Null,
        Shape::Sourced(inner) => json!({"value": neutral(inner), "source": {"note": "fixture default"}}),
        Shape::Record(r) => fill(&json!({}), &Shape::Record(*r)),
        Shape::Enum(e) => json!(e().variants.first().map(|(v, _)| *v).unwrap_or("")),
    }
}

fn fill(value: &Value, shape: &Shape) -> Value {
    match (shape, value) {
        (Shape::Optional(_), Value::Null) => Value::Null,
        (Shape::Optional(inner), v) => fill(v, inner),
        (Shape::Sourced(inner), Value::Object(m)) if m.contains_key("value") => {
            let mut m = m.clone();
            let v = fill(&m["value"], inner);
            m.insert("value".into(), v);
            m.entry("source").or_insert(json!({"note": "fixture"}));
            Value::Object(m)
        }
        (Shape::Sourced(inner), v) => json!({"value": fill(v, inner), "source": {"note": "fixture"}}),
        (Shape::List(inner), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| fill(i, inner)).collect())
        }
        (Shape::Record(r), Value::Object(m)) => {
            let record: schema::RecordSchema = r();
            let mut out = m.clone();
            for field in &record.fields {
                match m.get(field.name) {
                    Some(v) => {
                        out.insert(field.name.to_owned(), fill(v, &field.shape));
                    }
                    None => {
                        out.insert(field.name.to_owned(), neutral(&field.shape));
                    }
                }
            }
            Value::Object(out)
        }
        (Shape::Record(_), Value::Null) => neutral(shape),
        _ => value.clone(),
    }
}
