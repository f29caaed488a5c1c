//! `assay feed import --severities FILE`: ratings for advisories their
//! feed does not rate (Debian's records from changelogs often carry none),
//! keyed by CVE or advisory id. One JSON object per line:
//!
//! ```text
//! {"id": "CVE-2024-6387", "cvss_vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}
//! {"id": "CVE-2023-1234", "severity": "low"}
//! ```
//!
//! A rating applies only to an advisory the feed leaves unrated: a
//! severity the advisory states itself is never overridden.

use super::{cvss, Feed};
use assay_model::telemetry::AdvisorySeverity;
use serde::Deserialize;
use std::collections::HashMap;

/// The most lines read: a severities file is input too.
pub const MAX_LINES: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    #[serde(default)]
    cvss_vector: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

/// The ratings of a severities file, by id: each with what it was rated by.
pub fn parse(text: &str, file: &str) -> Result<HashMap<String, (AdvisorySeverity, String)>, String> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if i >= MAX_LINES {
            return Err(format!("{file}: more than {MAX_LINES} lines"));
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = |why: String| format!("{file}:{}: {why}", i + 1);
        let l: Line = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        let rated = match (&l.cvss_vector, &l.severity) {
            (Some(v), None) => {
                let base = cvss::base_score(v)
                    .ok_or_else(|| at(format!("`{v}` is not a CVSS v3.0, v3.1 or v4.0 vector")))?;
                (cvss::level(base), format!("{v} (base score {base:.1}, imported from {file})"))
            }
            (None, Some(s)) => {
                // The words a feed's databases use (`moderate`, Debian's
                // urgencies), read as the OSV import reads them.
                let level = super::osv::word(s)
                    .filter(|l| *l != AdvisorySeverity::Unknown)
                    .ok_or_else(|| at(format!("`{s}` is not critical, high, medium or low")))?;
                (level, format!("severity {s} imported from {file}"))
            }
            _ => return Err(at("give one of `cvss_vector` and `severity`".to_owned())),
        };
        out.insert(l.id, rated);
    }
    Ok(out)
}

/// Rates the unrated advisories of `feed` whose id or a CVE of which has a
/// rating; returns how many.
pub fn apply(feed: &mut Feed, ratings: &HashMap<String, (AdvisorySeverity, String)>) -> usize {
    let mut rated = 0;
    for a in feed.advisories.iter_mut().filter(|a| a.severity.is_none()) {
        let found = std::iter::once(&a.id).chain(&a.cves).find_map(|id| ratings.get(id));
        if let Some((level, source)) = found {
            a.severity = Some(*level);
            a.severity_source = Some(source.clone());
            rated += 1;
        }
    }
    rated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Advisory;

    #[test]
    fn ratings_apply_to_unrated_advisories_only() {
        let text =
            "{\"id\": \"CVE-2024-1\", \"cvss_vector\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}\n\n\
                    {\"id\": \"DEBIAN-CVE-2024-2\", \"severity\": \"Moderate\"}\n";
        let ratings = parse(text, "s.jsonl").unwrap();
        let advisory = |id: &str, cve: &str, severity| Advisory {
            id: id.into(),
            cves: vec![cve.into()],
            severity,
            ..Advisory::default()
        };
        let mut feed = Feed {
            advisories: vec![
                advisory("DEBIAN-CVE-2024-1", "CVE-2024-1", None),
                advisory("DEBIAN-CVE-2024-2", "CVE-2024-2", None),
                advisory("GHSA-x", "CVE-2024-1", Some(AdvisorySeverity::Low)),
                advisory("DEBIAN-CVE-2024-3", "CVE-2024-3", None),
            ],
        };
        assert_eq!(apply(&mut feed, &ratings), 2);
        let a = &feed.advisories;
        assert_eq!(a[0].severity, Some(AdvisorySeverity::Critical));
        assert_eq!(
            a[0].severity_source.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (base score 9.8, imported from s.jsonl)")
        );
        assert_eq!(a[1].severity, Some(AdvisorySeverity::Medium));
        assert_eq!(a[2].severity, Some(AdvisorySeverity::Low), "a stated severity is kept");
        assert_eq!(a[3].severity, None);
    }

    #[test]
    fn bad_lines_are_refused_with_their_line() {
        let err = |text: &str| parse(text, "s.jsonl").unwrap_err();
        assert_eq!(err("{\"id\": \"x\"}"), "s.jsonl:1: give one of `cvss_vector` and `severity`");
        assert!(err("\n{\"id\": \"x\", \"severity\": \"bad\"}").starts_with("s.jsonl:2: `bad` is not"));
        assert!(err("{\"id\": \"x\", \"cvss_vector\": \"CVSS:3.1/AV:Q\"}")
            .contains("not a CVSS v3.0, v3.1 or v4.0 vector"));
        assert!(err("not json").starts_with("s.jsonl:1: "));
        assert!(err("{\"id\": \"x\", \"severity\": \"low\", \"extra\": 1}").contains("unknown field"));
    }
}
