//! W0101: a `let` binding that nothing reads.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{SourceMap, Span};

fn unused_binding(name: &str, span: Span, line: Option<Span>) -> Diagnostic {
    let d = Diagnostic::new(Code::W0101, format!("`{name}` is bound but never used"))
        .primary(span, "unused")
        .help(format!("remove the `let`, or name it `_{name}` if it is there on purpose"))
        .suggest(span, format!("_{name}"));
    match line {
        Some(line) => d.fix(format!("Remove the unused `let {name}`"), line, ""),
        None => d,
    }
}

/// A name starting with `_` says the binding is unused on purpose.
pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    let unused = input.uses.bindings.iter().filter(|b| !b.used && !b.name.starts_with('_'));
    out.extend(unused.map(|b| unused_binding(&b.name, b.span, let_line(input.sources, b.span, &b.name))));
}

/// The whole line of `let NAME = ...` when the binding is written on one
/// line of its own (brackets closed, the next line no deeper), so deleting
/// the line removes exactly the binding.
fn let_line(sources: &SourceMap, name: Span, text_name: &str) -> Option<Span> {
    let text = sources.get(name.file)?.text();
    let start = text[..name.start as usize].rfind('\n').map_or(0, |i| i + 1);
    let end = text[name.start as usize..].find('\n').map_or(text.len(), |i| name.start as usize + i + 1);
    let line = &text[start..end];
    let indent = line.len() - line.trim_start().len();
    if !line.trim_start().starts_with(&format!("let {text_name} ")) {
        return None;
    }
    let depth = line.chars().fold(0i32, |d, c| match c {
        '(' | '[' | '{' => d + 1,
        ')' | ']' | '}' => d - 1,
        _ => d,
    });
    let next = text[end..].lines().next().unwrap_or("");
    let next_indent = next.len() - next.trim_start().len();
    let continues = !next.trim().is_empty() && next_indent > indent;
    (depth == 0 && !line.contains('"') && !continues).then(|| Span::new(name.file, start as u32, end as u32))
}
