//! Expressions: name resolution, types, and the presence facts that let a
//! checked `x is present` make `x` usable.

use super::hir::{self, ExprKind, LocalId};
use super::types::{from_native, Ty};
use super::{lints, schema, Checker, Imported};
use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, QuantifierKind, StrPart};

/// Where an expression is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Context {
    Rule,
    /// A constant's value: fixed, so it may not read telemetry or call functions.
    Const,
    Function(hir::FnId),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BindingKind {
    Let,
    Param,
    Loop,
}

struct Binding {
    name: String,
    id: LocalId,
    ty: Ty,
    span: Span,
    kind: BindingKind,
    used: bool,
}

/// Local bindings and presence facts, in nested frames.
pub struct Scope {
    pub module: usize,
    pub context: Context,
    bindings: Vec<Binding>,
    /// Keys (see [`key`]) of values known to be present here.
    facts: Vec<String>,
    frames: Vec<(usize, usize)>,
    next_slot: u32,
}

impl Scope {
    pub fn new(module: usize, context: Context) -> Self {
        Scope { module, context, bindings: Vec::new(), facts: Vec::new(), frames: Vec::new(), next_slot: 0 }
    }

    pub fn bind(&mut self, name: &ast::Ident, ty: Ty, kind: BindingKind) -> LocalId {
        let id = self.next_slot;
        self.next_slot += 1;
        self.bindings.push(Binding { name: name.name.clone(), id, ty, span: name.span, kind, used: false });
        id
    }

    pub fn slots(&self) -> u32 {
        self.next_slot
    }

    /// The span of a binding of `name` in the innermost frame.
    pub fn defined_in_frame(&self, name: &str) -> Option<Span> {
        let start = self.frames.last().map(|f| f.0).unwrap_or(0);
        self.bindings.get(start..)?.iter().find(|b| b.name == name).map(|b| b.span)
    }

    /// Opens a frame; returns the depth to pass to [`Scope::pop_to`].
    pub fn push_frame(&mut self) -> usize {
        self.frames.push((self.bindings.len(), self.facts.len()));
        self.frames.len() - 1
    }

    pub fn pop_to(&mut self, depth: usize) {
        let _ = self.pop_frames(depth);
    }

    /// Closes the frames from `depth` up (everything for depth 0 when no frame
    /// is open) and returns the `let` bindings in them that were never used.
    pub fn pop_frames(&mut self, depth: usize) -> Vec<(String, Span)> {
        let (b, f) = match self.frames.get(depth) {
            Some(saved) => *saved,
            None if depth == 0 => (0, 0),
            None => return Vec::new(),
        };
        let unused = self
            .bindings
            .get(b..)
            .unwrap_or(&[])
            .iter()
            .filter(|x| x.kind == BindingKind::Let && !x.used && !x.name.starts_with('_'))
            .map(|x| (x.name.clone(), x.span))
            .collect();
        self.bindings.truncate(b);
        self.facts.truncate(f);
        self.frames.truncate(depth);
        unused
    }

    fn lookup(&mut self, name: &str) -> Option<&mut Binding> {
        self.bindings.iter_mut().rev().find(|b| b.name == name)
    }

    fn has_binding(&self, name: &str) -> bool {
        self.bindings.iter().any(|b| b.name == name)
    }

    fn knows_present(&self, key: &str) -> bool {
        self.facts.iter().any(|f| f == key)
    }

    /// Records what `cond` evaluating to `truth` proves present.
    pub fn assume(&mut self, cond: &hir::Expr, truth: bool) {
        let mut facts = Vec::new();
        facts_when(cond, truth, &mut facts);
        self.facts.extend(facts);
    }
}

/// A stable key for a value that can be tested for presence: `host`, a local
/// or a constant, followed by field indices.
fn key(e: &hir::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Host => Some("h".into()),
        ExprKind::Local(id) => Some(format!("l{id}")),
        ExprKind::Const(id) => Some(format!("c{id}")),
        ExprKind::Field { base, index, .. } => Some(format!("{}.{index}", key(base)?)),
        _ => None,
    }
}

/// The values proven present when `e` is `truth`.
fn facts_when(e: &hir::Expr, truth: bool, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Presence(operand, present) if *present == truth => {
            // `a.b.c is present` also proves `a.b` and `a` present.
            let mut cur = operand.as_ref();
            loop {
                if let Some(k) = key(cur) {
                    out.push(k);
                }
                match &cur.kind {
                    ExprKind::Field { base, .. } => cur = base,
                    _ => break,
                }
            }
        }
        ExprKind::Not(inner) => facts_when(inner, !truth, out),
        ExprKind::Binary(BinaryOp::And, a, b) if truth => {
            facts_when(a, true, out);
            facts_when(b, true, out);
        }
        ExprKind::Binary(BinaryOp::Or, a, b) if !truth => {
            facts_when(a, false, out);
            facts_when(b, false, out);
        }
        _ => {}
    }
}

pub fn error_expr(span: Span) -> hir::Expr {
    hir::Expr { kind: ExprKind::Bool(false), ty: Ty::Unknown, span }
}

fn mk(kind: ExprKind, ty: Ty, span: Span) -> hir::Expr {
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
                    self.require_present(&value);
                    match ty.join(&value.ty) {
                        Some(t) => ty = t,
                        None => {
                            let d = Diagnostic::new(
                                Code::E0401,
                                format!(
                                    "list items must have one type: this is `{}`, earlier items are `{}`",
                                    value.ty.display(self.schema),
                                    ty.display(self.schema)
                                ),
                            )
                            .primary(value.span, "different type")
                            .help("write the items with the same type");
                            self.report(d);
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
                self.require_present(&value);
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
                if !value.ty.is_optional() && !value.ty.is_unknown() {
                    self.report(
                        Diagnostic::new(
                            Code::W0107,
                            format!(
                                "`{}` is never absent, so this test is always {}",
                                self.text(value.span),
                                present
                            ),
                        )
                        .primary(value.span, format!("`{}` is always present", value.ty.display(self.schema)))
                        .help("remove the test"),
                    );
                }
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
                        self.report(
                            Diagnostic::new(
                                Code::E0401,
                                format!(
                                    "the branches of `if` have different types: `{}` and `{}`",
                                    then.ty.display(self.schema),
                                    otherwise.ty.display(self.schema)
                                ),
                            )
                            .primary(otherwise.span, "this branch")
                            .secondary(then.span, "the other branch")
                            .help("both branches must give the same type"),
                        );
                        Ty::Unknown
                    }
                };
                mk(ExprKind::If(Box::new(cond), Box::new(then), Box::new(otherwise)), ty, span)
            }
            ast::ExprKind::Quantifier { kind, var, collection, filter } => {
                let collection = self.expr(collection, scope, None);
                let item = self.collection_item(&collection);
                let depth = scope.push_frame();
                let id = scope.bind(var, item.clone(), BindingKind::Loop);
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
                    self.interpolated(&value);
                    parts.push(value);
                }
            }
        }
        mk(ExprKind::Format(parts), Ty::Str, lit.span)
    }

    /// A value written into text must be present and printable.
    pub(super) fn interpolated(&mut self, value: &hir::Expr) {
        self.require_present(value);
        let printable = |t: &Ty| !matches!(t, Ty::Record(_));
        let ok = match &value.ty {
            Ty::List(item) => printable(item),
            t => printable(t.strip()),
        };
        if !ok {
            self.report(
                Diagnostic::new(
                    Code::E0401,
                    format!("a `{}` record cannot be written into text", value.ty.display(self.schema)),
                )
                .primary(value.span, "a record")
                .help("interpolate one of its fields, such as `{p.name}`"),
            );
        }
    }

    pub(super) fn condition(&mut self, e: &ast::Expr, scope: &mut Scope) -> hir::Expr {
        let value = self.expr(e, scope, Some(&Ty::Bool));
        self.require_present(&value);
        if !value.ty.fits(&Ty::Bool) {
            self.mismatch(&value, &Ty::Bool, "a condition must be a bool");
        }
        value
    }

    pub(super) fn collection_item(&mut self, collection: &hir::Expr) -> Ty {
        self.require_present(collection);
        match collection.ty.strip() {
            Ty::List(item) => item.as_ref().clone(),
            Ty::Unknown => Ty::Unknown,
            other => {
                let found = other.display(self.schema);
                self.report(
                    Diagnostic::new(Code::E0401, format!("expected a list to iterate over, found `{found}`"))
                        .primary(collection.span, format!("this is `{found}`"))
                        .help("`for each` and the quantifiers walk lists, such as `host.packages`"),
                );
                Ty::Unknown
            }
        }
    }

    /// Reports E0402 when `value` is optional: every use except `??`, `is
    /// present` and `is absent` needs a value.
    pub(super) fn require_present(&mut self, value: &hir::Expr) {
        if !value.ty.is_optional() || value.ty.is_unknown() {
            return;
        }
        let text = self.text(value.span).to_owned();
        // The outermost optional part is what a guard should test.
        let mut root = value;
        let mut cur = value;
        while let ExprKind::Field { base, .. } = &cur.kind {
            if base.ty.is_optional() {
                root = base;
            }
            cur = base;
        }
        let root_text = self.text(root.span).to_owned();
        let mut base = root;
        while let ExprKind::Field { base: b, .. } = &base.kind {
            base = b;
        }
        let guard = if matches!(base.kind, ExprKind::Host) {
            format!(
                "give a default (`{text} ?? ...`), test `{root_text} is present` first, or guard the rule with `applies when {root_text} is present`"
            )
        } else {
            format!(
                "give a default (`{text} ?? ...`), or test `{root_text} is present` first (with `and`, or in the `where` filter)"
            )
        };
        self.report(
            Diagnostic::new(Code::E0402, format!("`{text}` may be absent, and this use does not say what then"))
                .primary(value.span, format!("`{}` is optional", value.ty.display(self.schema)))
                .help(guard)
                .note("missing telemetry must never make a rule pass silently; see \"Missing data\" in docs/language.md"),
        );
    }

    pub(super) fn mismatch(&mut self, value: &hir::Expr, expected: &Ty, context: &str) {
        let found = value.ty.display(self.schema);
        let want = expected.display(self.schema);
        let mut d = Diagnostic::new(Code::E0401, format!("expected `{want}`, found `{found}`"))
            .primary(value.span, format!("this is `{found}`"))
            .note(context.to_owned());
        if *expected.strip() == Ty::Version && matches!(value.kind, ExprKind::Str(_)) {
            d = d.help(format!("write a version literal: `v{}`", self.text(value.span)));
        } else if *expected.strip() == Ty::Int && matches!(value.kind, ExprKind::Str(_)) {
            d = d.help("integers are written without quotes");
        } else if *expected.strip() == Ty::Str && matches!(value.kind, ExprKind::Int(_)) {
            d = d.help(format!("strings are quoted: `\"{}\"`", self.text(value.span)));
        }
        self.report(d);
    }

    fn in_const(&mut self, scope: &Scope, span: Span, what: &str) -> bool {
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

    fn name(&mut self, ident: &ast::Ident, scope: &mut Scope, expected: Option<&Ty>) -> hir::Expr {
        let span = ident.span;
        if let Some(binding) = scope.lookup(&ident.name) {
            binding.used = true;
            let (id, ty) = (binding.id, binding.ty.clone());
            let mut e = mk(ExprKind::Local(id), ty, span);
            self.narrow(&mut e, scope);
            return e;
        }
        if ident.name == "host" {
            if self.in_const(scope, span, "read telemetry") {
                return error_expr(span);
            }
            return mk(ExprKind::Host, Ty::Record(schema::ROOT), span);
        }
        let module = scope.module;
        if let Some(&id) = self.modules[module].consts.get(&ident.name) {
            return self.const_ref(id, span, scope);
        }
        if let Some(import) = self.modules[module].imports.get_mut(&ident.name) {
            import.used = true;
            match import.target {
                Imported::Const(id) => return self.const_ref(id, span, scope),
                Imported::Module(_) | Imported::StdModule(_) => {
                    self.report(
                        Diagnostic::new(Code::E0401, format!("`{}` is a module, not a value", ident.name))
                            .primary(span, "a module")
                            .help(format!("use one of its definitions: `{}.NAME`", ident.name)),
                    );
                    return error_expr(span);
                }
                Imported::Unresolved => return error_expr(span),
                Imported::Fn(_) | Imported::Native(_) => {
                    self.report(
                        Diagnostic::new(Code::E0401, format!("`{}` is a function, not a value", ident.name))
                            .primary(span, "a function")
                            .help(format!("call it: `{}(...)`", ident.name)),
                    );
                    return error_expr(span);
                }
            }
        }
        if self.modules[module].fns.contains_key(&ident.name) {
            self.report(
                Diagnostic::new(Code::E0401, format!("`{}` is a function, not a value", ident.name))
                    .primary(span, "a function")
                    .help(format!("call it: `{}(...)`", ident.name)),
            );
            return error_expr(span);
        }
        // A bare word is an enumeration value when the context expects one.
        if let Some(Ty::Enum(id)) = expected.map(Ty::strip) {
            let variants = &self.schema.enumeration(*id).variants;
            if let Some(index) = variants.iter().position(|v| *v == ident.name) {
                return mk(ExprKind::EnumValue(*id, index as u32), Ty::Enum(*id), span);
            }
            let name = &self.schema.enumeration(*id).name;
            let mut d = Diagnostic::new(Code::E0301, format!("`{}` is not a value of `{name}`", ident.name))
                .primary(span, format!("not a `{name}`"));
            d = match did_you_mean(&ident.name, variants.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("`{name}` is one of: {}", variants.join(", "))),
            };
            self.report(d);
            return error_expr(span);
        }
        let matching = self.schema.enums_with_variant(&ident.name);
        if let [(id, index)] = matching.as_slice() {
            return mk(ExprKind::EnumValue(*id, *index), Ty::Enum(*id), span);
        }
        self.unknown_name(ident, scope);
        error_expr(span)
    }

    fn unknown_name(&mut self, ident: &ast::Ident, scope: &Scope) {
        let module = &self.modules[scope.module];
        let mut candidates: Vec<String> = vec!["host".into()];
        candidates.extend(scope.bindings.iter().map(|b| b.name.clone()));
        candidates.extend(module.consts.keys().cloned());
        candidates.extend(module.imports.keys().cloned());
        let mut d = Diagnostic::new(Code::E0301, format!("unknown name `{}`", ident.name))
            .primary(ident.span, "not defined here");
        // Defined in a sibling module but not imported?
        let unit = module.unit;
        let sibling = self
            .modules
            .iter()
            .find(|m| m.unit == unit && m.name != module.name && m.consts.contains_key(&ident.name))
            .map(|m| m.name.clone());
        if let Some(sibling) = sibling {
            d = d.help(format!(
                "`{}` is defined in the module `{sibling}`: add `import {sibling}.{{{}}}`",
                ident.name, ident.name
            ));
        } else if self.schema.field(schema::ROOT, &ident.name).is_some() {
            d = d.help(format!("telemetry is read through `host`: did you mean `host.{}`?", ident.name));
        } else if let Some(s) = did_you_mean(&ident.name, candidates.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{s}`?"));
        } else if let Some(s) = did_you_mean(
            &ident.name,
            self.schema.enums().flat_map(|(_, e)| e.variants.iter().map(String::as_str)),
        ) {
            d = d.help(format!("did you mean the value `{s}`?"));
        }
        if scope.has_binding(&ident.name) {
            d = d.note("a binding is visible only after its `let` and inside its `for each` or quantifier");
        }
        self.report(d);
    }

    fn const_ref(&mut self, id: hir::ConstId, span: Span, scope: &Scope) -> hir::Expr {
        self.consts[id as usize].used = true;
        let ty = self.const_type(id);
        let mut e = mk(ExprKind::Const(id), ty, span);
        self.narrow(&mut e, scope);
        e
    }

    /// Makes an optional value known to be present non-optional.
    fn narrow(&self, e: &mut hir::Expr, scope: &Scope) {
        if e.ty.is_optional() {
            if let Some(k) = key(e) {
                if scope.knows_present(&k) {
                    e.ty = e.ty.strip().clone();
                }
            }
        }
    }

    fn field(
        &mut self,
        whole: &ast::Expr,
        base: &ast::Expr,
        field: &ast::Ident,
        scope: &mut Scope,
    ) -> hir::Expr {
        let span = whole.span;
        // `module.NAME` reads a constant of an imported module.
        if let ast::ExprKind::Name(m) = &base.kind {
            if !scope.has_binding(&m.name) {
                if let Some(import) = self.modules[scope.module].imports.get_mut(&m.name) {
                    let target = import.target;
                    if target == Imported::Unresolved {
                        import.used = true;
                        return error_expr(span);
                    }
                    if matches!(target, Imported::Module(_) | Imported::StdModule(_)) {
                        import.used = true;
                        return match self.member(target, &field.name) {
                            Some(Imported::Const(id)) => self.const_ref(id, span, scope),
                            Some(_) => {
                                self.report(
                                    Diagnostic::new(
                                        Code::E0401,
                                        format!("`{}.{}` is a function, not a value", m.name, field.name),
                                    )
                                    .primary(span, "a function")
                                    .help(format!("call it: `{}.{}(...)`", m.name, field.name)),
                                );
                                error_expr(span)
                            }
                            None => {
                                let candidates = self.member_names(target);
                                let mut d = Diagnostic::new(
                                    Code::E0301,
                                    format!("`{}` has no `{}`", m.name, field.name),
                                )
                                .primary(field.span, "not defined there");
                                if let Some(s) =
                                    did_you_mean(&field.name, candidates.iter().map(String::as_str))
                                {
                                    d = d.help(format!("did you mean `{}.{s}`?", m.name));
                                }
                                self.report(d);
                                error_expr(span)
                            }
                        };
                    }
                }
            }
        }
        let base = self.expr(base, scope, None);
        let optional = base.ty.is_optional();
        let record = match base.ty.strip() {
            Ty::Record(id) => *id,
            Ty::Unknown => return error_expr(span),
            other => {
                let found = other.display(self.schema);
                self.report(
                    Diagnostic::new(Code::E0404, format!("`{found}` has no fields"))
                        .primary(field.span, format!("`.{}` on a `{found}`", field.name))
                        .help("only telemetry records have fields; see docs/telemetry.md"),
                );
                return error_expr(span);
            }
        };
        let Some((index, info)) = self.schema.field(record, &field.name) else {
            let rec = self.schema.record(record);
            let mut d = Diagnostic::new(Code::E0302, format!("`{}` has no field `{}`", rec.name, field.name))
                .primary(field.span, "unknown field");
            d = match did_you_mean(&field.name, rec.fields.iter().map(|f| f.name.as_str())) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!(
                    "`{}` has: {}",
                    rec.name,
                    rec.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            };
            self.report(d.note("the fields of every record are listed in docs/telemetry.md"));
            return error_expr(span);
        };
        // Reading through an absent record gives an absent field.
        let ty = if optional { info.ty.clone().optional() } else { info.ty.clone() };
        let mut e = mk(
            ExprKind::Field { base: Box::new(base), index, name: field.name.clone(), sourced: info.sourced },
            ty,
            span,
        );
        self.narrow(&mut e, scope);
        e
    }

    fn call(
        &mut self,
        callee: &[ast::Ident],
        args: &[ast::Expr],
        span: Span,
        scope: &mut Scope,
    ) -> hir::Expr {
        enum Target {
            User(hir::FnId),
            Native(u16),
        }
        let module = scope.module;
        let name_span = callee
            .first()
            .map(|f| f.span.to(callee.last().map(|l| l.span).unwrap_or(f.span)))
            .unwrap_or(span);
        let full: Vec<&str> = callee.iter().map(|i| i.name.as_str()).collect();
        let full = full.join(".");
        let target = match callee {
            [f] => {
                if let Some(&id) = self.modules[module].fns.get(&f.name) {
                    Some(Target::User(id))
                } else if let Some(import) = self.modules[module].imports.get_mut(&f.name) {
                    import.used = true;
                    match import.target {
                        Imported::Fn(id) => Some(Target::User(id)),
                        Imported::Native(id) => Some(Target::Native(id)),
                        Imported::Unresolved => return error_expr(span),
                        _ => None,
                    }
                } else {
                    None
                }
            }
            [m, f] => match self.modules[module].imports.get_mut(&m.name).map(|import| {
                import.used = true;
                import.target
            }) {
                Some(Imported::Unresolved) => return error_expr(span),
                Some(target) => match self.member(target, &f.name) {
                    Some(Imported::Fn(id)) => Some(Target::User(id)),
                    Some(Imported::Native(id)) => Some(Target::Native(id)),
                    _ => None,
                },
                None => None,
            },
            _ => None,
        };
        let Some(target) = target else {
            // Check the arguments anyway, for their own mistakes.
            for arg in args {
                self.expr(arg, scope, None);
            }
            let mut candidates: Vec<String> = self.modules[module].fns.keys().cloned().collect();
            for (name, import) in &self.modules[module].imports {
                match import.target {
                    Imported::Fn(_) | Imported::Native(_) => candidates.push(name.clone()),
                    Imported::Module(_) | Imported::StdModule(_) => candidates
                        .extend(self.member_names(import.target).into_iter().map(|n| format!("{name}.{n}"))),
                    _ => {}
                }
            }
            let mut d = Diagnostic::new(Code::E0303, format!("unknown function `{full}`"))
                .primary(name_span, "not defined");
            let last = callee.last().map(|i| i.name.as_str()).unwrap_or("");
            let std_home: Vec<&str> =
                assay_stdlib::NATIVES.iter().filter(|n| n.name == last).map(|n| n.module).collect();
            if let Some(s) = did_you_mean(&full, candidates.iter().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            } else if let Some(m) = std_home.first() {
                d = d.help(format!(
                    "the standard library has `{m}.{last}`: add `import std.{m}` and call `{m}.{last}(...)`"
                ));
            } else {
                d = d.help("functions are defined with `fn` in this package or imported from `std` modules (see docs/language.md)");
            }
            self.report(d);
            return error_expr(span);
        };
        let (params, ret, name) = match target {
            Target::User(id) => {
                self.fns[id as usize].used = true;
                if self.in_const(scope, name_span, "call a function") {
                    return error_expr(span);
                }
                if let Context::Function(caller) = scope.context {
                    self.calls.push((caller, id, name_span));
                }
                let slot = &self.fns[id as usize];
                (slot.params.clone(), slot.ret.clone(), slot.decl.name.name.clone())
            }
            Target::Native(id) => {
                let native = &assay_stdlib::NATIVES[usize::from(id)];
                (
                    native.params.iter().map(|(_, t)| from_native(t)).collect(),
                    from_native(&native.ret),
                    full.clone(),
                )
            }
        };
        if args.len() != params.len() {
            self.report(
                Diagnostic::new(
                    Code::E0403,
                    format!(
                        "`{name}` takes {} argument{}, but {} {} given",
                        params.len(),
                        plural(params.len()),
                        args.len(),
                        if args.len() == 1 { "was" } else { "were" }
                    ),
                )
                .primary(span, format!("{} argument{}", args.len(), plural(args.len())))
                .help(format!(
                    "call it as `{name}({})`",
                    params.iter().map(|p| p.display(self.schema)).collect::<Vec<_>>().join(", ")
                )),
            );
        }
        let mut checked = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            let want = params.get(i);
            let value = self.expr(arg, scope, want);
            if let Some(want) = want {
                if !want.is_optional() {
                    self.require_present(&value);
                }
                if !value.ty.strip().fits(want) {
                    self.mismatch(&value, want, &format!("argument {} of `{name}`", i + 1));
                }
            }
            checked.push(value);
        }
        let kind = match target {
            Target::User(id) => ExprKind::Call(id, checked),
            Target::Native(id) => ExprKind::Native(id, checked),
        };
        mk(kind, ret, span)
    }

    fn binary(
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
                if !l.ty.is_optional() && !l.ty.is_unknown() {
                    self.report(
                        Diagnostic::new(
                            Code::W0107,
                            format!("`{}` is never absent, so the default is never used", self.text(l.span)),
                        )
                        .primary(l.span, format!("`{}` is always present", l.ty.display(self.schema)))
                        .help("remove `?? ...`"),
                    );
                }
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

    fn comparison_or_arithmetic(
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
        self.require_present(&l);
        self.require_present(&r);
        let (lt, rt) = (l.ty.strip().clone(), r.ty.strip().clone());
        let result = |ty| ty;
        let bad = |this: &mut Self, l: &hir::Expr, r: &hir::Expr, what: &str| {
            let (a, b) = (l.ty.strip().display(this.schema), r.ty.strip().display(this.schema));
            let mut d = Diagnostic::new(
                Code::E0401,
                format!("`{}` cannot be applied to `{a}` and `{b}`", op.as_str()),
            )
            .primary(r.span, format!("this is `{b}`"))
            .secondary(l.span, format!("this is `{a}`"))
            .help(what.to_owned());
            if (l.ty.strip() == &Ty::Version && matches!(r.kind, ExprKind::Str(_)))
                || (r.ty.strip() == &Ty::Version && matches!(l.kind, ExprKind::Str(_)))
            {
                d = d.help("compare versions with a version literal: `v\"1.2.3\"`");
            } else if (l.ty.strip() == &Ty::Int && matches!(r.kind, ExprKind::Str(_)))
                || (r.ty.strip() == &Ty::Int && matches!(l.kind, ExprKind::Str(_)))
            {
                d = d.help("integers are written without quotes");
            }
            this.report(d);
        };
        let ty = match op {
            BinaryOp::Eq | BinaryOp::Ne => {
                if let Some(fixed) = self.enum_literal(op, &mut l, &mut r, span) {
                    return fixed;
                }
                if lt.join(&rt).is_none() {
                    bad(self, &l, &r, "both sides of a comparison must have the same type");
                } else if let Some(why) = lints::never_holds(self.schema, op, &l, &r) {
                    self.never_holds(span, &why);
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
                } else if let Some(why) = lints::never_holds(self.schema, op, &l, &r) {
                    self.never_holds(span, &why);
                }
                Ty::Bool
            }
            BinaryOp::In | BinaryOp::NotIn => {
                if let Ty::Enum(e) = lt {
                    self.enum_list(e, &mut r);
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

    fn never_holds(&mut self, span: Span, why: &str) {
        self.report(
            Diagnostic::new(Code::W0106, "this comparison can never hold")
                .primary(span, why.to_owned())
                .help("check the value: as written, the condition is always false"),
        );
    }

    /// `protocol == "tcp"` compares an enumeration with a string literal: a
    /// literal naming a value is that value; any other literal can never be
    /// equal, which is a warning and a constant.
    fn enum_literal(
        &mut self,
        op: BinaryOp,
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
                let why = format!(
                    "`{}` is one of {}, never \"{text}\"",
                    enumeration.name,
                    enumeration.variants.join(", ")
                );
                self.never_holds(span, &why);
                Some(mk(ExprKind::Bool(op == BinaryOp::Ne), Ty::Bool, span))
            }
        }
    }

    /// String literals in a list compared with an enumeration.
    fn enum_list(&mut self, e: u32, list: &mut hir::Expr) {
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
                        let why = format!("`{}` is never \"{text}\"", enumeration.name);
                        let span = item.span;
                        self.never_holds(span, &why);
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
    fn is_bare_word(&self, e: &ast::Expr, scope: &Scope) -> bool {
        let ast::ExprKind::Name(ident) = &e.kind else { return false };
        let module = &self.modules[scope.module];
        !(scope.has_binding(&ident.name)
            || ident.name == "host"
            || module.consts.contains_key(&ident.name)
            || module.imports.contains_key(&ident.name)
            || module.fns.contains_key(&ident.name))
    }
}

fn plural(n: usize) -> &'static str {
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
