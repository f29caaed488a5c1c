//! W0101: a `let` binding that nothing reads.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn unused_binding(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0101, format!("`{name}` is bound but never used"))
        .primary(span, "unused")
        .help(format!("remove the `let`, or name it `_{name}` if it is there on purpose"))
        .suggest(span, format!("_{name}"))
}

/// A name starting with `_` says the binding is unused on purpose.
pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    let unused = input.uses.bindings.iter().filter(|b| !b.used && !b.name.starts_with('_'));
    out.extend(unused.map(|b| unused_binding(&b.name, b.span)));
}
