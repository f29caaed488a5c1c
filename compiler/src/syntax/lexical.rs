//! A single pass over the raw text, before pest sees it.
//!
//! It finds what a PEG parser reports badly or not at all: unterminated
//! strings and bad escapes (exact spans instead of "expected ..."), plain
//! comments (which pest skips but the formatter must keep), and nesting depth
//! (so that hostile input cannot exhaust the stack of the recursive stages).

use super::errors;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Deepest nesting of brackets, interpolations and prefix operators accepted.
pub const MAX_NESTING: usize = 128;

pub(crate) struct Scan {
    /// Spans of `//` comments (not `///` or `//!`), in order.
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
    /// True when the nesting limit was exceeded; the parser must not run.
    pub too_deep: bool,
}

enum Mode {
    /// Code, with the count of `{` opened in it (for interpolations).
    Code { braces: usize },
    /// Inside a string literal that started at the given offset.
    Str { start: usize },
}

pub(crate) fn scan(file: FileId, src: &str) -> Scan {
    let bytes = src.as_bytes();
    let span = |a: usize, b: usize| Span::new(file, a as u32, b as u32);
    let mut out = Scan { comments: Vec::new(), diagnostics: Vec::new(), too_deep: false };
    let mut modes = vec![Mode::Code { braces: 0 }];
    let mut depth = 0usize;
    let mut prefix_run = 0usize;
    let mut ifs = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let nested = modes.len() > 1;
        let top = modes.len() - 1;
        match &mut modes[top] {
            Mode::Code { braces } => {
                let rest = &bytes[i..];
                let at_line_start = i == 0 || bytes[i - 1] == b'\n';
                if at_line_start
                    && [&b"rule "[..], b"fn ", b"const ", b"import "].iter().any(|k| rest.starts_with(k))
                {
                    // A new declaration: its `if` chains start from zero.
                    ifs = 0;
                }
                if rest.starts_with(b"//") {
                    let end = memchr_newline(bytes, i);
                    let is_doc =
                        (rest.starts_with(b"///") && !rest.starts_with(b"////")) || rest.starts_with(b"//!");
                    if !is_doc {
                        out.comments.push(span(i, end));
                    }
                    i = end;
                    continue;
                }
                if (b == b'r' || b == b'v') && rest.get(1) == Some(&b'"') && !prev_is_ident(bytes, i) {
                    // Raw and version literals: no escapes, no interpolation.
                    let close = bytes[i + 2..].iter().position(|&c| c == b'"' || c == b'\n');
                    match close {
                        Some(k) if bytes[i + 2 + k] == b'"' => i += 2 + k + 1,
                        _ => {
                            let end = memchr_newline(bytes, i);
                            out.diagnostics.push(unterminated(span(i, end)));
                            i = end;
                        }
                    }
                    prefix_run = 0;
                    continue;
                }
                if b == b'\n' && nested {
                    // Strings end on their line, interpolations included.
                    if let Some(Mode::Str { start }) = modes.iter().find(|m| matches!(m, Mode::Str { .. })) {
                        out.diagnostics.push(unterminated(span(*start, i)));
                    }
                    modes.truncate(1);
                    depth = 0;
                    i += 1;
                    continue;
                }
                let mut is_prefix = false;
                match b {
                    b'"' => modes.push(Mode::Str { start: i }),
                    b'(' | b'[' => depth += 1,
                    b'{' => {
                        *braces += 1;
                        depth += 1;
                    }
                    b'}' => {
                        if *braces == 0 && nested {
                            modes.pop();
                        } else {
                            *braces = braces.saturating_sub(1);
                        }
                        depth = depth.saturating_sub(1);
                    }
                    b')' | b']' => depth = depth.saturating_sub(1),
                    b'-' => is_prefix = true,
                    b'i' if rest.starts_with(b"if")
                        && !prev_is_ident(bytes, i)
                        && !rest.get(2).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') =>
                    {
                        // `else if` chains nest without brackets; count each
                        // `if` until the next declaration starts.
                        ifs += 1;
                        i += 1;
                    }
                    b'n' if rest.starts_with(b"not")
                        && !prev_is_ident(bytes, i)
                        && !rest.get(3).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') =>
                    {
                        is_prefix = true;
                        i += 2;
                    }
                    _ => {}
                }
                if is_prefix {
                    prefix_run += 1;
                } else if !b.is_ascii_whitespace() {
                    prefix_run = 0;
                }
                if depth + prefix_run + ifs > MAX_NESTING {
                    out.too_deep = true;
                    let what = errors::TooDeep::Nesting { max: MAX_NESTING };
                    out.diagnostics.push(errors::too_deep(span(i, i + 1), what));
                    return out;
                }
                i += 1;
            }
            Mode::Str { start } => {
                let start = *start;
                match b {
                    b'"' => {
                        modes.pop();
                        i += 1;
                    }
                    b'\n' => {
                        out.diagnostics.push(unterminated(span(start, i)));
                        modes.pop();
                    }
                    b'\\' => i += check_escape(bytes, i, file, &mut out.diagnostics),
                    b'{' => {
                        modes.push(Mode::Code { braces: 0 });
                        depth += 1;
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
        }
    }
    if let Some(Mode::Str { start }) = modes.iter().rev().find(|m| matches!(m, Mode::Str { .. })) {
        out.diagnostics.push(unterminated(span(*start, bytes.len())));
    }
    out
}

fn unterminated(span: Span) -> Diagnostic {
    Diagnostic::new(Code::E0104, "unterminated string")
        .primary(span, "this string has no closing `\"` on its line")
        .help("close the string on the same line; to continue a long text, start a new literal on the next line")
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |k| from + k)
}

fn prev_is_ident(bytes: &[u8], i: usize) -> bool {
    i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

/// Checks the escape starting at the backslash at `i`; returns its length.
fn check_escape(bytes: &[u8], i: usize, file: FileId, diagnostics: &mut Vec<Diagnostic>) -> usize {
    let next = bytes.get(i + 1).copied();
    match next {
        Some(b'n' | b't' | b'r' | b'\\' | b'"' | b'{' | b'}' | b'0') => 2,
        Some(b'u') if bytes.get(i + 2) == Some(&b'{') => {
            let digits = bytes[i + 3..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let close = i + 3 + digits;
            let valid = (1..=6).contains(&digits)
                && bytes.get(close) == Some(&b'}')
                && std::str::from_utf8(&bytes[i + 3..close])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .is_some();
            if valid {
                close + 1 - i
            } else {
                let end = if bytes.get(close) == Some(&b'}') { close + 1 } else { close };
                let span = Span::new(file, i as u32, end as u32);
                diagnostics.push(errors::invalid_escape(span, errors::BadEscape::Unicode));
                end - i
            }
        }
        Some(b'\n') | None => 1,
        Some(other) => {
            let len = utf8_len(other);
            let shown = std::str::from_utf8(&bytes[i..(i + 1 + len).min(bytes.len())]).unwrap_or("\\?");
            let span = Span::new(file, i as u32, (i + 1 + len) as u32);
            diagnostics.push(errors::invalid_escape(span, errors::BadEscape::Unknown(shown)));
            1 + len
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_comments_and_skips_doc_comments() {
        let src = "//! m\n/// d\n// c\nrule X \"a // not a comment\" {} // t\n";
        let s = scan(FileId(0), src);
        let texts: Vec<&str> = s.comments.iter().map(|c| &src[c.range()]).collect();
        assert_eq!(texts, ["// c", "// t"]);
        assert!(s.diagnostics.is_empty());
    }

    #[test]
    fn comments_inside_interpolated_strings_are_not_comments() {
        let src = "const A = \"x {f(\"//\")} y\" // real\n";
        let s = scan(FileId(0), src);
        assert_eq!(s.comments.len(), 1);
        assert!(s.diagnostics.is_empty());
    }

    #[test]
    fn reports_unterminated_strings_and_bad_escapes() {
        let s = scan(FileId(0), "const A = \"abc\nconst B = \"a\\qb\"\n");
        let codes: Vec<Code> = s.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::E0104, Code::E0105]);
    }

    #[test]
    fn bounds_nesting_depth() {
        let deep = format!("const A = {}1{}", "(".repeat(200), ")".repeat(200));
        assert!(scan(FileId(0), &deep).too_deep);
        let nots = format!("const A = {}true", "not ".repeat(200));
        assert!(scan(FileId(0), &nots).too_deep);
        let fine = format!("const A = {}1{}", "(".repeat(100), ")".repeat(100));
        assert!(!scan(FileId(0), &fine).too_deep);
    }
}
