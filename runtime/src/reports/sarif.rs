//! SARIF 2.1.0 through the `serde-sarif` types, shaped for GitHub code
//! scanning and other consumers:
//!
//! - every result has a physical location: the file and line of its first
//!   evidence that has one (`/etc/ssh/sshd_config:2`, relative to the
//!   `HOSTROOT` base, the assessed host's `/`), otherwise the rule's own
//!   source line in its package (relative to `POLICYROOT`);
//! - rules carry their help (the recommendation), tags, a numeric
//!   `security-severity` and a `precision`;
//! - fingerprints go into `partialFingerprints`;
//! - rules that were skipped or failed to evaluate are
//!   `toolExecutionNotifications` of the run's invocation (which is not
//!   successful when a rule errored);
//! - GitHub's ingestion limits ([`LIMITS`]) are respected: results past the
//!   limit are dropped with a notification saying how many.

use crate::findings::{Finding, Outcome, Report, Severity};
use assay_model::bundle::Bundle;
use serde_json::json;
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingDescriptor, ReportingDescriptorReference,
    Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool, ToolComponent,
};
use std::collections::BTreeMap;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The limits GitHub code scanning documents for an uploaded SARIF file
/// ("SARIF support for code scanning"); the tests hold a copy of them.
pub struct Limits {
    pub runs: usize,
    pub results_per_run: usize,
    pub rules_per_run: usize,
    pub locations_per_result: usize,
    pub tags_per_rule: usize,
}

pub const LIMITS: Limits = Limits {
    runs: 20,
    results_per_run: 25_000,
    rules_per_run: 25_000,
    locations_per_result: 1_000,
    tags_per_rule: 20,
};

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Informational => ResultLevel::Note,
    }
}

/// `path:line` (or `path`) as a file on the host; a note such as `OpenSSH
/// default` is no file, and neither is the kernel's view of its state
/// (`/proc/self/mountinfo`, `/sys/...`): nothing there can be edited, and
/// a live mount is placed by its logical location instead.
fn host_file(source: &str) -> Option<(String, Option<i64>)> {
    let rest = source.strip_prefix('/')?;
    if rest.starts_with("proc/") || rest.starts_with("sys/") {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((path, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            Some((path.to_owned(), line.parse().ok()))
        }
        _ => Some((rest.to_owned(), None)),
    }
}

/// `file:///mnt/image/` for `/mnt/image`: an absolute folder as a file URI
/// ending in `/` (SARIF's bases must), its bytes outside a path's safe
/// set percent-encoded.
pub fn root_uri(root: &std::path::Path) -> String {
    format!("file://{}/", uri_path(root).trim_end_matches('/'))
}

/// A path as the path of a URI: its bytes outside a path's safe set
/// percent-encoded (`a b#1` is `a%20b%231`).
pub fn uri_path(path: &std::path::Path) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const PATH: &AsciiSet =
        &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    utf8_percent_encode(&path.to_string_lossy(), PATH).to_string()
}

fn physical(base: &str, uri: String, line: Option<i64>) -> Location {
    let region = Region::builder().start_line(line.unwrap_or(1).max(1)).build();
    Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri).uri_base_id(base).build())
                .region(region)
                .build(),
        )
        .build()
}

/// The finding's location: its evidence's file, else the rule's source.
fn location_of(f: &Finding, rule_location: Option<&String>) -> Location {
    let from_evidence = f.evidence.iter().find_map(|e| e.source.as_deref().and_then(host_file));
    let mut location = match from_evidence {
        Some((path, line)) => physical("HOSTROOT", path, line),
        None => {
            let (path, line) = match rule_location.and_then(|l| l.rsplit_once(':')) {
                Some((path, line)) => (path.to_owned(), line.parse().ok()),
                None => (format!("{}/", f.package), None),
            };
            physical("POLICYROOT", path, line)
        }
    };
    let mut logical = vec![LogicalLocation::builder()
        .name(f.asset.hostname.clone())
        .fully_qualified_name(format!("{}/{}", f.asset.id, f.rule_id))
        .kind("host")
        .build()];
    logical.extend(f.evidence.iter().find_map(|e| host_item(&e.path)).map(|(kind, name)| {
        LogicalLocation::builder()
            .fully_qualified_name(format!("{kind}:{name}"))
            .name(name)
            .kind("resource")
            .build()
    }));
    location.logical_locations = Some(logical);
    location
}

/// The host item an evidence path names, as a kind and a name:
/// `find(p in host.packages where p.name == "openssl").version` is
/// `("package", "openssl")`, `host.sysctl("net.ipv4.ip_forward").runtime`
/// is `("sysctl", ...)`; a finding with no file on the host is still placed
/// on the item it is about.
fn host_item(path: &str) -> Option<(&'static str, String)> {
    assay_model::evidence::parse(path).1
}

fn notification(rule_id: &str, index: Option<i64>, level: &str, text: String) -> Notification {
    let mut rule = ReportingDescriptorReference::builder().id(rule_id.to_owned()).build();
    rule.index = index;
    Notification::builder()
        .message(Message::builder().text(text).build())
        .level(json!(level))
        .associated_rule(rule)
        .build()
}

/// One run over every rule of `bundles` (a scan can combine the built-in
/// packages with the user's own).
pub fn sarif(bundles: &[&Bundle], reports: &[Report]) -> Result<String, super::RenderError> {
    sarif_of_root(bundles, reports, None)
}

/// [`sarif_of_root`] with its results cut as `group` says: per finding, or
/// one per rule, host and vulnerable source package (`--sarif-group
/// package`).
pub fn sarif_grouped(
    bundles: &[&Bundle],
    reports: &[Report],
    root: Option<&std::path::Path>,
    group: super::SarifGroup,
) -> Result<String, super::RenderError> {
    match group {
        super::SarifGroup::Finding => sarif_of_root(bundles, reports, root),
        super::SarifGroup::Package => sarif_of_root(bundles, &super::sarif_group::by_package(reports), root),
    }
}

/// [`sarif`] of a scan of the root file system at `root` (`--root DIR`,
/// an absolute path): `HOSTROOT` is that folder, so a host file's location
/// resolves to the image's file, not the scanning machine's.
pub fn sarif_of_root(
    bundles: &[&Bundle],
    reports: &[Report],
    root: Option<&std::path::Path>,
) -> Result<String, super::RenderError> {
    let all_rules: Vec<&assay_model::bundle::RuleMeta> =
        bundles.iter().flat_map(|b| &b.content.rules).collect();
    let locations: Vec<&String> = bundles.iter().flat_map(|b| &b.content.debug.rule_locations).collect();
    let rules: Vec<ReportingDescriptor> = all_rules
        .iter()
        .take(LIMITS.rules_per_run)
        .map(|r| {
            let mut props = BTreeMap::new();
            // GitHub code scanning ranks results by `security-severity` (0-10).
            props.insert("security-severity".to_owned(), json!(format!("{:.1}", r.severity.score())));
            props.insert("severity".to_owned(), json!(r.severity));
            // A finding states a fact read from the host, with its evidence.
            props.insert("precision".to_owned(), json!("high"));
            if !r.references.is_empty() {
                props.insert("references".to_owned(), json!(r.references));
            }
            let mut tags = vec!["security".to_owned()];
            tags.extend(r.tags.iter().cloned());
            tags.truncate(LIMITS.tags_per_rule);
            let mut d = ReportingDescriptor::builder()
                .id(r.id.clone())
                .name(r.title.clone())
                .short_description(MultiformatMessageString::builder().text(r.title.clone()).build())
                .properties(PropertyBag::builder().tags(tags).additional_properties(props).build())
                .build();
            if !r.description.is_empty() {
                d.full_description =
                    Some(MultiformatMessageString::builder().text(r.description.clone()).build());
            }
            let help = if r.recommendation.is_empty() { r.title.clone() } else { r.recommendation.clone() };
            d.help = Some(MultiformatMessageString::builder().text(help).build());
            if let Some(url) = r.references.iter().find(|x| x.starts_with("https://")) {
                d.help_uri = Some(url.clone());
            }
            d
        })
        .collect();
    let index_of = |id: &str| all_rules.iter().position(|r| r.id == id).map(|i| i as i64);
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    let mut dropped = 0usize;
    let mut errored = false;
    for report in reports {
        for f in &report.findings {
            if results.len() >= LIMITS.results_per_run {
                dropped += 1;
                continue;
            }
            let mut fingerprints = BTreeMap::new();
            fingerprints.insert("assayFingerprint/v1".to_owned(), f.fingerprint.clone());
            let mut props = BTreeMap::new();
            props.insert("severity".to_owned(), json!(f.severity));
            props.insert("evidence".to_owned(), json!(f.evidence));
            props.insert("asset".to_owned(), json!(f.asset));
            props.insert("bundleDigest".to_owned(), json!(f.bundle_digest));
            props.insert("package".to_owned(), json!(format!("{} {}", f.package, f.package_version)));
            if !f.attributes.is_empty() {
                props.insert("attributes".to_owned(), json!(f.attributes));
            }
            if !f.params.is_empty() {
                props.insert("params".to_owned(), json!(f.params));
            }
            let index = index_of(&f.rule_id);
            let rule_location = index.and_then(|i| locations.get(i as usize).copied());
            let mut result = SarifResult::builder()
                .rule_id(f.rule_id.clone())
                .level(level(f.severity))
                .message(Message::builder().text(f.message.clone()).build())
                .locations(vec![location_of(f, rule_location)])
                .partial_fingerprints(fingerprints)
                .properties(PropertyBag::builder().additional_properties(props).build())
                .build();
            result.rule_index = index;
            if let Some(v) = &f.suppressed {
                result.suppressions = Some(vec![Suppression::builder()
                    .kind(json!("external"))
                    .status(json!("accepted"))
                    .justification(format!("VEX {}: {} ({})", v.status, v.justification, v.source))
                    .build()]);
            }
            if let Some(w) = &f.waived {
                result.suppressions = Some(vec![Suppression::builder()
                    .kind(json!("external"))
                    .status(json!("accepted"))
                    .justification(format!(
                        "{} (owner {}, until {}, {})",
                        w.justification, w.owner, w.expires, w.source
                    ))
                    .build()]);
            }
            results.push(result);
        }
        for r in &report.rules {
            match &r.outcome {
                Outcome::Skipped { reason } => notifications.push(notification(
                    &r.rule_id,
                    index_of(&r.rule_id),
                    "warning",
                    format!("{} was skipped on {}: {reason}", r.rule_id, report.asset.hostname),
                )),
                Outcome::Error { reason } => {
                    errored = true;
                    notifications.push(notification(
                        &r.rule_id,
                        index_of(&r.rule_id),
                        "error",
                        format!(
                            "{} ({}) failed on {}: {reason}",
                            r.rule_id, r.location, report.asset.hostname
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    if dropped > 0 {
        notifications.push(
            Notification::builder()
                .message(
                    Message::builder()
                        .text(format!(
                            "{dropped} results were left out: a run holds at most {} results",
                            LIMITS.results_per_run
                        ))
                        .build(),
                )
                .level(json!("warning"))
                .build(),
        );
    }
    let mut invocation = Invocation::builder().execution_successful(!errored).build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }
    let mut bases = BTreeMap::new();
    let host_root = match root {
        Some(root) => ArtifactLocation::builder()
            .uri(root_uri(root))
            .description(
                Message::builder()
                    .text(format!("The root file system assessed, {}.", root.display()))
                    .build(),
            )
            .build(),
        None => ArtifactLocation::builder()
            .uri("file:///")
            .description(Message::builder().text("The assessed host's root file system.").build())
            .build(),
    };
    bases.insert("HOSTROOT".to_owned(), host_root);
    bases.insert(
        "POLICYROOT".to_owned(),
        ArtifactLocation::builder()
            .description(Message::builder().text("The folder holding the rules packages.").build())
            .build(),
    );
    let mut run_props = BTreeMap::new();
    let digests: Vec<&str> = bundles.iter().map(|b| b.digest.as_str()).collect();
    run_props.insert("bundleDigest".to_owned(), json!(digests.join(",")));
    let mut run = Run::builder()
        .tool(
            Tool::builder()
                .driver(
                    ToolComponent::builder()
                        .name("assay")
                        .version(env!("CARGO_PKG_VERSION"))
                        .information_uri("https://github.com/assay-policy/assay")
                        .rules(rules)
                        .build(),
                )
                .build(),
        )
        .results(results)
        .invocations(vec![invocation])
        .properties(PropertyBag::builder().additional_properties(run_props).build())
        .build();
    run.original_uri_base_ids = Some(bases);
    let log = Sarif::builder().schema(SCHEMA).version(json!("2.1.0")).runs(vec![run]).build();
    let mut text = serde_json::to_string_pretty(&log)
        .map_err(|e| super::RenderError { format: "SARIF", message: e.to_string() })?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{host_file, host_item, root_uri};

    #[test]
    fn evidence_paths_name_the_host_item() {
        assert_eq!(host_item("host.packages[\"openssl\"].version"), Some(("package", "openssl".into())));
        assert_eq!(host_item("host.mounts[\"/dev/shm\"].options"), Some(("mount", "/dev/shm".into())));
        let shm = host_item("find(m in host.mounts where m.path == \"/dev/shm\").options");
        assert_eq!(shm, Some(("mount", "/dev/shm".into())));
        assert_eq!(host_item("host.file(\"/etc/a \\\"b\\\"\").mode"), Some(("file", "/etc/a \"b\"".into())));
        let sysctl = host_item("host.sysctl(\"net.ipv4.ip_forward\").runtime");
        assert_eq!(sysctl, Some(("sysctl", "net.ipv4.ip_forward".into())));
        assert_eq!(host_item("host.files[\"/etc/a \\\"b\\\"\"].mode"), Some(("file", "/etc/a \"b\"".into())));
        assert_eq!(host_item("host.login_defs.pass_max_days"), None);
        assert_eq!(host_item("host.users[3].shell"), None);
    }

    #[test]
    fn evidence_sources_become_host_files() {
        assert_eq!(host_file("/etc/ssh/sshd_config:2"), Some(("etc/ssh/sshd_config".into(), Some(2))));
        assert_eq!(host_file("/etc/login.defs"), Some(("etc/login.defs".into(), None)));
        assert_eq!(host_file("OpenSSH default"), None);
        assert_eq!(host_file("/proc/self/mountinfo:31"), None);
        assert_eq!(host_file("/sys/kernel/security/lsm"), None);
    }

    #[test]
    fn a_root_is_a_file_uri_ending_in_a_slash() {
        use std::path::Path;
        assert_eq!(root_uri(Path::new("/mnt/image")), "file:///mnt/image/");
        assert_eq!(root_uri(Path::new("/mnt/image/")), "file:///mnt/image/");
        assert_eq!(root_uri(Path::new("/srv/a b#1")), "file:///srv/a%20b%231/");
        assert_eq!(root_uri(Path::new("/")), "file:///");
    }
}
