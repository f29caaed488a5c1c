//! Expressions: name resolution, operator typing, fields, calls and
//! quantifiers; the presence facts they consult live in [`super::scope`].

use super::errors::{self, Guard};
use super::hir::{self, ExprKind};
use super::scope::{BindingKind, Context, Scope};
use super::types::Ty;
use super::Checker;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, QuantifierKind, StrPart};

pub fn error_expr(span: Span) -> hir::Expr {
    hir::Expr { kind: ExprKind::Bool(false), ty: Ty::Unknown, span }
}

pub(super) fn mk(kind: ExprKind, ty: Ty, span: Span) -> hir::Expr {
    hir::Expr { kind, ty, span }
}

impl Checker<'_> {
    pub(super) fn expr(&mut self, e: &ast::Expr, scope: &mut Scope, expected: Option<&Ty>) -> hir::Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Bool(b) => mk(ExprKind::Bool(*b), Ty::Bool, span),
            ast::ExprKind::Int { value, .. } => mk(ExprKind::Int(*value), Ty::Int, span),
            ast::ExprKind::Str(lit) => self.string(lit, scope),
            ast::ExprKind::RawStr(text) => mk(ExprKind::Str(text.clone()), Ty::Str, span),
            ast::ExprKind::Version(text) => {
                if let Some(problem) = version_problem(text) {
                    self.report(
                        Diagnostic::new(Code::E0406, format!("`v\"{text}\"` is not a version"))
                            .primary(span, problem)
                            .help("a version starts with a digit (or an epoch such as `1:`) and has no spaces: `v\"1:2.3.4-1+deb12u1\"`"),
                    );
                }
                mk(ExprKind::Version(text.clone()), Ty::Version, span)
            }
            ast::ExprKind::List(items) => {
                let item_expected = match expected.map(Ty::strip) {
                    Some(Ty::List(t)) => Some(t.as_ref().clone()),
                    _ => None,
                };
                let mut out = Vec::new();
                let mut ty = Ty::Unknown;
                for item in items {
                    let value = self.expr(item, scope, item_expected.as_ref());
                    self.require_present(&value, scope.context);
                    match ty.join(&value.ty) {
                        Some(t) => ty = t,
                        None => {
                            let (item, earlier) = (value.ty.display(self.schema), ty.display(self.schema));
                            let what = errors::Mismatch::ListItem { item: &item, earlier: &earlier };
                            self.report(errors::mismatch(value.span, what));
                        }
                    }
                    out.push(value);
                }
                mk(ExprKind::List(out), Ty::List(Box::new(ty)), span)
            }
            ast::ExprKind::Name(ident) => self.name(ident, scope, expected),
            ast::ExprKind::Field { base, field } => self.field(e, base, field, scope),
            ast::ExprKind::Call { callee, args } => self.call(callee, args, span, scope),
            ast::ExprKind::Paren(inner) => {
                let mut value = self.expr(inner, scope, expected);
                value.span = span;
                value
            }
            ast::ExprKind::Unary { op, operand } => {
                let want = match op {
                    ast::UnaryOp::Not => Ty::Bool,
                    ast::UnaryOp::Neg => Ty::Int,
                };
                let value = self.expr(operand, scope, Some(&want));
                self.require_present(&value, scope.context);
                if !value.ty.fits(&want) {
                    self.mismatch(
                        &value,
                        &want,
                        if want == Ty::Bool { "`not` takes a bool" } else { "`-` takes an int" },
                    );
                }
                let kind = match op {
                    ast::UnaryOp::Not => ExprKind::Not(Box::new(value)),
                    ast::UnaryOp::Neg => ExprKind::Neg(Box::new(value)),
                };
                mk(kind, want, span)
            }
            ast::ExprKind::Presence { operand, present } => {
                let value = self.expr(operand, scope, None);
                mk(ExprKind::Presence(Box::new(value), *present), Ty::Bool, span)
            }
            ast::ExprKind::If { cond, then, otherwise } => {
                let cond = self.condition(cond, scope);
                let depth = scope.push_frame();
                scope.assume(&cond, true);
                let then = self.expr(then, scope, expected);
                scope.pop_to(depth);
                let depth = scope.push_frame();
                scope.assume(&cond, false);
                let otherwise = self.expr(otherwise, scope, expected.or(Some(&then.ty)));
                scope.pop_to(depth);
                let ty = match then.ty.join(&otherwise.ty) {
                    Some(t) => t,
                    None => {
                        let (then_ty, otherwise_ty) =
                            (then.ty.display(self.schema), otherwise.ty.display(self.schema));
                        let what = errors::Mismatch::Branches {
                            then: then.span,
                            then_ty: &then_ty,
                            otherwise_ty: &otherwise_ty,
                        };
                        self.report(errors::mismatch(otherwise.span, what));
                        Ty::Unknown
                    }
                };
                mk(ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise)), ty, span)
            }
            ast::ExprKind::Quantifier { kind, var, collection, filter } => {
                let collection = self.expr(collection, scope, None);
                let item = self.collection_item(&collection, scope.context);
                let depth = scope.push_frame();
                let id = scope.bind(var, item.clone(), BindingKind::Loop);
                if let Some(kind) = super::paths::by_name_list(&collection) {
                    scope.set_origin(id, kind);
                }
                if super::paths::is_config_list(&collection) {
                    scope.walk_config(id);
                }
                let filter = filter.as_ref().map(|f| Box::new(self.condition(f, scope)));
                scope.pop_to(depth);
                let ty = match kind {
                    QuantifierKind::Count => Ty::Int,
                    QuantifierKind::Find => item.optional(),
                    _ => Ty::Bool,
                };
                mk(
                    ExprKind::Quantifier { kind: *kind, var: id, collection: Box::new(collection), filter },
                    ty,
                    span,
                )
            }
            ast::ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span, scope),
        }
    }

    fn string(&mut self, lit: &ast::StringLit, scope: &mut Scope) -> hir::Expr {
        if lit.parts.iter().all(|p| matches!(p, StrPart::Lit(_))) {
            let text: String = lit
                .parts
                .iter()
                .filter_map(|p| if let StrPart::Lit(t) = p { Some(t.as_str()) } else { None })
                .collect();
            return mk(ExprKind::Str(text), Ty::Str, lit.span);
        }
        let mut parts = Vec::new();
        for part in &lit.parts {
            match part {
                StrPart::Lit(text) => parts.push(mk(ExprKind::Str(text.clone()), Ty::Str, lit.span)),
                StrPart::Interp(e) => {
                    let value = self.expr(e, scope, None);
                    self.interpolated(&value, scope.context);
                    parts.push(value);
                }
            }
        }
        mk(ExprKind::Format(parts), Ty::Str, lit.span)
    }

    /// A value written into text must be present and printable.
    pub(super) fn interpolated(&mut self, value: &hir::Expr, context: Context) {
        self.require_present(value, context);
        let printable = |t: &Ty| !matches!(t, Ty::Record(_));
        let ok = match &value.ty {
            Ty::List(item) => printable(item),
            t => printable(t.strip()),
        };
        if !ok {
            let record = value.ty.display(self.schema);
            self.report(errors::mismatch(value.span, errors::Mismatch::RecordInText { record: &record }));
        }
    }

    pub(super) fn condition(&mut self, e: &ast::Expr, scope: &mut Scope) -> hir::Expr {
        let value = self.expr(e, scope, Some(&Ty::Bool));
        self.require_present(&value, scope.context);
        if !value.ty.fits(&Ty::Bool) {
            self.mismatch(&value, &Ty::Bool, "a condition must be a bool");
        }
        value
    }

    pub(super) fn collection_item(&mut self, collection: &hir::Expr, context: Context) -> Ty {
        self.require_present(collection, context);
        match collection.ty.strip() {
            Ty::List(item) => item.as_ref().clone(),
            Ty::Unknown => Ty::Unknown,
            other => {
                let found = other.display(self.schema);
                self.report(errors::mismatch(collection.span, errors::Mismatch::NotAList { found: &found }));
                Ty::Unknown
            }
        }
    }

    /// Reports E0402 when `value` is optional: every use except `??`, `is
    /// present` and `is absent` needs a value.
    pub(super) fn require_present(&mut self, value: &hir::Expr, context: Context) {
        if !value.ty.is_optional() || value.ty.is_unknown() {
            return;
        }
        let text = self.text(value.span).to_owned();
        // The guard to suggest is the narrowest one that fixes the use: the
        // first part of the path, from the value down, that is optional in
        // itself (`host.login_defs.pass_max_days` when that field is
        // optional, `host.login_defs` when only the record is).
        let mut guard = value;
        while let ExprKind::Field { base, index, .. } = &guard.kind {
            let own = match base.ty.strip() {
                Ty::Record(r) => {
                    self.schema.record(*r).fields.get(*index as usize).is_some_and(|f| f.ty.is_optional())
                }
                _ => true,
            };
            if own || !base.ty.is_optional() {
                break;
            }
            guard = base;
        }
        let guard_text = self.text(guard.span).to_owned();
        let mut root = guard;
        while let ExprKind::Field { base, .. } = &root.kind {
            root = base;
        }
        let where_ = match context {
            Context::Rule if matches!(root.kind, ExprKind::Host) => Guard::Rule,
            Context::Rule => Guard::Filter,
            Context::Function(_) | Context::Const => Guard::Function,
        };
        let fixes = self.absence_fixes(value, &text, &guard_text, &where_);
        let what = errors::MayBeAbsent {
            text: &text,
            ty: &value.ty.display(self.schema),
            guard: &guard_text,
            where_,
        };
        let mut diagnostic = errors::may_be_absent(value.span, what);
        for (title, span, replacement) in fixes {
            diagnostic = diagnostic.fix(title, span, replacement);
        }
        self.report(diagnostic);
    }

    /// E0402's quick fixes: a default of the value's type (the author then
    /// decides whether it is the right one), and for telemetry read by a
    /// rule, the guard in the rule's `applies when`.
    fn absence_fixes(
        &self,
        value: &hir::Expr,
        text: &str,
        guard: &str,
        where_: &errors::Guard,
    ) -> Vec<(String, Span, String)> {
        let mut fixes = Vec::new();
        let default = match value.ty.strip() {
            Ty::Int => Some("0"),
            Ty::Bool => Some("false"),
            Ty::Str => Some("\"\""),
            Ty::List(_) => Some("[]"),
            _ => None,
        };
        if let Some(default) = default {
            // `??` binds looser than arithmetic: `a + b ?? 0` would default the sum.
            let file = self.sources.get(value.span.file).map_or("", |f| f.text());
            let before = file.get(..value.span.start as usize).unwrap_or("").trim_end();
            let after = file.get(value.span.end as usize..).unwrap_or("").trim_start();
            let arithmetic = |c: Option<char>| c.is_some_and(|c| "+-*/%".contains(c));
            let parens = text.contains(char::is_whitespace)
                || arithmetic(before.chars().next_back())
                || arithmetic(after.chars().next());
            let replacement =
                if parens { format!("({text} ?? {default})") } else { format!("{text} ?? {default}") };
            fixes.push((format!("Default to `{default}` when absent"), value.span, replacement));
        }
        if matches!(where_, errors::Guard::Rule) {
            let title = format!("Not applicable when absent: `applies when {guard} is present`");
            match &self.guard_site {
                Some(super::rules::GuardSite::Join(span)) => {
                    let condition = self.text(*span);
                    let condition = if condition.contains(" or ") {
                        format!("({condition})")
                    } else {
                        condition.to_owned()
                    };
                    fixes.push((title, *span, format!("{guard} is present and {condition}")));
                }
                Some(super::rules::GuardSite::Insert { at, indent }) => {
                    fixes.push((title, *at, format!("{indent}applies when {guard} is present\n")));
                }
                None => {}
            }
        }
        fixes
    }

    pub(super) fn mismatch(&mut self, value: &hir::Expr, expected: &Ty, context: &str) {
        let found = value.ty.display(self.schema);
        let want = expected.display(self.schema);
        let hint = if *expected.strip() == Ty::Version && matches!(value.kind, ExprKind::Str(_)) {
            Some(format!("write a version literal: `v{}`", self.text(value.span)))
        } else if *expected.strip() == Ty::Int && matches!(value.kind, ExprKind::Str(_)) {
            Some("integers are written without quotes".to_owned())
        } else if *expected.strip() == Ty::Str && matches!(value.kind, ExprKind::Int(_)) {
            Some(format!("strings are quoted: `\"{}\"`", self.text(value.span)))
        } else {
            None
        };
        let what = errors::Mismatch::Expected { want: &want, found: &found, context, hint };
        self.report(errors::mismatch(value.span, what));
    }

    pub(super) fn in_const(&mut self, scope: &Scope, span: Span, what: &str) -> bool {
        if scope.context == Context::Const {
            self.report(
                Diagnostic::new(Code::E0310, format!("a constant cannot {what}"))
                    .primary(span, "not a fixed value")
                    .help("constants are fixed values; use a function, or a `let` inside the rule"),
            );
            return true;
        }
        false
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Why `text` cannot be a version in any scheme, if it cannot.
fn version_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some("empty");
    }
    if text.chars().any(char::is_whitespace) {
        return Some("contains whitespace");
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("does not start with a digit");
    }
    if !text.chars().all(|c| c.is_ascii_alphanumeric() || ".+-~:_!*".contains(c)) {
        return Some("has a character no version scheme allows");
    }
    None
}
