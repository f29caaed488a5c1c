//! JUnit XML (through `quick-junit`): one test case per rule and host.
//! Failed rules are failures, errors are errors, not-applicable rules are
//! skipped, so CI systems show them the way they show tests.

use crate::findings::{Outcome, Report};
use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

pub fn junit(reports: &[Report]) -> Result<String, super::RenderError> {
    let mut doc = JUnit::new("assay");
    for report in reports {
        let mut suite = TestSuite::new(format!("assay: {}", report.asset.hostname));
        for rule in &report.rules {
            let status = match &rule.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                // Every finding waived: accepted, so the case passes.
                Outcome::Failed { .. }
                    if report
                        .findings
                        .iter()
                        .filter(|f| f.rule_id == rule.rule_id)
                        .all(|f| f.waived.is_some() || f.suppressed.is_some()) =>
                {
                    TestCaseStatus::success()
                }
                Outcome::Failed { findings } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("{findings} finding(s), severity {}", rule.severity.as_str()));
                    s.set_type(rule.severity.as_str());
                    let text: Vec<String> = report
                        .findings
                        .iter()
                        .filter(|f| f.rule_id == rule.rule_id)
                        .map(|f| {
                            let evidence: Vec<String> = f
                                .evidence
                                .iter()
                                .map(|e| match &e.source {
                                    Some(src) => format!("  {} = {} ({src})", e.path, e.value),
                                    None => format!("  {} = {}", e.path, e.value),
                                })
                                .collect();
                            format!("{}\n{}", f.message, evidence.join("\n"))
                        })
                        .collect();
                    s.set_description(text.join("\n"));
                    s
                }
                // Out of scope is not a test that did not run: it passes, and
                // says why in its output; `<skipped>` is kept for rules that
                // could not be evaluated.
                Outcome::NotApplicable { .. } => TestCaseStatus::success(),
                Outcome::Skipped { reason } => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!("skipped: {reason}"));
                    s
                }
                Outcome::Error { reason } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(format!("{} ({}): {reason}", rule.rule_id, rule.location));
                    s
                }
            };
            let mut case = TestCase::new(format!("{} {}", rule.rule_id, rule.title), status);
            if let Outcome::NotApplicable { reason } = &rule.outcome {
                case.set_system_out(format!("not applicable: {reason}"));
            }
            case.set_classname(format!("{}.{}", rule.package, report.asset.hostname));
            suite.add_test_case(case);
        }
        doc.add_test_suite(suite);
    }
    doc.to_string().map_err(|e| super::RenderError { format: "JUnit", message: e.to_string() })
}
