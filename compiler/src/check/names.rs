//! Name resolution inside expressions: bindings, constants, imported
//! modules and members, telemetry fields, function and native calls, each
//! unknown name with a "did you mean".

use super::expr::{error_expr, mk, plural};
use super::hir::{self, ExprKind};
use super::scope::{key, Context, Scope};
use super::types::{from_native, Ty};
use super::{errors, schema, Checker, Imported};
use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self};

impl Checker<'_> {
    pub(super) fn name(&mut self, ident: &ast::Ident, scope: &mut Scope, expected: Option<&Ty>) -> hir::Expr {
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
                    let what = errors::Mismatch::NotAValue { name: &ident.name, module: true };
                    self.report(errors::mismatch(span, what));
                    return error_expr(span);
                }
                Imported::Unresolved => return error_expr(span),
                Imported::Fn(_) | Imported::Native(_) => {
                    let what = errors::Mismatch::NotAValue { name: &ident.name, module: false };
                    self.report(errors::mismatch(span, what));
                    return error_expr(span);
                }
            }
        }
        if self.modules[module].fns.contains_key(&ident.name) {
            let what = errors::Mismatch::NotAValue { name: &ident.name, module: false };
            self.report(errors::mismatch(span, what));
            return error_expr(span);
        }
        // A bare word is an enumeration value when the context expects one.
        if let Some(Ty::Enum(id)) = expected.map(Ty::strip) {
            let variants = &self.schema.enumeration(*id).variants;
            if let Some(index) = variants.iter().position(|v| *v == ident.name) {
                return mk(ExprKind::EnumValue(*id, index as u32), Ty::Enum(*id), span);
            }
            let enumeration = &self.schema.enumeration(*id).name;
            let what =
                errors::UnknownName::EnumValue { word: &ident.name, enumeration, variants, quoted: false };
            self.report(errors::unknown_name(span, what));
            return error_expr(span);
        }
        let matching = self.schema.enums_with_variant(&ident.name);
        if let [(id, index)] = matching.as_slice() {
            return mk(ExprKind::EnumValue(*id, *index), Ty::Enum(*id), span);
        }
        self.unknown_name(ident, scope);
        error_expr(span)
    }

    pub(super) fn unknown_name(&mut self, ident: &ast::Ident, scope: &Scope) {
        let module = &self.modules[scope.module];
        let mut candidates: Vec<String> = vec!["host".into()];
        candidates.extend(scope.bindings.iter().map(|b| b.name.clone()));
        candidates.extend(module.consts.keys().cloned());
        candidates.extend(module.imports.keys().cloned());
        // Defined in a sibling module but not imported?
        let unit = module.unit;
        let sibling = self
            .modules
            .iter()
            .find(|m| m.unit == unit && m.name != module.name && m.consts.contains_key(&ident.name))
            .map(|m| m.name.clone());
        let hint = if let Some(sibling) = sibling {
            errors::NameHint::Sibling(sibling)
        } else if self.schema.field(schema::ROOT, &ident.name).is_some() {
            errors::NameHint::HostField
        } else if let Some(s) = did_you_mean(&ident.name, candidates.iter().map(String::as_str)) {
            errors::NameHint::Similar(s.to_owned())
        } else if let Some(s) = did_you_mean(
            &ident.name,
            self.schema.enums().flat_map(|(_, e)| e.variants.iter().map(String::as_str)),
        ) {
            errors::NameHint::SimilarValue(s.to_owned())
        } else {
            errors::NameHint::None
        };
        let what = errors::UnknownName::Name {
            name: &ident.name,
            hint,
            bound_later: scope.has_binding(&ident.name),
        };
        self.report(errors::unknown_name(ident.span, what));
    }

    pub(super) fn const_ref(&mut self, id: hir::ConstId, span: Span, scope: &Scope) -> hir::Expr {
        self.consts[id as usize].used = true;
        let ty = self.const_type(id);
        let mut e = mk(ExprKind::Const(id), ty, span);
        self.narrow(&mut e, scope);
        e
    }

    /// Makes an optional value known to be present non-optional.
    pub(super) fn narrow(&self, e: &mut hir::Expr, scope: &Scope) {
        if e.ty.is_optional() {
            if let Some(k) = key(e) {
                if scope.knows_present(&k) {
                    e.ty = e.ty.strip().clone();
                }
            }
        }
    }

    pub(super) fn field(
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
                                let name = format!("{}.{}", m.name, field.name);
                                let what = errors::Mismatch::NotAValue { name: &name, module: false };
                                self.report(errors::mismatch(span, what));
                                error_expr(span)
                            }
                            None => {
                                let candidates = self.member_names(target);
                                let what = errors::UnknownName::Member {
                                    module: &m.name,
                                    name: &field.name,
                                    candidates: &candidates,
                                };
                                self.report(errors::unknown_name(field.span, what));
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
                Some(s) => d.help(format!("did you mean `{s}`?")).suggest(field.span, s),
                None => d.help(format!(
                    "`{}` has: {}",
                    rec.name,
                    rec.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            };
            self.report(d.note("the fields of every record are listed in docs/telemetry.md"));
            return error_expr(span);
        };
        if field.name == "licenses" && self.schema.record(record).name == "Package" {
            self.program.reads_licenses = true;
        }
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

    /// For a call `a.b.f(...)` whose prefix is a value (`host...` or a
    /// binding), not a module: the prefix's text and type. Typing it reports
    /// nothing; the call is already an error.
    fn method_call(&mut self, callee: &[ast::Ident], scope: &mut Scope) -> Option<(String, Ty)> {
        let (first, rest) = callee.split_first()?;
        let path = &rest[..rest.len().checked_sub(1)?];
        if !(first.name == "host" || scope.has_binding(&first.name)) {
            return None;
        }
        let mut e = ast::Expr { kind: ast::ExprKind::Name(first.clone()), span: first.span };
        for field in path {
            let span = e.span.to(field.span);
            e = ast::Expr { kind: ast::ExprKind::Field { base: Box::new(e), field: field.clone() }, span };
        }
        let reported = self.diagnostics.len();
        let value = self.expr(&e, scope, None);
        self.diagnostics.truncate(reported);
        let text = self.text(e.span).to_owned();
        Some((text, value.ty))
    }

    pub(super) fn call(
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
        if let [h, f] = callee {
            if let Some(kind) = assay_model::lookup::LookupKind::parse(&f.name).filter(|_| h.name == "host") {
                return self.lookup(kind, args, span, scope);
            }
            if let Some(format) =
                assay_model::telemetry::ContentFormat::parse(&f.name).filter(|_| h.name == "host")
            {
                return self.content_lookup(format, args, span, scope);
            }
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
            let method = self.method_call(callee, scope);
            if let Some((receiver, ty)) = method.filter(|_| !std_home.is_empty()) {
                // `x.len()`: the native that takes this type.
                let m = match ty.strip() {
                    Ty::List(_) if std_home.contains(&"lists") => "lists",
                    Ty::Str if std_home.contains(&"strings") => "strings",
                    _ => std_home[0],
                };
                d = d.help(format!(
                    "values have no methods: call `{m}.{last}({receiver})`, with `import std.{m}`"
                ));
            } else if let Some(s) = did_you_mean(&full, candidates.iter().map(String::as_str)) {
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
                    self.require_present(&value, scope.context);
                }
                if !value.ty.strip().fits(want) {
                    self.mismatch(&value, want, &format!("argument {} of `{name}`", i + 1));
                }
            }
            checked.push(value);
        }
        if let Target::Native(id) = target {
            self.literal_arguments(id, &checked);
        }
        let kind = match target {
            Target::User(id) => ExprKind::Call(id, checked),
            Target::Native(id) => ExprKind::Native(id, checked),
        };
        mk(kind, ret, span)
    }

    /// Literal arguments a native can only reject at run time, rejected
    /// now: a CIDR block that does not parse (E0408).
    fn literal_arguments(&mut self, native: u16, args: &[hir::Expr]) {
        let n = &assay_stdlib::NATIVES[usize::from(native)];
        if (n.module, n.name) != ("net", "in_cidr") {
            return;
        }
        if let Some(ExprKind::Str(block)) = args.get(1).map(|a| &a.kind) {
            if let Some(why) = assay_stdlib::cidr_error(block) {
                self.report(errors::bad_cidr(args[1].span, &why));
            }
        }
    }
}
