//! W0107: a presence test or a `??` default on a value that is never
//! absent.

use super::super::hir::{Expr, ExprKind};
use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::syntax::ast::BinaryOp;

/// Which construct assumed the value could be absent.
enum Construct {
    /// `x is present` (true) or `x is absent` (false).
    PresenceTest(bool),
    /// `x ?? default`.
    Default,
}

fn never_absent(input: &Input<'_>, value: &Expr, construct: Construct) -> Diagnostic {
    let text = input.sources.slice(value.span);
    let (message, help) = match construct {
        Construct::PresenceTest(present) => {
            (format!("`{text}` is never absent, so this test is always {present}"), "remove the test")
        }
        Construct::Default => {
            (format!("`{text}` is never absent, so the default is never used"), "remove `?? ...`")
        }
    };
    let label = format!("`{}` is always present", value.ty.display(input.schema));
    Diagnostic::new(Code::W0107, message).primary(value.span, label).help(help)
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    input.program.walk(&mut |e| {
        let (value, construct) = match &e.kind {
            ExprKind::Presence(value, present) => (value, Construct::PresenceTest(*present)),
            ExprKind::Binary(BinaryOp::Default, value, _) => (value, Construct::Default),
            _ => return,
        };
        if !value.ty.is_optional() && !value.ty.is_unknown() {
            out.push(never_absent(input, value, construct));
        }
    });
}
