//! The lints (`W01xx`): a pass over the checked program, after type
//! checking. One file per code, holding the one constructor of its
//! diagnostic and the check that decides it; each code has its case in
//! `compiler/tests/diagnostics/W01xx-*.assay`.
//!
//! A lint reads the typed program and what name resolution found used
//! ([`Uses`]), never the syntax tree. It stays silent on expressions whose
//! type is unknown (they already have an error), so a lint never repeats
//! an error. W0108 is the exception: it is decided where a lookup is
//! checked, which still has the name's span.

mod w0101_unused_binding;
mod w0102_unused_import;
mod w0103_unused_definition;
mod w0104_constant_condition;
mod w0105_undocumented_rule;
mod w0106_never_holds;
mod w0107_never_absent;
pub(super) mod w0108_unknown_sysctl;

use super::hir;
use super::schema::Schema;
use crate::diagnostics::Diagnostic;
use crate::source::{SourceMap, Span};

/// A name that resolution saw defined, and whether anything referred to it.
pub(super) struct Use {
    pub name: String,
    pub span: Span,
    pub used: bool,
}

/// What name resolution found used: facts the typed program no longer
/// holds (which import a reference went through, a `let` that codegen may
/// drop).
#[derive(Default)]
pub(super) struct Uses {
    pub bindings: Vec<Use>,
    pub imports: Vec<Use>,
    pub constants: Vec<Use>,
    pub functions: Vec<Use>,
}

pub(super) struct Input<'a> {
    pub program: &'a hir::Program,
    pub uses: &'a Uses,
    pub schema: &'a Schema,
    pub sources: &'a SourceMap,
}

/// Every lint, over the whole program.
pub(super) fn run(input: &Input<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    w0101_unused_binding::check(input, &mut out);
    w0102_unused_import::check(input, &mut out);
    w0103_unused_definition::check(input, &mut out);
    w0104_constant_condition::check(input, &mut out);
    w0105_undocumented_rule::check(input, &mut out);
    w0106_never_holds::check(input, &mut out);
    w0107_never_absent::check(input, &mut out);
    out
}

/// W0108's table of kernel parameters, dotted.
pub(super) fn sysctl_names() -> Vec<String> {
    w0108_unknown_sysctl::table().iter().map(|parts| parts.join(".")).collect()
}
