//! `assay fmt`: one canonical layout for policy sources.
//!
//! The layout is a function of the syntax tree and the comments alone (never
//! of the input's spacing), so formatting is idempotent. Blank lines between
//! declarations and clauses are kept (at most one), comments are kept where
//! they stand: on their own line before a declaration, clause or `let`, or at
//! the end of a line. A declaration or clause with a comment *inside* it is
//! kept exactly as written, since there is no canonical place for that comment.
//! [`format_source`] re-parses its output and refuses to return text whose
//! syntax tree or comments differ from the input's.

mod doc;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax::ast::*;
use crate::syntax::{parse, Parsed};
use doc::{concat, group, indent, text, Doc};
use std::cell::Cell;

/// Lines are kept within this many columns where the syntax allows a break.
pub const WIDTH: usize = 100;

#[derive(Debug)]
pub enum FormatError {
    /// The source does not parse; formatting needs a valid file.
    Syntax(Vec<Diagnostic>),
    /// The formatter produced text that does not mean the same as its input.
    /// This is a bug in the formatter; the input is left untouched.
    Unstable(String),
}

/// Formats one file's text (a byte-order mark and CR line endings are
/// accepted; the output has neither).
pub fn format_source(file: FileId, src: &str) -> Result<String, FormatError> {
    let normalised = crate::source::normalise(src.to_owned());
    let src = normalised.as_str();
    let parsed = parse(file, src);
    if parsed.has_errors() {
        return Err(FormatError::Syntax(parsed.diagnostics));
    }
    let output = format_parsed(src, &parsed);
    let comments = |src: &str, p: &Parsed| -> Vec<String> {
        p.comments.iter().map(|c| src[c.range()].trim_end().to_string()).collect()
    };
    // What the self-check compares, kept small so the input's tree can go
    // before the output is parsed: two trees of a large file are not held.
    let (digest, before) = (tree_digest(&parsed.module), comments(src, &parsed));
    drop(parsed);
    let reparsed = parse(file, &output);
    if reparsed.has_errors() {
        return Err(FormatError::Unstable("the formatted text does not parse".to_string()));
    }
    if digest != tree_digest(&reparsed.module) {
        return Err(FormatError::Unstable("the formatted text has a different syntax tree".to_string()));
    }
    if before != comments(&output, &reparsed) {
        return Err(FormatError::Unstable("the formatted text lost or reordered a comment".to_string()));
    }
    Ok(output)
}

/// A digest of the syntax tree without its spans, computed while it
/// serializes (no copy of the tree is built, so a 10,000-rule file costs a
/// hash, not a second tree): equal for trees that differ only in layout.
pub fn tree_digest(module: &Module) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Hashing(Sha256::new());
    // Serializing an AST cannot fail (no maps with non-string keys); if it
    // did, the error text goes into the hash, so the trees compare unequal.
    if let Err(e) = crate::source::without_spans(|| serde_json::to_writer(&mut w, module)) {
        w.0.update(e.to_string().as_bytes());
    }
    w.0.finalize().into()
}

/// The syntax tree as JSON with every `span` removed, for comparing trees
/// that differ only in layout (tests; the formatter uses [`tree_digest`]).
pub fn strip_spans(module: &Module) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(module).unwrap_or(serde_json::Value::Null);
    strip(&mut value);
    value
}

/// Formats an already parsed, error-free file.
pub fn format_parsed(src: &str, parsed: &Parsed) -> String {
    let f = Formatter { src, comments: &parsed.comments, emitted: Cell::new(0) };
    let mut out = f.module(&parsed.module);
    while out.ends_with('\n') || out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

struct Formatter<'a> {
    src: &'a str,
    comments: &'a [Span],
    /// How many comments have been printed so far; lets an item check that
    /// it printed every comment inside it.
    emitted: Cell<usize>,
}

/// One line-level element of a sequence (declaration, clause, `let`), or
/// a comment on its own line between them.
struct Entry<T> {
    blank_before: bool,
    body: Body<T>,
    trailing: Vec<String>,
}

enum Body<T> {
    Comment(String),
    Element(T),
}

impl<T> Entry<T> {
    fn is_comment(&self) -> bool {
        matches!(self.body, Body::Comment(_))
    }
}

/// Text printed line by line: ending a line drops the spaces before it,
/// as [`doc::print`] does for its own line breaks.
struct Lines(String);

impl Lines {
    fn newline(&mut self) {
        while self.0.ends_with(' ') {
            self.0.pop();
        }
        self.0.push('\n');
    }
}

impl<'a> Formatter<'a> {
    fn comments_in(&self, start: u32, end: u32) -> &'a [Span] {
        let from = self.comments.partition_point(|c| c.start < start);
        let to = self.comments.partition_point(|c| c.start < end);
        &self.comments[from..to.max(from)]
    }

    fn comment_text(&self, c: Span) -> String {
        self.emitted.set(self.emitted.get() + 1);
        self.src[c.range()].trim_end().to_string()
    }

    fn newlines(&self, start: u32, end: u32) -> usize {
        self.src.get(start as usize..end as usize).map_or(0, |s| s.matches('\n').count())
    }

    /// Lays out `elements` (span and document) that follow position `start`
    /// and end before `end`, with the comments around them. Returns the
    /// comments that trail the line before the first element, and the entries.
    fn sequence<T>(
        &self,
        start: u32,
        end: u32,
        has_header: bool,
        elements: Vec<(Span, T)>,
    ) -> (Vec<String>, Vec<Entry<T>>) {
        let mut header_trailing = Vec::new();
        let mut entries: Vec<Entry<T>> = Vec::new();
        let mut cursor = start;
        let mut place_comments = |upto: u32, cursor: &mut u32, entries: &mut Vec<Entry<T>>| {
            for &c in self.comments_in(*cursor, upto) {
                let text = self.comment_text(c);
                if self.newlines(*cursor, c.start) == 0 && (has_header || !entries.is_empty()) {
                    match entries.last_mut() {
                        Some(last) => last.trailing.push(text),
                        None => header_trailing.push(text),
                    }
                } else {
                    let blank_before = self.newlines(*cursor, c.start) >= 2;
                    entries.push(Entry { blank_before, body: Body::Comment(text), trailing: Vec::new() });
                }
                *cursor = c.end;
            }
        };
        for (span, doc) in elements {
            place_comments(span.start, &mut cursor, &mut entries);
            let blank_before = self.newlines(cursor, span.start) >= 2;
            entries.push(Entry { blank_before, body: Body::Element(doc), trailing: Vec::new() });
            cursor = span.end;
        }
        place_comments(end, &mut cursor, &mut entries);
        (header_trailing, entries)
    }

    /// An element's document, or its source text when a comment sits inside
    /// it or the layout did not print every comment it contains.
    fn element(&self, span: Span, layout: impl FnOnce() -> Doc) -> Doc {
        let inside = self.comments_in(span.start, span.end).len();
        let before = self.emitted.get();
        let doc = layout();
        if self.emitted.get() - before == inside {
            return doc;
        }
        self.emitted.set(before + inside);
        Doc::Verbatim(self.src[span.range()].to_string())
    }

    /// The whole file. Declarations start at column 0 after a line break,
    /// so each one (with the comments trailing it) is laid out and printed
    /// on its own: the layout of one declaration is held at a time, never
    /// that of the whole file.
    fn module(&self, module: &Module) -> String {
        let mut out = Lines(String::new());
        let start = module.docs.last().map_or(0, |d| d.span.end);
        // Plain comments above or among the module docs stay where they are.
        let mut above = self.comments_in(0, start).iter().peekable();
        for d in &module.docs {
            while let Some(c) = above.next_if(|c| c.start < d.span.start) {
                out.0.push_str(&self.comment_text(*c));
                out.newline();
            }
            out.0.push_str(&format!("//!{}", d.text));
            out.newline();
        }
        let elements: Vec<(Span, &Item)> = module.items.iter().map(|item| (item.span(), item)).collect();
        let kinds: Vec<bool> = module.items.iter().map(|i| matches!(i, Item::Import(_))).collect();
        let (header_trailing, mut entries) = self.sequence(start, self.src.len() as u32, false, elements);
        // Between declarations: always a blank line around rules and functions
        // and after the imports; elsewhere the source decides. The blank line
        // goes above the comments that sit directly on top of a declaration.
        let mut item_index = 0;
        for k in 0..entries.len() {
            if entries[k].is_comment() {
                continue;
            }
            if item_index > 0 {
                let (prev, item) = (&module.items[item_index - 1], &module.items[item_index]);
                let big = matches!(item, Item::Rule(_) | Item::Fn(_))
                    || matches!(prev, Item::Rule(_) | Item::Fn(_));
                if big || kinds[item_index - 1] != kinds[item_index] {
                    let mut j = k;
                    while j > 0 && entries[j - 1].is_comment() && !entries[j].blank_before {
                        j -= 1;
                    }
                    entries[j].blank_before = true;
                }
            }
            item_index += 1;
        }
        if !module.docs.is_empty() && !entries.is_empty() {
            out.newline();
        }
        let mut first = true;
        for t in header_trailing {
            out.0.push_str(&t);
            out.newline();
        }
        for entry in entries {
            if !first {
                out.newline();
                if entry.blank_before {
                    out.newline();
                }
            }
            first = false;
            let body = match entry.body {
                Body::Comment(text) => Doc::Text(text),
                Body::Element(item) => self.element(item.span(), || self.item(item)),
            };
            let trailing = entry.trailing.into_iter().map(|t| text(format!(" {t}")));
            out.0.push_str(&doc::print(&concat(std::iter::once(body).chain(trailing)), WIDTH));
        }
        out.0
    }

    fn docs(&self, docs: &[Doc_]) -> Vec<Doc> {
        docs.iter().flat_map(|d| [text(format!("///{}", d.text)), Doc::HardLine]).collect()
    }

    fn item(&self, item: &Item) -> Doc {
        match item {
            Item::Import(i) => {
                let path: Vec<&str> = i.path.iter().map(|p| p.name.as_str()).collect();
                let mut parts = vec![text(format!("import {}", path.join(".")))];
                if let Some(names) = &i.names {
                    parts.push(text("."));
                    parts.push(bracketed("{", names.iter().map(|n| text(n.name.clone())).collect(), "}"));
                }
                concat(parts)
            }
            Item::Const(c) => {
                let mut parts = self.docs(&c.docs);
                let keyword = if c.param { "param" } else { "const" };
                parts.push(text(format!("{keyword} {}", c.name.name)));
                if let Some(ty) = &c.ty {
                    parts.push(text(format!(": {}", type_text(ty))));
                }
                parts.push(text(" = "));
                parts.push(self.expr(&c.value));
                concat(parts)
            }
            Item::Fn(f) => {
                let mut parts = self.docs(&f.docs);
                let params: Vec<Doc> =
                    f.params.iter().map(|p| text(format!("{}: {}", p.name.name, type_text(&p.ty)))).collect();
                parts.push(text(format!("fn {}", f.name.name)));
                parts.push(bracketed("(", params, ")"));
                parts.push(text(format!(" -> {} {{", type_text(&f.ret))));
                let mut elements: Vec<(Span, Doc)> =
                    f.body.lets.iter().map(|l| (l.span, self.element(l.span, || self.let_stmt(l)))).collect();
                let v = &f.body.value;
                elements.push((v.span, self.element(v.span, || self.expr(v))));
                parts.push(self.block(f.ret.span.end, f.body.span.end, elements));
                concat(parts)
            }
            Item::Rule(r) => {
                let mut parts = self.docs(&r.docs);
                parts.push(text(format!("rule {} ", r.id.text)));
                parts.push(self.text(&r.title));
                parts.push(text(" {"));
                let elements: Vec<(Span, Doc)> =
                    r.clauses.iter().map(|c| (c.span, self.element(c.span, || self.clause(c)))).collect();
                parts.push(self.block(r.title.span.end, r.span.end, elements));
                concat(parts)
            }
        }
    }

    /// The inside of `{ ... }` (the `{` already printed) and the closing brace.
    fn block(&self, start: u32, end: u32, elements: Vec<(Span, Doc)>) -> Doc {
        concat([self.indented_lines(start, end, elements), Doc::HardLine, text("}")])
    }

    /// `elements` one per line, indented below a header that ends at `start`:
    /// comments trailing the header stay on its line, and blank lines between
    /// elements are kept.
    fn indented_lines(&self, start: u32, end: u32, elements: Vec<(Span, Doc)>) -> Doc {
        let (header_trailing, entries) = self.sequence(start, end, true, elements);
        let mut parts: Vec<Doc> = header_trailing.into_iter().map(|t| text(format!(" {t}"))).collect();
        let mut inner = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            inner.push(Doc::HardLine);
            if entry.blank_before && i > 0 {
                inner.push(Doc::HardLine);
            }
            inner.push(match entry.body {
                Body::Comment(text) => Doc::Text(text),
                Body::Element(doc) => doc,
            });
            inner.extend(entry.trailing.into_iter().map(|t| text(format!(" {t}"))));
        }
        parts.push(indent(concat(inner)));
        concat(parts)
    }

    fn clause(&self, clause: &Clause) -> Doc {
        match &clause.kind {
            ClauseKind::Severity(s) => text(format!("severity {}", s.as_str())),
            ClauseKind::Description(t) => concat([text("description "), self.text(t)]),
            ClauseKind::Rationale(t) => concat([text("rationale "), self.text(t)]),
            ClauseKind::Recommendation(t) => concat([text("recommendation "), self.text(t)]),
            ClauseKind::References(ts) => {
                concat([text("references "), bracketed("[", ts.iter().map(|t| self.text(t)).collect(), "]")])
            }
            ClauseKind::Tags(ts) => {
                concat([text("tags "), bracketed("[", ts.iter().map(|t| self.text(t)).collect(), "]")])
            }
            ClauseKind::Platform(ps) => {
                let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
                text(format!("platform {}", names.join(", ")))
            }
            ClauseKind::AppliesWhen(e) => concat([text("applies when "), self.expr(e)]),
            ClauseKind::Let(l) => self.let_stmt(l),
            ClauseKind::Check(c) => self.check(c),
        }
    }

    fn let_stmt(&self, l: &Let) -> Doc {
        concat([text(format!("let {} = ", l.name.name)), self.expr(&l.value)])
    }

    fn check(&self, check: &Check) -> Doc {
        match check {
            Check::Fail(f) => {
                let message = text(format!("message {}", string_lit(self, &f.message)));
                match &f.condition {
                    // The condition and the message each get their own line, so
                    // editing one never shows up as a change to the other.
                    Some(cond) => concat([
                        text("fail when "),
                        // One level deeper than `message`, so the two stay apart.
                        indent(self.expr(cond)),
                        indent(concat([Doc::HardLine, message])),
                    ]),
                    None => concat([text("fail "), message]),
                }
            }
            Check::ForEach(fe) => {
                let mut header =
                    vec![text(format!("for each {} in ", fe.var.name)), self.expr(&fe.collection)];
                let mut header_end = fe.collection.span.end;
                if let Some(filter) = &fe.filter {
                    header.push(indent(concat([Doc::Line, text("where "), self.expr(filter)])));
                    header_end = filter.span.end;
                }
                let mut elements: Vec<(Span, Doc)> =
                    fe.lets.iter().map(|l| (l.span, self.element(l.span, || self.let_stmt(l)))).collect();
                let body_span = fe.body.span();
                elements.push((body_span, self.element(body_span, || self.check(&fe.body))));
                concat([group(concat(header)), self.indented_lines(header_end, fe.span.end, elements)])
            }
        }
    }

    /// Fixed text: the first literal on the line, the rest below it.
    fn text(&self, t: &Text) -> Doc {
        let mut parts = t.parts.iter().map(|p| text(string_lit(self, p)));
        let Some(first) = parts.next() else { return text("\"\"") };
        let rest: Vec<Doc> = parts.flat_map(|p| [Doc::HardLine, p]).collect();
        if rest.is_empty() {
            first
        } else {
            concat([first, indent(concat(rest))])
        }
    }

    fn expr(&self, e: &Expr) -> Doc {
        match &e.kind {
            ExprKind::Bool(b) => text(if *b { "true" } else { "false" }),
            ExprKind::Int { raw, .. } => text(raw.clone()),
            ExprKind::Str(s) => text(string_lit(self, s)),
            ExprKind::RawStr(s) => text(format!("r\"{s}\"")),
            ExprKind::Version(s) => text(format!("v\"{s}\"")),
            ExprKind::List(items) => bracketed("[", items.iter().map(|i| self.expr(i)).collect(), "]"),
            ExprKind::Name(i) => text(i.name.clone()),
            ExprKind::Field { base, field } => concat([self.expr(base), text(format!(".{}", field.name))]),
            ExprKind::Call { callee, args } => {
                let path: Vec<&str> = callee.iter().map(|p| p.name.as_str()).collect();
                concat([
                    text(path.join(".")),
                    bracketed("(", args.iter().map(|a| self.expr(a)).collect(), ")"),
                ])
            }
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Not => concat([text("not "), self.expr(operand)]),
                UnaryOp::Neg => concat([text("-"), self.expr(operand)]),
            },
            ExprKind::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), .. } => {
                let mut operands = Vec::new();
                flatten_chain(e, *op, &mut operands);
                let mut rest = Vec::new();
                for operand in &operands[1..] {
                    rest.push(Doc::Line);
                    rest.push(text(format!("{} ", op.as_str())));
                    rest.push(self.expr(operand));
                }
                group(concat([self.expr(operands[0]), indent(concat(rest))]))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                concat([self.expr(lhs), text(format!(" {} ", op.as_str())), self.expr(rhs)])
            }
            ExprKind::Presence { operand, present } => {
                concat([self.expr(operand), text(if *present { " is present" } else { " is absent" })])
            }
            ExprKind::If { cond, then, otherwise } => group(concat([
                text("if "),
                self.expr(cond),
                indent(concat([
                    Doc::Line,
                    text("then "),
                    self.expr(then),
                    Doc::Line,
                    text("else "),
                    self.expr(otherwise),
                ])),
            ])),
            ExprKind::Quantifier { kind, var, collection, filter } => {
                let mut parts =
                    vec![text(format!("{}({} in ", kind.as_str(), var.name)), self.expr(collection)];
                if let Some(f) = filter {
                    parts.push(indent(concat([Doc::Line, text("where "), self.expr(f)])));
                }
                parts.push(text(")"));
                group(concat(parts))
            }
            ExprKind::Paren(inner) => concat([text("("), self.expr(inner), text(")")]),
        }
    }
}

/// `Doc` is also the name of the AST's doc-comment node.
type Doc_ = crate::syntax::ast::Doc;

fn type_text(t: &TypeExpr) -> String {
    let mut s = t.name.name.clone();
    if !t.args.is_empty() {
        let args: Vec<String> = t.args.iter().map(type_text).collect();
        s.push('<');
        s.push_str(&args.join(", "));
        s.push('>');
    }
    if t.optional {
        s.push('?');
    }
    s
}

/// `open a, b close`, broken one item per line with a trailing comma when it
/// does not fit.
fn bracketed(open: &str, items: Vec<Doc>, close: &str) -> Doc {
    if items.is_empty() {
        return text(format!("{open}{close}"));
    }
    let mut inner = vec![Doc::SoftLine];
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            inner.push(text(","));
            inner.push(Doc::Line);
        }
        inner.push(item);
    }
    inner.push(Doc::IfBreak(","));
    group(concat([text(open), indent(concat(inner)), Doc::SoftLine, text(close)]))
}

fn flatten_chain<'e>(e: &'e Expr, chain_op: BinaryOp, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs } if *op == chain_op => {
            flatten_chain(lhs, chain_op, out);
            out.push(rhs);
        }
        _ => out.push(e),
    }
}

/// A string literal with canonical escapes; interpolations print on one line.
fn string_lit(f: &Formatter, s: &StringLit) -> String {
    let mut out = String::from("\"");
    for part in &s.parts {
        match part {
            StrPart::Lit(t) => assay_model::syntax::escape_into(&mut out, t),
            StrPart::Interp(e) => {
                out.push('{');
                out.push_str(&doc::flat(&f.expr(e)));
                out.push('}');
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(src: &str) -> String {
        match format_source(FileId(0), src) {
            Ok(s) => s,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn mangled_spacing_becomes_canonical() {
        let src = "rule   X  \"t\"{severity   high\n\n\n   fail when a==1   and b  message \"m {a}\"}";
        assert_eq!(
            fmt(src),
            "rule X \"t\" {\n  severity high\n\n  fail when a == 1 and b\n    message \"m {a}\"\n}\n"
        );
    }

    #[test]
    fn comments_stay_where_they_were() {
        let src = "// top\n\nconst A = 1 // one\n// before b\nconst B = 2\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn a_comment_inside_an_expression_keeps_the_declaration_verbatim() {
        let src = "const A = [\n    1, // one\n  2]\n";
        assert_eq!(fmt(src), src);
    }

    #[test]
    fn long_conditions_break_at_and() {
        let cond = (0..12).map(|i| format!("host.field_{i} == {i}")).collect::<Vec<_>>().join(" and ");
        let src = format!("rule X \"t\" {{\n  severity low\n  fail when {cond} message \"m\"\n}}\n");
        let out = fmt(&src);
        assert!(out.lines().all(|l| l.len() <= WIDTH), "{out}");
        assert!(out.contains("\n      and host.field_1 == 1\n"), "{out}");
        assert_eq!(fmt(&out), out);
    }
}
