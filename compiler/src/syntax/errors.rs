//! Turns pest's "expected X, Y or Z" into sentences a policy author reads:
//! what was expected, in words, what was found, and a "did you mean" when the
//! found word is close to an expected keyword.

use super::parser::Rule;
use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};

const SEVERITIES: [&str; 4] = ["high", "medium", "low", "informational"];
const OPERATOR_WORDS: [&str; 9] = ["in", "not", "and", "or", "is", "starts", "ends", "contains", "matches"];
const CLAUSES: [&str; 11] = [
    "severity",
    "description",
    "rationale",
    "recommendation",
    "references",
    "tags",
    "platform",
    "applies",
    "let",
    "for",
    "fail",
];

/// What the parser wanted at the error position, grouped for people.
#[derive(Default)]
struct Expected {
    /// Human phrases in the order first seen, without duplicates.
    phrases: Vec<String>,
    /// Keywords and punctuation that were acceptable, for "did you mean".
    words: Vec<String>,
    severity: bool,
    clause: bool,
    declaration: bool,
    expression: bool,
    operator: bool,
}

impl Expected {
    fn add(&mut self, phrase: impl Into<String>) {
        let phrase = phrase.into();
        if !self.phrases.contains(&phrase) {
            self.phrases.push(phrase);
        }
    }

    fn keyword(&mut self, word: &str) {
        if !self.words.iter().any(|w| w == word) {
            self.words.push(word.to_string());
        }
        self.add(format!("`{word}`"));
    }
}

/// E0003: input deeper than the parser's bounds.
pub(crate) enum TooDeep<'a> {
    /// Brackets and prefix operators, counted before parsing.
    Nesting { max: usize },
    /// Binary operations in one expression.
    Operations { max: u32 },
    /// pest's own call or stack limit, with its message.
    ParserLimit(&'a str),
}

pub(crate) fn too_deep(span: Span, what: TooDeep<'_>) -> Diagnostic {
    match what {
        TooDeep::Nesting { max } => Diagnostic::new(Code::E0003, "expression nested too deeply")
            .primary(span, format!("more than {max} levels deep here"))
            .help("name intermediate values with `let` to flatten the expression"),
        TooDeep::Operations { max } => Diagnostic::new(Code::E0003, "expression nested too deeply")
            .primary(span, format!("more than {max} operations deep"))
            .help("name intermediate values with `let` to flatten the expression"),
        TooDeep::ParserLimit(message) => Diagnostic::new(Code::E0003, "input is too complex to parse")
            .primary(span, message.to_owned())
            .help("split the declaration into smaller parts"),
    }
}

/// E0109: a doc comment with nothing after it to document.
fn misplaced_doc(span: Span) -> Diagnostic {
    Diagnostic::new(Code::E0109, "doc comment in the wrong place")
        .primary(span, "this doc comment documents nothing")
        .help("doc comments go right above a rule, function or constant; use `//` for a plain comment")
}

/// E0105: a backslash escape in a string that means nothing.
pub(crate) enum BadEscape<'a> {
    /// `\u{...}` that names no Unicode scalar value.
    Unicode,
    /// Any other escape, as written.
    Unknown(&'a str),
}

pub(crate) fn invalid_escape(span: Span, what: BadEscape<'_>) -> Diagnostic {
    match what {
        BadEscape::Unicode => Diagnostic::new(Code::E0105, "invalid unicode escape")
            .primary(span, "not a valid `\\u{...}` escape")
            .help("write one to six hexadecimal digits naming a Unicode scalar value, as in `\\u{1F512}`"),
        BadEscape::Unknown(shown) => Diagnostic::new(
            Code::E0105,
            format!("invalid escape sequence `{shown}`"),
        )
        .primary(span, "unknown escape")
        .help(
            "valid escapes are `\\n`, `\\t`, `\\r`, `\\0`, `\\\\`, `\\\"`, `\\{`, `\\}` and `\\u{...}`; \
                 for regular expressions use a raw string: r\"...\"",
        ),
    }
}

/// `text` is what pest parsed, starting at `offset` in the file `src`; when
/// it is one declaration, its end is not the file's, and the token found there
/// is the next declaration's first word.
pub(crate) fn syntax_error(
    file: FileId,
    src: &str,
    text: &str,
    offset: u32,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let file_pos = offset as usize + pos;
    let (found, found_len) = found_at(src, skip_trivia(src, file_pos));
    let pos = skip_trivia(src, file_pos) - offset as usize;
    let span = Span::new(file, offset + pos as u32, offset + (pos + found_len) as u32);

    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { message } => {
            // pest's own call or stack limit.
            return too_deep(span, TooDeep::ParserLimit(message));
        }
    };

    if let Some(d) = unclosed_at_error(file, text, offset, pos, &found) {
        return d;
    }

    if found.starts_with("///") || found.starts_with("//!") {
        return misplaced_doc(span);
    }

    if let Some(doc) = dangling_doc(text, pos) {
        return misplaced_doc(Span::new(file, offset + doc.0 as u32, offset + doc.1 as u32));
    }

    let mut expected = Expected::default();
    for rule in &positives {
        describe_rule(*rule, &mut expected);
    }
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            // `ParsingToken` is not exported; its Display is the literal text
            // (ranges print as `a..z` and built-ins as `BUILTIN_RULE`).
            let token = token.to_string();
            if token != "BUILTIN_RULE" && !(token.len() == 4 && token.contains("..")) {
                describe_token(&token, &mut expected);
            }
        }
    }
    if expected.expression {
        // List and parenthesis openers are "an expression".
        expected.phrases.retain(|p| p != "`[`" && p != "`(`" && p != "`not`" && p != "`-`");
    }
    if expected.operator {
        // Word operators and the call bracket are "an operator" too.
        expected.phrases.retain(|p| {
            !OPERATOR_WORDS.iter().any(|w| p.trim_matches('`') == *w) && p != "`(`" && p != "`.{`"
        });
        expected.add("an operator");
    }
    let found_text = describe_found(&found);

    if expected.severity && is_word(&found) {
        let mut d = Diagnostic::new(Code::E0102, format!("unknown severity `{found}`"))
            .primary(span, "not a severity")
            .help("a severity is one of `high`, `medium`, `low` or `informational`");
        if let Some(s) = did_you_mean(&found, SEVERITIES) {
            d = d.note(format!("did you mean `{s}`?")).suggest(span, s);
        }
        return d;
    }

    if expected.clause && is_word(&found) {
        let mut d = Diagnostic::new(Code::E0103, format!("unknown rule clause `{found}`"))
            .primary(span, "not a rule clause")
            .help(
                "a rule clause starts with `severity`, `description`, `rationale`, `recommendation`, \
                 `references`, `tags`, `platform`, `applies when`, `let`, `for each` or `fail`",
            );
        if let Some(s) = did_you_mean(&found, CLAUSES) {
            d = d.note(format!("did you mean `{s}`?")).suggest(span, s);
        }
        return d;
    }

    let list = join_or(&expected.phrases);
    let message = if list.is_empty() {
        format!("unexpected {found_text}")
    } else {
        format!("expected {list}, found {found_text}")
    };
    let label = match expected.phrases.first() {
        Some(first) if expected.phrases.len() == 1 => format!("expected {first}"),
        _ => format!("unexpected {found_text}"),
    };
    let mut d = Diagnostic::new(Code::E0101, message).primary(span, label);
    if is_word(&found) {
        if let Some(s) = did_you_mean(&found, expected.words.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{s}`?"));
        }
    }
    if found.starts_with('"') && src[..file_pos].trim_end().ends_with(" message") {
        d = d.help("`message` was read as a name: the condition before it looks incomplete");
    }
    if found == "=" && expected.operator {
        d = d.help("to compare, write `==`");
    }
    let rest = &src[file_pos.min(src.len())..];
    if expected.severity && found.starts_with('"') {
        d = d.help(format!("a severity is a word, not a string: `severity {}`", found.trim_matches('"')));
    } else if rest.starts_with("&&") {
        d = d.help("write `and`");
    } else if rest.starts_with("||") {
        d = d.help("write `or`");
    } else if rest.starts_with('!') && !rest.starts_with("!=") {
        d = d.help("write `not`");
    } else if found == "not" && expected.words.iter().any(|w| w == "present") {
        d = d.help("`is not` is not an operator: write `x is absent` (or `x is present`), or `not (...)`");
    } else if found == "[" && expected.operator {
        match index_fix(src, span.start as usize) {
            Some(fix) => {
                let help = match fix.lookup {
                    true => format!(
                        "values are not indexed with `[...]`: look the item up by name, `{}`",
                        fix.replacement
                    ),
                    false => format!(
                        "values are not indexed with `[...]`: pick an item of a list with `find`, `{}`",
                        fix.replacement
                    ),
                };
                let at = Span::new(file, fix.range.start as u32, fix.range.end as u32);
                d = d.help(help).suggest(at, fix.replacement);
            }
            None => {
                d = d.help(
                    "values are not indexed with `[...]`: pick an item of a list with `find`, as in \
                     `find(p in host.packages where p.name == \"openssh-server\")`",
                );
            }
        }
    }
    d
}

/// What `base[key]` was meant to be.
struct IndexFix {
    /// The text from `base` to the `]`.
    range: std::ops::Range<usize>,
    replacement: String,
    /// A lookup by name (`host.sysctl(key)`) rather than a `find`.
    lookup: bool,
}

/// `base[key]` where `base` is a dotted path: the lookup by name for the
/// lists the collector fills by name (E0312 rejects a `find` over them), a
/// `find` by `name` for any other list.
fn index_fix(src: &str, open: usize) -> Option<IndexFix> {
    let before = src.get(..open)?;
    let base_start = before.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '.').len();
    let base = &before[base_start..];
    if base.is_empty() || base.starts_with('.') || base.ends_with('.') {
        return None;
    }
    let rest = src.get(open + 1..)?;
    let close = rest.find([']', '\n'])?;
    let key = rest[..close].trim();
    if !rest[close..].starts_with(']') || key.is_empty() || key.contains(['[', ']']) {
        return None;
    }
    let lookup = match base {
        "host.kernel.parameters" | "host.sysctl" => Some("host.sysctl"),
        "host.kernel.modules" | "host.module" => Some("host.module"),
        "host.files" | "host.file" => Some("host.file"),
        _ => None,
    };
    let replacement = match lookup {
        Some(f) => format!("{f}({key})"),
        None => format!("find(x in {base} where x.name == {key})"),
    };
    Some(IndexFix { range: base_start..open + 1 + close + 1, replacement, lookup: lookup.is_some() })
}

/// E0116 when the error is where an unclosed `{`, `(` or `[` ran into
/// something that cannot be inside it: the next declaration, the end of the
/// text, or (for `(` and `[`) a later line.
fn unclosed_at_error(file: FileId, text: &str, offset: u32, pos: usize, found: &str) -> Option<Diagnostic> {
    let (open, delimiter) = unclosed(text, pos)?;
    let line_start = pos == 0 || text.get(..pos).is_some_and(|t| t.ends_with('\n'));
    let declaration =
        ["rule", "fn", "const", "import"].contains(&found) || (found.starts_with("///") && line_start);
    let later_line = text.get(open..pos).is_some_and(|s| s.contains('\n'));
    let ends = found.is_empty() || declaration;
    let what = match delimiter {
        b'{' if !ends => return None,
        b'{' => {
            let line_start = text.get(..open).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
            let line = text.get(line_start..).unwrap_or("").trim_start();
            if line.starts_with("rule ") {
                "this rule"
            } else if line.starts_with("fn ") {
                "this function"
            } else {
                "this `{`"
            }
        }
        b'(' if ends || later_line => "this `(`",
        b'[' if ends || later_line => "this `[`",
        _ => return None,
    };
    let close = match delimiter {
        b'{' => '}',
        b'(' => ')',
        _ => ']',
    };
    let at = |a: usize, b: usize| Span::new(file, offset + a as u32, offset + b as u32);
    let found_span = at(pos, pos + found.len());
    let noticed = if found.is_empty() {
        "the text ends here".to_owned()
    } else {
        format!("`{found}` is not inside it")
    };
    Some(unclosed_delimiter(at(open, open + 1), what, close, found_span, noticed))
}

/// E0116: a `{`, `(` or `[` never closed.
fn unclosed_delimiter(open: Span, what: &str, close: char, noticed_at: Span, noticed: String) -> Diagnostic {
    Diagnostic::new(Code::E0116, format!("{what} is not closed"))
        .primary(open, format!("{} opened here", what.trim_start_matches("this ")))
        .secondary(noticed_at, noticed)
        .help(format!("add the closing `{close}` where it ends"))
}

/// The innermost `{`, `(` or `[` still open at `upto`, outside strings and
/// comments (interpolations inside strings are code again).
fn unclosed(text: &str, upto: usize) -> Option<(usize, u8)> {
    let b = text.as_bytes();
    let upto = upto.min(b.len());
    // Openers, strings (`"`) and interpolations (`I`).
    let mut stack: Vec<(usize, u8)> = Vec::new();
    let mut i = 0;
    while i < upto {
        let c = b[i];
        if stack.last().is_some_and(|(_, d)| *d == b'"') {
            match c {
                b'\\' => i += 1,
                b'"' | b'\n' => {
                    stack.pop();
                }
                b'{' => stack.push((i, b'I')),
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..upto].iter().position(|&x| x == b'\n').map_or(upto, |n| i + n);
                continue;
            }
            b'r' | b'v'
                if b.get(i + 1) == Some(&b'"')
                    && !(i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let close = b.get(i + 2..upto).unwrap_or(&[]).iter().position(|&x| x == b'"' || x == b'\n');
                i = close.map_or(upto, |k| i + 2 + k + 1);
                continue;
            }
            b'"' => stack.push((i, b'"')),
            b'(' | b'[' | b'{' => stack.push((i, c)),
            b')' | b']' | b'}' => {
                let matches =
                    |d: u8| matches!((d, c), (b'(', b')') | (b'[', b']') | (b'{', b'}') | (b'I', b'}'));
                if stack.last().is_some_and(|(_, d)| matches(*d)) {
                    stack.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    stack.into_iter().rev().find(|(_, d)| matches!(d, b'(' | b'[' | b'{'))
}

fn describe_rule(rule: Rule, expected: &mut Expected) {
    use Rule::*;
    match rule {
        EOI => expected.add("end of file"),
        ident => expected.add("a name"),
        field_name => expected.add("a field name"),
        rule_id => expected.add("a rule id such as `BP-SSH-001`"),
        string | text | raw_string | text_list => expected.add("a string"),
        severity_level => {
            expected.severity = true;
            expected.add("a severity: `high`, `medium`, `low` or `informational`");
        }
        type_expr => expected.add("a type"),
        expr | operand | paren | list | if_expr | quantifier | quantifier_kind | bool_lit | integer
        | version_lit | op_not | op_neg => {
            if !expected.expression {
                expected.expression = true;
                expected.add("an expression");
            }
        }
        op_or | op_and | op_eq | op_ne | op_le | op_ge | op_lt | op_gt | op_not_in | op_in
        | op_starts_with | op_ends_with | op_contains | op_matches | op_default | op_add | op_sub
        | op_mul | op_div | op_rem | op_is_present | op_is_absent | field | call_args => {
            expected.operator = true
        }
        decl | doc | import_decl | kw_import | kw_rule | kw_fn | kw_const | module_doc => {
            if !expected.declaration {
                expected.declaration = true;
                expected.add("a declaration (`rule`, `fn`, `const` or `import`)");
                for w in ["rule", "fn", "const", "import"] {
                    expected.words.push(w.to_string());
                }
            }
        }
        kw_severity | kw_description | kw_rationale | kw_recommendation | kw_references | kw_tags
        | kw_platform | kw_applies | let_stmt | kw_let | for_each | kw_for | fail_clause | kw_fail => {
            if !expected.clause {
                expected.clause = true;
                expected.add("a rule clause");
                for w in CLAUSES {
                    expected.words.push(w.to_string());
                }
            }
        }
        where_clause | kw_where => expected.keyword("where"),
        params | param => expected.add("a parameter"),
        block => expected.keyword("{"),
        import_names => expected.add("`.{`"),
        other => {
            let name = format!("{other:?}");
            if let Some(word) = name.strip_prefix("kw_") {
                expected.keyword(word);
            }
        }
    }
}

fn describe_token(token: &str, expected: &mut Expected) {
    match token {
        // Operator characters are covered by "an operator"; `-` may be a
        // prefix, so it says nothing on its own.
        "-" => {}
        "==" | "!=" | "<=" | ">=" | "<" | ">" | "??" | "+" | "*" | "/" | "%" | "." | "!" | "=" | "?" => {
            expected.operator = true;
        }
        // Inside keyword and literal rules; the rule itself was described.
        _ if token.chars().all(|c| c.is_ascii_alphabetic()) => {}
        "\"" | "r\"" | "v\"" | "0x" | "0o" | "_" | "//" | "///" | "//!" => {}
        // White space is never worth suggesting.
        _ if token.trim().is_empty() => {}
        _ => expected.keyword(token),
    }
}

/// The first position at or after `pos` that is not white space; pest
/// reports some errors before the white space it would have skipped.
fn skip_trivia(src: &str, pos: usize) -> usize {
    let rest = src.get(pos..).unwrap_or("");
    pos + (rest.len() - rest.trim_start().len())
}

/// A `///` line directly before the end of the input or a closing brace:
/// nothing follows for it to document. Returns its byte range.
fn dangling_doc(text: &str, pos: usize) -> Option<(usize, usize)> {
    let rest = text.get(pos..)?.trim_start();
    if !(rest.is_empty() || rest.starts_with('}')) {
        return None;
    }
    let before = text.get(..pos)?.trim_end();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before[line_start..].trim_start();
    (line.starts_with("///") && !line.starts_with("////")).then(|| (before.len() - line.len(), before.len()))
}

/// The token at `pos`: a word, a doc-comment marker, a string, one character,
/// or the end of the input (empty).
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    if rest.is_empty() {
        return (String::new(), 0);
    }
    if rest.starts_with("///") || rest.starts_with("//!") {
        let len = rest.find('\n').unwrap_or(rest.len());
        return (rest[..len].to_string(), len);
    }
    let word_len: usize =
        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').map(char::len_utf8).sum();
    if word_len > 0 {
        return (rest[..word_len].to_string(), word_len);
    }
    if let Some(body) = rest.strip_prefix('"') {
        let len = body.find(['"', '\n']).map_or(rest.len(), |i| i + 2).min(rest.len());
        return (rest[..len].to_string(), len);
    }
    for op in ["==", "!=", "<=", ">=", "??", "->"] {
        if rest.starts_with(op) {
            return (op.to_string(), op.len());
        }
    }
    let c = rest.chars().next().map_or(1, char::len_utf8);
    (rest[..c].to_string(), c)
}

fn is_word(found: &str) -> bool {
    found.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

fn describe_found(found: &str) -> String {
    if found.is_empty() {
        "end of file".to_string()
    } else if found == "\n" {
        "end of line".to_string()
    } else if found.chars().any(char::is_control) {
        format!("`{}`", found.escape_debug())
    } else {
        format!("`{found}`")
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_or_reads_like_a_sentence() {
        let items = ["`a`".to_string(), "`b`".to_string(), "`c`".to_string()];
        assert_eq!(join_or(&items), "`a`, `b` or `c`");
        assert_eq!(join_or(&items[..1]), "`a`");
    }

    #[test]
    fn found_token_is_a_whole_word() {
        assert_eq!(found_at("abc def", 0), ("abc".to_string(), 3));
        assert_eq!(found_at("== 1", 0), ("==".to_string(), 2));
        assert_eq!(found_at("é", 0), ("é".to_string(), 2));
        assert_eq!(found_at("", 0), (String::new(), 0));
    }
}
