//! The typed telemetry document straight into the VM's values: a serde
//! serializer guided by the conversion plans, so no JSON tree of the
//! document is built in between (that tree was the peak of reading a large
//! document: its keys are owned strings in every object).
//!
//! Any shape the plan does not expect is an error naming the field path, a
//! broken invariant between the model and its schema, never a default.

use super::{Plan, Plans, Record, Value};
use assay_model::telemetry::{Ecosystem, Provenance};
use assay_stdlib::versions::Scheme;
use serde::ser::{self, Serialize};
use std::fmt;
use std::rc::Rc;

#[derive(Debug)]
pub(super) struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// A value and, for a sourced one, where it came from.
type Out = (Value, Option<Rc<Provenance>>);

/// Fields of the root document that the evaluation keeps outside the
/// values (see `header_only`).
const HEADER: &[&str] = &["schema_version", "schema_fingerprint", "asset", "collection", "errors"];

pub(super) fn root<T: Serialize>(plans: &Plans, document: &T) -> Result<Value, Error> {
    let plan = Plan::Record(0);
    Ok(document.serialize(To { plans, plan: &plan, path: "host" })?.0)
}

struct To<'a> {
    plans: &'a Plans,
    plan: &'a Plan,
    /// For error messages: the record or field being built.
    path: &'a str,
}

impl<'a> To<'a> {
    /// The plan without its optional layers: a present value of `T?` is a `T`.
    fn bare(&self) -> &'a Plan {
        let mut plan = self.plan;
        while let Plan::Optional(inner) = plan {
            plan = inner;
        }
        plan
    }

    fn unexpected(&self, what: &str) -> Error {
        Error(format!("internal error: `{}` is {what}, which its schema does not allow", self.path))
    }

    fn int(self, v: i128) -> Result<Out, Error> {
        match self.bare() {
            Plan::Int => Ok((Value::Int(i64::try_from(v).unwrap_or(i64::MAX)), None)),
            _ => Err(self.unexpected("an integer")),
        }
    }
}

impl<'a> ser::Serializer for To<'a> {
    type Ok = Out;
    type Error = Error;
    type SerializeSeq = List<'a>;
    type SerializeTuple = ser::Impossible<Out, Error>;
    type SerializeTupleStruct = ser::Impossible<Out, Error>;
    type SerializeTupleVariant = ser::Impossible<Out, Error>;
    type SerializeMap = ser::Impossible<Out, Error>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = ser::Impossible<Out, Error>;

    fn serialize_bool(self, v: bool) -> Result<Out, Error> {
        match self.bare() {
            Plan::Bool => Ok((Value::Bool(v), None)),
            _ => Err(self.unexpected("a bool")),
        }
    }
    fn serialize_i8(self, v: i8) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Out, Error> {
        self.int(v.into())
    }
    fn serialize_f32(self, _: f32) -> Result<Out, Error> {
        Err(self.unexpected("a float"))
    }
    fn serialize_f64(self, _: f64) -> Result<Out, Error> {
        Err(self.unexpected("a float"))
    }
    fn serialize_char(self, v: char) -> Result<Out, Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Out, Error> {
        match self.bare() {
            Plan::Str => Ok((Value::str(v), None)),
            // The scheme comes from the record's `ecosystem`, set at its end.
            Plan::Version => Ok((Value::Version(Rc::from(v), None), None)),
            Plan::Enum(e) => self.variant(*e, v),
            _ => Err(self.unexpected("a string")),
        }
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Out, Error> {
        Err(self.unexpected("bytes"))
    }
    fn serialize_none(self) -> Result<Out, Error> {
        match self.plan {
            Plan::Optional(_) => Ok((Value::Absent, None)),
            _ => Err(self.unexpected("absent")),
        }
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Out, Error> {
        value.serialize(To { plan: self.bare(), ..self })
    }
    fn serialize_unit(self) -> Result<Out, Error> {
        Err(self.unexpected("a unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Out, Error> {
        Err(self.unexpected("a unit"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Out, Error> {
        match self.bare() {
            Plan::Enum(e) => self.variant(*e, variant),
            Plan::Str => Ok((Value::str(variant), None)),
            _ => Err(self.unexpected("an enumeration value")),
        }
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Out, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Out, Error> {
        Err(self.unexpected("an enumeration with data"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<List<'a>, Error> {
        match self.bare() {
            Plan::List(inner) => Ok(List {
                plans: self.plans,
                item: inner,
                path: self.path,
                items: Vec::with_capacity(len.unwrap_or(0)),
            }),
            _ => Err(self.unexpected("a list")),
        }
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(self.unexpected("a tuple"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(self.unexpected("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(self.unexpected("an enumeration with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(self.unexpected("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>, Error> {
        match self.bare() {
            Plan::Record(r) => {
                let plan = self.plans.records.get(*r).ok_or_else(|| self.unexpected("a record"))?;
                Ok(Fields::Record {
                    plans: self.plans,
                    record: *r,
                    root: *r == 0,
                    fields: vec![Value::Absent; plan.fields.len()],
                    sources: vec![None; plan.fields.len()],
                    provenance: None,
                })
            }
            Plan::Sourced(inner) => {
                Ok(Fields::Sourced { plans: self.plans, inner, path: self.path, value: None, source: None })
            }
            _ => Err(self.unexpected("a record")),
        }
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(self.unexpected("an enumeration with data"))
    }
}

impl To<'_> {
    fn variant(self, e: u32, name: &str) -> Result<Out, Error> {
        let variants = self.plans.enums.get(e as usize).map(|en| en.variants.as_slice()).unwrap_or(&[]);
        match variants.iter().position(|(v, _)| *v == name) {
            Some(v) => Ok((Value::Enum(e, v as u32), None)),
            None => Err(self.unexpected(&format!("`{name}`"))),
        }
    }
}

pub(super) struct List<'a> {
    plans: &'a Plans,
    item: &'a Plan,
    path: &'a str,
    items: Vec<Value>,
}

impl ser::SerializeSeq for List<'_> {
    type Ok = Out;
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let item = value.serialize(To { plans: self.plans, plan: self.item, path: self.path })?;
        self.items.push(item.0);
        Ok(())
    }

    fn end(self) -> Result<Out, Error> {
        Ok((Value::List(self.items.into()), None))
    }
}

pub(super) enum Fields<'a> {
    Record {
        plans: &'a Plans,
        record: usize,
        root: bool,
        fields: Vec<Value>,
        sources: Vec<Option<Rc<Provenance>>>,
        /// The record's own `source: Provenance` field, when it has one.
        provenance: Option<Provenance>,
    },
    /// A `Sourced<T>`: its `value` and `source`.
    Sourced {
        plans: &'a Plans,
        inner: &'a Plan,
        path: &'a str,
        value: Option<Value>,
        source: Option<Rc<Provenance>>,
    },
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = Out;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        match self {
            Fields::Record { plans, record, root, fields, sources, provenance } => {
                let plan = &plans.records[*record];
                let Some(index) = plan.fields.iter().position(|(name, _)| *name == key) else {
                    if *root && HEADER.contains(&key) {
                        return Ok(());
                    }
                    return Err(Error(format!("internal error: the field `{key}` is not in the schema")));
                };
                let (v, source) = value.serialize(To { plans, plan: &plan.fields[index].1, path: key })?;
                fields[index] = v;
                sources[index] = source;
                if plan.provenance == Some(index) {
                    *provenance = Some(read_provenance(value, key)?);
                }
                Ok(())
            }
            Fields::Sourced { plans, inner, path, value: slot, source } => {
                match key {
                    "value" => *slot = Some(value.serialize(To { plans, plan: inner, path })?.0),
                    "source" => *source = Some(Rc::new(read_provenance(value, path)?)),
                    other => return Err(Error(format!("internal error: `{path}` has a field `{other}`"))),
                }
                Ok(())
            }
        }
    }

    fn end(self) -> Result<Out, Error> {
        match self {
            Fields::Record { plans, record, fields, mut sources, provenance, .. } => {
                let mut fields = fields;
                let plan = &plans.records[record];
                plan.fill_sources(&mut sources, provenance);
                let ecosystem =
                    plan.ecosystem.and_then(|name| plan.fields.iter().position(|(n, _)| *n == name));
                let scheme = ecosystem.and_then(|i| match &fields[i] {
                    Value::Str(s) => Ecosystem::parse(s).map(Ecosystem::scheme),
                    Value::Enum(e, v) => plans
                        .enums
                        .get(*e as usize)
                        .and_then(|en| en.variants.get(*v as usize))
                        .and_then(|(name, _)| Ecosystem::parse(name))
                        .map(Ecosystem::scheme),
                    _ => None,
                });
                if let Some(scheme) = scheme {
                    fields.iter_mut().for_each(|f| set_scheme(f, scheme));
                }
                Ok((Value::Record(Rc::new(Record { fields: fields.into(), sources: sources.into() })), None))
            }
            Fields::Sourced { path, value, source, .. } => match value {
                Some(v) => Ok((v, source)),
                None => Err(Error(format!("internal error: `{path}` has no value"))),
            },
        }
    }
}

/// Gives the versions of a record (and of its lists, not of the records
/// inside it, which have their own ecosystem) the record's scheme.
fn set_scheme(value: &mut Value, scheme: Scheme) {
    match value {
        Value::Version(_, s) => *s = Some(scheme),
        Value::List(items) => {
            if let Some(items) = Rc::get_mut(items) {
                items.iter_mut().for_each(|i| set_scheme(i, scheme));
            }
        }
        _ => {}
    }
}

/// A provenance, read back through its own serde form (it is small).
fn read_provenance<T: ?Sized + Serialize>(value: &T, path: &str) -> Result<Provenance, Error> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value::<Provenance>)
        .map_err(|e| Error(format!("internal error: the source of `{path}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::{convert_record, plans};
    use assay_model::telemetry::Telemetry;
    use std::path::Path;

    /// The values the JSON route gives (kept for partial documents).
    fn through_json(t: &Telemetry) -> super::Value {
        convert_record(plans().unwrap(), &serde_json::to_value(t).unwrap(), 0)
    }

    fn fixture_host(name: &str) -> Telemetry {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts").join(name);
        crate::collector::collect_root(&root)
    }

    #[test]
    fn the_serializer_builds_the_values_the_json_route_builds() {
        let plans = plans().unwrap();
        for name in ["debian-default", "debian-hardened", "rpm", "alpine", "broken"] {
            let t = fixture_host(name);
            assert!(
                t.packages.as_ref().is_some_and(|p| !p.is_empty()) || name == "broken",
                "{name}: no packages"
            );
            assert_eq!(super::root(plans, &t).unwrap(), through_json(&t), "{name}");
        }
        for name in ["two-violations.json", "weak-ssh.json"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/telemetry").join(name);
            let t = assay_model::telemetry::from_json(&std::fs::read(path).unwrap()).unwrap();
            assert_eq!(super::root(plans, &t).unwrap(), through_json(&t), "{name}");
        }
    }

    #[test]
    fn versions_take_the_scheme_of_their_record() {
        let t = fixture_host("rpm");
        let super::Value::Record(host) = super::root(plans().unwrap(), &t).unwrap() else {
            panic!("not a record")
        };
        let packages = host.fields.iter().find_map(|f| match f {
            super::Value::List(items) if !items.is_empty() => Some(items.clone()),
            _ => None,
        });
        let found = packages.unwrap().iter().any(|p| match p {
            super::Value::Record(r) => {
                r.fields.iter().any(|f| matches!(f, super::Value::Version(_, Some(_))))
            }
            _ => false,
        });
        assert!(found, "no package version has a scheme");
    }
}
