//! One self-contained HTML page (no scripts, no external resources): summary
//! counts, findings by severity with evidence and recommendation, and for
//! the full report the passed and not-applicable rules. Written with maud,
//! which escapes every value; the page shell and its stylesheet
//! ([`document`]) are shared with the service's run reports.

use crate::findings::{Outcome, Report, RuleResult, Severity};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The stylesheet of every Assay report page.
pub const STYLESHEET: &str = include_str!("report.css");

/// A report page: `title`, the shared stylesheet inline, and `body`.
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLESHEET)) }
            }
            body { (body) }
        }
    }
}

/// One box of a row of counts.
pub fn count(n: impl std::fmt::Display, label: &str, class: &str) -> Markup {
    html! { div class=(format!("count {class}")) { b { (n) } (label) } }
}

fn rule_table(rules: &[&RuleResult], why: impl Fn(&RuleResult) -> String) -> Markup {
    html! {
        table {
            @for r in rules {
                tr { td.id { (r.rule_id) } td { (r.title) } td.muted { (why(r)) } }
            }
        }
    }
}

fn host(r: &Report, full: bool) -> Markup {
    let s = &r.summary;
    let with = |keep: fn(&Outcome) -> bool| r.rules.iter().filter(|x| keep(&x.outcome)).collect::<Vec<_>>();
    let errors = with(|o| matches!(o, Outcome::Error { .. }));
    let skipped = with(|o| matches!(o, Outcome::Skipped { .. }));
    let passed = with(|o| *o == Outcome::Passed);
    let not_applicable = with(|o| matches!(o, Outcome::NotApplicable { .. }));
    let reason = |r: &RuleResult| match &r.outcome {
        Outcome::Error { reason } | Outcome::Skipped { reason } | Outcome::NotApplicable { reason } => {
            reason.clone()
        }
        _ => r.package.clone(),
    };
    html! {
        h1 { "Assay report: " (r.asset.hostname) }
        p.muted { "asset " code { (r.asset.id) } " · bundle " code { "sha256:" (r.bundle_digest) } }
        div.counts {
            (count(s.high, "high", "high")) (count(s.medium, "medium", "medium"))
            (count(s.low, "low", "low")) (count(s.informational, "informational", "informational"))
            (count(s.passed, "rules passed", "")) (count(s.not_applicable, "not applicable", ""))
            (count(s.skipped, "skipped", "")) (count(s.errors, "errors", ""))
        }
        @for severity in Severity::ALL {
            @let findings: Vec<_> = r.findings.iter().filter(|f| f.severity == severity).collect();
            @if !findings.is_empty() {
                h2 { (severity.as_str().to_uppercase()) " (" (findings.len()) ")" }
                @for f in findings {
                    div class=(format!("finding {}", severity.as_str())) {
                        h3 { span.id { (f.rule_id) } " " (f.title) }
                        p { (f.message) }
                        @if let Some(w) = &f.waived {
                            p.muted { "Waived by " (w.owner) " until " (w.expires) " (" (w.source) "): " (w.justification) }
                        }
                        @if let Some(v) = &f.suppressed {
                            p.muted { "Suppressed by VEX: " (v.status) " (" (v.source) "): " (v.justification) }
                        }
                        @if !f.description.is_empty() { p.muted { (f.description) } }
                        @if !f.evidence.is_empty() {
                            table {
                                tr { th { "evidence" } th { "value" } th { "source" } }
                                @for e in &f.evidence {
                                    tr { td { code { (e.path) } } td { code { (e.value) } } td { (e.source.as_deref().unwrap_or("")) } }
                                }
                            }
                        }
                        @if !f.recommendation.is_empty() { p { b { "Recommendation:" } " " (f.recommendation) } }
                        p.muted { (f.package) " " (f.package_version) " · fingerprint " code { (f.fingerprint) } }
                    }
                }
            }
        }
        @if !errors.is_empty() {
            h2 { "Errors" }
            table { @for e in &errors { tr { td.id { (e.rule_id) } td { (reason(e)) } td.muted { (e.location) } } } }
        }
        @if !skipped.is_empty() {
            h2 { "Skipped (" (skipped.len()) ")" }
            (rule_table(&skipped, reason))
        }
        @if full {
            h2 { "Passed (" (passed.len()) ")" }
            (rule_table(&passed, reason))
            h2 { "Not applicable (" (not_applicable.len()) ")" }
            (rule_table(&not_applicable, reason))
        }
    }
}

/// The page of `reports` (one section per host); `full` adds the passed
/// and not-applicable rules.
pub fn html(reports: &[Report], full: bool) -> String {
    let body = html! { @for r in reports { (host(r, full)) } };
    let mut page = document("Assay report", body).into_string();
    page.push('\n');
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{AssetRef, Finding, Summary};

    #[test]
    fn collected_values_are_escaped_and_the_page_has_no_script() {
        let asset =
            AssetRef { id: "m".into(), hostname: "<b>h</b>".into(), tags: Vec::new(), addresses: Vec::new() };
        let finding = Finding {
            rule_id: "R-1".into(),
            package: "p".into(),
            package_version: "1".into(),
            title: "t".into(),
            severity: Severity::High,
            severity_score: 9.0,
            description: String::new(),
            recommendation: String::new(),
            message: "<script>alert(1)</script> & \"quoted\"".into(),
            asset: asset.clone(),
            attributes: Vec::new(),
            evidence: Vec::new(),
            fingerprint: "f".into(),
            bundle_digest: "d".into(),
            waived: None,
            suppressed: None,
            params: Vec::new(),
        };
        let report = Report {
            bundle_digest: "d".into(),
            asset,
            findings: vec![finding],
            rules: Vec::new(),
            summary: Summary::default(),
            params: Vec::new(),
        };
        let page = html(&[report], true);
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(!page.contains("<script") && !page.contains("<b>h"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"), "{page}");
    }
}
