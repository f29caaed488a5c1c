//! W0103: a constant or function that no rule reaches.

use super::super::Checker;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn unused_definition(kind: &str, name: &str, span: Span) -> Diagnostic {
    let help = if kind == "function" {
        "remove it, or call it from a rule of this package"
    } else {
        "remove it, or use it in a rule of this package"
    };
    Diagnostic::new(Code::W0103, format!("the {kind} `{name}` is never used"))
        .primary(span, "unused")
        .help(help)
}

impl Checker<'_> {
    /// After every unit: constants and functions never used.
    pub(in crate::check) fn unused_definitions(&mut self) {
        let consts: Vec<Diagnostic> = self
            .consts
            .iter()
            .filter(|slot| !slot.used)
            .map(|slot| unused_definition("constant", &slot.decl.name.name, slot.decl.name.span))
            .collect();
        let fns: Vec<Diagnostic> = self
            .fns
            .iter()
            .filter(|slot| !slot.used)
            .map(|slot| unused_definition("function", &slot.decl.name.name, slot.decl.name.span))
            .collect();
        for d in consts.into_iter().chain(fns) {
            self.report(d);
        }
    }
}
