//! `--rule` and `--rule-tag`: one set of rule-selection options for `scan`,
//! `eval` and `test`. A name that selects nothing is an error with the
//! nearest one, never an empty report that looks like a clean host.

use super::Failure;
use assay_compiler::diagnostics::suggest::did_you_mean;
use assay_model::bundle::{Bundle, RuleMeta};
use assay_runtime::findings::{Report, Summary};
use std::collections::BTreeSet;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct RuleSelection {
    /// Only these rules (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only rules with one of these tags (repeatable).
    #[arg(long = "rule-tag", value_name = "TAG")]
    pub rule_tags: Vec<String>,
}

impl RuleSelection {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.rule_tags.is_empty()
    }

    /// Whether `rule` is selected (every rule, without options).
    pub fn keeps(&self, rule: &RuleMeta) -> bool {
        self.is_empty()
            || self.rules.contains(&rule.id)
            || rule.tags.iter().any(|t| self.rule_tags.contains(t))
    }

    /// Every `--rule` names a rule of `bundles` and every `--rule-tag` a
    /// tag one of their rules has.
    pub fn check(&self, bundles: &[&Bundle]) -> Result<(), Failure> {
        let rules = || bundles.iter().flat_map(|b| &b.content.rules);
        let ids: BTreeSet<&str> = rules().map(|r| r.id.as_str()).collect();
        let tags: BTreeSet<&str> = rules().flat_map(|r| r.tags.iter().map(String::as_str)).collect();
        for (flag, given, known) in [("--rule", &self.rules, &ids), ("--rule-tag", &self.rule_tags, &tags)] {
            if let Some(name) = given.iter().find(|n| !known.contains(n.as_str())) {
                let what = if flag == "--rule" { "rule" } else { "rule with that tag" };
                let hint = match did_you_mean(name, known.iter().copied()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None if flag == "--rule-tag" && !tags.is_empty() => {
                        format!(" (the tags are {})", tags.iter().copied().collect::<Vec<_>>().join(", "))
                    }
                    None => String::new(),
                };
                return Err(Failure::input(miette::miette!(
                    "`{flag} {name}`: no {what} in the packages given{hint}"
                )));
            }
        }
        Ok(())
    }

    /// Keeps only the selected rules' outcomes and findings in `report`.
    pub fn apply(&self, report: &mut Report, bundles: &[&Bundle]) {
        if self.is_empty() {
            return;
        }
        let keep: std::collections::HashSet<&str> = bundles
            .iter()
            .flat_map(|b| &b.content.rules)
            .filter(|r| self.keeps(r))
            .map(|r| r.id.as_str())
            .collect();
        report.findings.retain(|f| keep.contains(f.rule_id.as_str()));
        report.rules.retain(|r| keep.contains(r.rule_id.as_str()));
        let instructions = report.summary.instructions;
        report.summary = Summary::of(&report.findings, &report.rules);
        report.summary.instructions = instructions;
    }
}
