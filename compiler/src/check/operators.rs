//! Operator typing: arithmetic, comparisons (versions with their schemes,
//! enumeration values as bare words or string literals), `and`/`or`, `??`,
//! membership.

use super::expr::mk;
use super::hir::{self, ExprKind};
use super::scope::Scope;
use super::types::Ty;
use super::{errors, Checker};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp};

impl Checker<'_> {
    pub(super) fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        scope: &mut Scope,
    ) -> hir::Expr {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = self.condition(lhs, scope);
                let depth = scope.push_frame();
                scope.assume(&l, op == BinaryOp::And);
                let r = self.condition(rhs, scope);
                scope.pop_to(depth);
                mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), Ty::Bool, span)
            }
            BinaryOp::Default => {
                let l = self.expr(lhs, scope, None);
                let want = l.ty.strip().clone();
                let r = self.expr(rhs, scope, Some(&want));
                let ty = match want.join(&r.ty) {
                    Some(t) if r.ty.is_optional() => t.optional(),
                    Some(t) => t.strip().clone(),
                    None => {
                        self.mismatch(&r, &want, "the default must have the type of the value it replaces");
                        Ty::Unknown
                    }
                };
                mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span)
            }
            _ => self.comparison_or_arithmetic(op, lhs, rhs, span, scope),
        }
    }

    pub(super) fn comparison_or_arithmetic(
        &mut self,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        scope: &mut Scope,
    ) -> hir::Expr {
        // A bare enumeration value takes its type from the other side, so
        // check the other side first when the left is one.
        let (mut l, mut r) = if self.is_bare_word(lhs, scope) && !self.is_bare_word(rhs, scope) {
            let r = self.expr(rhs, scope, None);
            let want = if matches!(op, BinaryOp::In | BinaryOp::NotIn) {
                match r.ty.strip() {
                    Ty::List(t) => t.as_ref().clone(),
                    _ => Ty::Unknown,
                }
            } else {
                r.ty.strip().clone()
            };
            (self.expr(lhs, scope, Some(&want)), r)
        } else {
            let l = self.expr(lhs, scope, None);
            let want = if matches!(op, BinaryOp::In | BinaryOp::NotIn) {
                Ty::List(Box::new(l.ty.strip().clone()))
            } else if op == BinaryOp::Contains {
                match l.ty.strip() {
                    Ty::List(t) => t.as_ref().clone(),
                    t => t.clone(),
                }
            } else {
                l.ty.strip().clone()
            };
            let r = self.expr(rhs, scope, Some(&want));
            (l, r)
        };
        self.require_present(&l, scope.context);
        self.require_present(&r, scope.context);
        let (lt, rt) = (l.ty.strip().clone(), r.ty.strip().clone());
        let result = |ty| ty;
        let bad = |this: &mut Self, l: &hir::Expr, r: &hir::Expr, help: &str| {
            let (a, b) = (l.ty.strip().display(this.schema), r.ty.strip().display(this.schema));
            let one_is = |t: Ty| {
                (l.ty.strip() == &t && matches!(r.kind, ExprKind::Str(_)))
                    || (r.ty.strip() == &t && matches!(l.kind, ExprKind::Str(_)))
            };
            let literal = |e: &hir::Expr| match &e.kind {
                ExprKind::Str(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            };
            let hint = if one_is(Ty::Version) {
                Some("compare versions with a version literal: `v\"1.2.3\"`".to_owned())
            } else if one_is(Ty::Int) {
                Some("integers are written without quotes".to_owned())
            } else if one_is(Ty::Bool) {
                let word = literal(l).or_else(|| literal(r)).unwrap_or_default();
                let value = !matches!(word.as_str(), "no" | "false" | "off" | "0" | "disabled");
                Some(format!(
                    "a bool is `true` or `false`, never a string: compare with `{value}` (no quotes), or use the bool itself as the condition"
                ))
            } else {
                None
            };
            let what = errors::Mismatch::Operator {
                op: op.as_str(),
                left: l.span,
                left_ty: &a,
                right_ty: &b,
                help,
                hint: hint.as_deref(),
            };
            this.report(errors::mismatch(r.span, what));
        };
        let ty = match op {
            BinaryOp::Eq | BinaryOp::Ne => {
                if let Some(fixed) = self.enum_literal(&mut l, &mut r, span) {
                    return fixed;
                }
                if lt.join(&rt).is_none() {
                    bad(self, &l, &r, "both sides of a comparison must have the same type");
                } else if op == BinaryOp::Eq {
                    self.not_collected(&l, &r, scope);
                    self.config_literals(&l, &r, scope);
                }
                result(Ty::Bool)
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ordered = matches!(
                    (&lt, &rt),
                    (Ty::Int, Ty::Int) | (Ty::Version, Ty::Version) | (Ty::Str, Ty::Str)
                ) || lt.is_unknown()
                    || rt.is_unknown();
                if !ordered {
                    bad(self, &l, &r, "ordering compares two ints, two versions or two strings");
                }
                Ty::Bool
            }
            BinaryOp::In | BinaryOp::NotIn => {
                if let Ty::Enum(e) = lt {
                    self.enum_list(e, &mut r);
                }
                if op == BinaryOp::In {
                    self.not_collected(&l, &r, scope);
                    self.config_literals(&l, &r, scope);
                }
                let ok = match r.ty.strip() {
                    Ty::List(item) => l.ty.strip().join(item).is_some(),
                    Ty::Unknown => true,
                    _ => false,
                };
                if !ok {
                    bad(self, &l, &r, "`in` tests membership in a list of the same type: `x in [1, 2]`");
                }
                Ty::Bool
            }
            BinaryOp::StartsWith | BinaryOp::EndsWith | BinaryOp::Matches => {
                if !(lt.fits(&Ty::Str) && rt.fits(&Ty::Str)) {
                    bad(self, &l, &r, "this operator works on two strings");
                } else if op == BinaryOp::Matches {
                    if let ExprKind::Str(pattern) = &r.kind {
                        if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
                            let message = e.to_string();
                            let detail =
                                message.lines().last().unwrap_or("invalid pattern").trim().to_owned();
                            self.report(
                                Diagnostic::new(Code::E0405, "invalid regular expression")
                                    .primary(r.span, detail)
                                    .help("patterns use RE2 syntax (no backreferences or lookaround); write them as raw strings: `r\"^\\d+$\"`"),
                            );
                        }
                    }
                }
                Ty::Bool
            }
            BinaryOp::Contains => {
                let ok = match &lt {
                    Ty::Str => rt.fits(&Ty::Str),
                    Ty::List(item) => rt.join(item).is_some(),
                    Ty::Unknown => true,
                    _ => false,
                };
                if !ok {
                    bad(self, &l, &r, "`contains` tests a substring of a string or an item of a list");
                }
                Ty::Bool
            }
            BinaryOp::Add if lt == Ty::Str || rt == Ty::Str => {
                if !(lt.fits(&Ty::Str) && rt.fits(&Ty::Str)) {
                    bad(self, &l, &r, "`+` joins two strings or adds two ints");
                }
                Ty::Str
            }
            _ => {
                if !(lt.fits(&Ty::Int) && rt.fits(&Ty::Int)) {
                    bad(self, &l, &r, "arithmetic works on ints");
                }
                Ty::Int
            }
        };
        mk(ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span)
    }

    /// `protocol == "tcp"` compares an enumeration with a string literal: a
    /// literal naming a value is that value; any other literal is an error
    /// (E0301), since the comparison could never hold.
    pub(super) fn enum_literal(
        &mut self,
        l: &mut hir::Expr,
        r: &mut hir::Expr,
        span: Span,
    ) -> Option<hir::Expr> {
        let (e, lit) = match (l.ty.strip(), r.ty.strip()) {
            (Ty::Enum(e), Ty::Str) => (*e, r),
            (Ty::Str, Ty::Enum(e)) => (*e, l),
            _ => return None,
        };
        let ExprKind::Str(text) = &lit.kind else { return None };
        let enumeration = self.schema.enumeration(e);
        match enumeration.variants.iter().position(|v| v == text) {
            Some(index) => {
                *lit = mk(ExprKind::EnumValue(e, index as u32), Ty::Enum(e), lit.span);
                None
            }
            None => {
                self.report(errors::not_an_enum_value(self.schema, e, text, lit.span));
                Some(super::expr::error_expr(span))
            }
        }
    }

    /// String literals in a list compared with an enumeration.
    pub(super) fn enum_list(&mut self, e: u32, list: &mut hir::Expr) {
        let ExprKind::List(items) = &mut list.kind else { return };
        let enumeration = self.schema.enumeration(e);
        let mut converted = false;
        for item in items.iter_mut() {
            if let ExprKind::Str(text) = &item.kind {
                match enumeration.variants.iter().position(|v| v == text) {
                    Some(index) => {
                        *item = mk(ExprKind::EnumValue(e, index as u32), Ty::Enum(e), item.span);
                        converted = true;
                    }
                    None => {
                        let d = errors::not_an_enum_value(self.schema, e, text, item.span);
                        self.report(d);
                        // Reported: the list's type must not cause a second error.
                        list.ty = Ty::Unknown;
                        return;
                    }
                }
            }
        }
        if converted {
            list.ty = Ty::List(Box::new(Ty::Enum(e)));
        }
    }

    /// A bare word that names nothing in scope (an enumeration value).
    pub(super) fn is_bare_word(&self, e: &ast::Expr, scope: &Scope) -> bool {
        let ast::ExprKind::Name(ident) = &e.kind else { return false };
        let module = &self.modules[scope.module];
        !(scope.has_binding(&ident.name)
            || ident.name == "host"
            || module.consts.contains_key(&ident.name)
            || module.imports.contains_key(&ident.name)
            || module.fns.contains_key(&ident.name))
    }
}
