//! W0102: an imported name that nothing uses.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn unused_import(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0102, format!("`{name}` is imported but never used"))
        .primary(span, "unused import")
        .help("remove it from the import")
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    let unused = input.uses.imports.iter().filter(|i| !i.used);
    out.extend(unused.map(|i| unused_import(&i.name, i.span)));
}
