//! `--sarif-group package`: one SARIF result per rule, host and vulnerable
//! source package, listing its advisories, instead of one per advisory and
//! installed package. A CVE scan of a Debian host gives thousands of
//! results (4,875 on the build machine), past the 5,000 GitHub code
//! scanning shows and into its upload limit; grouped, a package upgrade
//! closes one alert. Findings about anything else pass through unchanged.

use crate::findings::{Finding, Report};
use assay_model::findings::{fingerprint, Identity};
use std::collections::BTreeMap;

/// How SARIF results are cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SarifGroup {
    /// One result per finding.
    #[default]
    Finding,
    /// One result per rule, host and vulnerable source package.
    Package,
}

/// A vulnerability finding's source package (the package its advisories
/// name): from its `source_package` evidence, else its `package`.
fn source_package(f: &Finding) -> Option<String> {
    crate::vex::vulnerability_of(f)?;
    field(f, "source_package").or_else(|| field(f, "package")).map(str::to_owned)
}

fn field<'f>(f: &'f Finding, name: &str) -> Option<&'f str> {
    f.evidence.iter().find(|e| e.path.ends_with(&format!(").{name}"))).map(|e| e.value.as_str())
}

/// `reports` with each report's vulnerability findings merged per rule and
/// source package, in the order of each group's first finding.
pub fn by_package(reports: &[Report]) -> Vec<Report> {
    reports.iter().map(group_report).collect()
}

fn group_report(report: &Report) -> Report {
    let mut out: Vec<Finding> = Vec::with_capacity(report.findings.len());
    // (rule, source package) → the index of its group in `out`, and members.
    let mut groups: BTreeMap<(String, String), (usize, Vec<&Finding>)> = BTreeMap::new();
    for f in &report.findings {
        match source_package(f) {
            Some(source) => {
                let slot = out.len();
                let entry = groups.entry((f.rule_id.clone(), source)).or_insert_with(|| {
                    out.push(f.clone());
                    (slot, Vec::new())
                });
                entry.1.push(f);
            }
            None => out.push(f.clone()),
        }
    }
    // A group of one is merged too, so its fingerprint is the package's
    // from its first advisory on.
    for ((_, source), (slot, members)) in groups {
        out[slot] = merged(&source, &members);
    }
    Report { findings: out, ..report.clone() }
}

/// One finding for `members` (all of one rule, host and source package).
fn merged(source: &str, members: &[&Finding]) -> Finding {
    let first = members[0];
    let mut advisories: Vec<String> = Vec::new();
    let mut installed: Vec<String> = Vec::new();
    let mut unfixed: Vec<&str> = Vec::new();
    for f in members {
        let id = field(f, "advisory_id").unwrap_or("?");
        let advisory = match field(f, "cves").filter(|c| !c.is_empty() && *c != id) {
            Some(cves) => format!("{id} ({cves})"),
            None => id.to_owned(),
        };
        if !advisories.contains(&advisory) {
            advisories.push(advisory);
        }
        let package = format!(
            "{} {}",
            field(f, "package").unwrap_or("?"),
            field(f, "installed_version").unwrap_or("?")
        );
        if !installed.contains(&package) {
            installed.push(package);
        }
        let id = field(f, "advisory_id").unwrap_or("?");
        if field(f, "fixed_version").is_none() && !unfixed.contains(&id) {
            unfixed.push(id);
        }
    }
    installed.sort();
    let fixes = match (unfixed.len(), advisories.len()) {
        (0, 1) => "it has a fixed version".to_owned(),
        (0, _) => "each has a fixed version".to_owned(),
        (1, 1) => "it has no fixed version yet".to_owned(),
        (n, all) if n == all => "none has a fixed version yet".to_owned(),
        (n, _) => format!("{n} without a fixed version yet"),
    };
    let count = match advisories.len() {
        1 => "1 advisory affects".to_owned(),
        n => format!("{n} advisories affect"),
    };
    let message = format!(
        "source package {source}: {count} {}: {}; {fixes}",
        installed.join(", "),
        advisories.join(", ")
    );
    // The group's identity is the package, not its advisories, so a new
    // advisory for the same package does not open a new alert.
    let items = [format!("source_package:{source}")];
    let identity = Identity {
        package: &first.package,
        rule_id: &first.rule_id,
        asset_id: &first.asset.id,
        clause: 0,
        items: &items,
    };
    let mut evidence = Vec::new();
    for f in members {
        evidence.extend(f.evidence.iter().cloned());
    }
    Finding {
        message,
        fingerprint: fingerprint(&identity),
        evidence,
        // Suppressed only when every member is.
        waived: if members.iter().all(|f| f.waived.is_some()) { first.waived.clone() } else { None },
        suppressed: if members.iter().all(|f| f.suppressed.is_some()) {
            first.suppressed.clone()
        } else {
            None
        },
        ..first.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{AssetRef, Evidence, Severity, Summary};
    use assay_model::evidence;

    fn finding(rule_id: &str, message: &str, fingerprint: String, evidence: Vec<Evidence>) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            package: "cve".into(),
            package_version: "1.0.0".into(),
            title: String::new(),
            severity: Severity::Medium,
            severity_score: Severity::Medium.score(),
            description: String::new(),
            recommendation: String::new(),
            fingerprint,
            message: message.into(),
            asset: AssetRef { id: "a".into(), hostname: "a".into(), tags: Vec::new(), addresses: Vec::new() },
            attributes: Vec::new(),
            evidence,
            bundle_digest: String::new(),
            waived: None,
            suppressed: None,
            params: Vec::new(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            bundle_digest: String::new(),
            asset: AssetRef { id: "a".into(), hostname: "a".into(), tags: Vec::new(), addresses: Vec::new() },
            findings,
            rules: Vec::new(),
            summary: Summary::default(),
            params: Vec::new(),
        }
    }

    fn cve(advisory: &str, package: &str, source: &str, fixed: Option<&str>) -> Finding {
        let id = format!("{advisory} {package}");
        let path = |f: &str| {
            evidence::printed(&format!("host.vulnerabilities[].{f}"), Some(evidence::ItemName::Str(&id)))
        };
        let mut e = vec![
            Evidence { path: path("package"), value: package.into(), source: None },
            Evidence { path: path("source_package"), value: source.into(), source: None },
            Evidence { path: path("installed_version"), value: "1.0".into(), source: None },
            Evidence { path: path("advisory_id"), value: advisory.into(), source: None },
            Evidence { path: path("cves"), value: advisory.replace("DEBIAN-", ""), source: None },
        ];
        if let Some(v) = fixed {
            e.push(Evidence { path: path("fixed_version"), value: v.into(), source: None });
        }
        finding("CVE-MEDIUM", &format!("{package} is affected by {advisory}"), id, e)
    }

    #[test]
    fn vulnerabilities_are_grouped_by_source_package_and_the_rest_pass_through() {
        let other = finding("CIS-1.5.1", "aslr", "f".into(), Vec::new());
        let report = report(vec![
            cve("DEBIAN-CVE-2024-1", "libssl3", "openssl", Some("3.0.15")),
            other.clone(),
            cve("DEBIAN-CVE-2024-1", "openssl", "openssl", Some("3.0.15")),
            cve("DEBIAN-CVE-2024-2", "libssl3", "openssl", None),
            cve("DEBIAN-CVE-2024-3", "bash", "bash", None),
        ]);
        let grouped = by_package(std::slice::from_ref(&report));
        let f = &grouped[0].findings;
        assert_eq!(f.len(), 3, "{f:#?}");
        assert_eq!(
            f[0].message,
            "source package openssl: 2 advisories affect libssl3 1.0, openssl 1.0: DEBIAN-CVE-2024-1 \
             (CVE-2024-1), DEBIAN-CVE-2024-2 (CVE-2024-2); 1 without a fixed version yet"
        );
        assert_eq!(f[0].evidence.len(), 6 + 6 + 5, "every member's evidence");
        assert_eq!(f[1], other);
        assert_eq!(
            f[2].message,
            "source package bash: 1 advisory affects bash 1.0: DEBIAN-CVE-2024-3 (CVE-2024-3); it has no fixed \
             version yet"
        );
        // The group's fingerprint is its package's: another advisory keeps it.
        let more = super::tests::report(report.findings[..3].to_vec());
        assert_eq!(by_package(&[more])[0].findings[0].fingerprint, f[0].fingerprint);
    }
}
