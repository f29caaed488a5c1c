//! Diagnostics as data.
//!
//! Every stage reports problems as [`Diagnostic`] values: a stable [`Code`], a
//! message, labelled spans and optional help. Nothing is rendered until the
//! caller asks for it, in one place ([`render`]), as human text or JSON.

mod codes;
mod render;
mod sarif;
pub mod suggest;

pub use codes::{reference, Code, ALL_CODES};
pub use render::{render_human, render_json, ColorChoice, JsonDiagnostic};
pub use sarif::render_sarif;

use crate::source::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub level: Level,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
    /// Edits that mend the mistake (the "did you mean" of the help, a
    /// default, a guard), each one an editor's quick fix on its own.
    pub suggestions: Vec<Suggestion>,
}

/// Text to put in place of a span, and what doing so means to the author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// Imperative, for a menu: "Replace with `foo`".
    pub title: String,
    pub span: Span,
    pub replacement: String,
}

impl Diagnostic {
    /// An error with `code`; its level comes from the code table.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            level: code.level(),
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
            suggestions: Vec::new(),
        }
    }

    /// Suggests `replacement` for the text at `span` (a did-you-mean).
    pub fn suggest(self, span: Span, replacement: impl Into<String>) -> Self {
        let replacement = replacement.into();
        self.fix(format!("Replace with `{replacement}`"), span, replacement)
    }

    /// Suggests an edit titled `title`: `replacement` in place of `span`
    /// (an empty span inserts, an empty replacement deletes).
    pub fn fix(mut self, title: impl Into<String>, span: Span, replacement: impl Into<String>) -> Self {
        self.suggestions.push(Suggestion { title: title.into(), span, replacement: replacement.into() });
        self
    }

    pub fn primary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: true });
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The primary span, used for sorting and for `file:line:col`.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).or(self.labels.first()).map(|l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Sorts diagnostics by file and position so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| {
        let span = d.primary_span().unwrap_or_default();
        (span.file, span.start, span.end, d.code)
    });
}
