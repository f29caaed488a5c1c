//! The shape of the telemetry model, derived from its Rust types by the
//! `record!` and `enumeration!` macros in [`super`]. The compiler builds its
//! type environment from this, and `docs/telemetry.md` is generated from it,
//! so the types, the checker and the documentation cannot drift apart.

/// The shape of one field's value.
#[derive(Clone, Debug)]
pub enum Shape {
    Bool,
    /// A signed 64-bit integer in the language, with the range of the Rust type.
    Int {
        min: i64,
        max: i64,
    },
    Str,
    /// A version string; its comparison scheme comes from the record's
    /// `ecosystem` field when it has one.
    Version,
    List(Box<Shape>),
    /// May be absent (JSON `null` or a missing key).
    Optional(Box<Shape>),
    /// A configuration value with the file and line it came from. Rules see
    /// the value; findings show the provenance as evidence.
    Sourced(Box<Shape>),
    Record(fn() -> RecordSchema),
    Enum(fn() -> EnumSchema),
}

#[derive(Clone, Debug)]
pub struct RecordSchema {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: Vec<FieldSchema>,
}

#[derive(Clone, Debug)]
pub struct FieldSchema {
    pub name: &'static str,
    pub doc: &'static str,
    pub shape: Shape,
}

#[derive(Clone, Debug)]
pub struct EnumSchema {
    pub name: &'static str,
    pub doc: &'static str,
    /// The values as written in JSON and in policies (`tcp`, `listen`).
    pub variants: Vec<(&'static str, &'static str)>,
}

/// A Rust type that has a place in the telemetry model.
pub trait Describe {
    fn shape() -> Shape;
}

impl Describe for bool {
    fn shape() -> Shape {
        Shape::Bool
    }
}

impl Describe for String {
    fn shape() -> Shape {
        Shape::Str
    }
}

macro_rules! int_shapes {
    ($($t:ty),*) => {$(
        impl Describe for $t {
            fn shape() -> Shape {
                // u64::MAX does not fit the language's i64: cap it.
                Shape::Int { min: <$t>::MIN as i64, max: i64::try_from(<$t>::MAX).unwrap_or(i64::MAX) }
            }
        }
    )*};
}
int_shapes!(u8, u16, u32, u64, i32, i64);

impl<T: Describe> Describe for Vec<T> {
    fn shape() -> Shape {
        Shape::List(Box::new(T::shape()))
    }
}

impl<T: Describe> Describe for Option<T> {
    fn shape() -> Shape {
        Shape::Optional(Box::new(T::shape()))
    }
}

impl Shape {
    /// How the shape reads in documentation and error messages.
    pub fn describe(&self) -> String {
        match self {
            Shape::Bool => "bool".into(),
            Shape::Int { .. } => "int".into(),
            Shape::Str => "string".into(),
            Shape::Version => "version".into(),
            Shape::List(item) => format!("list<{}>", item.describe()),
            Shape::Optional(inner) => format!("{}?", inner.describe()),
            Shape::Sourced(inner) => inner.describe(),
            Shape::Record(record) => record().name.into(),
            Shape::Enum(e) => e().name.into(),
        }
    }
}

/// Every record reachable from `root`, root first, each once, in the order
/// first met (depth-first over fields).
pub fn records(root: fn() -> RecordSchema) -> Vec<RecordSchema> {
    let mut out: Vec<RecordSchema> = Vec::new();
    let mut stack = vec![root];
    while let Some(next) = stack.pop() {
        let record = next();
        if out.iter().any(|r| r.name == record.name) {
            continue;
        }
        let mut nested = Vec::new();
        for field in &record.fields {
            collect_records(&field.shape, &mut nested);
        }
        out.push(record);
        stack.extend(nested.into_iter().rev());
    }
    out
}

fn collect_records(shape: &Shape, out: &mut Vec<fn() -> RecordSchema>) {
    match shape {
        Shape::List(inner) | Shape::Optional(inner) | Shape::Sourced(inner) => collect_records(inner, out),
        Shape::Record(record) => out.push(*record),
        _ => {}
    }
}

/// Every enumeration used by the records, sorted by name.
pub fn enums(records: &[RecordSchema]) -> Vec<EnumSchema> {
    let mut out: Vec<EnumSchema> = Vec::new();
    for field in records.iter().flat_map(|r| &r.fields) {
        let mut shape = &field.shape;
        loop {
            match shape {
                Shape::List(inner) | Shape::Optional(inner) | Shape::Sourced(inner) => shape = inner,
                Shape::Enum(e) => {
                    let e = e();
                    if !out.iter().any(|o| o.name == e.name) {
                        out.push(e);
                    }
                    break;
                }
                _ => break,
            }
        }
    }
    out.sort_by_key(|e| e.name);
    out
}

/// The telemetry model's records and enumerations, computed once. Record
/// and enumeration numbers in bundles index these lists.
pub struct Catalog {
    pub records: Vec<RecordSchema>,
    pub enums: Vec<EnumSchema>,
}

pub fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| {
        let records = records(super::Telemetry::schema);
        let enums = enums(&records);
        Catalog { records, enums }
    })
}

/// The name of value `v` of enumeration `e` (`tcp`), if both exist.
pub fn enum_value_name(e: u32, v: u32) -> Option<&'static str> {
    let en = catalog().enums.get(e as usize)?;
    en.variants.get(v as usize).map(|(name, _)| *name)
}

/// A canonical text of everything a compiled field index, enumeration
/// number or type depends on: records in order with their fields in order
/// and shapes (integer ranges included), enumerations with their values in
/// order. The schema fingerprint is its hash.
pub fn canonical_text() -> String {
    use std::fmt::Write;
    fn shape(s: &Shape) -> String {
        match s {
            Shape::Int { min, max } => format!("int[{min},{max}]"),
            Shape::List(i) => format!("list<{}>", shape(i)),
            Shape::Optional(i) => format!("{}?", shape(i)),
            Shape::Sourced(i) => format!("sourced<{}>", shape(i)),
            other => other.describe(),
        }
    }
    let c = catalog();
    let mut out = String::new();
    for r in &c.records {
        let _ = writeln!(out, "record {}", r.name);
        for f in &r.fields {
            let _ = writeln!(out, "  {}: {}", f.name, shape(&f.shape));
        }
    }
    for e in &c.enums {
        let values: Vec<&str> = e.variants.iter().map(|(n, _)| *n).collect();
        let _ = writeln!(out, "enum {} = {}", e.name, values.join(" | "));
    }
    out
}

/// The reference page `docs/telemetry.md`, generated from the types.
pub fn markdown(root: fn() -> RecordSchema, schema_version: u32) -> String {
    let records = records(root);
    let enums = enums(&records);
    let mut out = String::new();
    out.push_str("# Telemetry reference\n\n");
    out.push_str(
        "<!-- Generated from runtime/src/telemetry/mod.rs by \
         `ASSAY_UPDATE_DOCS=1 cargo test -p assay-model telemetry`; do not edit. -->\n\n",
    );
    out.push_str(&format!(
        "One JSON document per host, schema version {schema_version}. Rules read it through `host`: \
         `host.sshd.permit_root_login` is the field `permit_root_login` of the record `Sshd` held by the \
         field `sshd` of `Telemetry`.\n\n\
         A type ending in `?` may be absent: a sensor failed or does not apply, or a setting is unset. \
         Rules must say what absence means (`??`, `is present`, `applies when`; see \
         `docs/language.md`). A *sourced* field is a configuration value that carries the file and line \
         it came from; rules see the value, findings show the source as evidence.\n\n"
    ));
    for record in &records {
        out.push_str(&format!("## `{}`\n\n", record.name));
        push_doc(&mut out, record.doc);
        out.push_str("| field | type | |\n| --- | --- | --- |\n");
        for field in &record.fields {
            let sourced = if is_sourced(&field.shape) { " (sourced)" } else { "" };
            let doc = field.doc.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push_str(&format!("| `{}` | `{}`{sourced} | {doc} |\n", field.name, field.shape.describe()));
        }
        out.push('\n');
    }
    out.push_str("## Enumerations\n\nWritten as bare words in policies (`l.protocol == tcp`) and as strings in JSON.\n\n");
    for e in &enums {
        out.push_str(&format!("### `{}`\n\n", e.name));
        push_doc(&mut out, e.doc);
        for (value, doc) in &e.variants {
            let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
            if doc.is_empty() {
                out.push_str(&format!("- `{value}`\n"));
            } else {
                out.push_str(&format!("- `{value}`: {doc}\n"));
            }
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn push_doc(out: &mut String, doc: &str) {
    let text: Vec<&str> = doc.lines().map(str::trim).collect();
    let text = text.join(" ");
    let text = text.trim();
    if !text.is_empty() {
        out.push_str(text);
        out.push_str("\n\n");
    }
}

fn is_sourced(shape: &Shape) -> bool {
    match shape {
        Shape::Sourced(_) => true,
        Shape::Optional(inner) => is_sourced(inner),
        _ => false,
    }
}
