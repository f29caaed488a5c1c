//! The standard library of the Assay policy language: the natives a policy
//! reaches with `import std.strings` (and the other modules below), their
//! signatures, which the type checker reads, and their Rust implementations,
//! which the VM calls.
//!
//! Natives are pure and total: the same arguments always give the same value,
//! and a native never panics. A native that cannot produce a value (an
//! unparsable integer) returns an optional.

mod natives;
pub mod requirement;
pub mod versions;

pub use natives::{call, cidr_error, date_days, NativeError, Value};

/// A type in a native's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    Str,
    Version,
    List(&'static Ty),
    Optional(&'static Ty),
    /// Any type; only inside `List` for parameters (`lists.len`).
    Any,
}

/// One native function.
#[derive(Clone, Copy, Debug)]
pub struct Native {
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [(&'static str, Ty)],
    pub ret: Ty,
    pub doc: &'static str,
}

impl Native {
    /// `strings.lower(s: string) -> string`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|(n, t)| format!("{n}: {}", t.describe())).collect();
        format!("{}.{}({}) -> {}", self.module, self.name, params.join(", "), self.ret.describe())
    }
}

impl Ty {
    pub fn describe(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Str => "string".into(),
            Ty::Version => "version".into(),
            Ty::List(t) => format!("list<{}>", t.describe()),
            Ty::Optional(t) => format!("{}?", t.describe()),
            Ty::Any => "any".into(),
        }
    }
}

const S: Ty = Ty::Str;
const I: Ty = Ty::Int;
const B: Ty = Ty::Bool;

/// Every native, in a fixed order: a native's index here is its number in
/// bytecode, so new natives go at the end.
pub const NATIVES: &[Native] = &[
    Native {
        module: "strings",
        name: "lower",
        params: &[("s", S)],
        ret: S,
        doc: "The string in lowercase (Unicode).",
    },
    Native {
        module: "strings",
        name: "upper",
        params: &[("s", S)],
        ret: S,
        doc: "The string in uppercase (Unicode).",
    },
    Native {
        module: "strings",
        name: "trim",
        params: &[("s", S)],
        ret: S,
        doc: "The string without leading and trailing whitespace.",
    },
    Native { module: "strings", name: "len", params: &[("s", S)], ret: I, doc: "The number of characters." },
    Native {
        module: "strings",
        name: "split",
        params: &[("s", S), ("separator", S)],
        ret: Ty::List(&S),
        doc: "The parts between separators; an empty separator splits on runs of whitespace.",
    },
    Native {
        module: "strings",
        name: "join",
        params: &[("parts", Ty::List(&S)), ("separator", S)],
        ret: S,
        doc: "The parts joined with the separator between them.",
    },
    Native {
        module: "strings",
        name: "replace",
        params: &[("s", S), ("from", S), ("to", S)],
        ret: S,
        doc: "Every occurrence of `from` replaced by `to`.",
    },
    Native {
        module: "strings",
        name: "to_int",
        params: &[("s", S)],
        ret: Ty::Optional(&I),
        doc: "The decimal integer the string holds (surrounding whitespace allowed), or absent.",
    },
    Native {
        module: "dates",
        name: "days",
        params: &[("text", S)],
        ret: Ty::Optional(&I),
        doc: "Days since 1970-01-01 of a date (`2026-12-07`) or an RFC 3339 time (`2026-12-07T00:21:21Z`, counted in UTC), or absent when it is neither; with `host.collection.started`, the collection's own clock: `dates.days(host.collection.started) - u.last_change > 90`.",
    },
    Native {
        module: "lists",
        name: "len",
        params: &[("items", Ty::List(&Ty::Any))],
        ret: I,
        doc: "The number of items.",
    },
    Native {
        module: "lists",
        name: "get",
        params: &[("items", Ty::List(&S)), ("index", I)],
        ret: Ty::Optional(&S),
        doc: "The string at `index` (from 0) of a list of strings, such as a matched line's `captures`; absent past the end or for a negative index.",
    },
    Native {
        module: "bits",
        name: "and",
        params: &[("a", I), ("b", I)],
        ret: I,
        doc: "Bitwise and: `bits.and(mode, 0o022)`.",
    },
    Native { module: "bits", name: "or", params: &[("a", I), ("b", I)], ret: I, doc: "Bitwise or." },
    Native {
        module: "bits",
        name: "any",
        params: &[("value", I), ("mask", I)],
        ret: B,
        doc: "True when any bit of `mask` is set in `value`.",
    },
    Native {
        module: "modes",
        name: "octal",
        params: &[("mode", I)],
        ret: S,
        doc: "A permission mode written in octal with four digits, such as `0644`.",
    },
    Native {
        module: "modes",
        name: "others_can_write",
        params: &[("mode", I)],
        ret: B,
        doc: "True when the mode lets users other than the owner and group write (`o+w`).",
    },
    Native {
        module: "modes",
        name: "group_or_others_can_write",
        params: &[("mode", I)],
        ret: B,
        doc: "True when the mode lets the group or other users write.",
    },
    Native {
        module: "modes",
        name: "parse",
        params: &[("text", S)],
        ret: Ty::Optional(&I),
        doc: "The mode or umask an octal string holds (`\"027\"`, `\"0640\"`), or absent when it is not 1 to 4 octal digits.",
    },
    Native {
        module: "net",
        name: "is_loopback",
        params: &[("address", S)],
        ret: B,
        doc: "True for 127.0.0.0/8, `::1` and `localhost`.",
    },
    Native {
        module: "net",
        name: "is_wildcard",
        params: &[("address", S)],
        ret: B,
        doc: "True for `0.0.0.0`, `::` and `*`: every interface.",
    },
    Native {
        module: "net",
        name: "in_cidr",
        params: &[("address", S), ("cidr", S)],
        ret: Ty::Optional(&B),
        doc: "Whether an IPv4 or IPv6 address is in a CIDR block (`10.0.0.0/8`, `fd00::/8`); absent when either does not parse (`[...]` around IPv6 and a `/NN` on the address are allowed).",
    },
    Native {
        module: "net",
        name: "is_private",
        params: &[("address", S)],
        ret: Ty::Optional(&B),
        doc: "True for the private ranges (10/8, 172.16/12, 192.168/16, IPv6 unique local fc00::/7), false for any other address, absent when it does not parse.",
    },
];

/// The standard-library modules, sorted.
pub fn modules() -> Vec<&'static str> {
    let mut out: Vec<&str> = NATIVES.iter().map(|n| n.module).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The native `module.name` and its index in [`NATIVES`].
pub fn lookup(module: &str, name: &str) -> Option<(u16, &'static Native)> {
    NATIVES
        .iter()
        .enumerate()
        .find(|(_, n)| n.module == module && n.name == name)
        .and_then(|(i, n)| Some((u16::try_from(i).ok()?, n)))
}
