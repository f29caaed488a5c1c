//! SARIF that GitHub code scanning accepts: the output of a real scan
//! validates against the SARIF 2.1.0 schema and meets the ingestion rules
//! GitHub documents ("SARIF support for code scanning"), a copy of which is
//! kept here as `GITHUB` and asserted.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assay, stderr};
use serde_json::Value;

/// GitHub code scanning's documented requirements and limits for an
/// uploaded SARIF file, as of this writing.
struct GitHubRules {
    max_runs: usize,
    max_results_per_run: usize,
    max_rules_per_run: usize,
    max_locations_per_result: usize,
    max_tags_per_rule: usize,
    /// `security-severity` is a number from 0.0 to 10.0, as a string.
    security_severity: std::ops::RangeInclusive<f64>,
    precisions: &'static [&'static str],
}

const GITHUB: GitHubRules = GitHubRules {
    max_runs: 20,
    max_results_per_run: 25_000,
    max_rules_per_run: 25_000,
    max_locations_per_result: 1_000,
    max_tags_per_rule: 20,
    security_severity: 0.0..=10.0,
    precisions: &["very-high", "high", "medium", "low"],
};

#[test]
fn our_limits_are_githubs() {
    let ours = assay_runtime::reports::SARIF_LIMITS;
    assert_eq!(ours.runs, GITHUB.max_runs);
    assert_eq!(ours.results_per_run, GITHUB.max_results_per_run);
    assert_eq!(ours.rules_per_run, GITHUB.max_rules_per_run);
    assert_eq!(ours.locations_per_result, GITHUB.max_locations_per_result);
    assert_eq!(ours.tags_per_rule, GITHUB.max_tags_per_rule);
}

fn check_github_rules(sarif: &Value) {
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].is_string());
    let runs = sarif["runs"].as_array().unwrap();
    assert!(!runs.is_empty() && runs.len() <= GITHUB.max_runs);
    for run in runs {
        let driver = &run["tool"]["driver"];
        assert!(driver["name"].is_string());
        let rules = driver["rules"].as_array().unwrap();
        assert!(rules.len() <= GITHUB.max_rules_per_run);
        for rule in rules {
            assert!(rule["id"].is_string());
            assert!(rule["shortDescription"]["text"].is_string(), "{rule}");
            assert!(rule["help"]["text"].as_str().is_some_and(|t| !t.is_empty()), "{rule}");
            let props = &rule["properties"];
            assert!(props["tags"].as_array().unwrap().len() <= GITHUB.max_tags_per_rule);
            let severity: f64 = props["security-severity"].as_str().unwrap().parse().unwrap();
            assert!(GITHUB.security_severity.contains(&severity), "{rule}");
            assert!(GITHUB.precisions.contains(&props["precision"].as_str().unwrap()), "{rule}");
        }
        let results = run["results"].as_array().unwrap();
        assert!(results.len() <= GITHUB.max_results_per_run);
        let bases = run["originalUriBaseIds"].as_object().unwrap();
        for result in results {
            let id = result["ruleId"].as_str().unwrap();
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], id, "ruleIndex points at the rule");
            assert!(result["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(result["partialFingerprints"]["assayFingerprint/v1"].is_string());
            let locations = result["locations"].as_array().unwrap();
            assert!(!locations.is_empty() && locations.len() <= GITHUB.max_locations_per_result);
            for l in locations {
                let artifact = &l["physicalLocation"]["artifactLocation"];
                assert!(artifact["uri"].as_str().is_some_and(|u| !u.is_empty()), "{result}");
                assert!(bases.contains_key(artifact["uriBaseId"].as_str().unwrap()));
                assert!(l["physicalLocation"]["region"]["startLine"].as_i64().unwrap() >= 1);
            }
        }
    }
}

fn validate(sarif: &Value) {
    let errors = common::sarif_schema_errors(sarif);
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
}

#[test]
fn a_scan_of_a_fixture_host_is_accepted_with_file_locations_and_notifications() {
    let out = assay(&["scan", "--root", "tests/fixtures/hosts/debian-default", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate(&sarif);
    check_github_rules(&sarif);
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    // Evidence with a file gives the file and line on the host.
    let root_login =
        results.iter().find(|r| r["ruleId"] == "SBP-SSH-001" || r["ruleId"] == "SBP-PWD-001").unwrap();
    let artifact = &root_login["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(artifact["uriBaseId"], "HOSTROOT");
    assert!(artifact["uri"].as_str().unwrap().starts_with("etc/"), "{root_login}");
    // HOSTROOT is the root scanned, so `etc/...` resolves to its file, not
    // the scanning machine's (#31).
    let root = std::fs::canonicalize("tests/fixtures/hosts/debian-default").unwrap();
    let base = run["originalUriBaseIds"]["HOSTROOT"]["uri"].as_str().unwrap();
    assert_eq!(base, format!("file://{}/", root.display()), "{}", run["originalUriBaseIds"]);
    let file = root.join(artifact["uri"].as_str().unwrap());
    assert!(file.is_file(), "{} does not exist", file.display());
    // A finding with no file on the host points at its rule's source and
    // names the host item it is about (#31): systemd's /dev/shm without noexec.
    let shm = results.iter().find(|r| r["ruleId"] == "CIS-1.1.2.2.4").unwrap();
    let location = &shm["locations"][0];
    assert_eq!(location["physicalLocation"]["artifactLocation"]["uriBaseId"], "POLICYROOT", "{shm}");
    let names: Vec<&str> = location["logicalLocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["fullyQualifiedName"].as_str())
        .collect();
    assert!(names.contains(&"mount:/dev/shm"), "{names:?}");
    // Skipped rules (no feed, no live kernel for a root) are notifications.
    let notes = run["invocations"][0]["toolExecutionNotifications"].as_array().unwrap();
    assert!(notes.iter().any(|n| n["associatedRule"]["id"] == "CVE-HIGH"
        && n["message"]["text"].as_str().unwrap().contains("no vulnerability feed")));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn a_finding_without_file_evidence_points_at_its_rule_and_errors_fail_the_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("examples.bundle");
    let out = assay(&["build", "examples/", "-o", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = "tests/fixtures/telemetry/weak-ssh.json";
    let out = assay(&["eval", "--bundle", bundle.to_str().unwrap(), "--telemetry", t, "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate(&sarif);
    check_github_rules(&sarif);
    let out = assay(&[
        "eval",
        "--bundle",
        bundle.to_str().unwrap(),
        "--telemetry",
        t,
        "--format",
        "sarif",
        "--max-instructions",
        "5",
    ]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate(&sarif);
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(notes
        .iter()
        .all(|n| n["level"] == "error" && n["message"]["text"].as_str().unwrap().contains(".assay:")));
}

/// `assay check --format sarif`: a policy repository's diagnostics for code
/// scanning. It validates against the schema; each result is at its file
/// (relative to `SRCROOT`, the folder check ran in), line and column, its
/// rule is the diagnostic code with the code's explanation as help, and
/// each suggested edit is a SARIF fix.
#[test]
fn check_writes_diagnostics_as_sarif_with_rules_locations_and_fixes() {
    let unguarded = "compiler/tests/diagnostics/E0402-narrowest-guard-and-function.assay";
    let out =
        assay(&["check", "--format", "sarif", unguarded, "compiler/tests/diagnostics/W0102-unused-import"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    validate(&sarif);
    let run = &sarif["runs"][0];
    let srcroot = run["originalUriBaseIds"]["SRCROOT"]["uri"].as_str().unwrap();
    let here = std::env::current_dir().unwrap().canonicalize().unwrap();
    assert_eq!(srcroot, format!("file://{}/", here.display()));
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let artifact = &result["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uriBaseId"], "SRCROOT", "{result}");
        assert!(here.join(artifact["uri"].as_str().unwrap()).is_file(), "{artifact}");
    }
    let e0402 = rules.iter().find(|r| r["id"] == "E0402").unwrap();
    assert!(e0402["help"]["text"].as_str().unwrap().contains("applies when"), "{e0402}");
    let first = results.iter().find(|r| r["ruleId"] == "E0402").unwrap();
    insta::assert_json_snapshot!("check_sarif_result", first);
    let lint = results.iter().find(|r| r["ruleId"] == "W0102").unwrap();
    assert_eq!(lint["level"], "warning");
    assert_eq!(
        lint["fixes"][0]["description"]["text"].as_str().unwrap().split('`').next(),
        Some("Remove the unused import ")
    );
}

/// A mount's evidence says where the mount comes from (#31): systemd's
/// built-in `/dev/shm` on an offline root says so, and an fstab line is
/// where the SARIF result points.
#[test]
fn mount_evidence_names_the_fstab_line_or_systemds_default() {
    let finding = |root: &std::path::Path| {
        let out =
            assay(&["scan", "--root", root.to_str().unwrap(), "--rule", "CIS-1.1.2.2.4", "--format", "json"]);
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
        let found = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule_id"] == "CIS-1.1.2.2.4")
            .cloned()
            .unwrap_or_else(|| panic!("no /dev/shm finding: {report}"));
        let out = assay(&[
            "scan",
            "--root",
            root.to_str().unwrap(),
            "--rule",
            "CIS-1.1.2.2.4",
            "--format",
            "sarif",
        ]);
        let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
        (found["evidence"][0].clone(), sarif["runs"][0]["results"][0]["locations"][0].clone())
    };
    let host = common::copy_host("debian-default");
    let root = host.path().join("root");
    let (evidence, location) = finding(&root);
    assert_eq!(evidence["path"], "find(m in host.mounts where m.path == \"/dev/shm\").options", "{evidence}");
    assert_eq!(evidence["source"], "systemd's built-in mount, no line in /etc/fstab", "{evidence}");
    assert_eq!(location["physicalLocation"]["artifactLocation"]["uriBaseId"], "POLICYROOT", "{location}");

    let fstab = std::fs::read_to_string(root.join("etc/fstab")).unwrap();
    std::fs::write(root.join("etc/fstab"), format!("{fstab}tmpfs /dev/shm tmpfs nosuid,nodev 0 0\n"))
        .unwrap();
    let line = fstab.lines().count() + 1;
    let (evidence, location) = finding(&root);
    assert_eq!(evidence["source"], format!("/etc/fstab:{line}"), "{evidence}");
    let physical = &location["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uriBaseId"], "HOSTROOT", "{location}");
    assert_eq!(physical["artifactLocation"]["uri"], "etc/fstab", "{location}");
    assert_eq!(physical["region"]["startLine"], line, "{location}");
}

/// `--sarif-group package` (#31): the advisories of one source package
/// are one result, listing its installed packages, with a fingerprint of
/// its own; the output still validates, and the option is refused for
/// another format.
#[test]
fn sarif_grouped_by_package_gives_one_result_per_source_package() {
    // openssl and libssl3 (both of source openssl) at a vulnerable version.
    let common::VulnerableHost { feed, root, .. } = &common::vulnerable_openssl_host(&["libssl3", "openssl"]);
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--root", root.to_str().unwrap(), "--package", "cve"];
        args.extend(["--feed", feed.to_str().unwrap()]);
        args.extend(extra);
        assay(&args)
    };
    let results = |out: &std::process::Output| -> Vec<Value> {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
        validate(&sarif);
        sarif["runs"][0]["results"].as_array().unwrap().clone()
    };
    let each = results(&scan(&["--format", "sarif"]));
    let text = |r: &Value| r["message"]["text"].as_str().unwrap().to_owned();
    let about_openssl = |r: &&Value| text(r).contains("DEBIAN-CVE-2024-5535");
    assert_eq!(each.iter().filter(about_openssl).count(), 2, "{each:#?}");
    let grouped = results(&scan(&["--format", "sarif", "--sarif-group", "package"]));
    assert_eq!(grouped.len(), each.len() - 1, "{grouped:#?}");
    let openssl: Vec<&Value> = grouped.iter().filter(about_openssl).collect();
    assert_eq!(openssl.len(), 1, "{grouped:#?}");
    assert_eq!(
        openssl[0]["message"]["text"],
        "source package openssl: 1 advisory affects libssl3 3.0.11-1~deb12u2, openssl 3.0.11-1~deb12u2: \
         DEBIAN-CVE-2024-5535 (CVE-2024-5535); it has a fixed version"
    );
    let fingerprint = &openssl[0]["partialFingerprints"]["assayFingerprint/v1"];
    assert!(each.iter().all(|r| &r["partialFingerprints"]["assayFingerprint/v1"] != fingerprint));
    let out = scan(&["--format", "json", "--sarif-group", "package"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--sarif-group applies to --format sarif only"), "{}", stderr(&out));
}
