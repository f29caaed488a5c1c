//! A small Wadler-style pretty printer: a [`Doc`] describes text with optional
//! line breaks, and [`print`] picks for each group whether it fits on the rest
//! of the line (flat) or breaks. The choice depends only on the document and
//! the width, which makes formatting deterministic and idempotent.

#[derive(Clone, Debug)]
pub(crate) enum Doc {
    Text(String),
    /// A space when flat, a newline when broken.
    Line,
    /// Nothing when flat, a newline when broken.
    SoftLine,
    /// Always a newline; a group containing one is always broken.
    HardLine,
    /// Text printed only when the enclosing group is broken (trailing commas).
    IfBreak(&'static str),
    /// Text printed as is, including its newlines (kept verbatim source).
    Verbatim(String),
    Concat(Vec<Doc>),
    Indent(Box<Doc>),
    Group(Box<Doc>),
}

pub(crate) fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub(crate) fn concat(docs: impl IntoIterator<Item = Doc>) -> Doc {
    Doc::Concat(docs.into_iter().collect())
}

pub(crate) fn indent(doc: Doc) -> Doc {
    Doc::Indent(Box::new(doc))
}

pub(crate) fn group(doc: Doc) -> Doc {
    Doc::Group(Box::new(doc))
}

pub(crate) const INDENT: usize = 2;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flat,
    Break,
}

/// Prints `doc` within `width` columns.
pub(crate) fn print(doc: &Doc, width: usize) -> String {
    let mut out = String::new();
    let mut column = 0usize;
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, doc)) = stack.pop() {
        match doc {
            Doc::Text(s) => {
                out.push_str(s);
                column += s.chars().count();
            }
            Doc::Verbatim(s) => {
                out.push_str(s);
                column = match s.rfind('\n') {
                    Some(i) => s[i + 1..].chars().count(),
                    None => column + s.chars().count(),
                };
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Flat => {
                if matches!(doc, Doc::Line) {
                    out.push(' ');
                    column += 1;
                }
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                // No trailing white space on the line being ended.
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', ind));
                column = ind;
            }
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    out.push_str(s);
                    column += s.len();
                }
            }
            Doc::Concat(docs) => {
                for d in docs.iter().rev() {
                    stack.push((ind, mode, d));
                }
            }
            Doc::Indent(d) => stack.push((ind + INDENT, mode, d)),
            Doc::Group(d) => {
                let fits = mode == Mode::Flat || fits(d, width.saturating_sub(column), &stack);
                stack.push((ind, if fits { Mode::Flat } else { Mode::Break }, d));
            }
        }
    }
    out
}

/// Whether `doc`, printed flat, and whatever follows it up to the next
/// possible line break, fits in `remaining` columns.
fn fits(doc: &Doc, remaining: usize, rest: &[(usize, Mode, &Doc)]) -> bool {
    let mut remaining = remaining as isize;
    let mut stack: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest = rest.iter().rev();
    loop {
        let (mode, doc) = match stack.pop() {
            Some(item) => item,
            None => match rest.next() {
                Some((_, mode, doc)) => (*mode, *doc),
                None => return true,
            },
        };
        match doc {
            Doc::Text(s) => remaining -= s.chars().count() as isize,
            Doc::Verbatim(s) => {
                if s.contains('\n') {
                    return mode == Mode::Break;
                }
                remaining -= s.chars().count() as isize;
            }
            Doc::Line | Doc::SoftLine => {
                if mode == Mode::Break {
                    return remaining >= 0;
                }
                if matches!(doc, Doc::Line) {
                    remaining -= 1;
                }
            }
            Doc::HardLine => return mode == Mode::Break && remaining >= 0,
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    remaining -= s.len() as isize;
                }
            }
            Doc::Concat(docs) => {
                for d in docs.iter().rev() {
                    stack.push((mode, d));
                }
            }
            Doc::Indent(d) | Doc::Group(d) => stack.push((mode, d)),
        }
        if remaining < 0 {
            return false;
        }
    }
}

/// Renders a document on one line, as if every group fitted.
pub(crate) fn flat(doc: &Doc) -> String {
    let mut out = String::new();
    let mut stack = vec![doc];
    while let Some(doc) = stack.pop() {
        match doc {
            Doc::Text(s) | Doc::Verbatim(s) => out.push_str(s),
            Doc::Line => out.push(' '),
            Doc::SoftLine | Doc::IfBreak(_) => {}
            Doc::HardLine => out.push('\n'),
            Doc::Concat(docs) => stack.extend(docs.iter().rev()),
            Doc::Indent(d) | Doc::Group(d) => stack.push(d),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(Doc::Line);
            }
            inner.push(text(*item));
        }
        inner.push(Doc::IfBreak(","));
        group(concat([text("["), indent(concat(inner)), Doc::SoftLine, text("]")]))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(print(&list(&["a", "b"]), 20), "[a, b]");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_with_trailing_comma() {
        assert_eq!(print(&list(&["aaaa", "bbbb"]), 8), "[\n  aaaa,\n  bbbb,\n]");
    }

    #[test]
    fn a_hard_line_breaks_its_group() {
        let doc = group(concat([text("a"), Doc::Line, text("b"), Doc::HardLine, text("c")]));
        assert_eq!(print(&doc, 80), "a\nb\nc");
    }
}
