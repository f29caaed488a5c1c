//! W0102: an imported name that nothing uses.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{SourceMap, Span};

fn unused_import(name: &str, span: Span, removal: Option<Span>) -> Diagnostic {
    let d = Diagnostic::new(Code::W0102, format!("`{name}` is imported but never used"))
        .primary(span, "unused import")
        .help("remove it from the import");
    match removal {
        Some(removal) => d.fix(format!("Remove the unused import `{name}`"), removal, ""),
        None => d,
    }
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    let unused = input.uses.imports.iter().filter(|i| !i.used);
    out.extend(unused.map(|i| unused_import(&i.name, i.span, removal(input.sources, i.span))));
}

/// The text to delete to drop the import at `span`: a whole `import` line
/// (a module import, or the last name of a list), or one name of
/// `{a, b}` with its comma.
fn removal(sources: &SourceMap, span: Span) -> Option<Span> {
    let text = sources.get(span.file)?.text();
    let (start, end) = (span.start as usize, span.end as usize);
    let whole_line = |start: usize, end: usize| {
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        Some(Span::new(span.file, line_start as u32, line_end as u32))
    };
    if text.get(start..end)?.starts_with("import") {
        return whole_line(start, end);
    }
    let before = text.get(..start)?.trim_end();
    let after = text.get(end..)?;
    let next = after.trim_start();
    if let Some(rest) = next.strip_prefix(',') {
        // `a, b`: the name, its comma and the space up to the next name.
        let rest_at = text.len() - rest.len();
        let gap = rest.len() - rest.trim_start().len();
        let next_is_name = !rest.trim_start().starts_with('}');
        let stop = if next_is_name { rest_at + gap } else { rest_at };
        let start = if next_is_name { start } else { before.len() };
        return Some(Span::new(span.file, start as u32, stop as u32));
    }
    if before.ends_with(',') {
        // `a, b`: the last name and the comma before it.
        return Some(Span::new(span.file, (before.len() - 1) as u32, end as u32));
    }
    // The only name of `{a}`: the whole import.
    let import_at = before.rfind("import")?;
    let close = after.find('}').map(|i| end + i + 1)?;
    whole_line(import_at, close)
}
