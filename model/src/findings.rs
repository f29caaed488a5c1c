//! What an evaluation produces: one outcome per rule and asset, and findings
//! with evidence. This is the data every report format renders, and what
//! the service stores and serves (so it reads back what it wrote: every
//! type here is `Deserialize` too).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::Severity;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AssetRef {
    pub id: String,
    pub hostname: String,
    pub tags: Vec<KeyValue>,
    /// The host's IP addresses, where an agent reported them (the service
    /// fills them in; a local scan leaves them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A telemetry value a rule read to decide, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Evidence {
    /// `host.sshd.permit_root_login`, or `host.listeners[].port` inside a loop.
    pub path: String,
    pub value: String,
    /// `/etc/ssh/sshd_config:32`, or a note such as `OpenSSH default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Finding {
    pub rule_id: String,
    pub package: String,
    pub package_version: String,
    pub title: String,
    pub severity: Severity,
    pub severity_score: f64,
    pub description: String,
    pub recommendation: String,
    /// What the rule's `message` said about this item.
    pub message: String,
    pub asset: AssetRef,
    pub attributes: Vec<KeyValue>,
    pub evidence: Vec<Evidence>,
    /// Stable across runs for the same rule, asset and offending item.
    pub fingerprint: String,
    pub bundle_digest: String,
    /// Set when a waiver accepts this finding: it is kept in every report,
    /// counted apart, and never fails `--fail-on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waived>,
    /// Set when a VEX statement says the vulnerability does not affect the
    /// package (`not_affected`, `fixed`): kept in every report, counted
    /// apart, and never failing `--fail-on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
    /// The values of its package's parameters when it was found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

/// The waiver that accepted a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Waived {
    pub owner: String,
    pub justification: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    /// The waiver file and its entry (`waivers.yaml:12`).
    pub source: String,
}

/// The VEX statement that suppressed a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Suppressed {
    /// `not_affected` or `fixed`.
    pub status: String,
    /// The statement's justification and impact statement, as given.
    pub justification: String,
    /// The VEX document, the statement and its author.
    pub source: String,
}

/// What identifies a finding, never its rendered text: rewording a message,
/// or a value in it changing, keeps the fingerprint (and the waivers and
/// fleet history pinned to it).
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    pub package: &'a str,
    pub rule_id: &'a str,
    pub asset_id: &'a str,
    /// Which of the rule's `fail` clauses fired, counted from 0 in source
    /// order: two clauses of one rule are two findings.
    pub clause: usize,
    /// The items the finding is about: each evidence path up to its item
    /// (`host.packages["openssl"]`, `host.listeners[22]`,
    /// `host.json("/etc/docker/daemon.json", "icc")`), sorted, once each,
    /// then the plain values of the `for each` loops around the clause
    /// (`each auth`); empty for a rule about the host as a whole.
    pub items: &'a [String],
}

/// Hex SHA-256 (first 16 bytes) of a finding's [`Identity`].
pub fn fingerprint(id: &Identity<'_>) -> String {
    let mut h = Sha256::new();
    let clause = id.clause.to_string();
    for part in ["assay-finding-2", id.package, id.rule_id, id.asset_id, clause.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for item in id.items {
        h.update(item.as_bytes());
        h.update([0]);
    }
    crate::hex::encode(&h.finalize()[..16])
}

/// The items of evidence paths, as [`Identity::items`] wants them: each
/// path cut after its last `]` or `)`, sorted and deduplicated; paths that
/// name no item (`host.sshd.permit_root_login`) give none.
pub fn identity_items<'e>(paths: impl IntoIterator<Item = &'e str>) -> Vec<String> {
    let mut items: Vec<String> = paths
        .into_iter()
        .filter_map(|p| {
            let end = p.rfind([']', ')'])?;
            Some(p[..=end].to_owned())
        })
        .collect();
    items.sort();
    items.dedup();
    items
}

/// The fingerprint of earlier releases, from the rule id, asset id and
/// message. Waivers and fleet findings pinned to one still match, for one
/// release (docs/waivers.md).
pub fn legacy_fingerprint(rule_id: &str, asset_id: &str, message: &str) -> String {
    let mut h = Sha256::new();
    for part in [rule_id, asset_id, message] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    crate::hex::encode(&h.finalize()[..16])
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed {
        findings: usize,
    },
    /// The host is out of the rule's scope (no sshd, another platform).
    NotApplicable {
        reason: String,
    },
    /// The rule could not be evaluated: an input it reads was not provided
    /// (no vulnerability feed, a sensor that failed, a live-only sensor on a
    /// root file system). Not a pass: a gate treats it as incomplete.
    Skipped {
        reason: String,
    },
    /// The evaluation faulted (a budget exceeded, ...); `location` is the
    /// rule's source line.
    Error {
        reason: String,
    },
}

impl Outcome {
    /// Every outcome's name, as reports and policy tests write them.
    pub const NAMES: [&'static str; 5] = ["passed", "failed", "not applicable", "skipped", "error"];

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::NotApplicable { .. } => "not applicable",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Error { .. } => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleResult {
    pub rule_id: String,
    pub package: String,
    pub title: String,
    pub severity: Severity,
    pub asset_id: String,
    /// Where the rule is defined (`ssh-hardening/rules.assay:12`).
    pub location: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One evaluation of a bundle against one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Report {
    pub bundle_digest: String,
    pub asset: AssetRef,
    pub findings: Vec<Finding>,
    pub rules: Vec<RuleResult>,
    pub summary: Summary,
    /// The value of every package parameter in this evaluation
    /// (`ssh-hardening.MAX_AUTH_TRIES` = `3`), set or default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Summary {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub informational: usize,
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Findings accepted by a waiver (not counted by severity above).
    pub waived: usize,
    /// Findings a VEX statement suppressed (not counted by severity above).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: usize,
    /// VM instructions executed for this host (all rules and constants).
    pub instructions: u64,
}

impl Summary {
    pub fn of(findings: &[Finding], rules: &[RuleResult]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            if f.waived.is_some() {
                s.waived += 1;
                continue;
            }
            if f.suppressed.is_some() {
                s.suppressed += 1;
                continue;
            }
            match f.severity {
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Informational => s.informational += 1,
            }
        }
        for r in rules {
            match r.outcome {
                Outcome::Passed => s.passed += 1,
                Outcome::Failed { .. } => s.failed += 1,
                Outcome::NotApplicable { .. } => s.not_applicable += 1,
                Outcome::Skipped { .. } => s.skipped += 1,
                Outcome::Error { .. } => s.errors += 1,
            }
        }
        s
    }
}

impl Report {
    /// Whether any finding is at or above `threshold`.
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.waived.is_none() && f.suppressed.is_none() && f.severity >= threshold)
    }

    /// Rules that were not fully evaluated: errors always, skipped ones
    /// unless `allow_skipped`.
    pub fn incomplete(&self, allow_skipped: bool) -> Vec<&RuleResult> {
        self.rules
            .iter()
            .filter(|r| match r.outcome {
                Outcome::Error { .. } => true,
                Outcome::Skipped { .. } => !allow_skipped,
                _ => false,
            })
            .collect()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
