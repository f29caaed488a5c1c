//! A run report as one self-contained HTML page (no scripts, no external
//! resources), on the shell and stylesheet of every Assay report
//! (`assay_runtime::reports::html`); maud escapes every value.

use assay_api::report::{ReportKind, RunReport};
use assay_api::{HostRef, OutcomeKind};
use assay_runtime::reports::html::{count, document};
use maud::{html, Markup};

fn hosts(list: &[HostRef]) -> Markup {
    html! {
        ul.hosts {
            @for h in list {
                li { (h.hostname) " " code.muted { (h.agent) } }
            }
        }
    }
}

pub(super) fn render(r: &RunReport) -> Markup {
    let title = match r.kind {
        ReportKind::Full => "Full report",
        ReportKind::Findings => "Findings report",
    };
    let s = &r.summary;
    let body = html! {
        h1 { (title) ": run " code { (r.run.id) } }
        p.muted {
            "template " (r.run.template) " version " (r.run.template_version) " · " (r.run.state)
            " · bundle " code { "sha256:" (r.bundle_digest) } " · packages " (r.packages.join(", "))
        }
        div.counts {
            @for (severity, n) in s.findings.iter() { (count(n, severity.as_str(), severity.as_str())) }
            (count(s.hosts_assessed, "hosts assessed", "")) (count(s.hosts_excluded, "hosts excluded", ""))
        }
        h2 { "Hosts" }
        table {
            tr { th { "host" } th { "addresses" } th { "agent" } th { "OS" } th { "high" } th { "medium" } th { "low" } th { "informational" } }
            @for h in &r.hosts {
                tr {
                    td { (h.host.hostname) } td { (h.host.addresses.join(", ")) } td { code { (h.host.agent) } }
                    td { (h.os.as_deref().unwrap_or("")) }
                    td { (h.summary.high) } td { (h.summary.medium) } td { (h.summary.low) } td { (h.summary.informational) }
                }
            }
        }
        @if !r.exclusions.is_empty() {
            h2 { "Excluded" }
            table {
                tr { th { "host" } th { "agent" } th { "why" } }
                @for e in &r.exclusions { tr { td { (e.host.hostname) } td { code { (e.host.agent) } } td { (e.reason) } } }
            }
        }
        h2 { "Findings by rule" }
        table {
            tr { th { "severity" } th { "rule" } th { "hosts" } th { "recommendation" } }
            @for f in &r.findings_by_rule {
                tr class=(f.severity.as_str()) {
                    td { (f.severity.as_str()) } td { code { (f.rule_id) } " " (f.title) }
                    td { (hosts(&f.hosts)) } td { (f.recommendation) }
                }
            }
        }
        @if let Some(rules) = &r.rules {
            h2 { "Every rule" }
            table {
                tr { th { "rule" } th { "package" } th { "failed on" } th { "outcomes" } }
                @for rule in rules {
                    tr {
                        td { code { (rule.rule_id) } " " (rule.title) } td { (rule.package) }
                        td { @if let Some(failed) = rule.outcomes.get(&OutcomeKind::Failed) { (hosts(failed)) } }
                        td { @for (i, (outcome, on)) in rule.outcomes.iter().enumerate() {
                            @if i > 0 { " · " } (outcome.as_str().replace('_', " ")) ": " (on.len())
                        } }
                    }
                }
            }
        }
    };
    document(&format!("{title}: {}", r.run.id), body)
}
