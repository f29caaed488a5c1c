//! The report for people: findings grouped by severity, each with its
//! message, evidence and recommendation, then a summary line.

use crate::findings::{Outcome, Report, Severity};
use std::fmt::Write;

/// `full` also lists passed and not-applicable rules; `suppressed`, the
/// findings a VEX statement suppressed (else only their count).
pub fn table(reports: &[Report], full: bool, suppressed: bool) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = writeln!(out, "{} ({})", report.asset.hostname, report.asset.id);
        if !report.params.is_empty() {
            let set: Vec<String> = report.params.iter().map(|p| format!("{}={}", p.key, p.value)).collect();
            let _ = writeln!(out, "parameters: {}", set.join(", "));
        }
        for severity in Severity::ALL {
            let findings: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.severity == severity && f.waived.is_none() && f.suppressed.is_none())
                .collect();
            if findings.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{} ({})", severity.as_str().to_uppercase(), findings.len());
            for f in findings {
                let _ = writeln!(out, "  {:<14} {}", f.rule_id, f.title);
                let _ = writeln!(out, "      {}", f.message);
                for e in &f.evidence {
                    match &e.source {
                        Some(src) => {
                            let _ = writeln!(out, "      evidence: {} = {}  ({src})", e.path, e.value);
                        }
                        None => {
                            let _ = writeln!(out, "      evidence: {} = {}", e.path, e.value);
                        }
                    }
                }
                if !f.recommendation.is_empty() {
                    let _ = writeln!(out, "      fix: {}", f.recommendation);
                }
            }
        }
        let errors: Vec<_> =
            report.rules.iter().filter(|r| matches!(r.outcome, Outcome::Error { .. })).collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "\nERRORS ({})", errors.len());
            for r in errors {
                if let Outcome::Error { reason } = &r.outcome {
                    let _ = writeln!(out, "  {:<14} {reason}\n      defined at {}", r.rule_id, r.location);
                }
            }
        }
        let waived: Vec<_> = report.findings.iter().filter(|f| f.waived.is_some()).collect();
        if !waived.is_empty() {
            let _ = writeln!(out, "\nWAIVED ({})", waived.len());
            for f in waived {
                if let Some(w) = &f.waived {
                    let _ = writeln!(out, "  {:<14} {}", f.rule_id, f.message);
                    let _ = writeln!(
                        out,
                        "      waived by {} until {} ({}): {}",
                        w.owner, w.expires, w.source, w.justification
                    );
                }
            }
        }
        let vex: Vec<_> = report.findings.iter().filter(|f| f.suppressed.is_some()).collect();
        if !vex.is_empty() {
            let _ = writeln!(out, "\nSUPPRESSED BY VEX ({})", vex.len());
            if suppressed {
                for f in vex {
                    if let Some(v) = &f.suppressed {
                        let _ = writeln!(out, "  {:<14} {}", f.rule_id, f.message);
                        let _ = writeln!(out, "      {} ({}): {}", v.status, v.source, v.justification);
                    }
                }
            } else {
                let _ = writeln!(out, "  --show-suppressed lists them");
            }
        }
        // Always shown: a skipped rule is a check that did not happen.
        let skipped: Vec<_> =
            report.rules.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).collect();
        if !skipped.is_empty() {
            let _ = writeln!(out, "\nSKIPPED ({})", skipped.len());
            for r in skipped {
                if let Outcome::Skipped { reason } = &r.outcome {
                    let _ = writeln!(out, "  {:<14} {}: {reason}", r.rule_id, r.title);
                }
            }
        }
        if full {
            let passed: Vec<_> = report.rules.iter().filter(|r| r.outcome == Outcome::Passed).collect();
            if !passed.is_empty() {
                let _ = writeln!(out, "\nPASSED ({})", passed.len());
                for r in passed {
                    let _ = writeln!(out, "  {:<14} {}", r.rule_id, r.title);
                }
            }
            let na: Vec<_> =
                report.rules.iter().filter(|r| matches!(r.outcome, Outcome::NotApplicable { .. })).collect();
            if !na.is_empty() {
                let _ = writeln!(out, "\nNOT APPLICABLE ({})", na.len());
                for r in na {
                    if let Outcome::NotApplicable { reason } = &r.outcome {
                        let _ = writeln!(out, "  {:<14} {}: {reason}", r.rule_id, r.title);
                    }
                }
            }
        }
        let s = &report.summary;
        let vex =
            if s.suppressed > 0 { format!(", {} suppressed by VEX", s.suppressed) } else { String::new() };
        let _ = writeln!(
            out,
            "\n{} high, {} medium, {} low, {} informational, {} waived{vex}; rules: {} passed, {} failed, {} not applicable, {} skipped, {} errors",
            s.high, s.medium, s.low, s.informational, s.waived, s.passed, s.failed, s.not_applicable, s.skipped, s.errors
        );
    }
    super::terminal_safe(&out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_from_collected_values_are_escaped() {
        let planted = "Banner \u{1b}]0;owned\u{7}\u{1b}[2J\rfake";
        let safe = super::super::terminal_safe(planted);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert_eq!(safe, "Banner \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{d}fake");
        assert_eq!(super::super::terminal_safe("two\nlines"), "two\nlines");
    }
}
