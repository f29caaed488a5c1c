//! W0106: a comparison of an integer field with a literal outside the
//! field's range (ranges come from the telemetry's Rust types: a `u16` port
//! is 0 to 65535).

use super::super::hir::{Expr, ExprKind};
use super::super::schema::Schema;
use super::super::types::Ty;
use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::BinaryOp;

fn never_holds(span: Span, why: &str) -> Diagnostic {
    Diagnostic::new(Code::W0106, "this comparison can never hold")
        .primary(span, why.to_owned())
        .help("check the value: as written, the condition is always false")
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    input.program.walk(&mut |e| {
        if let ExprKind::Binary(op, l, r) = &e.kind {
            if let Some(why) = out_of_range(input.schema, *op, l, r) {
                out.push(never_holds(e.span, &why));
            }
        }
    });
}

/// The range of an integer telemetry field read by `e`.
fn range(schema: &Schema, e: &Expr) -> Option<(i64, i64)> {
    let ExprKind::Field { base, index, .. } = &e.kind else { return None };
    let Ty::Record(record) = base.ty.strip() else { return None };
    schema.record(*record).fields.get(*index as usize)?.range
}

/// Why `l op r` can never hold, when one side is an integer field and the
/// other a literal outside what the field can take.
fn out_of_range(schema: &Schema, op: BinaryOp, l: &Expr, r: &Expr) -> Option<String> {
    let (field, value, op) = match (&l.kind, &r.kind) {
        (_, ExprKind::Int(v)) => (l, *v, op),
        (ExprKind::Int(v), _) => (r, *v, mirror(op)),
        _ => return None,
    };
    if field.ty.strip() != &Ty::Int {
        // A type error, already reported.
        return None;
    }
    let (lo, hi) = range(schema, field)?;
    let never = match op {
        BinaryOp::Eq => value < lo || value > hi,
        BinaryOp::Lt => value <= lo,
        BinaryOp::Le => value < lo,
        BinaryOp::Gt => value >= hi,
        BinaryOp::Ge => value > hi,
        _ => false,
    };
    never.then(|| format!("the value is always between {lo} and {hi}"))
}

/// `5 < x` is `x > 5`.
fn mirror(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}
