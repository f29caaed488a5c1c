//! Symbols, definitions, references and renames, from the syntax trees of
//! the package's files: a name resolves as the checker resolves it (the
//! bindings of the enclosing declaration before it, then the file's own
//! constants and functions, then the names it imports, then a module's
//! declaration for `module.name`).

use crate::analysis::Analysis;
use assay_compiler::syntax::ast::{self, Check, ClauseKind, ExprKind, Ident, Item, StrPart};
use assay_compiler::{FileId, Span};

/// A name written in an expression or a declaration.
#[derive(Clone, Debug)]
pub(crate) struct Occurrence {
    pub name: String,
    /// The module before it (`common` in `common.weak(x)`).
    pub qualifier: Option<String>,
    pub span: Span,
}

/// A declaration's name and what it declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    Const,
    Param,
    Function,
    Binding,
}

/// Calls `f` with every name an expression uses.
fn names_in(expr: &ast::Expr, f: &mut dyn FnMut(Occurrence)) {
    match &expr.kind {
        ExprKind::Name(id) => f(Occurrence { name: id.name.clone(), qualifier: None, span: id.span }),
        ExprKind::Call { callee, args } => {
            if let Some(last) = callee.last() {
                let qualifier = (callee.len() > 1).then(|| callee[callee.len() - 2].name.clone());
                f(Occurrence { name: last.name.clone(), qualifier, span: last.span });
            }
            args.iter().for_each(|a| names_in(a, f));
        }
        ExprKind::Str(s) => string(s, f),
        ExprKind::List(items) => items.iter().for_each(|a| names_in(a, f)),
        ExprKind::Field { base, field } => {
            // `module.CONSTANT` reads as a field of a name.
            if let ExprKind::Name(module) = &base.kind {
                f(Occurrence {
                    name: field.name.clone(),
                    qualifier: Some(module.name.clone()),
                    span: field.span,
                });
            }
            names_in(base, f);
        }
        ExprKind::Unary { operand, .. } | ExprKind::Presence { operand, .. } | ExprKind::Paren(operand) => {
            names_in(operand, f)
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            names_in(lhs, f);
            names_in(rhs, f);
        }
        ExprKind::If { cond, then, otherwise } => {
            names_in(cond, f);
            names_in(then, f);
            names_in(otherwise, f);
        }
        ExprKind::Quantifier { collection, filter, .. } => {
            names_in(collection, f);
            if let Some(filter) = filter {
                names_in(filter, f);
            }
        }
        ExprKind::Bool(_) | ExprKind::Int { .. } | ExprKind::RawStr(_) | ExprKind::Version(_) => {}
    }
}

fn string(s: &ast::StringLit, f: &mut dyn FnMut(Occurrence)) {
    for part in &s.parts {
        if let StrPart::Interp(e) = part {
            names_in(e, f);
        }
    }
}

fn check(c: &Check, f: &mut dyn FnMut(Occurrence)) {
    match c {
        Check::ForEach(each) => {
            names_in(&each.collection, f);
            if let Some(filter) = &each.filter {
                names_in(filter, f);
            }
            each.lets.iter().for_each(|l| names_in(&l.value, f));
            check(&each.body, f);
        }
        Check::Fail(fail) => {
            if let Some(c) = &fail.condition {
                names_in(c, f);
            }
            string(&fail.message, f);
        }
    }
}

/// Every name an item uses.
fn uses(item: &Item, f: &mut dyn FnMut(Occurrence)) {
    match item {
        Item::Import(_) => {}
        Item::Const(c) => names_in(&c.value, f),
        Item::Fn(func) => {
            func.body.lets.iter().for_each(|l| names_in(&l.value, f));
            names_in(&func.body.value, f);
        }
        Item::Rule(rule) => {
            for clause in &rule.clauses {
                match &clause.kind {
                    ClauseKind::AppliesWhen(e) => names_in(e, f),
                    ClauseKind::Let(l) => names_in(&l.value, f),
                    ClauseKind::Check(c) => check(c, f),
                    _ => {}
                }
            }
        }
    }
}

/// The bindings an item declares: parameters, lets, loop and quantifier
/// variables.
fn bindings(item: &Item) -> Vec<&Ident> {
    fn in_expr<'a>(e: &'a ast::Expr, out: &mut Vec<&'a Ident>) {
        if let ExprKind::Quantifier { var, .. } = &e.kind {
            out.push(var);
        }
        match &e.kind {
            ExprKind::Quantifier { collection, filter, .. } => {
                in_expr(collection, out);
                if let Some(filter) = filter {
                    in_expr(filter, out);
                }
            }
            ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| in_expr(a, out)),
            ExprKind::Field { base: x, .. }
            | ExprKind::Unary { operand: x, .. }
            | ExprKind::Presence { operand: x, .. }
            | ExprKind::Paren(x) => in_expr(x, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                in_expr(lhs, out);
                in_expr(rhs, out);
            }
            ExprKind::If { cond, then, otherwise } => {
                in_expr(cond, out);
                in_expr(then, out);
                in_expr(otherwise, out);
            }
            _ => {}
        }
    }
    fn in_check<'a>(c: &'a Check, out: &mut Vec<&'a Ident>) {
        match c {
            Check::ForEach(each) => {
                out.push(&each.var);
                in_expr(&each.collection, out);
                if let Some(filter) = &each.filter {
                    in_expr(filter, out);
                }
                for l in &each.lets {
                    out.push(&l.name);
                    in_expr(&l.value, out);
                }
                in_check(&each.body, out);
            }
            Check::Fail(fail) => {
                if let Some(c) = &fail.condition {
                    in_expr(c, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    match item {
        Item::Fn(func) => {
            out.extend(func.params.iter().map(|p| &p.name));
            for l in &func.body.lets {
                out.push(&l.name);
                in_expr(&l.value, &mut out);
            }
            in_expr(&func.body.value, &mut out);
        }
        Item::Rule(rule) => {
            for clause in &rule.clauses {
                match &clause.kind {
                    ClauseKind::AppliesWhen(e) => in_expr(e, &mut out),
                    ClauseKind::Let(l) => {
                        out.push(&l.name);
                        in_expr(&l.value, &mut out);
                    }
                    ClauseKind::Check(c) => in_check(c, &mut out),
                    _ => {}
                }
            }
        }
        Item::Const(c) => in_expr(&c.value, &mut out),
        Item::Import(_) => {}
    }
    out
}

fn declared_name(item: &Item) -> Option<(&Ident, Declared)> {
    match item {
        Item::Const(c) => Some((&c.name, if c.param { Declared::Param } else { Declared::Const })),
        Item::Fn(f) => Some((&f.name, Declared::Function)),
        _ => None,
    }
}

/// The module-level declaration `name` in the file of module `module`.
fn in_module(analysis: &Analysis, module: &str, name: &str) -> Option<(Span, Declared)> {
    analysis.modules().iter().filter(|(f, _)| analysis.module_name(**f) == module).find_map(|(_, m)| {
        m.items.iter().filter_map(declared_name).find(|(id, _)| id.name == name).map(|(id, d)| (id.span, d))
    })
}

/// Where the name `occurrence` in `file` is declared.
pub(crate) fn resolve(
    analysis: &Analysis,
    file: FileId,
    occurrence: &Occurrence,
) -> Option<(Span, Declared)> {
    let module = analysis.modules().get(&file)?;
    if let Some(q) = &occurrence.qualifier {
        // `module.name`, unless `module` is a binding (a record's field).
        return in_module(analysis, q, &occurrence.name);
    }
    let at = occurrence.span.start;
    // The enclosing item's bindings, the nearest declared before the use.
    if let Some(item) = module.items.iter().find(|i| i.span().start <= at && at <= i.span().end) {
        if let Some(b) = bindings(item)
            .into_iter()
            .filter(|b| b.name == occurrence.name && b.span.start <= at)
            .max_by_key(|b| b.span.start)
        {
            return Some((b.span, Declared::Binding));
        }
    }
    if let Some((id, d)) =
        module.items.iter().filter_map(declared_name).find(|(id, _)| id.name == occurrence.name)
    {
        return Some((id.span, d));
    }
    // `import common.{name}`.
    for item in &module.items {
        let Item::Import(import) = item else { continue };
        let Some(names) = &import.names else { continue };
        if names.iter().any(|n| n.name == occurrence.name) {
            let from = import.path.last()?.name.as_str();
            return in_module(analysis, from, &occurrence.name);
        }
    }
    None
}

/// The name at `offset` of `file`: a use, or a declaration's own name.
pub(crate) fn occurrence_at(analysis: &Analysis, file: FileId, offset: usize) -> Option<Occurrence> {
    let module = analysis.modules().get(&file)?;
    let inside = |s: Span| (s.start as usize) <= offset && offset <= s.end as usize;
    let mut found = None;
    for item in &module.items {
        uses(item, &mut |o| {
            if inside(o.span) {
                found = Some(o);
            }
        });
        if let Some((id, _)) = declared_name(item).filter(|(id, _)| inside(id.span)) {
            found = Some(Occurrence { name: id.name.clone(), qualifier: None, span: id.span });
        }
        for b in bindings(item).into_iter().filter(|b| inside(b.span)) {
            found = Some(Occurrence { name: b.name.clone(), qualifier: None, span: b.span });
        }
    }
    found
}

/// Every use of the declaration at `target`, and the declaration itself.
pub(crate) fn references(analysis: &Analysis, target: Span) -> Vec<Span> {
    let mut out = vec![target];
    for (file, module) in analysis.modules() {
        for item in &module.items {
            uses(item, &mut |o| {
                if resolve(analysis, *file, &o).is_some_and(|(s, _)| s == target) {
                    out.push(o.span);
                }
            });
            // The names an import lists.
            if let Item::Import(import) = item {
                for name in import.names.iter().flatten() {
                    let o = Occurrence { name: name.name.clone(), qualifier: None, span: name.span };
                    let from = import.path.last().map(|p| p.name.as_str()).unwrap_or_default();
                    if in_module(analysis, from, &o.name).is_some_and(|(s, _)| s == target) {
                        out.push(name.span);
                    }
                }
            }
        }
    }
    out.sort_by_key(|s| (s.file, s.start));
    out.dedup();
    out
}

/// A declaration of a file, for the outline and workspace symbols.
pub(crate) struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: lsp_types::SymbolKind,
    pub span: Span,
    pub name_span: Span,
}

/// The rules, constants, parameters and functions a file declares.
pub(crate) fn symbols(module: &ast::Module) -> Vec<Symbol> {
    use lsp_types::SymbolKind;
    module
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Rule(r) => Some(Symbol {
                name: format!("{} {}", r.id.text, r.title.value()),
                detail: r.severity().map(|s| s.as_str().to_owned()),
                kind: SymbolKind::EVENT,
                span: r.span,
                name_span: r.id.span,
            }),
            Item::Const(c) => Some(Symbol {
                name: c.name.name.clone(),
                detail: Some(if c.param { "param" } else { "const" }.to_owned()),
                kind: SymbolKind::CONSTANT,
                span: c.span,
                name_span: c.name.span,
            }),
            Item::Fn(f) => Some(Symbol {
                name: f.name.name.clone(),
                detail: Some("fn".to_owned()),
                kind: SymbolKind::FUNCTION,
                span: f.span,
                name_span: f.name.span,
            }),
            Item::Import(_) => None,
        })
        .collect()
}
