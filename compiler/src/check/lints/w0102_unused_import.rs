//! W0102: an imported name that nothing uses.

use super::super::{Checker, Imported};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn unused_import(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0102, format!("`{name}` is imported but never used"))
        .primary(span, "unused import")
        .help("remove it from the import")
}

impl Checker<'_> {
    /// After a unit's rules are checked: its modules' unused imports.
    pub(in crate::check) fn unused_imports(&mut self, modules: Vec<usize>) {
        for index in modules {
            let unused: Vec<(String, Span)> = self.modules[index]
                .imports
                .iter()
                .filter(|(_, i)| !i.used && i.target != Imported::Unresolved)
                .map(|(n, i)| (n.clone(), i.span))
                .collect();
            for (name, span) in unused {
                self.report(unused_import(&name, span));
            }
        }
    }
}
