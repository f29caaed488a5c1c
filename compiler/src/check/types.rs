//! Types of the policy language.

use super::schema::Schema;

pub type RecordId = u32;
pub type EnumId = u32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Bool,
    Int,
    Str,
    Version,
    List(Box<Ty>),
    Record(RecordId),
    Enum(EnumId),
    Optional(Box<Ty>),
    /// The element type of `[]`, and the type of an expression that already
    /// has an error: it agrees with everything, so one mistake is reported once.
    Unknown,
}

impl Ty {
    pub fn optional(self) -> Ty {
        match self {
            Ty::Optional(_) | Ty::Unknown => self,
            other => Ty::Optional(Box::new(other)),
        }
    }

    pub fn is_optional(&self) -> bool {
        matches!(self, Ty::Optional(_))
    }

    /// The type without its optionality.
    pub fn strip(&self) -> &Ty {
        match self {
            Ty::Optional(inner) => inner,
            other => other,
        }
    }

    pub fn is_unknown(&self) -> bool {
        match self {
            Ty::Unknown => true,
            Ty::Optional(inner) => inner.is_unknown(),
            _ => false,
        }
    }

    /// Whether a value of type `self` may be used where `expected` is wanted.
    pub fn fits(&self, expected: &Ty) -> bool {
        match (self, expected) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (Ty::List(a), Ty::List(b)) => a.fits(b),
            (Ty::Optional(a), Ty::Optional(b)) => a.fits(b),
            (a, Ty::Optional(b)) => a.fits(b),
            (a, b) => a == b,
        }
    }

    /// The common type of two branches or list items, if they have one.
    pub fn join(&self, other: &Ty) -> Option<Ty> {
        match (self, other) {
            (Ty::Unknown, t) | (t, Ty::Unknown) => Some(t.clone()),
            (Ty::Optional(a), b) | (b, Ty::Optional(a)) => Some(a.join(b.strip())?.optional()),
            (Ty::List(a), Ty::List(b)) => Some(Ty::List(Box::new(a.join(b)?))),
            (a, b) if a == b => Some(a.clone()),
            _ => None,
        }
    }

    pub fn display(&self, schema: &Schema) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Str => "string".into(),
            Ty::Version => "version".into(),
            Ty::List(item) => format!("list<{}>", item.display(schema)),
            Ty::Record(id) => schema.record(*id).name.clone(),
            Ty::Enum(id) => schema.enumeration(*id).name.clone(),
            Ty::Optional(inner) => format!("{}?", inner.display(schema)),
            Ty::Unknown => "_".into(),
        }
    }
}

/// A standard-library signature type as a checker type.
pub fn from_native(ty: &assay_stdlib::Ty) -> Ty {
    match ty {
        assay_stdlib::Ty::Bool => Ty::Bool,
        assay_stdlib::Ty::Int => Ty::Int,
        assay_stdlib::Ty::Str => Ty::Str,
        assay_stdlib::Ty::Version => Ty::Version,
        assay_stdlib::Ty::List(inner) => Ty::List(Box::new(from_native(inner))),
        assay_stdlib::Ty::Optional(inner) => from_native(inner).optional(),
        assay_stdlib::Ty::Any => Ty::Unknown,
    }
}
