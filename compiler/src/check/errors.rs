//! The constructors of the checker's diagnostics that more than one place
//! reports. Each code is built by exactly one function (a test in
//! `diagnostics/codes.rs` counts them); a code with several forms takes an
//! enumeration of them, so the wording of a code lives in one place.
//! Codes reported from a single place keep their constructor there.

use super::schema::Schema;
use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use assay_model::telemetry::ContentFormat;

/// E0301: a name that resolves to nothing.
pub(super) enum UnknownName<'a> {
    /// A bare name, with the best hint found for it.
    Name { name: &'a str, hint: NameHint, bound_later: bool },
    /// A word (or string literal) where a value of an enumeration is expected.
    EnumValue { word: &'a str, enumeration: &'a str, variants: &'a [String], quoted: bool },
    /// `module.name` where the module defines no `name`.
    Member { module: &'a str, name: &'a str, candidates: &'a [String] },
}

pub(super) enum NameHint {
    /// Defined in this sibling module, not imported.
    Sibling(String),
    /// A top-level telemetry field, read without `host.`.
    HostField,
    Similar(String),
    SimilarValue(String),
    None,
}

pub(super) fn unknown_name(span: Span, what: UnknownName<'_>) -> Diagnostic {
    match what {
        UnknownName::Name { name, hint, bound_later } => {
            let mut d = Diagnostic::new(Code::E0301, format!("unknown name `{name}`"))
                .primary(span, "not defined here");
            d = match hint {
                NameHint::Sibling(module) => d.help(format!(
                    "`{name}` is defined in the module `{module}`: add `import {module}.{{{name}}}`"
                )),
                NameHint::HostField => {
                    d.help(format!("telemetry is read through `host`: did you mean `host.{name}`?"))
                }
                NameHint::Similar(s) => d.help(format!("did you mean `{s}`?")).suggest(span, s),
                NameHint::SimilarValue(s) => d.help(format!("did you mean the value `{s}`?")),
                NameHint::None => d,
            };
            if bound_later {
                d = d.note(
                    "a binding is visible only after its `let` and inside its `for each` or quantifier",
                );
            }
            d
        }
        UnknownName::EnumValue { word, enumeration, variants, quoted } => {
            let shown = if quoted { format!("\"{word}\"") } else { word.to_owned() };
            let mut d = Diagnostic::new(Code::E0301, format!("`{shown}` is not a value of `{enumeration}`"))
                .primary(span, format!("not a `{enumeration}`"));
            d = match did_you_mean(word, variants.iter().map(String::as_str)) {
                Some(s) => {
                    let replacement = if quoted { format!("{s:?}") } else { s.to_owned() };
                    d.help(format!("did you mean `{s}`?")).suggest(span, replacement)
                }
                None => d.help(format!("`{enumeration}` is one of: {}", variants.join(", "))),
            };
            if quoted {
                d = d.note("the comparison could never hold, so the rule would never fire");
            }
            d
        }
        UnknownName::Member { module, name, candidates } => {
            let mut d = Diagnostic::new(Code::E0301, format!("`{module}` has no `{name}`"))
                .primary(span, "not defined there");
            if let Some(s) = did_you_mean(name, candidates.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{module}.{s}`?"));
            }
            d
        }
    }
}

/// E0301 for a string literal compared with an enumeration.
pub(super) fn not_an_enum_value(schema: &Schema, e: u32, text: &str, span: Span) -> Diagnostic {
    let enumeration = schema.enumeration(e);
    unknown_name(
        span,
        UnknownName::EnumValue {
            word: text,
            enumeration: &enumeration.name,
            variants: &enumeration.variants,
            quoted: true,
        },
    )
}

/// E0304: an import of something that does not exist.
pub(super) enum UnknownModule<'a> {
    /// `import std.NAME` for a module the standard library lacks.
    Std { path: &'a str, name: &'a str, modules: &'a [&'static str] },
    /// `import NAME` for a module this package lacks.
    Package { path: &'a str, name: &'a str, modules: &'a [&'a str] },
    /// `import m.{name}` where `m` has no `name`.
    Member { path: &'a str, name: &'a str, candidates: &'a [String] },
}

pub(super) fn unknown_import(span: Span, what: UnknownModule<'_>) -> Diagnostic {
    match what {
        UnknownModule::Std { path, name, modules } => {
            let d = Diagnostic::new(Code::E0304, format!("the standard library has no module `{path}`"))
                .primary(span, "unknown module");
            match did_you_mean(name, modules.iter().copied()) {
                Some(s) => d.help(format!("did you mean `std.{s}`?")),
                None => d.help(format!(
                    "standard-library modules: {}",
                    modules.iter().map(|m| format!("`std.{m}`")).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        UnknownModule::Package { path, name, modules } => {
            let d =
                Diagnostic::new(Code::E0304, format!("no module `{path}`")).primary(span, "unknown module");
            match did_you_mean(name, modules.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!(
                    "a module is a `.assay` file of the same package; this package has {}; the \
                     standard library's modules are imported as `std.NAME`",
                    if modules.is_empty() {
                        "no other module".to_owned()
                    } else {
                        modules.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    }
                )),
            }
        }
        UnknownModule::Member { path, name, candidates } => {
            let mut d =
                Diagnostic::new(Code::E0304, format!("`{path}` has no `{name}`")).primary(span, "not found");
            if let Some(s) = did_you_mean(name, candidates.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if !candidates.is_empty() {
                d = d.help(format!("it defines {}", candidates.join(", ")));
            }
            d
        }
    }
}

/// E0306: one name defined twice where it must be unique.
pub(super) enum Duplicate<'a> {
    /// Two files with the same stem in one package.
    Module {
        name: &'a str,
        first_file: &'a str,
    },
    /// A constant or function named `host`.
    Host,
    Definition {
        name: &'a str,
        first: Span,
    },
    Import {
        name: &'a str,
    },
    Parameter {
        name: &'a str,
        first: Span,
    },
    Binding {
        name: &'a str,
        first: Span,
    },
}

pub(super) fn duplicate(span: Span, what: Duplicate<'_>) -> Diagnostic {
    match what {
        Duplicate::Module { name, first_file } => {
            Diagnostic::new(Code::E0306, format!("two files define the module `{name}`"))
                .primary(span, "this file")
                .note(format!("{first_file} has the same name"))
                .help("module names are file names without `.assay`; rename one of the files")
        }
        Duplicate::Host => {
            Diagnostic::new(Code::E0306, "`host` is the telemetry document and cannot be redefined")
                .primary(span, "redefines `host`")
                .help("choose another name")
        }
        Duplicate::Definition { name, first } => {
            Diagnostic::new(Code::E0306, format!("`{name}` is defined twice in this module"))
                .primary(span, "defined again here")
                .secondary(first, "first defined here")
                .help("rename or remove one of them")
        }
        Duplicate::Import { name } => {
            Diagnostic::new(Code::E0306, format!("`{name}` is already defined in this module"))
                .primary(span, "imported again")
                .help("remove the import, or rename the local definition")
        }
        Duplicate::Parameter { name, first } => {
            Diagnostic::new(Code::E0306, format!("the parameter `{name}` is declared twice"))
                .primary(span, "declared again")
                .secondary(first, "first declared here")
                .help("give each parameter its own name")
        }
        Duplicate::Binding { name, first } => {
            Diagnostic::new(Code::E0306, format!("`{name}` is already bound here"))
                .primary(span, "bound again")
                .secondary(first, "first bound here")
                .help("use a different name for the second value")
        }
    }
}

/// E0307: modules that import each other.
pub(super) enum Cycle<'a> {
    Itself {
        module: &'a str,
    },
    /// The modules in import order; `closing` is the import back to the first.
    Through {
        modules: &'a [&'a str],
        closing: Span,
    },
}

pub(super) fn import_cycle(span: Span, what: Cycle<'_>) -> Diagnostic {
    match what {
        Cycle::Itself { module } => Diagnostic::new(Code::E0307, format!("module `{module}` imports itself"))
            .primary(span, "imports its own module")
            .help("names of this module are in scope without an import"),
        Cycle::Through { modules, closing } => {
            Diagnostic::new(Code::E0307, format!("modules import each other: {}", modules.join(" → ")))
                .primary(span, "this import starts the cycle")
                .secondary(closing, "and this one closes it")
                .help("move what both modules need into a third module that imports neither")
        }
    }
}

/// E0308: a definition that needs itself to be evaluated.
pub(super) enum Recursive {
    /// A constant whose value refers back to it.
    Constant,
    /// A function calling itself, directly or through others, at `call`.
    Function { call: Span },
}

pub(super) fn recursive(name: &str, span: Span, what: Recursive) -> Diagnostic {
    match what {
        Recursive::Constant => Diagnostic::new(Code::E0308, format!("the constant `{name}` depends on itself"))
            .primary(span, "its value refers back to it")
            .help("a constant's value must be computable from literals and other constants"),
        Recursive::Function { call } => Diagnostic::new(Code::E0308, format!("the function `{name}` calls itself"))
            .primary(span, "recursive")
            .secondary(call, "through this call")
            .help("functions may not recurse, directly or through each other, so every evaluation ends; use a quantifier over a collection instead"),
    }
}

/// E0309: a `platform` clause naming a platform the rule cannot have.
pub(super) enum BadPlatform<'a> {
    /// A real platform the package's manifest does not list.
    NotInManifest,
    /// No such platform.
    Unknown { known: &'a [&'static str] },
}

pub(super) fn bad_platform(name: &str, span: Span, what: BadPlatform<'_>) -> Diagnostic {
    match what {
        BadPlatform::NotInManifest => {
            Diagnostic::new(Code::E0309, format!("the package does not support the platform `{name}`"))
                .primary(span, "not in the manifest's platforms")
                .help(format!("add `{name}` to `platforms` in package.yaml, or remove it here"))
        }
        BadPlatform::Unknown { known } => {
            let d = Diagnostic::new(Code::E0309, format!("unknown platform `{name}`"))
                .primary(span, "not a platform");
            match did_you_mean(name, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("platforms: {}", known.join(", "))),
            }
        }
    }
}

/// E0401: a value of the wrong type. Types are given as displayed.
pub(super) enum Mismatch<'a> {
    /// `found` where `want` is needed, for the reason `context`.
    Expected { want: &'a str, found: &'a str, context: &'a str, hint: Option<String> },
    /// A list item of another type than the items before it.
    ListItem { item: &'a str, earlier: &'a str },
    /// `if` branches of two types; `then` is the other branch.
    Branches { then: Span, then_ty: &'a str, otherwise_ty: &'a str },
    /// A record interpolated into text.
    RecordInText { record: &'a str },
    /// `for each` or a quantifier over something that is not a list.
    NotAList { found: &'a str },
    /// A module or function (`name`) used as a value.
    NotAValue { name: &'a str, module: bool },
    /// An operator applied to operands it does not take; `hint`, when
    /// there is one, is more specific than `help`.
    Operator {
        op: &'a str,
        left: Span,
        left_ty: &'a str,
        right_ty: &'a str,
        help: &'a str,
        hint: Option<&'a str>,
    },
}

pub(super) fn mismatch(span: Span, what: Mismatch<'_>) -> Diagnostic {
    match what {
        Mismatch::Expected { want, found, context, hint } => {
            let d = Diagnostic::new(Code::E0401, format!("expected `{want}`, found `{found}`"))
                .primary(span, format!("this is `{found}`"))
                .note(context.to_owned());
            match hint {
                Some(h) => d.help(h),
                None => d,
            }
        }
        Mismatch::ListItem { item, earlier } => Diagnostic::new(
            Code::E0401,
            format!("list items must have one type: this is `{item}`, earlier items are `{earlier}`"),
        )
        .primary(span, "different type")
        .help("write the items with the same type"),
        Mismatch::Branches { then, then_ty, otherwise_ty } => Diagnostic::new(
            Code::E0401,
            format!("the branches of `if` have different types: `{then_ty}` and `{otherwise_ty}`"),
        )
        .primary(span, "this branch")
        .secondary(then, "the other branch")
        .help("both branches must give the same type"),
        Mismatch::RecordInText { record } => {
            Diagnostic::new(Code::E0401, format!("a `{record}` record cannot be written into text"))
                .primary(span, "a record")
                .help("interpolate one of its fields, such as `{p.name}`")
        }
        Mismatch::NotAList { found } => {
            Diagnostic::new(Code::E0401, format!("expected a list to iterate over, found `{found}`"))
                .primary(span, format!("this is `{found}`"))
                .help("`for each` and the quantifiers walk lists, such as `host.packages`")
        }
        Mismatch::NotAValue { name, module: true } => {
            Diagnostic::new(Code::E0401, format!("`{name}` is a module, not a value"))
                .primary(span, "a module")
                .help(format!("use one of its definitions: `{name}.NAME`"))
        }
        Mismatch::NotAValue { name, module: false } => {
            Diagnostic::new(Code::E0401, format!("`{name}` is a function, not a value"))
                .primary(span, "a function")
                .help(format!("call it: `{name}(...)`"))
        }
        Mismatch::Operator { op, left, left_ty, right_ty, help, hint } => {
            Diagnostic::new(Code::E0401, format!("`{op}` cannot be applied to `{left_ty}` and `{right_ty}`"))
                .primary(span, format!("this is `{right_ty}`"))
                .secondary(left, format!("this is `{left_ty}`"))
                .help(hint.unwrap_or(help).to_owned())
        }
    }
}

/// E0407: a written type that is not one.
pub(super) enum BadType<'a> {
    /// `name` given `given` type arguments; it takes `arity`.
    Arity {
        name: &'a str,
        arity: usize,
        given: usize,
    },
    Unknown {
        name: &'a str,
        suggestion: Option<&'a str>,
    },
}

pub(super) fn bad_type(span: Span, what: BadType<'_>) -> Diagnostic {
    match what {
        BadType::Arity { name, arity, given } => Diagnostic::new(
            Code::E0407,
            format!("`{name}` takes {arity} type argument{}", if arity == 1 { "" } else { "s" }),
        )
        .primary(span, format!("given {given}"))
        .help("write `list<T>` for a list; other types take no arguments"),
        BadType::Unknown { name, suggestion } => {
            let d =
                Diagnostic::new(Code::E0407, format!("unknown type `{name}`")).primary(span, "not a type");
            match suggestion {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(
                    "types are `bool`, `int`, `string`, `version`, `list<T>`, and the records and \
                     enumerations of docs/telemetry.md",
                ),
            }
        }
    }
}

/// E0402: an optional value used where a value is needed.
pub(super) struct MayBeAbsent<'a> {
    pub text: &'a str,
    /// The value's type, displayed.
    pub ty: &'a str,
    /// The narrowest expression whose presence test fixes the use.
    pub guard: &'a str,
    pub where_: Guard,
}

/// Where the use is, which decides the guards that can fix it.
pub(super) enum Guard {
    /// A rule reading telemetry: a test, or `applies when` for the whole rule.
    Rule,
    /// A rule reading a loop or quantifier variable: a test or a `where` filter.
    Filter,
    /// A function or constant: a test inside it (rules do not apply).
    Function,
}

pub(super) fn may_be_absent(span: Span, what: MayBeAbsent<'_>) -> Diagnostic {
    let MayBeAbsent { text, ty, guard, where_ } = what;
    let help = match where_ {
        Guard::Rule => format!(
            "give a default (`{text} ?? ...`), test `{guard} is present` first, or guard the rule with `applies when {guard} is present`"
        ),
        Guard::Filter => format!(
            "give a default (`{text} ?? ...`), or test `{guard} is present` first (with `and`, or in the `where` filter)"
        ),
        Guard::Function => {
            format!("give a default (`{text} ?? ...`), or test `{guard} is present` first (with `and` or `if`)")
        }
    };
    Diagnostic::new(Code::E0402, format!("`{text}` may be absent, and this use does not say what then"))
        .primary(span, format!("`{ty}` is optional"))
        .help(help)
        .note("missing telemetry must never make a rule pass silently; see \"Missing data\" in docs/language.md")
}

/// E0311: a lookup by name the collector cannot make.
pub(super) enum BadLookup<'a> {
    /// Not exactly one string literal (`given` arguments).
    NotALiteral { given: usize },
    /// A literal that is not a name of this kind, and why.
    Name { name: &'a str, why: &'a str },
    /// A lookup of a file's contents without two or three literals.
    ContentArguments { format: ContentFormat, given: usize },
    /// An option after the key that is none of `"presence"`, `"not secret: WHY"`
    /// and `"drop-ins: DIR/*SUFFIX"`, or one given twice.
    ContentOption { format: ContentFormat, given: &'a str },
    /// A path, key or pattern that cannot be looked up, and why.
    Content { format: ContentFormat, why: &'a str },
}

pub(super) fn bad_lookup(
    span: Span,
    kind: assay_model::lookup::LookupKind,
    what: BadLookup<'_>,
) -> Diagnostic {
    let (message, label, help) = match what {
        BadLookup::NotALiteral { given } => (
            format!("`host.{kind}(...)` takes one string literal"),
            if given == 1 { "not a literal".to_owned() } else { format!("{given} arguments") },
            format!(
                "the name must be written out, so the bundle can ask the collector for it; to test several, \
                 write one lookup for each and make a missing value fail: `let a = host.{kind}(\"...\")` \
                 then `fail when (a.FIELD ?? \"unset\") != \"expected\"`"
            ),
        ),
        BadLookup::Name { name, why } => (
            format!("`host.{kind}({name:?})` cannot be looked up"),
            format!("not a {kind} name"),
            why.to_owned(),
        ),
        BadLookup::ContentArguments { format, given } => (
            format!(
                "`host.{f}(PATH, {what})` takes two string literals",
                f = format.as_str(),
                what = if format == ContentFormat::Lines { "PATTERN" } else { "KEY" }
            ),
            format!("{given} argument(s), or not literals"),
            "the file and the key must be written out, so the bundle can ask the collector for exactly \
             them"
                .to_owned(),
        ),
        BadLookup::ContentOption { format, given } => (
            format!(
                "`host.{}(...)`'s options after the key are `\"presence\"`, `\"not secret: WHY\"` and \
                 `\"drop-ins: DIR/*SUFFIX\"`, each at most once",
                format.as_str()
            ),
            format!("{given:?}"),
            "`\"presence\"` looks up only whether the key is set; `\"not secret: WHY\"` reads the value of \
             a key whose name looks like a credential but is none, and says why; `\"drop-ins: DIR/*.conf\"` \
             reads the folder's files after the file, in name order, each overriding what came before"
                .to_owned(),
        ),
        BadLookup::Content { format, why } => (
            format!("this `host.{}(...)` cannot be looked up", format.as_str()),
            "here".to_owned(),
            why.to_owned(),
        ),
    };
    Diagnostic::new(Code::E0311, message).primary(span, label).help(help)
}

/// What is wrong with a parameter's declaration (E0315).
pub(super) enum BadParam {
    NoType,
    Type,
    Default,
    Twice { first: Span },
}

/// E0315: a parameter a scan could not set as declared.
pub(super) fn bad_param(span: Span, what: BadParam) -> Diagnostic {
    let d = match what {
        BadParam::NoType => Diagnostic::new(Code::E0315, "a parameter needs its type")
            .primary(span, "no type")
            .help("write it: `param MAX_AUTH_TRIES: int = 4`"),
        BadParam::Type => Diagnostic::new(Code::E0315, "a parameter is an `int`, a `string`, a `bool` or a `list<string>`")
            .primary(span, "not a type a scan can set")
            .help("those are the values `--param`, a params file, a test case or a template can give"),
        BadParam::Default => Diagnostic::new(Code::E0315, "a parameter's default is a literal of its type")
            .primary(span, "not a literal")
            .help("write the value itself (`4`, `\"no\"`, `true`, `[\"a\", \"b\"]`); a constant may compute from the parameter"),
        BadParam::Twice { first } => Diagnostic::new(Code::E0315, "the package declares this parameter twice")
            .primary(span, "declared again")
            .secondary(first, "first declared here")
            .help("a parameter is named `PACKAGE.NAME`, so the name is unique in its package"),
    };
    d.note(
        "parameters are set with `assay scan --param PACKAGE.NAME=VALUE` (docs/language.md, \"Parameters\")",
    )
}

/// E0408: a literal CIDR block that does not parse.
pub(super) fn bad_cidr(span: Span, why: &str) -> Diagnostic {
    Diagnostic::new(Code::E0408, "invalid CIDR block")
        .primary(span, why.to_owned())
        .help("write an address and a prefix length: `10.0.0.0/8`, `172.16.0.0/12`, `fc00::/7`")
}

/// E0313: the value of a key or pattern that looks like a credential.
pub(super) fn credential_value(
    span: Span,
    format: ContentFormat,
    path: &str,
    key: &str,
    word: &str,
) -> Diagnostic {
    let f = format.as_str();
    Diagnostic::new(Code::E0313, format!("{key:?} looks like a credential: its value is never collected"))
        .primary(span, format!("names `{word}`"))
        .help(format!(
            "test only whether it is set: `host.{f}({path:?}, {key:?}, \"presence\")` (a `bool?`); if it holds \
             no secret, say why: `host.{f}({path:?}, {key:?}, \"not secret: ...\")`"
        ))
        .note("the collector never reads a credential into the telemetry (docs/security.md)")
}

/// What `host.config` never holds (E0314).
pub(super) enum NotInConfig<'a> {
    Configuration(&'a str),
    /// A key none of `configs` keeps.
    Key {
        key: &'a str,
        configs: &'a [&'a assay_model::configs::Configuration],
    },
}

/// E0314: a configuration or key `host.config` never holds.
pub(super) fn not_in_config(span: Span, what: NotInConfig<'_>) -> Diagnostic {
    let d = match what {
        NotInConfig::Configuration(name) => {
            let names = assay_model::configs::CONFIGURATIONS.iter().map(|c| c.name);
            let d =
                Diagnostic::new(Code::E0314, format!("`host.config` never holds the configuration {name:?}"))
                    .primary(span, "not a configuration the collector reads");
            match did_you_mean(name, names) {
                Some(s) => d.help(format!("did you mean `{s}`?")).suggest(span, format!("{s:?}")),
                None => d.help(
                    "the configurations are listed in docs/telemetry.md (\"Configurations\"); to read another \
                     program's file, look its keys up: `host.keyvalue(PATH, KEY)`, `host.ini(...)`, \
                     `host.json(...)`",
                ),
            }
        }
        NotInConfig::Key { key, configs } => {
            let names: Vec<String> = configs.iter().map(|c| format!("`{}`", c.name)).collect();
            let of = if configs.len() == 1 { names.join("") } else { "any configuration".to_owned() };
            let keys = configs.iter().flat_map(|c| c.keys.iter().copied()).filter(|k| !k.ends_with('*'));
            let d = Diagnostic::new(Code::E0314, format!("`host.config` holds no key {key:?} of {of}"))
                .primary(span, "not a key the collector keeps");
            match did_you_mean(key, keys) {
                Some(s) if s.eq_ignore_ascii_case(key) => d
                    .help(format!("did you mean `{s}`? keys keep their case"))
                    .suggest(span, format!("{s:?}")),
                Some(s) => d.help(format!("did you mean `{s}`?")).suggest(span, format!("{s:?}")),
                None => d.help(format!(
                    "the keys kept of {} are listed in docs/telemetry.md (\"Configurations\")",
                    names.join(", ")
                )),
            }
        }
    };
    d.note("as written the comparison never matches, and the rule would pass on every host")
}

/// E0312: an item searched for by name in a list that holds only the items
/// the collector looks up, and this one is not among them.
pub(super) fn not_collected(span: Span, kind: assay_model::lookup::LookupKind, name: &str) -> Diagnostic {
    let list = kind.list().0.join(".");
    Diagnostic::new(Code::E0312, format!("`host.{list}` never holds {name:?}"))
        .primary(span, "not among the items the collector looks up unasked")
        .help(format!("look it up by name, `host.{kind}({name:?})`, which the bundle asks the collector for"))
        .note("as written the comparison never matches, and the rule would pass on every host")
}
