//! W0104: a condition that reads nothing of the host, so the rule always
//! or never fires.

use super::super::hir::{Check, Expr, ExprKind, Program, Step};
use super::Input;
use crate::diagnostics::{Code, Diagnostic};

/// True when `e` has the same value on every host and every scan: it reads
/// no telemetry, binding, function or parameter (directly or through a
/// constant computed from one).
fn is_constant(program: &Program, e: &Expr) -> bool {
    let is_constant = |e: &Expr| is_constant(program, e);
    if e.ty.is_unknown() {
        // An expression that already has an error: say nothing more.
        return false;
    }
    match &e.kind {
        ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Version(_) => true,
        ExprKind::EnumValue(..) => true,
        ExprKind::Const(id) => program
            .consts
            .get(*id as usize)
            .is_some_and(|c| c.param.is_none() && (c.value.ty.is_unknown() || is_constant(&c.value))),
        ExprKind::Host | ExprKind::Local(_) | ExprKind::Call(..) | ExprKind::Quantifier { .. } => false,
        ExprKind::Field { base, .. } => is_constant(base),
        ExprKind::List(items) | ExprKind::Format(items) | ExprKind::Native(_, items) => {
            items.iter().all(is_constant)
        }
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::Presence(x, _) => is_constant(x),
        ExprKind::Binary(_, a, b) => is_constant(a) && is_constant(b),
        ExprKind::If(c, a, b) => is_constant(c) && is_constant(a) && is_constant(b),
    }
}

/// `what` names the condition (`the failure condition`, `` `applies when` ``).
fn constant_condition(cond: &Expr, what: &str) -> Diagnostic {
    Diagnostic::new(Code::W0104, format!("{what} does not depend on the host"))
        .primary(cond.span, "always has the same value")
        .help("a condition should read telemetry (`host...`); otherwise the rule always or never fires")
}

/// The conditions that decide a rule: `applies when` and `fail when`.
pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    for rule in &input.program.rules {
        for step in &rule.steps {
            match step {
                Step::AppliesWhen(cond) if is_constant(input.program, cond) => {
                    out.push(constant_condition(cond, "`applies when`"))
                }
                Step::AppliesWhen(_) | Step::Let(..) => {}
                Step::Check(check) => fail_conditions(input.program, check, out),
            }
        }
    }
}

fn fail_conditions(program: &Program, check: &Check, out: &mut Vec<Diagnostic>) {
    match check {
        Check::ForEach { body, .. } => fail_conditions(program, body, out),
        Check::Fail { condition: Some(cond), .. } if is_constant(program, cond) => {
            out.push(constant_condition(cond, "the failure condition"))
        }
        Check::Fail { .. } => {}
    }
}
