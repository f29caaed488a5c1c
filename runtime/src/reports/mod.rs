//! Report formats over [`Report`]s: a table for people, JSON, SARIF 2.1.0
//! and JUnit XML for tools. A report covers one or more hosts.

mod html;
mod junit;
pub mod rulebook;
mod sarif;
mod table;

use crate::findings::Report;

pub use html::html;
pub use junit::junit;
pub use sarif::sarif;
pub use table::table;

/// The JSON document: one host gives that host's report (`findings`,
/// `rules`, ...); several give `{"hosts": [...]}`.
pub fn json(reports: &[Report]) -> String {
    let text = match reports {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(&serde_json::json!({ "hosts": many })),
    };
    let mut text = text.unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    text.push('\n');
    text
}
