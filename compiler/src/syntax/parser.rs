//! Text to AST: pest recognises the grammar, this module turns its pairs into
//! [`ast`](super::ast) nodes with spans, and recovers from syntax errors at
//! declaration boundaries so that one run reports every broken declaration.

use super::ast::*;
use super::errors;
use super::lexical;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span, MAX_SOURCE_LEN};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::cell::RefCell;
use std::sync::{LazyLock, Mutex};

#[derive(pest_derive::Parser)]
#[grammar = "syntax/grammar.pest"]
pub(crate) struct Grammar;

/// The result of parsing one file: always a module (possibly missing the
/// declarations that did not parse), the plain comments for the formatter, and
/// every diagnostic found.
#[derive(Debug)]
pub struct Parsed {
    pub module: Module,
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    use Rule::*;
    PrattParser::new()
        .op(Op::infix(op_or, Assoc::Left))
        .op(Op::infix(op_and, Assoc::Left))
        .op(Op::prefix(op_not))
        .op(Op::infix(op_eq, Assoc::Left)
            | Op::infix(op_ne, Assoc::Left)
            | Op::infix(op_lt, Assoc::Left)
            | Op::infix(op_le, Assoc::Left)
            | Op::infix(op_gt, Assoc::Left)
            | Op::infix(op_ge, Assoc::Left)
            | Op::infix(op_in, Assoc::Left)
            | Op::infix(op_not_in, Assoc::Left)
            | Op::infix(op_starts_with, Assoc::Left)
            | Op::infix(op_ends_with, Assoc::Left)
            | Op::infix(op_contains, Assoc::Left)
            | Op::infix(op_matches, Assoc::Left)
            | Op::postfix(op_is_present)
            | Op::postfix(op_is_absent))
        .op(Op::infix(op_default, Assoc::Left))
        .op(Op::infix(op_add, Assoc::Left) | Op::infix(op_sub, Assoc::Left))
        .op(Op::infix(op_mul, Assoc::Left) | Op::infix(op_div, Assoc::Left) | Op::infix(op_rem, Assoc::Left))
        .op(Op::prefix(op_neg))
});

/// The deepest expression tree the parser builds. Nesting through brackets
/// is bounded earlier, by the lexical scan; this bounds operator chains.
pub const MAX_EXPR_DEPTH: u32 = 256;

/// How many parses are recovering from an error right now. pest's "error
/// detail" (the literal tokens it expected, for precise messages) is a
/// process-wide switch that doubles parsing time, so it is on only while at
/// least one recovery runs; the lock makes count and switch change together.
static RECOVERING: Mutex<usize> = Mutex::new(0);

struct ErrorDetail;

impl ErrorDetail {
    fn on() -> ErrorDetail {
        let mut count = RECOVERING.lock().unwrap_or_else(|e| e.into_inner());
        *count += 1;
        pest::set_error_detail(true);
        ErrorDetail
    }
}

impl Drop for ErrorDetail {
    fn drop(&mut self) {
        let mut count = RECOVERING.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            pest::set_error_detail(false);
        }
    }
}

/// Parses one source file.
pub fn parse(file: FileId, src: &str) -> Parsed {
    let empty = Module { docs: Vec::new(), items: Vec::new(), span: Span::new(file, 0, 0) };
    if let Some(d) = check_size(file, src.len()) {
        return Parsed { module: empty, comments: Vec::new(), diagnostics: vec![d] };
    }
    let scan = lexical::scan(file, src);
    if scan.too_deep {
        return Parsed { module: empty, comments: scan.comments, diagnostics: scan.diagnostics };
    }
    let mut diagnostics = scan.diagnostics;
    if src.len() >= CHUNKED_FROM && diagnostics.is_empty() {
        if let Some((module, more)) = parse_chunked(file, src, &scan.comments) {
            diagnostics.extend(more);
            crate::diagnostics::sort(&mut diagnostics);
            return Parsed { module, comments: scan.comments, diagnostics };
        }
    }
    let builder =
        Builder { file, src, comments: &scan.comments, offset: 0, diagnostics: RefCell::new(Vec::new()) };
    let module = match Grammar::parse(Rule::file, src) {
        Ok(mut pairs) => match pairs.next() {
            Some(pair) => builder.module(pair),
            None => empty,
        },
        Err(error) => {
            let lexical_errors: Vec<Span> = diagnostics.iter().filter_map(Diagnostic::primary_span).collect();
            recover(file, src, &scan.comments, error, &lexical_errors, &mut diagnostics)
        }
    };
    diagnostics.extend(builder.diagnostics.into_inner());
    crate::diagnostics::sort(&mut diagnostics);
    Parsed { module, comments: scan.comments, diagnostics }
}

/// From this size on a file is parsed one declaration at a time: pest keeps
/// a token queue for everything it parses (about 30 bytes per token: 84 MB
/// for a 3 MB file), so parsing declaration by declaration bounds that
/// memory by the largest declaration. Smaller files parse whole.
const CHUNKED_FROM: usize = 64 << 10;

/// The whole file, declaration by declaration; `None` when any declaration
/// does not parse alone (a chunk boundary inside a multi-line string, or a
/// syntax error), and the caller parses the file whole, as it would have.
fn parse_chunked(file: FileId, src: &str, comments: &[Span]) -> Option<(Module, Vec<Diagnostic>)> {
    let mut docs = Vec::new();
    let mut items = Vec::new();
    let mut diagnostics = Vec::new();
    let mut first = true;
    // The whole-file parse's module ends where its last chunk's pair does.
    let mut module_end = 0;
    for (start, end) in chunks(src) {
        let text = &src[start..end];
        if is_trivia(text) {
            continue;
        }
        let builder =
            Builder { file, src, comments, offset: start as u32, diagnostics: RefCell::new(Vec::new()) };
        let pair = Grammar::parse(Rule::item_chunk, text).ok()?.next()?;
        let module = builder.module(pair);
        // Module docs are only allowed at the top of the file.
        if !first && !module.docs.is_empty() {
            return None;
        }
        first = false;
        module_end = module.span.end;
        docs.extend(module.docs);
        items.extend(module.items);
        diagnostics.extend(builder.diagnostics.into_inner());
    }
    Some((Module { docs, items, span: Span::new(file, 0, module_end) }, diagnostics))
}

/// Spans are `u32` offsets, so a file must be addressable by them.
fn check_size(file: FileId, len: usize) -> Option<Diagnostic> {
    (len > MAX_SOURCE_LEN).then(|| {
        Diagnostic::new(Code::E0002, "source file is too large")
            .primary(Span::new(file, 0, 0), "this file is larger than 4 GiB")
            .help("split the package into several files")
    })
}

/// Parses bytes read from a file: text that is not UTF-8 is an E0001
/// diagnostic at the first invalid byte, never a panic.
pub fn parse_bytes(file: FileId, bytes: &[u8]) -> Parsed {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(file, text),
        Err(e) => Parsed {
            module: Module { docs: Vec::new(), items: Vec::new(), span: Span::new(file, 0, 0) },
            comments: Vec::new(),
            diagnostics: vec![crate::package::not_utf8(file, e.valid_up_to(), e.error_len().unwrap_or(1))],
        },
    }
}

/// Parses each top-level declaration on its own, so that an error in one does
/// not hide errors in the next. A declaration starts at a line that begins
/// (in column 0) with `rule`, `fn`, `const`, `import` or a `///` comment block.
fn recover(
    file: FileId,
    src: &str,
    comments: &[Span],
    whole_file_error: pest::error::Error<Rule>,
    lexical_errors: &[Span],
    diagnostics: &mut Vec<Diagnostic>,
) -> Module {
    let _detail = ErrorDetail::on();
    let mut docs = Vec::new();
    let mut items = Vec::new();
    let mut reported = false;
    let before = diagnostics.len();
    for (start, end) in chunks(src) {
        let text = &src[start..end];
        if is_trivia(text) {
            continue;
        }
        let builder =
            Builder { file, src, comments, offset: start as u32, diagnostics: RefCell::new(Vec::new()) };
        match Grammar::parse(Rule::item_chunk, text) {
            Ok(mut pairs) => {
                if let Some(pair) = pairs.next() {
                    let module = builder.module(pair);
                    docs.extend(module.docs);
                    items.extend(module.items);
                }
            }
            Err(error) => {
                reported = true;
                // A lexical error (say an unterminated string) already explains
                // this declaration; the parse error it causes would only repeat it.
                let has_lexical = lexical_errors.iter().any(|s| (start..end).contains(&(s.start as usize)));
                if !has_lexical {
                    diagnostics.push(errors::syntax_error(file, src, text, start as u32, &error));
                }
            }
        }
        diagnostics.extend(builder.diagnostics.into_inner());
    }
    if !reported && diagnostics.len() == before {
        // The chunks parsed one by one but not together: report the original.
        diagnostics.push(errors::syntax_error(file, src, src, 0, &whole_file_error));
    }
    Module { docs, items, span: Span::new(file, 0, src.len() as u32) }
}

fn chunks(src: &str) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut previous_was_doc = false;
    for line in src.split_inclusive('\n') {
        let is_doc = line.starts_with("///") && !line.starts_with("////");
        let is_keyword = ["rule", "fn", "const", "import"]
            .iter()
            .any(|kw| line.strip_prefix(kw).is_some_and(|rest| rest.starts_with([' ', '\t'])));
        if (is_doc || is_keyword) && !previous_was_doc {
            starts.push(offset);
        }
        previous_was_doc = is_doc;
        offset += line.len();
    }
    if starts.first() != Some(&0) {
        // Leading comments and module docs belong to the first declaration.
        if starts.is_empty() {
            starts.push(0);
        } else {
            starts[0] = 0;
        }
    }
    let ends = starts.iter().skip(1).copied().chain(std::iter::once(src.len()));
    starts.iter().copied().zip(ends).collect()
}

/// True when `text` holds only white space and plain comments.
fn is_trivia(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        let is_doc = l.starts_with("//!") || (l.starts_with("///") && !l.starts_with("////"));
        l.is_empty() || (l.starts_with("//") && !is_doc)
    })
}

struct Builder<'s> {
    file: FileId,
    src: &'s str,
    /// Plain comments of the whole file, sorted.
    comments: &'s [Span],
    /// Where the text given to pest starts in the file.
    offset: u32,
    diagnostics: RefCell<Vec<Diagnostic>>,
}

impl Builder<'_> {
    /// The pair's span without trailing white space and comments: pest
    /// skips trivia before trying a repetition even when it then matches
    /// nothing, so a rule ending in `(...)*` would otherwise swallow them.
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let start = self.offset as usize + s.start();
        let mut end = self.offset as usize + s.end();
        loop {
            end = start + self.src.get(start..end).map_or(0, |t| t.trim_end().len());
            match self.comments.binary_search_by_key(&(end as u32), |c| c.end) {
                Ok(i) if self.comments[i].start as usize >= start => end = self.comments[i].start as usize,
                _ => break,
            }
        }
        Span::new(self.file, start as u32, end as u32)
    }

    fn error(&self, diagnostic: Diagnostic) {
        self.diagnostics.borrow_mut().push(diagnostic);
    }

    fn module(&self, pair: Pair<Rule>) -> Module {
        let span = self.span(&pair);
        let mut docs = Vec::new();
        let mut items = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::module_doc => docs.push(self.doc(&p, 3)),
                Rule::import_decl => items.push(Item::Import(self.import(p))),
                Rule::decl => items.extend(self.decl(p)),
                _ => {}
            }
        }
        Module { docs, items, span }
    }

    fn doc(&self, pair: &Pair<Rule>, marker: usize) -> Doc {
        let text = pair.as_str().get(marker..).unwrap_or("").trim_end().to_string();
        Doc { text, span: self.span(pair) }
    }

    fn ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    fn import(&self, pair: Pair<Rule>) -> Import {
        let span = self.span(&pair);
        let mut path = Vec::new();
        let mut names = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::module_path => path = p.into_inner().map(|i| self.ident(&i)).collect(),
                Rule::import_names => names = Some(p.into_inner().map(|i| self.ident(&i)).collect()),
                _ => {}
            }
        }
        Import { path, names, span }
    }

    fn decl(&self, pair: Pair<Rule>) -> Option<Item> {
        let mut docs = Vec::new();
        for p in pair.into_inner() {
            if p.as_rule() != Rule::doc {
                docs.shrink_to_fit();
            }
            match p.as_rule() {
                Rule::doc => docs.push(self.doc(&p, 3)),
                Rule::rule_decl => return Some(Item::Rule(self.rule(p, docs))),
                Rule::fn_decl => return Some(Item::Fn(self.function(p, docs))),
                Rule::const_decl => return Some(Item::Const(self.constant(p, docs))),
                _ => {}
            }
        }
        None
    }

    fn decl_span(&self, pair: &Pair<Rule>, docs: &[Doc]) -> Span {
        let span = self.span(pair);
        docs.first().map_or(span, |d| d.span.to(span))
    }

    fn constant(&self, pair: Pair<Rule>, docs: Vec<Doc>) -> ConstDecl {
        let span = self.decl_span(&pair, &docs);
        let mut name = None;
        let mut ty = None;
        let mut value = None;
        let mut param = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::kw_param => param = true,
                Rule::ident => name = Some(self.ident(&p)),
                Rule::type_expr => ty = Some(self.type_expr(p)),
                Rule::expr => value = Some(self.expr(p)),
                _ => {}
            }
        }
        ConstDecl {
            docs,
            param,
            name: name.unwrap_or_else(|| self.missing_ident(span)),
            ty,
            value: value.unwrap_or_else(|| self.missing_expr(span)),
            span,
        }
    }

    fn function(&self, pair: Pair<Rule>, docs: Vec<Doc>) -> FnDecl {
        let span = self.decl_span(&pair, &docs);
        let mut name = None;
        let mut params = Vec::new();
        let mut ret = None;
        let mut body = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(&p)),
                Rule::params => {
                    for param in p.into_inner() {
                        let pspan = self.span(&param);
                        let mut inner = param.into_inner();
                        let pname = inner.next().map(|i| self.ident(&i));
                        let pty = inner.next().map(|t| self.type_expr(t));
                        if let (Some(name), Some(ty)) = (pname, pty) {
                            params.push(Param { name, ty, span: pspan });
                        }
                    }
                }
                Rule::type_expr => ret = Some(self.type_expr(p)),
                Rule::block => body = Some(self.block(p)),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| self.missing_ident(span));
        let ret = ret.unwrap_or_else(|| TypeExpr {
            name: self.missing_ident(span),
            args: vec![],
            optional: false,
            span,
        });
        let body = body.unwrap_or_else(|| Block { lets: vec![], value: self.missing_expr(span), span });
        FnDecl { docs, name, params, ret, body, span }
    }

    fn block(&self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        let mut lets = Vec::new();
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::let_stmt => lets.push(self.let_stmt(p)),
                Rule::expr => value = Some(self.expr(p)),
                _ => {}
            }
        }
        Block { lets, value: value.unwrap_or_else(|| self.missing_expr(span)), span }
    }

    fn let_stmt(&self, pair: Pair<Rule>) -> Let {
        let span = self.span(&pair);
        let mut name = None;
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(&p)),
                Rule::expr => value = Some(self.expr(p)),
                _ => {}
            }
        }
        Let {
            name: name.unwrap_or_else(|| self.missing_ident(span)),
            value: value.unwrap_or_else(|| self.missing_expr(span)),
            span,
        }
    }

    fn type_expr(&self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut name = None;
        let mut args = Vec::new();
        let mut optional = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(&p)),
                Rule::type_args => args = p.into_inner().map(|t| self.type_expr(t)).collect(),
                Rule::optional_mark => optional = true,
                _ => {}
            }
        }
        TypeExpr { name: name.unwrap_or_else(|| self.missing_ident(span)), args, optional, span }
    }

    fn rule(&self, pair: Pair<Rule>, docs: Vec<Doc>) -> RuleDecl {
        let span = self.decl_span(&pair, &docs);
        let mut id = None;
        let mut title = None;
        let mut clauses = Vec::new();
        for p in pair.into_inner() {
            let cspan = self.span(&p);
            let kind = match p.as_rule() {
                Rule::rule_id => {
                    id = Some(RuleId { text: p.as_str().to_string(), span: cspan });
                    continue;
                }
                Rule::text => {
                    title = Some(self.text(p, "a rule's title"));
                    continue;
                }
                Rule::severity_clause => {
                    let level = p.into_inner().find(|i| i.as_rule() == Rule::severity_level);
                    match level.and_then(|l| Severity::parse(l.as_str())) {
                        Some(s) => ClauseKind::Severity(s),
                        None => continue,
                    }
                }
                Rule::description_clause => ClauseKind::Description(self.clause_text(p, "a description")),
                Rule::rationale_clause => ClauseKind::Rationale(self.clause_text(p, "a rationale")),
                Rule::recommendation_clause => {
                    ClauseKind::Recommendation(self.clause_text(p, "a recommendation"))
                }
                Rule::references_clause => ClauseKind::References(self.text_list(p, "a reference")),
                Rule::tags_clause => ClauseKind::Tags(self.text_list(p, "a tag")),
                Rule::platform_clause => ClauseKind::Platform(
                    p.into_inner().filter(|i| i.as_rule() == Rule::ident).map(|i| self.ident(&i)).collect(),
                ),
                Rule::applies_clause => match p.into_inner().find(|i| i.as_rule() == Rule::expr) {
                    Some(e) => ClauseKind::AppliesWhen(self.expr(e)),
                    None => continue,
                },
                Rule::let_stmt => ClauseKind::Let(Box::new(self.let_stmt(p))),
                Rule::for_each => ClauseKind::Check(Box::new(Check::ForEach(self.for_each(p)))),
                Rule::fail_clause => ClauseKind::Check(Box::new(Check::Fail(self.fail(p)))),
                _ => continue,
            };
            clauses.push(Clause { kind, span: cspan });
        }
        let id = id.unwrap_or(RuleId { text: String::new(), span });
        let title = title.unwrap_or(Text { parts: vec![], span });
        clauses.shrink_to_fit();
        let rule = RuleDecl { docs, id, title, clauses, span };
        self.check_clauses(&rule);
        rule
    }

    /// Clause counts: at most one of each metadata clause, exactly one check,
    /// and a severity; `let` and `applies when` before the check.
    fn check_clauses(&self, rule: &RuleDecl) {
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        let mut check: Option<Span> = None;
        for clause in &rule.clauses {
            let keyword = clause.kind.keyword();
            match (&clause.kind, check) {
                (ClauseKind::Check(_), None) => check = Some(clause.span),
                (ClauseKind::Let(_) | ClauseKind::AppliesWhen(_), Some(check)) => {
                    self.error(
                        Diagnostic::new(Code::E0115, format!("`{keyword}` after the check"))
                            .primary(clause.span, format!("this `{keyword}` comes after the check"))
                            .secondary(check, "the check")
                            .help(format!("move the `{keyword}` above the check: the check is the last clause that runs")),
                    );
                }
                _ => {}
            }
            if keyword == "let" {
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == keyword) {
                let (what, help) = if keyword == "check" {
                    (
                        "a rule has exactly one check".to_string(),
                        "combine the conditions with `and` / `or`, or split the rule in two",
                    )
                } else {
                    (format!("duplicate `{keyword}` clause"), "remove one of them")
                };
                self.error(
                    Diagnostic::new(Code::E0111, what)
                        .primary(clause.span, "second one here")
                        .secondary(*first, "first one here")
                        .help(help),
                );
            } else {
                seen.push((keyword, clause.span));
            }
        }
        let title_span = rule.id.span.to(rule.title.span);
        if !seen.iter().any(|(k, _)| *k == "severity") {
            self.error(
                Diagnostic::new(Code::E0112, format!("rule `{}` has no severity", rule.id.text))
                    .primary(title_span, "this rule needs a `severity` clause")
                    .help(
                        "add `severity high`, `severity medium`, `severity low` or `severity informational`",
                    ),
            );
        }
        if !seen.iter().any(|(k, _)| *k == "check") {
            self.error(
                Diagnostic::new(Code::E0113, format!("rule `{}` has no check", rule.id.text))
                    .primary(title_span, "this rule can never produce a finding")
                    .help("add a `fail when ... message \"...\"` clause"),
            );
        }
    }

    fn for_each(&self, pair: Pair<Rule>) -> ForEach {
        let span = self.span(&pair);
        let mut var = None;
        let mut collection = None;
        let mut filter = None;
        let mut lets = Vec::new();
        let mut body = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => var = Some(self.ident(&p)),
                Rule::expr => collection = Some(self.expr(p)),
                Rule::where_clause => {
                    filter = p.into_inner().find(|i| i.as_rule() == Rule::expr).map(|e| self.expr(e))
                }
                Rule::let_stmt => lets.push(self.let_stmt(p)),
                Rule::for_each => body = Some(Check::ForEach(self.for_each(p))),
                Rule::fail_clause => body = Some(Check::Fail(self.fail(p))),
                _ => {}
            }
        }
        let body = body.unwrap_or_else(|| {
            Check::Fail(Fail { condition: None, message: StringLit { parts: vec![], span }, span })
        });
        ForEach {
            var: var.unwrap_or_else(|| self.missing_ident(span)),
            collection: collection.unwrap_or_else(|| self.missing_expr(span)),
            filter,
            lets,
            body: Box::new(body),
            span,
        }
    }

    fn fail(&self, pair: Pair<Rule>) -> Fail {
        let span = self.span(&pair);
        let mut condition = None;
        let mut message = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::expr => condition = Some(self.expr(p)),
                Rule::string => message = Some(self.string(p)),
                _ => {}
            }
        }
        Fail { condition, message: message.unwrap_or(StringLit { parts: vec![], span }), span }
    }

    fn clause_text(&self, pair: Pair<Rule>, what: &str) -> Text {
        let span = self.span(&pair);
        match pair.into_inner().find(|p| p.as_rule() == Rule::text) {
            Some(t) => self.text(t, what),
            None => Text { parts: vec![], span },
        }
    }

    fn text_list(&self, pair: Pair<Rule>, what: &str) -> Vec<Text> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::text_list)
            .flat_map(|l| l.into_inner())
            .filter(|p| p.as_rule() == Rule::text)
            .map(|t| self.text(t, what))
            .collect()
    }

    /// Fixed text: interpolation is an error here.
    fn text(&self, pair: Pair<Rule>, what: &str) -> Text {
        let span = self.span(&pair);
        let parts: Vec<StringLit> = pair.into_inner().map(|s| self.string(s)).collect();
        for part in parts.iter().flat_map(|s| &s.parts) {
            if let StrPart::Interp(e) = part {
                self.error(
                    Diagnostic::new(Code::E0110, format!("{what} cannot interpolate values"))
                        .primary(e.span, "interpolation here")
                        .help("write a literal brace as `\\{`; only a finding's `message` may interpolate"),
                );
            }
        }
        Text { parts, span }
    }

    fn string(&self, pair: Pair<Rule>) -> StringLit {
        let span = self.span(&pair);
        let mut parts: Vec<StrPart> = Vec::new();
        let push_text = |parts: &mut Vec<StrPart>, text: &str| match parts.last_mut() {
            Some(StrPart::Lit(last)) => last.push_str(text),
            _ => parts.push(StrPart::Lit(text.to_string())),
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::string_text => push_text(&mut parts, p.as_str()),
                Rule::escape => {
                    if let Some(c) = decode_escape(p.as_str()) {
                        let mut buf = [0u8; 4];
                        push_text(&mut parts, c.encode_utf8(&mut buf));
                    }
                    // Invalid escapes were reported by the lexical scan.
                }
                Rule::interpolation => {
                    if let Some(e) = p.into_inner().find(|i| i.as_rule() == Rule::expr) {
                        parts.push(StrPart::Interp(self.expr(e)));
                    }
                }
                _ => {}
            }
        }
        // Most strings are one literal part: a grown vector would hold room
        // for four, which for 10k rules' texts is tens of megabytes.
        parts.shrink_to_fit();
        StringLit { parts, span }
    }

    fn expr(&self, pair: Pair<Rule>) -> Expr {
        self.expr_pairs(pair.into_inner())
    }

    fn expr_pairs(&self, pairs: Pairs<Rule>) -> Expr {
        // Each node carries its depth so that a long operator chain
        // (`1 + 1 + ...`, left-deep) is cut off before it makes a tree whose
        // recursive drop or formatting could exhaust the stack.
        let (expr, _) = PRATT
            .map_primary(|p| self.operand(p))
            .map_prefix(|op, (operand, depth): (Expr, u32)| {
                let span = self.span(&op).to(operand.span);
                let op = if op.as_rule() == Rule::op_not { UnaryOp::Not } else { UnaryOp::Neg };
                self.bounded(
                    Expr { kind: ExprKind::Unary { op, operand: Box::new(operand) }, span },
                    depth + 1,
                )
            })
            .map_postfix(|(operand, depth): (Expr, u32), op| {
                let span = operand.span.to(self.span(&op));
                self.check_chain(&operand, "is");
                let present = op.as_rule() == Rule::op_is_present;
                self.bounded(
                    Expr { kind: ExprKind::Presence { operand: Box::new(operand), present }, span },
                    depth + 1,
                )
            })
            .map_infix(|(lhs, ld): (Expr, u32), op, (rhs, rd): (Expr, u32)| {
                let op = binary_op(op.as_rule());
                if op.is_comparison() {
                    self.check_chain(&lhs, op.as_str());
                }
                let span = lhs.span.to(rhs.span);
                let expr =
                    Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span };
                self.bounded(expr, ld.max(rd) + 1)
            })
            .parse(pairs);
        expr
    }

    /// Keeps `expr` if its tree is at most [`MAX_EXPR_DEPTH`] deep; otherwise
    /// reports E0003 once and replaces it with a leaf.
    fn bounded(&self, expr: Expr, depth: u32) -> (Expr, u32) {
        if depth <= MAX_EXPR_DEPTH {
            return (expr, depth);
        }
        let span = expr.span;
        let mut diagnostics = self.diagnostics.borrow_mut();
        if !diagnostics
            .iter()
            .any(|d| d.code == Code::E0003 && d.primary_span().is_some_and(|s| s.to(span) == span))
        {
            diagnostics.push(errors::too_deep(span, errors::TooDeep::Operations { max: MAX_EXPR_DEPTH }));
        }
        (Expr { kind: ExprKind::Bool(false), span }, 1)
    }

    fn check_chain(&self, lhs: &Expr, op: &str) {
        let chained = match &lhs.kind {
            ExprKind::Binary { op, .. } => op.is_comparison(),
            ExprKind::Presence { .. } => true,
            _ => false,
        };
        if chained {
            self.error(
                Diagnostic::new(Code::E0107, "comparison operators cannot be chained")
                    .primary(lhs.span, format!("this comparison is the left side of `{op}`"))
                    .help("join two comparisons with `and`, or add parentheses if you mean to compare a comparison"),
            );
        }
    }

    fn operand(&self, pair: Pair<Rule>) -> (Expr, u32) {
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return (self.missing_expr(Span::new(self.file, self.offset, self.offset)), 1);
        };
        let mut expr = self.primary(first);
        let mut depth = 1;
        for postfix in inner {
            (expr, depth) = self.bounded(expr, depth + 1);
            let pspan = self.span(&postfix);
            match postfix.as_rule() {
                Rule::field => {
                    let field = match postfix.into_inner().next() {
                        Some(f) => self.ident(&f),
                        None => continue,
                    };
                    let span = expr.span.to(pspan);
                    expr = Expr { kind: ExprKind::Field { base: Box::new(expr), field }, span };
                }
                Rule::call_args => {
                    let args: Vec<Expr> = postfix.into_inner().map(|a| self.expr(a)).collect();
                    let span = expr.span.to(pspan);
                    match callee_path(&expr) {
                        Some(callee) => expr = Expr { kind: ExprKind::Call { callee, args }, span },
                        None => self.error(
                            Diagnostic::new(Code::E0108, "only named functions can be called")
                                .primary(expr.span, "this is not a function name")
                                .help("call a function by its name, as in `lower(x)` or `strings.lower(x)`"),
                        ),
                    }
                }
                _ => {}
            }
        }
        (expr, depth)
    }

    fn primary(&self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => match pair.into_inner().next() {
                Some(e) => ExprKind::Paren(Box::new(self.expr(e))),
                None => return self.missing_expr(span),
            },
            Rule::list => ExprKind::List(pair.into_inner().map(|e| self.expr(e)).collect()),
            Rule::if_expr => {
                let mut exprs = pair.into_inner().filter(|p| p.as_rule() == Rule::expr).map(|e| self.expr(e));
                match (exprs.next(), exprs.next(), exprs.next()) {
                    (Some(c), Some(t), Some(o)) => {
                        ExprKind::If { cond: Box::new(c), then: Box::new(t), otherwise: Box::new(o) }
                    }
                    _ => return self.missing_expr(span),
                }
            }
            Rule::quantifier => return self.quantifier(pair),
            Rule::bool_lit => ExprKind::Bool(pair.as_str() == "true"),
            Rule::integer => ExprKind::Int { value: self.integer(&pair), raw: pair.as_str().to_string() },
            Rule::version_lit => ExprKind::Version(between_quotes(pair.as_str(), 2)),
            Rule::raw_string => ExprKind::RawStr(between_quotes(pair.as_str(), 2)),
            Rule::string => ExprKind::Str(self.string(pair)),
            Rule::ident => ExprKind::Name(self.ident(&pair)),
            _ => return self.missing_expr(span),
        };
        Expr { kind, span }
    }

    fn quantifier(&self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let mut kind = QuantifierKind::Any;
        let mut kind_span = span;
        let mut var = None;
        let mut collection = None;
        let mut filter = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::quantifier_kind => {
                    kind_span = self.span(&p);
                    kind = match p.as_str() {
                        "all" => QuantifierKind::All,
                        "none" => QuantifierKind::None,
                        "count" => QuantifierKind::Count,
                        "find" => QuantifierKind::Find,
                        _ => QuantifierKind::Any,
                    }
                }
                Rule::ident => var = Some(self.ident(&p)),
                Rule::expr => collection = Some(self.expr(p)),
                Rule::where_clause => {
                    filter =
                        p.into_inner().find(|i| i.as_rule() == Rule::expr).map(|e| Box::new(self.expr(e)))
                }
                _ => {}
            }
        }
        if filter.is_none() && kind != QuantifierKind::Count {
            self.error(
                Diagnostic::new(Code::E0114, format!("`{}` needs a `where` condition", kind.as_str()))
                    .primary(kind_span.to(span), "no condition")
                    .help(format!(
                        "write `{}(x in xs where <condition>)`; only `count` may leave it out",
                        kind.as_str()
                    )),
            );
        }
        let var = var.unwrap_or_else(|| self.missing_ident(span));
        let collection = Box::new(collection.unwrap_or_else(|| self.missing_expr(span)));
        Expr { kind: ExprKind::Quantifier { kind, var, collection, filter }, span }
    }

    fn integer(&self, pair: &Pair<Rule>) -> i64 {
        let text: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        let parsed = if let Some(hex) = text.strip_prefix("0x") {
            i64::from_str_radix(hex, 16)
        } else if let Some(oct) = text.strip_prefix("0o") {
            i64::from_str_radix(oct, 8)
        } else {
            text.parse::<i64>()
        };
        parsed.unwrap_or_else(|_| {
            self.error(
                Diagnostic::new(Code::E0106, "integer literal out of range")
                    .primary(self.span(pair), "does not fit in a signed 64-bit integer")
                    .help("integers range from -9223372036854775807 to 9223372036854775807"),
            );
            0
        })
    }

    /// Placeholders for parts pest guaranteed but the tree lacks; they only
    /// appear after another diagnostic, so they need none of their own.
    fn missing_ident(&self, span: Span) -> Ident {
        Ident { name: String::new(), span }
    }

    fn missing_expr(&self, span: Span) -> Expr {
        Expr { kind: ExprKind::Bool(false), span }
    }
}

fn callee_path(expr: &Expr) -> Option<Vec<Ident>> {
    match &expr.kind {
        ExprKind::Name(i) => Some(vec![i.clone()]),
        ExprKind::Field { base, field } => {
            let mut path = callee_path(base)?;
            path.push(field.clone());
            Some(path)
        }
        _ => None,
    }
}

fn between_quotes(text: &str, prefix: usize) -> String {
    text.get(prefix..text.len().saturating_sub(1)).unwrap_or("").to_string()
}

fn decode_escape(text: &str) -> Option<char> {
    let body = text.strip_prefix('\\')?;
    match body {
        "n" => Some('\n'),
        "t" => Some('\t'),
        "r" => Some('\r'),
        "0" => Some('\0'),
        "\\" => Some('\\'),
        "\"" => Some('"'),
        "{" => Some('{'),
        "}" => Some('}'),
        _ => {
            let hex = body.strip_prefix("u{")?.strip_suffix('}')?;
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)
        }
    }
}

fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::op_or => BinaryOp::Or,
        Rule::op_and => BinaryOp::And,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::Ne,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::Le,
        Rule::op_gt => BinaryOp::Gt,
        Rule::op_ge => BinaryOp::Ge,
        Rule::op_in => BinaryOp::In,
        Rule::op_not_in => BinaryOp::NotIn,
        Rule::op_starts_with => BinaryOp::StartsWith,
        Rule::op_ends_with => BinaryOp::EndsWith,
        Rule::op_contains => BinaryOp::Contains,
        Rule::op_matches => BinaryOp::Matches,
        Rule::op_default => BinaryOp::Default,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        _ => BinaryOp::Rem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Module {
        let parsed = parse(FileId(0), src);
        assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
        parsed.module
    }

    /// Every built-in and example source, repeated past the size at which
    /// files parse declaration by declaration, gives the tree a whole-file
    /// parse gives; a chunk boundary inside a string falls back to it.
    #[test]
    fn parsing_by_declaration_gives_the_whole_file_tree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = Vec::new();
        for dir in ["policies/cis-linux", "policies/security-best-practices", "examples/listening-ports"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "assay") {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        // Rule ids repeat across copies: fine for the parser.
        let body: String = sources
            .iter()
            .map(|s| s.lines().filter(|l| !l.starts_with("//!")).collect::<Vec<_>>().join("\n") + "\n\n")
            .collect();
        let mut big = String::new();
        while big.len() < 2 * CHUNKED_FROM {
            big.push_str(&body);
        }
        let scan = lexical::scan(FileId(0), &big);
        let b = Builder {
            file: FileId(0),
            src: &big,
            comments: &scan.comments,
            offset: 0,
            diagnostics: RefCell::new(Vec::new()),
        };
        let whole = b.module(Grammar::parse(Rule::file, &big).unwrap().next().unwrap());
        let chunked = parse_chunked(FileId(0), &big, &scan.comments);
        let (chunked, diagnostics) = chunked.expect("every declaration parses alone");
        assert!(diagnostics.is_empty());
        let (a, b) = (format!("{whole:?}"), format!("{chunked:?}"));
        if a != b {
            let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            let (ea, eb) = ((at + 100).min(a.len()), (at + 100).min(b.len()));
            panic!(
                "trees differ at {at} ({} and {} items, {} and {} bytes): whole `{}` chunked `{}`",
                whole.items.len(),
                chunked.items.len(),
                a.len(),
                b.len(),
                &a[at.saturating_sub(300)..ea],
                &b[at.saturating_sub(300)..eb]
            );
        }
        // A declaration that does not parse alone makes the chunked parse
        // give up; the whole-file parse (with its recovery) reports it.
        let broken = format!("{big}rule X \"t\" {{\n  severity meduim\n}}\n");
        let scan = lexical::scan(FileId(0), &broken);
        assert!(parse_chunked(FileId(0), &broken, &scan.comments).is_none());
        assert!(parse(FileId(0), &broken).diagnostics.iter().any(|d| d.is_error()));
    }

    fn first_rule(module: &Module) -> &RuleDecl {
        match &module.items[0] {
            Item::Rule(r) => r,
            other => panic!("not a rule: {other:?}"),
        }
    }

    #[test]
    fn parses_a_rule_with_metadata_and_check() {
        let m = parse_ok(
            "/// Long text.\nrule BP-SSH-001 \"Disable root login\" {\n  severity medium\n  \
             fail when host.sshd.permit_root_login != \"no\" message \"root {host.sshd.permit_root_login}\"\n}\n",
        );
        let rule = first_rule(&m);
        assert_eq!(rule.id.text, "BP-SSH-001");
        assert_eq!(rule.docs[0].text, " Long text.");
        assert_eq!(rule.severity(), Some(Severity::Medium));
        assert_eq!(rule.title.value(), "Disable root login");
    }

    #[test]
    fn precedence_puts_not_below_comparison_and_default_above_it() {
        let m = parse_ok("const A = not a ?? 1 == 2 and b\n");
        let Item::Const(c) = &m.items[0] else { panic!() };
        let ExprKind::Binary { op: BinaryOp::And, lhs, .. } = &c.value.kind else { panic!("{:?}", c.value) };
        let ExprKind::Unary { op: UnaryOp::Not, operand } = &lhs.kind else { panic!() };
        let ExprKind::Binary { op: BinaryOp::Eq, lhs: eq_lhs, .. } = &operand.kind else { panic!() };
        assert!(matches!(eq_lhs.kind, ExprKind::Binary { op: BinaryOp::Default, .. }));
    }

    #[test]
    fn spans_are_byte_offsets_into_the_file() {
        let src = "const LIMIT = 99_999\n";
        let m = parse_ok(src);
        let Item::Const(c) = &m.items[0] else { panic!() };
        assert_eq!(&src[c.value.span.range()], "99_999");
        assert!(matches!(c.value.kind, ExprKind::Int { value: 99_999, .. }));
    }

    #[test]
    fn octal_and_hex_literals() {
        let m = parse_ok("const A = [0o755, 0x1F]\n");
        let Item::Const(c) = &m.items[0] else { panic!() };
        let ExprKind::List(items) = &c.value.kind else { panic!() };
        assert!(matches!(items[0].kind, ExprKind::Int { value: 0o755, .. }));
        assert!(matches!(items[1].kind, ExprKind::Int { value: 31, .. }));
    }

    #[test]
    fn escapes_are_decoded() {
        let m = parse_ok("const A = \"a\\tb\\{\\u{41}\"\n");
        let Item::Const(c) = &m.items[0] else { panic!() };
        let ExprKind::Str(s) = &c.value.kind else { panic!() };
        assert_eq!(s.parts, vec![StrPart::Lit("a\tb{A".to_string())]);
    }

    #[test]
    fn files_over_4_gib_are_rejected() {
        assert!(check_size(FileId(0), MAX_SOURCE_LEN).is_none());
        let d = check_size(FileId(0), MAX_SOURCE_LEN + 1).unwrap();
        assert_eq!(d.code, Code::E0002);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_a_diagnostic() {
        let parsed = parse_bytes(FileId(0), b"const A = \"\xff\"");
        assert_eq!(parsed.diagnostics[0].code, Code::E0001);
        assert_eq!(parsed.diagnostics[0].primary_span().unwrap().start, 11);
    }

    #[test]
    fn extreme_inputs_are_bounded_without_overflowing_the_stack() {
        // Runs on a test thread with the default 2 MiB stack, in debug builds.
        let chain = format!("const A = {}1\n", "1 + ".repeat(100_000));
        assert_eq!(parse(FileId(0), &chain).diagnostics[0].code, Code::E0003);
        let defaults = format!("const A = {}1\n", "a ?? ".repeat(100_000));
        assert_eq!(parse(FileId(0), &defaults).diagnostics[0].code, Code::E0003);
        let fields = format!("const A = a{}\n", ".b".repeat(100_000));
        assert_eq!(parse(FileId(0), &fields).diagnostics[0].code, Code::E0003);
        let ifs = format!("const A = {}1\n", "if a then 1 else ".repeat(lexical::MAX_NESTING + 1));
        assert_eq!(parse(FileId(0), &ifs).diagnostics[0].code, Code::E0003);
        let at_the_limit = format!(
            "const A = {}{}1{}\n",
            "not -".repeat(lexical::MAX_NESTING / 4),
            "([".repeat(lexical::MAX_NESTING / 4),
            "])".repeat(lexical::MAX_NESTING / 4)
        );
        let parsed = parse(FileId(0), &at_the_limit);
        assert!(!parsed.diagnostics.iter().any(|d| d.code == Code::E0003), "{:?}", parsed.diagnostics);
    }

    #[test]
    fn recovery_reports_one_error_per_broken_declaration() {
        let src = "rule A \"a\" {\n  severity hgh\n  fail message \"x\"\n}\n\n\
                   rule B \"b\" {\n  severity low\n  fail when x == message \"x\"\n}\n\n\
                   rule C \"c\" {\n  severity low\n  fail message \"x\"\n}\n";
        let parsed = parse(FileId(0), src);
        let codes: Vec<Code> = parsed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::E0102, Code::E0101]);
        assert_eq!(parsed.module.items.len(), 1, "rule C still parses");
    }
}
