//! Facts the lints need about checked expressions.

use super::hir::{Expr, ExprKind};
use super::schema::Schema;
use super::types::Ty;
use crate::syntax::ast::BinaryOp;

/// True when `e` has the same value on every host: it reads no telemetry,
/// binding or function.
pub fn is_constant(e: &Expr) -> bool {
    if e.ty.is_unknown() {
        // An expression that already has an error: say nothing more.
        return false;
    }
    match &e.kind {
        ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Version(_) => true,
        ExprKind::EnumValue(..) | ExprKind::Const(_) => true,
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

/// The range of an integer telemetry field read by `e`.
fn range(schema: &Schema, e: &Expr) -> Option<(i64, i64)> {
    let ExprKind::Field { base, index, .. } = &e.kind else { return None };
    let Ty::Record(record) = base.ty.strip() else { return None };
    schema.record(*record).fields.get(*index as usize)?.range
}

/// Why `l op r` can never hold, when one side is an integer field and the
/// other a literal outside what the field can take.
pub fn never_holds(schema: &Schema, op: BinaryOp, l: &Expr, r: &Expr) -> Option<String> {
    let (field, value, op) = match (&l.kind, &r.kind) {
        (_, ExprKind::Int(v)) => (l, *v, op),
        (ExprKind::Int(v), _) => (r, *v, mirror(op)),
        _ => return None,
    };
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
