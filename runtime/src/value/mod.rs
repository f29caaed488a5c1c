//! Values of the VM, and the conversion of a telemetry document into them
//! (from the typed document in `from_telemetry`, from a policy test's
//! partial JSON here).
//!
//! A record is a boxed slice of its fields in schema order, so the compiled
//! `Field { index }` is a direct index, never a name lookup. Sourced fields
//! keep their provenance beside the value, for evidence.

mod from_telemetry;

use assay_model::telemetry::schema::{self, Shape};
use assay_model::telemetry::{Ecosystem, Provenance, Telemetry, SCHEMA_VERSION};
use assay_stdlib::versions::Scheme;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::OnceLock;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Absent,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    /// A version and its comparison scheme (none for a literal).
    Version(Rc<str>, Option<Scheme>),
    /// Enumeration (its index among the schema's enumerations) and value.
    Enum(u32, u32),
    List(Rc<[Value]>),
    Record(Rc<Record>),
}

#[derive(Debug, PartialEq)]
pub struct Record {
    pub fields: Box<[Value]>,
    /// Provenance of sourced fields, by field index.
    pub sources: Box<[Option<Rc<Provenance>>]>,
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Absent => "absent",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::Version(..) => "version",
            Value::Enum(..) => "enumeration value",
            Value::List(_) => "list",
            Value::Record(_) => "record",
        }
    }
}

/// The display form used in messages and evidence.
pub struct Display<'a>(pub &'a Value);

impl fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Absent => f.write_str("absent"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) | Value::Version(s, _) => f.write_str(s),
            Value::Enum(e, v) => f.write_str(enum_value_name(*e, *v)),
            // An empty list is said, never left blank (`host.config = none`).
            Value::List(items) if items.is_empty() => f.write_str("none"),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Display(item))?;
                }
                Ok(())
            }
            Value::Record(_) => f.write_str("(record)"),
        }
    }
}

struct Plans {
    records: Vec<RecordPlan>,
    enums: Vec<schema::EnumSchema>,
}

struct RecordPlan {
    fields: Vec<(&'static str, Plan)>,
    /// The `ecosystem` field, which sets the scheme of the record's versions.
    ecosystem: Option<&'static str>,
    /// The index of a `source: Provenance` field (a mount's fstab line, or
    /// "systemd's built-in mount"): the provenance of the record's other
    /// fields, so their evidence says where they were read.
    provenance: Option<usize>,
}

impl RecordPlan {
    /// Gives every field without a provenance of its own the record's.
    fn fill_sources(&self, sources: &mut [Option<Rc<Provenance>>], record: Option<Provenance>) {
        let (Some(at), Some(record)) = (self.provenance, record) else { return };
        let record = Rc::new(record);
        for (i, s) in sources.iter_mut().enumerate() {
            if i != at && s.is_none() {
                *s = Some(Rc::clone(&record));
            }
        }
    }
}

enum Plan {
    Bool,
    Int,
    Str,
    Version,
    List(Box<Plan>),
    Optional(Box<Plan>),
    Sourced(Box<Plan>),
    Record(usize),
    Enum(u32),
}

/// The conversion plans, or the name of a type the schema refers to but
/// does not list (a bug in the model, reported rather than guessed at).
fn plans() -> Result<&'static Plans, TelemetryError> {
    static PLANS: OnceLock<Result<Plans, String>> = OnceLock::new();
    let built = PLANS.get_or_init(|| {
        let catalog = schema::catalog();
        let records = &catalog.records;
        let enums = catalog.enums.clone();
        let record_index: HashMap<&str, usize> =
            records.iter().enumerate().map(|(i, r)| (r.name, i)).collect();
        let enum_index: HashMap<&str, u32> =
            enums.iter().enumerate().map(|(i, e)| (e.name, i as u32)).collect();
        fn plan(shape: &Shape, r: &HashMap<&str, usize>, e: &HashMap<&str, u32>) -> Result<Plan, String> {
            Ok(match shape {
                Shape::Bool => Plan::Bool,
                Shape::Int { .. } => Plan::Int,
                Shape::Str => Plan::Str,
                Shape::Version => Plan::Version,
                Shape::List(inner) => Plan::List(Box::new(plan(inner, r, e)?)),
                Shape::Optional(inner) => Plan::Optional(Box::new(plan(inner, r, e)?)),
                Shape::Sourced(inner) => Plan::Sourced(Box::new(plan(inner, r, e)?)),
                Shape::Record(f) => {
                    let name = f().name;
                    Plan::Record(*r.get(name).ok_or_else(|| format!("record {name} is not in the schema"))?)
                }
                Shape::Enum(f) => {
                    let name = f().name;
                    Plan::Enum(
                        *e.get(name).ok_or_else(|| format!("enumeration {name} is not in the schema"))?,
                    )
                }
            })
        }
        let mut plans = Vec::with_capacity(records.len());
        for rec in records {
            let mut fields = Vec::with_capacity(rec.fields.len());
            for f in &rec.fields {
                fields.push((f.name, plan(&f.shape, &record_index, &enum_index)?));
            }
            let ecosystem = rec.fields.iter().find(|f| f.name == "ecosystem").map(|f| f.name);
            let provenance = rec.fields.iter().position(|f| {
                f.name == "source" && matches!(&f.shape, Shape::Record(r) if r().name == "Provenance")
            });
            plans.push(RecordPlan { fields, ecosystem, provenance });
        }
        Ok(Plans { records: plans, enums })
    });
    built
        .as_ref()
        .map_err(|e| TelemetryError { path: String::new(), message: format!("internal error: {e}") })
}

/// The name of an enumeration value (`tcp`).
pub fn enum_value_name(e: u32, v: u32) -> &'static str {
    schema::enum_value_name(e, v).unwrap_or("?")
}

/// A telemetry document the VM can read. `telemetry` keeps only what the
/// evaluation reads outside the rules (the asset, the collection record);
/// the sections live once, as values in `root`.
pub struct Host {
    pub telemetry: Telemetry,
    pub root: Value,
}

/// The document without its sections, once they are values: a host's data
/// is held once, not twice.
fn header_only(t: Telemetry) -> Telemetry {
    Telemetry {
        schema_version: t.schema_version,
        schema_fingerprint: t.schema_fingerprint,
        asset: t.asset,
        collection: t.collection,
        errors: t.errors,
        ..Telemetry::default()
    }
}

/// Why a telemetry document cannot be read; names the field.
pub use assay_model::telemetry::ReadError as TelemetryError;

impl Host {
    /// Reads a JSON telemetry document strictly (see
    /// [`assay_model::telemetry::from_json`]: versions, migrations, fields).
    pub fn from_json(bytes: &[u8]) -> Result<Host, TelemetryError> {
        Host::new(assay_model::telemetry::from_json(bytes)?)
    }

    /// A policy-test host: `telemetry` is the case completed for validation
    /// (asset, platform, collection), `given` what the case stated
    /// (`partial::given`), from which the rules' values are built, so a
    /// field the case left out is absent to them.
    pub fn from_partial(telemetry: Telemetry, given: &serde_json::Value) -> Result<Host, TelemetryError> {
        let plans = plans()?;
        let root = convert_record(plans, given, 0);
        Ok(Host { telemetry: header_only(telemetry), root })
    }

    pub fn new(telemetry: Telemetry) -> Result<Host, TelemetryError> {
        if telemetry.schema_version != SCHEMA_VERSION {
            return Err(TelemetryError {
                path: "schema_version".into(),
                message: format!(
                    "schema version {} is not supported; this build reads version {SCHEMA_VERSION}",
                    telemetry.schema_version
                ),
            });
        }
        let plans = plans()?;
        let root = from_telemetry::root(plans, &telemetry)
            .map_err(|e| TelemetryError { path: String::new(), message: e.to_string() })?;
        Ok(Host { telemetry: header_only(telemetry), root })
    }
}

fn convert_record(plans: &Plans, json: &serde_json::Value, plan: usize) -> Value {
    let Some(rp) = plans.records.get(plan) else { return Value::Absent };
    let obj = json.as_object();
    let scheme = rp
        .ecosystem
        .and_then(|k| obj.and_then(|o| o.get(k)))
        .and_then(serde_json::Value::as_str)
        .and_then(Ecosystem::parse)
        .map(Ecosystem::scheme);
    let mut fields = Vec::with_capacity(rp.fields.len());
    let mut sources = Vec::with_capacity(rp.fields.len());
    for (name, p) in &rp.fields {
        let v = obj.and_then(|o| o.get(*name)).unwrap_or(&serde_json::Value::Null);
        let (value, source) = convert(plans, v, p, scheme);
        fields.push(value);
        sources.push(source);
    }
    let provenance = rp
        .provenance
        .and_then(|i| obj?.get(rp.fields[i].0))
        .and_then(|s| serde_json::from_value::<Provenance>(s.clone()).ok());
    rp.fill_sources(&mut sources, provenance);
    Value::Record(Rc::new(Record { fields: fields.into(), sources: sources.into() }))
}

fn convert(
    plans: &Plans,
    json: &serde_json::Value,
    plan: &Plan,
    scheme: Option<Scheme>,
) -> (Value, Option<Rc<Provenance>>) {
    use serde_json::Value as J;
    let value = match (plan, json) {
        (Plan::Optional(_), J::Null) => Value::Absent,
        (Plan::Optional(inner), j) => return convert(plans, j, inner, scheme),
        (Plan::Sourced(inner), J::Object(o)) => {
            let (value, _) = convert(plans, o.get("value").unwrap_or(&J::Null), inner, scheme);
            let source = o.get("source").and_then(|s| serde_json::from_value::<Provenance>(s.clone()).ok());
            return (value, source.map(Rc::new));
        }
        (Plan::Bool, J::Bool(b)) => Value::Bool(*b),
        (Plan::Int, J::Number(n)) => n.as_i64().map(Value::Int).unwrap_or(Value::Int(i64::MAX)),
        (Plan::Str, J::String(s)) => Value::str(s),
        (Plan::Version, J::String(s)) => Value::Version(Rc::from(s.as_str()), scheme),
        (Plan::List(inner), J::Array(items)) => {
            Value::List(items.iter().map(|i| convert(plans, i, inner, scheme).0).collect::<Vec<_>>().into())
        }
        (Plan::Record(r), j @ J::Object(_)) => convert_record(plans, j, *r),
        (Plan::Enum(e), J::String(s)) => {
            let variants = plans.enums.get(*e as usize).map(|en| en.variants.as_slice()).unwrap_or(&[]);
            match variants.iter().position(|(name, _)| name == s) {
                Some(v) => Value::Enum(*e, v as u32),
                None => Value::Absent,
            }
        }
        // The typed document was validated by serde; nothing else reaches here.
        _ => Value::Absent,
    };
    (value, None)
}
