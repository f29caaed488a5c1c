//! Reading the shape of checked expressions: which `host` path a
//! collection is, and which literals a loop variable's field is compared
//! with. A leaf the checks of lookups and configurations share, so they
//! and the expression checker do not import each other.

use super::hir::{self, ExprKind};
use crate::source::Span;
use crate::syntax::ast::BinaryOp;
use assay_model::lookup::LookupKind;

/// The fields of `host` that `collection` reads (`host.kernel.parameters`,
/// possibly with a `?? []` default), if it is such a path.
pub(super) fn host_path(collection: &hir::Expr) -> Option<Vec<&str>> {
    fn path<'e>(e: &'e hir::Expr, out: &mut Vec<&'e str>) -> bool {
        match &e.kind {
            ExprKind::Host => true,
            ExprKind::Field { base, name, .. } => {
                let ok = path(base, out);
                out.push(name);
                ok
            }
            ExprKind::Binary(BinaryOp::Default, value, _) => path(value, out),
            _ => false,
        }
    }
    let mut fields = Vec::new();
    path(collection, &mut fields).then_some(fields)
}

/// The lookup kind whose list `collection` is (`host.kernel.parameters`):
/// a list holding only looked-up items.
pub(super) fn by_name_list(collection: &hir::Expr) -> Option<LookupKind> {
    let fields = host_path(collection)?;
    LookupKind::ALL.into_iter().filter(|k| !k.always_complete()).find(|k| k.list().0 == fields.as_slice())
}

/// A loop variable, one of its fields, and string literals with their spans.
pub(super) type FieldLiterals<'e> = (hir::LocalId, &'e str, Vec<(&'e str, Span)>);

/// A comparison of a loop variable's field with string literals
/// (`p.name == "x"`, `c.key in ["a", "b"]`): the variable, the field and
/// each literal with its span.
pub(super) fn field_literals<'e>(l: &'e hir::Expr, r: &'e hir::Expr) -> Option<FieldLiterals<'e>> {
    let (field, value) = match (&l.kind, &r.kind) {
        (ExprKind::Field { .. }, _) => (l, r),
        (_, ExprKind::Field { .. }) => (r, l),
        _ => return None,
    };
    let ExprKind::Field { base, name, .. } = &field.kind else { return None };
    let ExprKind::Local(id) = &base.kind else { return None };
    let literals = match &value.kind {
        ExprKind::Str(s) => vec![(s.as_str(), value.span)],
        ExprKind::List(items) => items
            .iter()
            .filter_map(|i| match &i.kind {
                ExprKind::Str(s) => Some((s.as_str(), i.span)),
                _ => None,
            })
            .collect(),
        _ => return None,
    };
    Some((*id, name, literals))
}

/// Whether `collection` is `host.config` (possibly with a default).
pub(super) fn is_config_list(collection: &hir::Expr) -> bool {
    host_path(collection).is_some_and(|p| p == ["config"])
}
