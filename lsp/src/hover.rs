//! Hover: what the checked program knows about the expression under the
//! cursor (its type; a telemetry field's documentation; a function's
//! signature and doc comment; a constant's value), a rule's title and doc
//! comment on its id, and the explanation of a diagnostic's code on its
//! span.

use crate::analysis::Analysis;
use crate::schema_docs;
use assay_compiler::check::hir::{Expr, ExprKind};
use assay_compiler::check::schema::Schema;
use assay_compiler::check::types::Ty;
use assay_compiler::syntax::ast;
use assay_compiler::{FileId, Span};

/// The hover text (Markdown) at `offset` of `file`, and the span it is about.
pub(crate) fn at(analysis: &Analysis, file: FileId, offset: usize) -> Option<(String, Span)> {
    let mut parts: Vec<String> = Vec::new();
    let mut about: Option<Span> = None;
    if let Some((text, span)) = rule_id(analysis, file, offset).or_else(|| expression(analysis, file, offset))
    {
        parts.push(text);
        about = Some(span);
    }
    // The diagnostics here, each with its code's explanation.
    for d in &analysis.diagnostics {
        let Some(span) = d.primary_span().filter(|s| contains(*s, file, offset)) else { continue };
        parts.push(format!(
            "**{}** {}: {}\n\n{}",
            d.code.as_str(),
            d.code.title(),
            d.message,
            d.code.explanation().trim()
        ));
        about.get_or_insert(span);
    }
    Some((parts.join("\n\n---\n\n"), about?))
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file == file && (span.start as usize) <= offset && offset <= span.end as usize
}

fn rule_id(analysis: &Analysis, file: FileId, offset: usize) -> Option<(String, Span)> {
    let module = analysis.modules().get(&file)?;
    module.items.iter().find_map(|item| match item {
        ast::Item::Rule(r) if contains(r.id.span, file, offset) => {
            let rule = analysis.program.rules.iter().find(|h| h.id_span == r.id.span)?;
            let mut text = format!("**{}** {}\n\nseverity `{}`", rule.id, rule.title, rule.severity.as_str());
            if !rule.doc.is_empty() {
                text = format!("{text}\n\n{}", rule.doc);
            }
            if let Some(description) = &rule.description {
                text = format!("{text}\n\n{description}");
            }
            Some((text, r.id.span))
        }
        _ => None,
    })
}

/// The innermost checked expression at `offset` and what to say of it.
fn expression(analysis: &Analysis, file: FileId, offset: usize) -> Option<(String, Span)> {
    let mut best: Option<Span> = None;
    analysis.program.walk(&mut |e| {
        let width = |s: Span| s.end - s.start;
        if contains(e.span, file, offset) && best.is_none_or(|b| width(e.span) <= width(b)) {
            best = Some(e.span);
        }
    });
    let best = best?;
    // The last of the expressions with that span is the innermost.
    let mut text = None;
    analysis.program.walk(&mut |e| {
        if e.span == best {
            text = describe(analysis, e);
        }
    });
    Some((text?, best))
}

fn describe(analysis: &Analysis, expr: &Expr) -> Option<String> {
    let schema = Schema::get();
    let source = analysis.loaded.sources.slice(expr.span);
    let ty = expr.ty.display(schema);
    let text = match &expr.kind {
        ExprKind::Host => {
            let doc = schema_docs::record("Telemetry").map(|r| schema_docs::prose(r.doc)).unwrap_or_default();
            format!("`host`: `{ty}`\n\n{doc}")
        }
        ExprKind::Field { base, name, .. } => {
            let record = match base.ty.strip() {
                Ty::Record(id) => Some(schema.record(*id).name.as_str()),
                _ => None,
            };
            let doc = record
                .and_then(|r| schema_docs::field(r, name))
                .map(|f| schema_docs::prose(f.doc))
                .unwrap_or_default();
            // Where the field has no words of its own, its record's.
            let of = record
                .and_then(schema_docs::record)
                .map(|r| format!("A field of `{}`: {}", r.name, schema_docs::prose(r.doc)))
                .unwrap_or_default();
            let parts = [format!("`{source}`: `{ty}`"), doc.trim().to_owned(), of];
            parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n")
        }
        ExprKind::Native(index, _) => {
            let native = assay_stdlib::NATIVES.get(*index as usize)?;
            format!("```\n{}\n```\n\n{}", native.signature(), native.doc)
        }
        ExprKind::Call(id, _) => {
            let function = analysis.program.functions.get(*id as usize)?;
            let params: Vec<String> = function
                .param_names
                .iter()
                .zip(&function.params)
                .map(|(n, t)| format!("{n}: {}", t.display(schema)))
                .collect();
            let doc = docs_of_fn(analysis, function.span).unwrap_or_default();
            let ret = function.ret.display(schema);
            format!("```\nfn {}({}) -> {ret}\n```\n\n{doc}", function.name, params.join(", "))
        }
        ExprKind::Const(id) => {
            let constant = analysis.program.consts.get(*id as usize)?;
            let (value, doc) = const_decl(analysis, &constant.name)
                .map(|(c, f)| {
                    let value = analysis.text(f).get(c.value.span.range()).unwrap_or_default().to_owned();
                    (value, join_docs(&c.docs))
                })
                .unwrap_or_default();
            let what = if constant.param.is_some() { "param" } else { "const" };
            format!("```\n{what} {}: {ty} = {value}\n```\n\n{doc}", constant.name)
        }
        _ => format!("`{source}`: `{ty}`"),
    };
    Some(text.trim_end().to_owned())
}

fn join_docs(docs: &[ast::Doc]) -> String {
    docs.iter().map(|d| d.text.trim()).collect::<Vec<_>>().join("\n")
}

fn docs_of_fn(analysis: &Analysis, span: Span) -> Option<String> {
    analysis.modules().get(&span.file)?.items.iter().find_map(|item| match item {
        ast::Item::Fn(f) if f.span == span => Some(join_docs(&f.docs)),
        _ => None,
    })
}

/// The declaration of the constant named `module.name`, and its file.
pub(crate) fn const_decl<'a>(
    analysis: &'a Analysis,
    qualified: &str,
) -> Option<(&'a ast::ConstDecl, FileId)> {
    let (module, name) = qualified.rsplit_once('.')?;
    analysis.modules().iter().filter(|(f, _)| analysis.module_name(**f) == module).find_map(|(f, m)| {
        m.items.iter().find_map(|item| match item {
            ast::Item::Const(c) if c.name.name == name => Some((c, *f)),
            _ => None,
        })
    })
}
