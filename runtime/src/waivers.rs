//! Waivers: findings a team has reviewed and accepted, as typed data kept
//! in git next to the packages (`docs/waivers.md`).
//!
//! A waiver names a rule and, optionally, narrows it to an asset (id or
//! hostname, with `*` and `?` globs), an asset tag and a finding
//! fingerprint. It has an owner, a justification and an expiry date, all
//! required. A finding it matches is *waived*: kept in every report with the
//! waiver, counted apart, never failing `--fail-on`. An expired waiver waives
//! nothing and raises a finding of its own; a waiver that matched nothing is
//! reported (`--fail-on-unused-waivers` makes that fail a CI run).

use crate::findings::{fingerprint, legacy_fingerprint, Finding, Identity, Report, Severity, Waived};
use serde::Deserialize;
use std::path::Path;

/// The rule id of the findings that expired waivers raise.
pub const EXPIRED_RULE: &str = "WAIVER-EXPIRED";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    waivers: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: String,
    asset: Option<String>,
    tag: Option<String>,
    fingerprint: Option<String>,
    owner: String,
    justification: String,
    expires: String,
}

/// One validated waiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiver {
    pub rule: String,
    pub asset: Option<String>,
    /// `(key, value)`; a value of `None` matches any value of the key.
    pub tag: Option<(String, Option<String>)>,
    pub fingerprint: Option<String>,
    pub owner: String,
    pub justification: String,
    /// Days since 1970-01-01 of the last day the waiver holds.
    pub expires: i64,
    pub expires_text: String,
    /// `waivers.yaml:12`: where the entry is.
    pub source: String,
}

/// Reads a waiver file; every problem names the file, the entry and what is
/// wrong (a missing owner, a date that is not `YYYY-MM-DD`, an empty
/// justification).
pub fn load(path: &Path) -> Result<Vec<Waiver>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, name: &str) -> Result<Vec<Waiver>, String> {
    let located = |e: serde_yaml::Error| match e.location() {
        Some(l) => format!("{name}:{}:{}: {e}", l.line(), l.column()),
        None => format!("{name}: {e}"),
    };
    serde_yaml::from_str::<serde_yaml::Value>(text).map_err(located)?;
    let file: File = serde_yaml::from_str(text).map_err(located)?;
    // Entry lines, for provenance: each `- rule:` starts one.
    let starts: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- "))
        .map(|(i, _)| i + 1)
        .collect();
    file.waivers
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let source = format!("{name}:{}", starts.get(i).copied().unwrap_or(0));
            let bad = |why: String| format!("{source}: waiver of {}: {why}", e.rule);
            if e.rule.trim().is_empty() {
                return Err(format!("{source}: a waiver without a rule id"));
            }
            if e.owner.trim().is_empty() {
                return Err(bad("`owner` is empty: say who answers for it".into()));
            }
            if e.justification.trim().is_empty() {
                return Err(bad("`justification` is empty: say why the finding is accepted".into()));
            }
            let expires = parse_date(&e.expires)
                .ok_or_else(|| bad(format!("`expires: {}` is not a date (YYYY-MM-DD)", e.expires)))?;
            let tag = e.tag.as_ref().map(|t| match t.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (t.clone(), None),
            });
            Ok(Waiver {
                rule: e.rule,
                asset: e.asset,
                tag,
                fingerprint: e.fingerprint,
                owner: e.owner,
                justification: e.justification,
                expires,
                expires_text: e.expires,
                source,
            })
        })
        .collect()
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i64> {
    assay_stdlib::date_days(text.trim())
}

/// Today (UTC) as days since 1970-01-01.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    secs.div_euclid(86_400)
}

fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        // Iterative with one backtrack point: linear in practice.
        let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
        while ti < t.len() {
            if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some(pi);
                mark = ti;
                pi += 1;
            } else if let Some(s) = star {
                pi = s + 1;
                mark += 1;
                ti = mark;
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == b'*')
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Waiver {
    fn matches(&self, f: &Finding) -> bool {
        if f.rule_id != self.rule {
            return false;
        }
        if let Some(a) = &self.asset {
            if !(glob(a, &f.asset.id) || glob(a, &f.asset.hostname)) {
                return false;
            }
        }
        if let Some((key, value)) = &self.tag {
            let has =
                f.asset.tags.iter().any(|t| &t.key == key && value.as_ref().is_none_or(|v| &t.value == v));
            if !has {
                return false;
            }
        }
        self.fingerprint.as_ref().is_none_or(|fp| fp == &f.fingerprint || self.pins_legacy(f))
    }

    /// Whether this waiver pins `f` by its fingerprint of earlier releases
    /// (rule, asset and message), which still matches for one release.
    fn pins_legacy(&self, f: &Finding) -> bool {
        self.fingerprint.as_deref().is_some_and(|fp| {
            fp != f.fingerprint && fp == legacy_fingerprint(&f.rule_id, &f.asset.id, &f.message)
        })
    }
}

/// What applying waivers did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Waivers that matched no finding of any report.
    pub unused: Vec<Waiver>,
    /// Waivers past their date (they waived nothing).
    pub expired: Vec<Waiver>,
    /// Waivers that matched by a fingerprint of earlier releases, with the
    /// finding's fingerprint to pin instead.
    pub legacy: Vec<(Waiver, String)>,
}

/// Marks the findings `waivers` accept, on `today` (days since 1970), and
/// adds a finding per host for each expired waiver that would have matched.
pub fn apply(waivers: &[Waiver], reports: &mut [Report], today: i64) -> Applied {
    let mut used = vec![false; waivers.len()];
    let mut applied = Applied::default();
    for report in reports.iter_mut() {
        let mut raised = Vec::new();
        for f in report.findings.iter_mut() {
            for (i, w) in waivers.iter().enumerate() {
                if !w.matches(f) {
                    continue;
                }
                used[i] = true;
                if w.pins_legacy(f) && !applied.legacy.iter().any(|(l, _)| l.source == w.source) {
                    applied.legacy.push((w.clone(), f.fingerprint.clone()));
                }
                if w.expires < today {
                    if !raised.iter().any(|(j, _): &(usize, Finding)| *j == i) {
                        raised.push((i, expired_finding(w, f)));
                    }
                    continue;
                }
                if f.waived.is_none() {
                    f.waived = Some(Waived {
                        owner: w.owner.clone(),
                        justification: w.justification.clone(),
                        expires: w.expires_text.clone(),
                        source: w.source.clone(),
                    });
                }
            }
        }
        report.findings.extend(raised.into_iter().map(|(_, f)| f));
        let instructions = report.summary.instructions;
        report.summary = crate::findings::Summary::of(&report.findings, &report.rules);
        report.summary.instructions = instructions;
    }
    for (i, w) in waivers.iter().enumerate() {
        if w.expires < today {
            applied.expired.push(w.clone());
        } else if !used[i] {
            applied.unused.push(w.clone());
        }
    }
    applied
}

fn expired_finding(w: &Waiver, covered: &Finding) -> Finding {
    let message = format!(
        "the waiver of {} at {} (owner {}) expired on {}; the findings it covered are reported again",
        w.rule, w.source, w.owner, w.expires_text
    );
    Finding {
        rule_id: EXPIRED_RULE.to_owned(),
        package: "waivers".to_owned(),
        package_version: String::new(),
        title: "A waiver expired".to_owned(),
        severity: Severity::Low,
        severity_score: Severity::Low.score(),
        description: "A waiver that accepted findings has passed its expiry date.".to_owned(),
        recommendation: "Fix the findings, or review the waiver and give it a new date.".to_owned(),
        // One per waiver and host: the waiver's entry is the item.
        fingerprint: fingerprint(&Identity {
            package: "waivers",
            rule_id: EXPIRED_RULE,
            asset_id: &covered.asset.id,
            clause: 0,
            items: std::slice::from_ref(&w.source),
        }),
        message,
        asset: covered.asset.clone(),
        attributes: covered.attributes.clone(),
        evidence: vec![],
        bundle_digest: covered.bundle_digest.clone(),
        waived: None,
        suppressed: None,
        params: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_globs() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-12-01"), Some(20_788));
        assert_eq!(parse_date("2024-02-29").map(|d| d - parse_date("2024-02-28").unwrap_or(0)), Some(1));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("tomorrow"), None);
        assert!(glob("web-*", "web-01") && glob("*", "x") && glob("h?st", "host") && !glob("web-*", "db-01"));
    }

    #[test]
    fn every_required_field_is_required_and_named() {
        let e = parse("waivers:\n  - rule: X\n    owner: a\n    justification: j\n", "w.yaml").unwrap_err();
        assert!(e.contains("missing field `expires`"), "{e}");
        let e = parse(
            "waivers:\n  - rule: X\n    owner: ' '\n    justification: j\n    expires: 2030-01-01\n",
            "w.yaml",
        )
        .unwrap_err();
        assert!(e.contains("w.yaml:2: waiver of X: `owner` is empty"), "{e}");
        let e = parse(
            "waivers:\n  - rule: X\n    owner: a\n    justification: j\n    expires: 31/12/2030\n",
            "w.yaml",
        )
        .unwrap_err();
        assert!(e.contains("is not a date"), "{e}");
        let e = parse("waivers:\n  - rule: X\n    ownr: a\n", "w.yaml").unwrap_err();
        assert!(e.contains("w.yaml:3:5") && e.contains("unknown field `ownr`"), "{e}");
    }
}
