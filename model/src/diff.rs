//! What `assay diff` and a server's preview of a package version report:
//! rules added, removed, changed in logic or metadata, and the hosts whose
//! outcome flips. Computed by `assay_runtime::diff`; here so the service's
//! wire types can name it.

use crate::Severity;
use serde::{Deserialize, Serialize};

/// One side of a comparison, as the report names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SideInfo {
    /// What the user gave (`main:policies/my-team`, a folder, a bundle).
    pub label: String,
    pub digest: String,
    /// `name@version` of every package.
    pub packages: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    /// The compiled code, platforms or what the rule reads changed.
    Logic,
    /// Only what describes the rule (severity, title, texts, tags).
    Metadata,
    /// Neither; listed only when an outcome flipped anyway.
    Unchanged,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Logic => "logic",
            Change::Metadata => "metadata",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One host whose outcome of a rule differs between the sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Flip {
    pub host: String,
    /// The agent, when a server evaluated the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The outcome's name (`passed`, `failed`, `not applicable`,
    /// `skipped`, `error`), or `absent` where the side has no such rule.
    pub old: String,
    pub new: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleDiff {
    pub rule_id: String,
    pub package: String,
    pub title: String,
    pub change: Change,
    /// The metadata fields that differ (`severity`, `title`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Present when the severity differs (or on one side only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flips: Vec<Flip>,
    /// Hosts evaluated whose outcome of this rule is the same on both sides.
    #[serde(default)]
    pub same_hosts: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Diff {
    pub old: SideInfo,
    pub new: SideInfo,
    /// Changed rules (and unchanged ones whose outcome flipped), by id.
    pub rules: Vec<RuleDiff>,
    /// Rules the same on both sides.
    pub unchanged: usize,
    /// The hosts evaluated (empty without telemetry).
    pub hosts: Vec<String>,
}

impl Diff {
    pub fn flips(&self) -> usize {
        self.rules.iter().map(|r| r.flips.len()).sum()
    }
}
