//! Run reports, as Inspector had them, for finished runs: the findings
//! report (summary, hosts assessed and excluded, packages, findings per
//! rule with the hosts they were found on) and the full report, which adds
//! every rule's outcome on every host. Every host is a [`HostRef`].

use crate::admin::{Exclusion, RunSummary};
use crate::vocab::OutcomeKind;
use crate::{HostRef, SeverityCounts};
use assay_model::findings::Summary;
use assay_model::Severity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Findings,
    Full,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunReport {
    pub kind: ReportKind,
    pub run: RunSummary,
    /// The rules packages' bundle the hosts were evaluated with.
    pub bundle_digest: String,
    pub packages: Vec<String>,
    pub summary: ReportSummary,
    /// The hosts assessed, by hostname (then agent).
    pub hosts: Vec<ReportHost>,
    pub exclusions: Vec<Exclusion>,
    /// Most serious first, then by rule id.
    pub findings_by_rule: Vec<RuleFindings>,
    /// The full report: every rule's outcome on every host, by rule id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleOutcomes>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportSummary {
    /// Findings of every host by severity (waived ones apart).
    #[serde(flatten)]
    pub findings: SeverityCounts,
    pub hosts_assessed: u64,
    /// Hosts left out of the evaluation or of a package, counted once.
    pub hosts_excluded: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportHost {
    #[serde(flatten)]
    pub host: HostRef,
    /// The os-release ID the agent reported.
    pub os: Option<String>,
    /// The host's counts: findings by severity, rule outcomes.
    pub summary: Summary,
}

/// A rule that found something, and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleFindings {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub package: String,
    pub description: String,
    pub recommendation: String,
    pub hosts: Vec<HostRef>,
    /// Its findings on every host (a rule may find several items on one).
    pub findings: u64,
}

/// A rule and the hosts of each of its outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleOutcomes {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub package: String,
    pub outcomes: BTreeMap<OutcomeKind, Vec<HostRef>>,
}
