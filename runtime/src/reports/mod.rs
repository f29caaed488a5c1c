//! Report formats over [`Report`]s: a table and an HTML page for people,
//! JSON, SARIF 2.1.0 and JUnit XML for tools; [`rulebook`] renders rule
//! documentation. A report covers one or more hosts.

pub mod html;
mod junit;
pub mod rulebook;
mod sarif;
mod sarif_group;
mod table;

use crate::findings::Report;

pub use html::html;
pub use junit::junit;
pub use sarif::{
    root_uri, sarif, sarif_grouped, sarif_of_root, uri_path, Limits as SarifLimits, LIMITS as SARIF_LIMITS,
};
pub use sarif_group::SarifGroup;
pub use table::table;

/// The JSON document: one host gives that host's report (`findings`,
/// `rules`, ...); several give `{"hosts": [...]}`.
pub fn json(reports: &[Report]) -> Result<String, RenderError> {
    let text = match reports {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(&serde_json::json!({ "hosts": many })),
    };
    let mut text = text.map_err(|e| RenderError { format: "JSON", message: e.to_string() })?;
    text.push('\n');
    Ok(text)
}

/// Text for a terminal: control characters other than newline (an escape
/// sequence planted in a collected sshd_config, a carriage return that
/// hides what precedes it) are written as `\u{1b}` escapes, so collected
/// values can never drive the terminal.
pub fn terminal_safe(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A report that could not be rendered (a bug: the types always serialize);
/// never an empty or partial document.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderError {
    pub format: &'static str,
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot render the {} report: {}", self.format, self.message)
    }
}

impl std::error::Error for RenderError {}
