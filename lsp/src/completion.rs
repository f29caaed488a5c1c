//! Completion. After a `.`, the fields of the record the expression before
//! it has, as the checker types it: the text is checked with the `.` and
//! the half-typed name taken out, and the expression that ends there is
//! looked up in the checked program (a local, a function's result, a loop
//! variable: whatever the checker can type). When that text is the
//! document as it was before its last change (the `.` was just typed), the
//! analysis already made of it serves. After a standard library module,
//! its functions. Elsewhere: in a rule body at the start of a line, the
//! clauses not yet written; after `severity`, the severities; inside
//! `host.sysctl("`, `host.file("` and `host.module("`, the names the
//! compiler and the collector know; otherwise the names in scope and the
//! package's other modules' constants and functions, with their import.

use crate::analysis::Analysis;
use crate::schema_docs;
use assay_compiler::check::schema::Schema;
use assay_compiler::check::types::Ty;
use lsp_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn is_name(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What completion reads besides the open documents.
pub(crate) struct Known<'a> {
    /// The analysis of the document as it is (for the package's other
    /// modules' names).
    pub current: Option<&'a Analysis>,
    /// The document's text before its last change, and that text's
    /// analysis: when taking out the half-typed `.name` gives that text
    /// back (the `.` was the last keystroke), the expression before the dot
    /// is typed from it rather than by checking the package again.
    pub before_change: Option<(&'a str, &'a Analysis)>,
}

/// The completions at `offset` of the open document at `path`.
pub(crate) fn at(
    path: &Path,
    open: &BTreeMap<PathBuf, String>,
    offset: usize,
    known: &Known<'_>,
) -> Vec<CompletionItem> {
    let Some(text) = open.get(path) else { return Vec::new() };
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let partial_start =
        before.char_indices().rev().find(|(_, c)| !is_name(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &before[line_start..partial_start];

    if let Some(kind) = lookup_string(&before[line_start..]) {
        return lookup_names(kind);
    }
    if let Some(dot) = before[..partial_start].strip_suffix('.').map(str::len) {
        let chain_start = before[..dot]
            .char_indices()
            .rev()
            .find(|(_, c)| !(is_name(*c) || *c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let chain = &before[chain_start..dot];
        if !chain.contains('.') && assay_stdlib::modules().contains(&chain) {
            return natives(chain);
        }
        let record = record_before(path, open, text, dot, offset, known).or_else(|| record_of_chain(chain));
        return record.map(fields).unwrap_or_default();
    }
    if let Some(values) = enum_values(path, open, text, &before[..partial_start], offset, known) {
        return values;
    }
    if line.trim_end().ends_with("severity") && line.trim() == "severity" {
        return assay_model::Severity::ALL
            .into_iter()
            .map(|s| item(s.as_str(), CompletionItemKind::ENUM_MEMBER, None, None))
            .collect();
    }
    let rule = enclosing_rule(before);
    if line.trim().is_empty() {
        if let Some(written) = &rule {
            return clauses(written);
        }
    }
    let mut out = names(before, rule.is_some());
    if let Some(analysis) = known.current {
        let importable: Vec<CompletionItem> = importable(analysis, path, text)
            .into_iter()
            .filter(|i| !out.iter().any(|o| o.label == i.label))
            .collect();
        out.extend(importable);
    }
    out
}

/// The constants, parameters and functions of the package's other modules
/// that this file has not imported, each with the edit that imports it:
/// the name added to the file's `import MODULE.{...}`, or a new import
/// line after the file's imports (or its `//!` comment).
fn importable(analysis: &Analysis, path: &Path, text: &str) -> Vec<CompletionItem> {
    use assay_compiler::syntax::ast::Item;
    let Some(file) = analysis.file(path) else { return Vec::new() };
    let modules = analysis.modules();
    let Some(this) = modules.get(&file) else { return Vec::new() };
    let imports: Vec<&assay_compiler::syntax::ast::Import> =
        this.items.iter().filter_map(|i| if let Item::Import(i) = i { Some(i) } else { None }).collect();
    let defined_here = |name: &str| {
        this.items.iter().any(|i| match i {
            Item::Const(c) => c.name.name == name,
            Item::Fn(f) => f.name.name == name,
            Item::Import(i) => i.names.iter().flatten().any(|n| n.name == name),
            Item::Rule(_) => false,
        })
    };
    let lines = crate::text::Lines::new(text);
    let package = analysis.loaded.packages.iter().find(|p| p.files.contains(&file));
    let files = package.map_or_else(|| analysis.loaded.source_files(), |p| p.files.clone());
    let mut out = Vec::new();
    for other in files.into_iter().filter(|f| *f != file) {
        let module = analysis.module_name(other);
        let whole =
            imports.iter().any(|i| i.names.is_none() && i.path.len() == 1 && i.path[0].name == module);
        let Some(ast) = modules.get(&other) else { continue };
        if whole {
            continue;
        }
        let listed =
            imports.iter().find(|i| i.names.is_some() && i.path.len() == 1 && i.path[0].name == module);
        for declaration in &ast.items {
            let (name, kind) = match declaration {
                Item::Const(c) => (&c.name.name, CompletionItemKind::CONSTANT),
                Item::Fn(f) => (&f.name.name, CompletionItemKind::FUNCTION),
                _ => continue,
            };
            if defined_here(name) {
                continue;
            }
            let (at, insert) = match listed {
                Some(i) if text.get(..i.span.end as usize).is_some_and(|t| t.ends_with('}')) => {
                    let close = i.span.end as usize - 1;
                    let inside = text.get(..close).unwrap_or("").trim_end();
                    let comma = if inside.ends_with(['{', ',']) { " " } else { ", " };
                    (close, format!("{}{name}", if inside.ends_with('{') { "" } else { comma }))
                }
                Some(_) => continue,
                None => match imports.last() {
                    Some(last) => {
                        let end = last.span.end as usize;
                        let next_line = text[end..].find('\n').map_or(text.len(), |n| end + n + 1);
                        let newline =
                            if next_line == text.len() && !text.ends_with('\n') { "\n" } else { "" };
                        (next_line, format!("{newline}import {module}.{{{name}}}\n"))
                    }
                    None => {
                        // After the `//!` lines and the blank line after them.
                        let mut at = 0;
                        for line in text.split_inclusive('\n') {
                            if !line.starts_with("//!") {
                                break;
                            }
                            at += line.len();
                        }
                        let gap = if at > 0 { "\n" } else { "" };
                        let after = if text[at..].starts_with('\n') { "" } else { "\n" };
                        (at, format!("{gap}import {module}.{{{name}}}\n{after}"))
                    }
                },
            };
            let edit = lsp_types::TextEdit { range: lines.range(at, at), new_text: insert };
            let mut completion = item(name, kind, Some(format!("import from {module}")), None);
            completion.additional_text_edits = Some(vec![edit]);
            out.push(completion);
        }
    }
    out
}

/// The record type of the expression that ends at `dot`, as the checker
/// types the text without `.partial`.
fn record_before(
    path: &Path,
    open: &BTreeMap<PathBuf, String>,
    text: &str,
    dot: usize,
    offset: usize,
    known: &Known<'_>,
) -> Option<&'static str> {
    let schema = Schema::get();
    let name = match type_before(path, open, text, dot, offset, known)?.strip() {
        Ty::Record(id) => schema.record(*id).name.clone(),
        _ => return None,
    };
    schema_docs::record(&name).map(|r| r.name)
}

/// The type of the widest expression that ends at `end`, as the checker
/// types the text with what lies between `end` and `offset` taken out.
fn type_before(
    path: &Path,
    open: &BTreeMap<PathBuf, String>,
    text: &str,
    end: usize,
    offset: usize,
    known: &Known<'_>,
) -> Option<Ty> {
    let patched = format!("{}{}", &text[..end], &text[offset..]);
    let fresh;
    let analysis = match known.before_change {
        Some((before, analysis)) if before == patched => analysis,
        _ => {
            let mut overlay = open.clone();
            overlay.insert(path.to_path_buf(), patched);
            fresh = Analysis::of(path, &overlay).ok()?;
            &fresh
        }
    };
    let file = analysis.file(path)?;
    let mut found: Option<(u32, Ty)> = None;
    analysis.program.walk(&mut |e| {
        if e.span.file == file
            && e.span.end as usize == end
            && found.as_ref().is_none_or(|(s, _)| e.span.start < *s)
        {
            found = Some((e.span.start, e.ty.clone()));
        }
    });
    found.map(|(_, ty)| ty)
}

/// After `==` or `!=` with an enumeration on the left, its values.
fn enum_values(
    path: &Path,
    open: &BTreeMap<PathBuf, String>,
    text: &str,
    before: &str,
    offset: usize,
    known: &Known<'_>,
) -> Option<Vec<CompletionItem>> {
    let lhs = before.trim_end();
    let lhs = lhs.strip_suffix("==").or_else(|| lhs.strip_suffix("!="))?.trim_end();
    let schema = Schema::get();
    let Ty::Enum(id) = type_before(path, open, text, lhs.len(), offset, known)?.strip().clone() else {
        return None;
    };
    let enumeration = schema.enumeration(id);
    let items = enumeration
        .variants
        .iter()
        .map(|v| item(v, CompletionItemKind::ENUM_MEMBER, Some(enumeration.name.clone()), None))
        .collect();
    Some(items)
}

/// The record at the end of `host.a.b` in the telemetry model, when the
/// checker could not type the text.
fn record_of_chain(chain: &str) -> Option<&'static str> {
    let mut parts = chain.split('.');
    if parts.next()? != "host" {
        return None;
    }
    let mut record = schema_docs::record("Telemetry")?;
    for part in parts {
        let field = record.fields.iter().find(|f| f.name == part)?;
        record = schema_docs::record(&record_name(&field.shape)?)?;
    }
    Some(record.name)
}

/// The record a field's shape holds directly (through optionality).
fn record_name(shape: &assay_model::telemetry::schema::Shape) -> Option<String> {
    use assay_model::telemetry::schema::Shape;
    match shape {
        Shape::Record(r) => Some(r().name.to_owned()),
        Shape::Optional(inner) | Shape::Sourced(inner) => record_name(inner),
        _ => None,
    }
}

fn markdown(text: &str) -> Documentation {
    Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value: text.to_owned() })
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>, doc: Option<&str>) -> CompletionItem {
    CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail,
        documentation: doc.filter(|d| !d.is_empty()).map(markdown),
        ..CompletionItem::default()
    }
}

fn fields(record: &str) -> Vec<CompletionItem> {
    let Some(schema) = schema_docs::record(record) else { return Vec::new() };
    schema
        .fields
        .iter()
        .map(|f| {
            item(
                f.name,
                CompletionItemKind::FIELD,
                Some(f.shape.describe()),
                Some(&schema_docs::prose(f.doc)),
            )
        })
        .collect()
}

fn natives(module: &str) -> Vec<CompletionItem> {
    assay_stdlib::NATIVES
        .iter()
        .filter(|n| n.module == module)
        .map(|n| item(n.name, CompletionItemKind::FUNCTION, Some(n.signature()), Some(n.doc)))
        .collect()
}

/// The clauses a rule may still have, given the words its lines start
/// with so far.
fn clauses(written: &[String]) -> Vec<CompletionItem> {
    const ONCE: &[(&str, &str)] = &[
        ("severity", "severity high"),
        ("description", "description \"\""),
        ("rationale", "rationale \"\""),
        ("recommendation", "recommendation \"\""),
        ("references", "references [\"\"]"),
        ("tags", "tags [\"\"]"),
        ("platform", "platform linux"),
    ];
    let mut out: Vec<CompletionItem> = ONCE
        .iter()
        .filter(|(word, _)| !written.iter().any(|w| w == word))
        .map(|(word, example)| item(word, CompletionItemKind::KEYWORD, Some((*example).to_owned()), None))
        .collect();
    for (label, detail) in [
        ("applies when", "applies when CONDITION"),
        ("let", "let NAME = EXPRESSION"),
        ("for each", "for each X in LIST where CONDITION"),
        ("fail when", "fail when CONDITION message \"...\""),
    ] {
        out.push(item(label, CompletionItemKind::KEYWORD, Some(detail.to_owned()), None));
    }
    out
}

/// The words the lines of the rule around the cursor start with, when the
/// cursor is inside a rule's braces.
fn enclosing_rule(before: &str) -> Option<Vec<String>> {
    // A rule starts at a line beginning with `rule ` and ends at a line
    // that is a lone `}` at the start.
    let mut words: Vec<String> = Vec::new();
    for line in before.lines().rev().skip(1) {
        if line.starts_with('}') {
            return None;
        }
        if line.starts_with("rule ") {
            return Some(words);
        }
        if let Some(word) = line.split_whitespace().next() {
            words.push(word.to_owned());
        }
    }
    None
}

/// The kind of lookup whose string the cursor is in: `host.sysctl("net.`.
fn lookup_string(line: &str) -> Option<&'static str> {
    for kind in ["sysctl", "file", "module"] {
        let open = format!("host.{kind}(\"");
        if let Some(at) = line.rfind(&open) {
            if !line[at + open.len()..].contains('"') {
                return Some(kind);
            }
        }
    }
    None
}

fn lookup_names(kind: &str) -> Vec<CompletionItem> {
    let names: Vec<String> = match kind {
        "sysctl" => assay_compiler::check::sysctl_names(),
        "file" => assay_model::lookup::DEFAULT_FILES.iter().map(|s| (*s).to_owned()).collect(),
        _ => assay_model::lookup::DEFAULT_MODULES.iter().map(|s| (*s).to_owned()).collect(),
    };
    names.iter().map(|n| item(n, CompletionItemKind::VALUE, None, None)).collect()
}

/// The names an expression can start with here: `host`, the standard
/// library's modules, the document's constants, functions and imports,
/// the rule's bindings so far, and the expression keywords.
fn names(before: &str, in_rule: bool) -> Vec<CompletionItem> {
    let mut out = vec![item(
        "host",
        CompletionItemKind::VARIABLE,
        Some("Telemetry".to_owned()),
        schema_docs::record("Telemetry").map(|r| schema_docs::prose(r.doc)).as_deref(),
    )];
    out.extend(assay_stdlib::modules().into_iter().map(|m| item(m, CompletionItemKind::MODULE, None, None)));
    for keyword in ["find", "any", "all", "count", "if", "true", "false", "not"] {
        out.push(item(keyword, CompletionItemKind::KEYWORD, None, None));
    }
    // Declarations and bindings written before the cursor, by their
    // leading words: what the parser cannot read yet (the declaration being
    // typed) is still offered.
    let rule_start = if in_rule { before.rfind("\nrule ").map_or(0, |i| i + 1) } else { before.len() };
    for (i, line) in before.lines().enumerate() {
        let trimmed = line.trim_start();
        let top = !line.starts_with(char::is_whitespace);
        let word = |prefix: &str| {
            trimmed
                .strip_prefix(prefix)
                .map(|rest| rest.chars().take_while(|c| is_name(*c)).collect::<String>())
        };
        let offset: usize = before.lines().take(i).map(|l| l.len() + 1).sum();
        let (name, kind) = if let (true, Some(n)) = (top, word("const ")) {
            (n, CompletionItemKind::CONSTANT)
        } else if let (true, Some(n)) = (top, word("param ")) {
            (n, CompletionItemKind::CONSTANT)
        } else if let (true, Some(n)) = (top, word("fn ")) {
            (n, CompletionItemKind::FUNCTION)
        } else if let (Some(n), true) = (word("let "), offset >= rule_start) {
            (n, CompletionItemKind::VARIABLE)
        } else if let (Some(n), true) = (word("for each "), offset >= rule_start) {
            (n, CompletionItemKind::VARIABLE)
        } else {
            continue;
        };
        if !name.is_empty() && !out.iter().any(|o| o.label == name) {
            out.push(item(&name, kind, None, None));
        }
    }
    out
}
