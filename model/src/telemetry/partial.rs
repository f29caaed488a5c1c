//! Partial telemetry documents, for policy tests: a fixture states only what
//! it is about, and everything it leaves out is filled in.
//!
//! - A top-level section left out stays absent (the sensor did not run), so
//!   a fixture without `sshd` tests the rule on a host without sshd.
//! - Inside a record, a field left out is **absent** for the rules, never an
//!   invented value: a user given only a name has no uid (not uid 0) and no
//!   password state; an sshd section `{}` has no `PermitRootLogin` (not
//!   `""`). [`given`] keeps exactly what the case states; a rule that reads
//!   what the case left out sees it missing (a comparison with it is false,
//!   an ordering is an evaluation error), so a case cannot pass on a value it
//!   never gave.
//! - [`complete`] fills the left-out fields with neutral values only to
//!   *validate* the case with the strict loader (unknown keys and wrong types
//!   are errors naming the field); those values never reach the rules.
//! - A configuration (sourced) field may be written as its bare value; its
//!   provenance is then `fixture` (or give `{value, source}` in full).
//! - `schema_version`, `asset` and `errors` have defaults.

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
                *v = fill(v, &field.shape, true);
            }
        }
    }
    Value::Object(doc)
}

/// The case as the rules see it: what it states, with sourced values
/// wrapped, and nothing else (see the module documentation).
pub fn given(partial: &Value) -> Value {
    let mut doc = match partial {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.entry("schema_version").or_insert(json!(super::SCHEMA_VERSION));
    doc.entry("errors").or_insert(json!([]));
    let root = Telemetry::schema();
    for field in &root.fields {
        if let Some(v) = doc.get_mut(field.name) {
            if !v.is_null() {
                *v = fill(v, &field.shape, false);
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
        Shape::Record(r) => fill(&json!({}), &Shape::Record(*r), true),
        Shape::Enum(e) => json!(e().variants.first().map(|(v, _)| *v).unwrap_or("")),
    }
}

/// Wraps sourced values and walks records and lists; `complete`: fields
/// left out get neutral values ([`complete`]), else they stay out ([`given`]).
fn fill(value: &Value, shape: &Shape, complete: bool) -> Value {
    match (shape, value) {
        (Shape::Optional(_), Value::Null) => Value::Null,
        (Shape::Optional(inner), v) => fill(v, inner, complete),
        (Shape::Sourced(inner), Value::Object(m)) if m.contains_key("value") => {
            let mut m = m.clone();
            let v = fill(&m["value"], inner, complete);
            m.insert("value".into(), v);
            m.entry("source").or_insert(json!({"note": "fixture"}));
            Value::Object(m)
        }
        (Shape::Sourced(inner), v) => {
            json!({"value": fill(v, inner, complete), "source": {"note": "fixture"}})
        }
        (Shape::List(inner), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| fill(i, inner, complete)).collect())
        }
        (Shape::Record(r), Value::Object(m)) => {
            let record: schema::RecordSchema = r();
            let mut out = m.clone();
            for field in &record.fields {
                match m.get(field.name) {
                    Some(v) => {
                        out.insert(field.name.to_owned(), fill(v, &field.shape, complete));
                    }
                    None if complete => {
                        out.insert(field.name.to_owned(), neutral(&field.shape));
                    }
                    None => {}
                }
            }
            Value::Object(out)
        }
        (Shape::Record(_), Value::Null) if complete => neutral(shape),
        _ => value.clone(),
    }
}
