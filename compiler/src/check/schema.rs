//! The compiler's view of the telemetry model, built from the runtime's own
//! description of its types (`assay_model::telemetry::schema`): field
//! names, types, optionality, integer ranges and enumerations.

use super::types::{EnumId, RecordId, Ty};
use assay_model::telemetry::schema::{self as rt, Shape};
use assay_model::telemetry::Telemetry;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct Schema {
    records: Vec<Record>,
    enums: Vec<Enumeration>,
}

#[derive(Debug)]
pub struct Record {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    /// The value carries provenance (a configuration setting).
    pub sourced: bool,
    /// The range of an integer field (`u16` ports: 0 to 65535).
    pub range: Option<(i64, i64)>,
}

#[derive(Debug)]
pub struct Enumeration {
    pub name: String,
    pub variants: Vec<String>,
}

/// The telemetry root's record: the type of `host`.
pub const ROOT: RecordId = 0;

impl Schema {
    /// The schema of this build's telemetry model, built once.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::from_runtime(Telemetry::schema))
    }

    fn from_runtime(root: fn() -> rt::RecordSchema) -> Schema {
        let records = rt::records(root);
        let enums = rt::enums(&records);
        let record_id = |name: &str| records.iter().position(|r| r.name == name).unwrap_or(0) as RecordId;
        let enum_id = |name: &str| enums.iter().position(|e| e.name == name).unwrap_or(0) as EnumId;
        let convert = |shape: &Shape| -> (Ty, bool, Option<(i64, i64)>) {
            fn go(
                shape: &Shape,
                record_id: &dyn Fn(&str) -> RecordId,
                enum_id: &dyn Fn(&str) -> EnumId,
                sourced: &mut bool,
                range: &mut Option<(i64, i64)>,
            ) -> Ty {
                match shape {
                    Shape::Bool => Ty::Bool,
                    Shape::Int { min, max } => {
                        *range = Some((*min, *max));
                        Ty::Int
                    }
                    Shape::Str => Ty::Str,
                    Shape::Version => Ty::Version,
                    Shape::List(inner) => {
                        let mut ignore = None;
                        Ty::List(Box::new(go(inner, record_id, enum_id, sourced, &mut ignore)))
                    }
                    Shape::Optional(inner) => go(inner, record_id, enum_id, sourced, range).optional(),
                    Shape::Sourced(inner) => {
                        *sourced = true;
                        go(inner, record_id, enum_id, sourced, range)
                    }
                    Shape::Record(r) => Ty::Record(record_id(r().name)),
                    Shape::Enum(e) => Ty::Enum(enum_id(e().name)),
                }
            }
            let (mut sourced, mut range) = (false, None);
            let ty = go(shape, &record_id, &enum_id, &mut sourced, &mut range);
            (ty, sourced, range)
        };
        let out_records = records
            .iter()
            .map(|r| Record {
                name: r.name.to_owned(),
                fields: r
                    .fields
                    .iter()
                    .map(|f| {
                        let (ty, sourced, range) = convert(&f.shape);
                        Field { name: f.name.to_owned(), ty, sourced, range }
                    })
                    .collect(),
            })
            .collect();
        let out_enums = enums
            .iter()
            .map(|e| Enumeration {
                name: e.name.to_owned(),
                variants: e.variants.iter().map(|(v, _)| (*v).to_owned()).collect(),
            })
            .collect();
        Schema { records: out_records, enums: out_enums }
    }

    pub fn record(&self, id: RecordId) -> &Record {
        &self.records[id as usize]
    }

    pub fn enumeration(&self, id: EnumId) -> &Enumeration {
        &self.enums[id as usize]
    }

    pub fn records(&self) -> impl Iterator<Item = (RecordId, &Record)> {
        self.records.iter().enumerate().map(|(i, r)| (i as RecordId, r))
    }

    pub fn enums(&self) -> impl Iterator<Item = (EnumId, &Enumeration)> {
        self.enums.iter().enumerate().map(|(i, e)| (i as EnumId, e))
    }

    pub fn record_by_name(&self, name: &str) -> Option<RecordId> {
        self.records.iter().position(|r| r.name == name).map(|i| i as RecordId)
    }

    pub fn enum_by_name(&self, name: &str) -> Option<EnumId> {
        self.enums.iter().position(|e| e.name == name).map(|i| i as EnumId)
    }

    /// The field `name` of `record` and its index.
    pub fn field(&self, record: RecordId, name: &str) -> Option<(u32, &Field)> {
        self.record(record)
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == name)
            .map(|(i, f)| (i as u32, f))
    }

    /// The enumerations that have a value named `name`.
    pub fn enums_with_variant(&self, name: &str) -> Vec<(EnumId, u32)> {
        self.enums()
            .filter_map(|(id, e)| e.variants.iter().position(|v| v == name).map(|i| (id, i as u32)))
            .collect()
    }
}
