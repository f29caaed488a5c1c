//! W0103: a constant or function that nothing refers to.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

#[derive(Clone, Copy)]
enum Kind {
    Constant,
    Function,
}

fn unused_definition(kind: Kind, name: &str, span: Span) -> Diagnostic {
    let (what, help) = match kind {
        Kind::Function => ("function", "remove it, or call it from a rule of this package"),
        Kind::Constant => ("constant", "remove it, or use it in a rule of this package"),
    };
    Diagnostic::new(Code::W0103, format!("the {what} `{name}` is never used"))
        .primary(span, "unused")
        .help(help)
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    let uses = input.uses;
    let all = uses
        .constants
        .iter()
        .map(|u| (Kind::Constant, u))
        .chain(uses.functions.iter().map(|u| (Kind::Function, u)));
    out.extend(all.filter(|(_, u)| !u.used).map(|(kind, u)| unused_definition(kind, &u.name, u.span)));
}
