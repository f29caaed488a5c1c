//! The one place diagnostics become text: codespan-reporting for people,
//! JSON for editors and CI.

use super::{Diagnostic, Level};
use crate::source::SourceMap;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Never,
    Always,
}

/// Renders diagnostics the way rustc does: `error[E0101]: ...`, then
/// `file:line:col`, the source excerpt and underlines.
pub fn render_human(sources: &SourceMap, diagnostics: &[Diagnostic], color: ColorChoice) -> String {
    let mut out = match color {
        ColorChoice::Never => term::termcolor::Buffer::no_color(),
        ColorChoice::Always => term::termcolor::Buffer::ansi(),
    };
    let config = term::Config::default();
    for diagnostic in diagnostics {
        // Rendering only fails when a span points outside its file, which would
        // be a compiler bug; fall back to a plain line rather than lose it.
        if term::emit(&mut out, &config, sources, &to_codespan(diagnostic)).is_err() {
            let plain =
                format!("{}[{}]: {}\n", level_word(diagnostic.level), diagnostic.code, diagnostic.message);
            let _ = std::io::Write::write_all(&mut out, plain.as_bytes());
        }
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<crate::source::FileId> {
    let base = match d.level {
        Level::Error => cs::Diagnostic::error(),
        Level::Warning => cs::Diagnostic::warning(),
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let style = if l.primary { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
            cs::Label::new(style, l.span.file, l.span.range()).with_message(l.message.clone())
        })
        .collect();
    let mut notes: Vec<String> = d.help.iter().map(|h| format!("help: {h}")).collect();
    notes.extend(d.notes.iter().map(|n| format!("note: {n}")));
    base.with_code(d.code.as_str()).with_message(d.message.clone()).with_labels(labels).with_notes(notes)
}

/// A diagnostic as editors and CI see it: positions resolved to one-based
/// lines and columns, and byte offsets kept for tools that prefer them.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub level: Level,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub labels: Vec<JsonLabel>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub file: String,
    pub start: JsonPosition,
    pub end: JsonPosition,
    pub message: String,
    pub primary: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonPosition {
    pub offset: u32,
    pub line: usize,
    pub column: usize,
}

pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let labels: Vec<JsonLabel> = d
                .labels
                .iter()
                .filter_map(|l| {
                    let file = sources.get(l.span.file)?;
                    let position = |offset: u32| {
                        let (line, column) = file.line_col(offset);
                        JsonPosition { offset, line, column }
                    };
                    Some(JsonLabel {
                        file: file.name().to_string(),
                        start: position(l.span.start),
                        end: position(l.span.end),
                        message: l.message.clone(),
                        primary: l.primary,
                    })
                })
                .collect();
            let first = labels.iter().find(|l| l.primary).or(labels.first());
            JsonDiagnostic {
                code: d.code.as_str(),
                level: d.level,
                message: d.message.clone(),
                file: first.map(|l| l.file.clone()),
                line: first.map(|l| l.start.line),
                column: first.map(|l| l.start.column),
                help: d.help.clone(),
                notes: d.notes.clone(),
                labels,
            }
        })
        .collect()
}
