//! The one severity scale, shared by the language (`severity high`), rule
//! metadata in bundles, findings, reports and `--fail-on`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a finding is. Ordered: `Informational < Low < Medium < High`.
/// In a bundle it is encoded by variant index, so the order is part of the
/// format (the fingerprint test guards it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    /// Most serious first, as reports list them.
    pub const ALL: [Severity; 4] = [Severity::High, Severity::Medium, Severity::Low, Severity::Informational];

    /// The word policies and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Informational => "informational",
        }
    }

    /// Exactly one of the four words, as the language requires.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What a person may type on a command line: any case, and `info`.
    pub fn parse_loose(text: &str) -> Option<Severity> {
        let lower = text.to_ascii_lowercase();
        if lower == "info" {
            return Some(Severity::Informational);
        }
        Severity::parse(&lower)
    }

    /// The numeric severity on a 0-10 scale (as Inspector reported it, and
    /// as GitHub code scanning reads `security-severity`).
    pub fn score(self) -> f64 {
        match self {
            Severity::Informational => 0.0,
            Severity::Low => 3.0,
            Severity::Medium => 6.0,
            Severity::High => 9.0,
        }
    }
}

/// A word that is not one of the four.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotASeverity(pub String);

impl fmt::Display for NotASeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a severity: high, medium, low or informational", self.0)
    }
}

impl std::error::Error for NotASeverity {}

impl std::str::FromStr for Severity {
    type Err = NotASeverity;
    fn from_str(text: &str) -> Result<Severity, NotASeverity> {
        Severity::parse(text).ok_or_else(|| NotASeverity(text.to_owned()))
    }
}

/// A stored word (a database column): exactly one of the four.
impl TryFrom<String> for Severity {
    type Error = NotASeverity;
    fn try_from(text: String) -> Result<Severity, NotASeverity> {
        text.parse()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_order_is_by_seriousness() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert!(Severity::Informational < Severity::Low && Severity::Medium < Severity::High);
        assert_eq!(Severity::parse("High"), None);
        assert_eq!(Severity::parse_loose("High"), Some(Severity::High));
        assert_eq!(Severity::parse_loose("info"), Some(Severity::Informational));
        assert_eq!(Severity::parse_loose("critical"), None);
    }
}
