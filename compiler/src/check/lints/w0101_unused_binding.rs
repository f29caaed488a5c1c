//! W0101: a `let` binding that nothing reads.

use super::super::{scope, Checker};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn unused_binding(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0101, format!("`{name}` is bound but never used"))
        .primary(span, "unused")
        .help(format!("remove the `let`, or name it `_{name}` if it is there on purpose"))
}

impl Checker<'_> {
    /// Warns about the `let` bindings of the innermost frames, down to
    /// `depth`, as they leave scope.
    pub(in crate::check) fn unused_bindings(&mut self, scope: &mut scope::Scope, depth: usize) {
        for (name, span) in scope.pop_frames(depth) {
            self.report(unused_binding(&name, span));
        }
    }
}
