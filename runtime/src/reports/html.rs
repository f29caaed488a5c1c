//! One self-contained HTML page (no scripts, no external resources): summary
//! counts, findings by severity with evidence and recommendation, and for
//! the full report the passed and not-applicable rules.

use crate::findings::{Outcome, Report, Severity};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1b1f24;padding:0 1rem}\
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de}\
.counts{display:flex;gap:.75rem;flex-wrap:wrap}.count{padding:.6rem 1rem;border-radius:.4rem;background:#f6f8fa;min-width:7rem}\
.count b{display:block;font-size:1.5rem}.high{border-left:6px solid #cf222e}.medium{border-left:6px solid #d4a72c}\
.low{border-left:6px solid #2f81f7}.informational{border-left:6px solid #8c959f}\
.finding{margin:.8rem 0;padding:.6rem 1rem;background:#f6f8fa;border-radius:.4rem}\
.finding h3{margin:.1rem 0;font-size:1.05rem}.id{font-family:ui-monospace,monospace;color:#57606a}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}\
code{font-family:ui-monospace,monospace;font-size:.9em}.muted{color:#57606a}";

pub fn html(reports: &[Report], full: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Assay report</title>\n<style>{STYLE}</style></head><body>\n");
    for r in reports {
        let s = &r.summary;
        let _ = write!(
            out,
            "<h1>Assay report: {}</h1>\n<p class=\"muted\">asset <code>{}</code> · bundle <code>sha256:{}</code></p>\n<div class=\"counts\">",
            esc(&r.asset.hostname),
            esc(&r.asset.id),
            esc(&r.bundle_digest)
        );
        for (label, n, class) in [
            ("high", s.high, "high"),
            ("medium", s.medium, "medium"),
            ("low", s.low, "low"),
            ("informational", s.informational, "informational"),
        ] {
            let _ = write!(out, "<div class=\"count {class}\"><b>{n}</b>{label}</div>");
        }
        let _ = writeln!(
            out,
            "<div class=\"count\"><b>{}</b>rules passed</div><div class=\"count\"><b>{}</b>not applicable</div><div class=\"count\"><b>{}</b>skipped</div><div class=\"count\"><b>{}</b>errors</div></div>",
            s.passed, s.not_applicable, s.skipped, s.errors
        );
        for severity in Severity::ALL {
            let findings: Vec<_> = r.findings.iter().filter(|f| f.severity == severity).collect();
            if findings.is_empty() {
                continue;
            }
            let _ = writeln!(out, "<h2>{} ({})</h2>", esc(&severity.as_str().to_uppercase()), findings.len());
            for f in findings {
                let _ = write!(
                    out,
                    "<div class=\"finding {}\"><h3><span class=\"id\">{}</span> {}</h3><p>{}</p>",
                    severity.as_str(),
                    esc(&f.rule_id),
                    esc(&f.title),
                    esc(&f.message)
                );
                if !f.description.is_empty() {
                    let _ = write!(out, "<p class=\"muted\">{}</p>", esc(&f.description));
                }
                if !f.evidence.is_empty() {
                    out.push_str("<table><tr><th>evidence</th><th>value</th><th>source</th></tr>");
                    for e in &f.evidence {
                        let _ = write!(
                            out,
                            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                            esc(&e.path),
                            esc(&e.value),
                            esc(e.source.as_deref().unwrap_or(""))
                        );
                    }
                    out.push_str("</table>");
                }
                if !f.recommendation.is_empty() {
                    let _ = write!(out, "<p><b>Recommendation:</b> {}</p>", esc(&f.recommendation));
                }
                let _ = writeln!(
                    out,
                    "<p class=\"muted\">{} {} · fingerprint <code>{}</code></p></div>",
                    esc(&f.package),
                    esc(&f.package_version),
                    esc(&f.fingerprint)
                );
            }
        }
        let errors: Vec<_> = r.rules.iter().filter(|x| matches!(x.outcome, Outcome::Error { .. })).collect();
        if !errors.is_empty() {
            out.push_str("<h2>Errors</h2><table>");
            for e in errors {
                if let Outcome::Error { reason } = &e.outcome {
                    let _ = write!(
                        out,
                        "<tr><td class=\"id\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                        esc(&e.rule_id),
                        esc(reason),
                        esc(&e.location)
                    );
                }
            }
            out.push_str("</table>\n");
        }
        let skipped: Vec<_> =
            r.rules.iter().filter(|x| matches!(x.outcome, Outcome::Skipped { .. })).collect();
        if !skipped.is_empty() {
            let _ = write!(out, "<h2>Skipped ({})</h2><table>", skipped.len());
            for k in skipped {
                if let Outcome::Skipped { reason } = &k.outcome {
                    let _ = write!(
                        out,
                        "<tr><td class=\"id\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                        esc(&k.rule_id),
                        esc(&k.title),
                        esc(reason)
                    );
                }
            }
            out.push_str("</table>\n");
        }
        if full {
            let passed: Vec<_> = r.rules.iter().filter(|x| x.outcome == Outcome::Passed).collect();
            let _ = write!(out, "<h2>Passed ({})</h2><table>", passed.len());
            for p in passed {
                let _ = write!(
                    out,
                    "<tr><td class=\"id\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                    esc(&p.rule_id),
                    esc(&p.title),
                    esc(&p.package)
                );
            }
            out.push_str("</table>\n");
            let na: Vec<_> =
                r.rules.iter().filter(|x| matches!(x.outcome, Outcome::NotApplicable { .. })).collect();
            let _ = write!(out, "<h2>Not applicable ({})</h2><table>", na.len());
            for n in na {
                if let Outcome::NotApplicable { reason } = &n.outcome {
                    let _ = write!(
                        out,
                        "<tr><td class=\"id\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                        esc(&n.rule_id),
                        esc(&n.title),
                        esc(reason)
                    );
                }
            }
            out.push_str("</table>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}
