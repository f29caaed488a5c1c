//! Lookups by name (`host.sysctl("net.ipv4.ip_forward")`, `host.file(...)`,
//! `host.module(...)`, `host.service(...)`): the name must be a literal the
//! collector can look up (E0311), so the bundle can carry it in its
//! collection plan. A lookup is the `find` it stands for, over the list the
//! item lives in, typed as the list's record, optional.

use super::expr::{error_expr, mk};
use super::hir::{self, ExprKind};
use super::paths::field_literals;
use super::scope::Scope;
use super::types::Ty;
use super::{errors, schema, Checker};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, QuantifierKind, StrPart};
use assay_model::lookup::{secret_word, ContentLookup, Lookup, LookupKind};
use assay_model::telemetry::ContentFormat;

impl Checker<'_> {
    pub(super) fn lookup(
        &mut self,
        kind: LookupKind,
        args: &[ast::Expr],
        span: Span,
        scope: &mut Scope,
    ) -> hir::Expr {
        if self.in_const(scope, span, "read telemetry") {
            return error_expr(span);
        }
        let literal = match args {
            [arg] => literal(arg),
            _ => None,
        };
        let Some((name, name_span)) = literal else {
            // Check the arguments anyway, for their own mistakes.
            for arg in args {
                self.expr(arg, scope, None);
            }
            let at = args.first().map_or(span, |a| a.span);
            self.report(errors::bad_lookup(at, kind, errors::BadLookup::NotALiteral { given: args.len() }));
            return error_expr(span);
        };
        if let Err(why) = kind.check(&name) {
            self.report(errors::bad_lookup(
                name_span,
                kind,
                errors::BadLookup::Name { name: &name, why: &why },
            ));
            return error_expr(span);
        }
        if kind == LookupKind::Sysctl {
            if let Some(d) = super::lints::w0108_unknown_sysctl::check(&name, name_span) {
                self.report(d);
            }
        }
        match self.find_by_name(kind, &name, span, scope) {
            Some(e) => {
                self.lookups.push(Lookup::named(kind, name));
                e
            }
            None => {
                // The schema and the lookup table disagree: a bug, said as one.
                let why = "internal error: the telemetry schema has no list for this lookup";
                self.report(errors::bad_lookup(span, kind, errors::BadLookup::Name { name: &name, why }));
                error_expr(span)
            }
        }
    }

    /// `host.json(PATH, KEY)` and the other formats: `find` over
    /// `host.contents` by the lookup as written, a `ContentValue?`. Up to
    /// two options follow the key: `"presence"`, only whether the key is
    /// set (`bool?`; a key that looks like a credential may be looked up
    /// only so, or with `"not secret: WHY"`), and `"drop-ins: DIR/*SUFFIX"`.
    pub(super) fn content_lookup(
        &mut self,
        format: ContentFormat,
        args: &[ast::Expr],
        span: Span,
        scope: &mut Scope,
    ) -> hir::Expr {
        if self.in_const(scope, span, "read telemetry") {
            return error_expr(span);
        }
        let literals: Vec<Option<(String, Span)>> = args.iter().map(literal).collect();
        let written: Option<Vec<(String, Span)>> = literals.into_iter().collect();
        let (path, key, options) = match written.as_deref() {
            Some([path, key, options @ ..]) if options.len() <= 2 => (path.clone(), key.clone(), options),
            _ => {
                for arg in args {
                    self.expr(arg, scope, None);
                }
                let at = args.first().map_or(span, |a| a.span);
                self.report(errors::bad_lookup(
                    at,
                    LookupKind::Content,
                    errors::BadLookup::ContentArguments { format, given: args.len() },
                ));
                return error_expr(span);
            }
        };
        let mut lookup = ContentLookup::new(format, path.0, key.0);
        // Where the drop-ins were written, for their mistakes.
        let mut dropins_at = None;
        for (option, at) in options {
            let dropins = option.strip_prefix("drop-ins:").map(str::trim);
            let not_secret = option.strip_prefix("not secret:").map(str::trim).filter(|w| !w.is_empty());
            match (option.as_str(), dropins, not_secret) {
                ("presence", ..) if !lookup.presence => lookup.presence = true,
                (_, Some(dir), _) if lookup.dropins.is_none() => {
                    lookup.dropins = Some(dir.to_owned());
                    dropins_at = Some(*at);
                }
                (_, _, Some(why)) if lookup.not_secret.is_none() => lookup.not_secret = Some(why.to_owned()),
                _ => {
                    self.report(errors::bad_lookup(
                        *at,
                        LookupKind::Content,
                        errors::BadLookup::ContentOption { format, given: option },
                    ));
                    return error_expr(span);
                }
            }
        }
        // The path's own mistakes at the path, the drop-ins' at them, the
        // key's at the key.
        let checked = LookupKind::File.check(&lookup.path).map_err(|why| (why, path.1));
        let checked =
            checked.and_then(|()| lookup.check_dropins().map_err(|why| (why, dropins_at.unwrap_or(span))));
        if let Err((why, at)) = checked.and_then(|()| lookup.check().map_err(|why| (why, key.1))) {
            self.report(errors::bad_lookup(
                at,
                LookupKind::Content,
                errors::BadLookup::Content { format, why: &why },
            ));
            return error_expr(span);
        }
        if !lookup.presence && lookup.not_secret.is_none() {
            if let Some(word) = secret_word(&lookup.key) {
                self.report(errors::credential_value(key.1, format, &lookup.path, &lookup.key, word));
                return error_expr(span);
            }
        }
        let written = lookup.written();
        let presence = lookup.presence;
        let Some(found) = self.find_by_name(LookupKind::Content, &written, span, scope) else {
            let why = "internal error: the telemetry schema has no list for this lookup";
            self.report(errors::bad_lookup(
                span,
                LookupKind::Content,
                errors::BadLookup::Content { format, why },
            ));
            return error_expr(span);
        };
        self.lookups.push(Lookup::content(lookup));
        if !presence {
            return found;
        }
        // Only whether it is set: no value of it can be reached.
        let record = match found.ty.strip() {
            Ty::Record(r) => *r,
            _ => return error_expr(span),
        };
        let Some((index, info)) = self.schema.field(record, "set") else { return error_expr(span) };
        mk(
            ExprKind::Field { base: Box::new(found), index, name: "set".to_owned(), sourced: info.sourced },
            info.ty.clone().optional(),
            span,
        )
    }

    /// `find(x in host.LIST ?? [] where x.KEY == name)`.
    fn find_by_name(
        &mut self,
        kind: LookupKind,
        name: &str,
        span: Span,
        scope: &mut Scope,
    ) -> Option<hir::Expr> {
        let (path, record_name) = kind.list();
        let record = self.schema.record_by_name(record_name)?;
        let mut list = mk(ExprKind::Host, Ty::Record(schema::ROOT), span);
        for field in path {
            let Ty::Record(base) = list.ty.strip().clone() else { return None };
            let (index, info) = self.schema.field(base, field)?;
            let ty = if list.ty.is_optional() { info.ty.clone().optional() } else { info.ty.clone() };
            list = mk(
                ExprKind::Field {
                    base: Box::new(list),
                    index,
                    name: (*field).to_owned(),
                    sourced: info.sourced,
                },
                ty,
                span,
            );
        }
        let item = Ty::Record(record);
        let list_ty = Ty::List(Box::new(item.clone()));
        if list.ty.strip() != &list_ty {
            return None;
        }
        let empty = mk(ExprKind::List(Vec::new()), list_ty.clone(), span);
        let collection =
            mk(ExprKind::Binary(BinaryOp::Default, Box::new(list), Box::new(empty)), list_ty, span);
        let var = scope.fresh_slot();
        let (key_index, key_info) = self.schema.field(record, kind.key_field())?;
        let key = mk(
            ExprKind::Field {
                base: Box::new(mk(ExprKind::Local(var), item.clone(), span)),
                index: key_index,
                name: kind.key_field().to_owned(),
                sourced: key_info.sourced,
            },
            key_info.ty.clone(),
            span,
        );
        let wanted = mk(ExprKind::Str(name.to_owned()), Ty::Str, span);
        let filter = mk(ExprKind::Binary(BinaryOp::Eq, Box::new(key), Box::new(wanted)), Ty::Bool, span);
        Some(mk(
            ExprKind::Quantifier {
                kind: QuantifierKind::Find,
                var,
                collection: Box::new(collection),
                filter: Some(Box::new(filter)),
            },
            item.optional(),
            span,
        ))
    }
}

/// A string literal argument, and where it is.
fn literal(arg: &ast::Expr) -> Option<(String, Span)> {
    match &arg.kind {
        ast::ExprKind::RawStr(text) => Some((text.clone(), arg.span)),
        ast::ExprKind::Str(lit) => match lit.parts.as_slice() {
            [StrPart::Lit(text)] => Some((text.clone(), arg.span)),
            [] => Some((String::new(), arg.span)),
            _ => None,
        },
        _ => None,
    }
}

impl Checker<'_> {
    /// E0312 for `p.name == "x"` (or `in [...]`) over a by-name list when
    /// the collector does not look `x` up by default: the comparison would
    /// never find it, and the rule would pass on every host.
    pub(super) fn not_collected(&mut self, l: &hir::Expr, r: &hir::Expr, scope: &Scope) {
        let Some((id, name, literals)) = field_literals(l, r) else { return };
        let Some(kind) = scope.origin(id) else { return };
        if name != kind.key_field() {
            return;
        }
        for (literal, span) in literals {
            if !kind.defaults().contains(&literal) {
                self.report(errors::not_collected(span, kind, literal));
            }
        }
    }
}
