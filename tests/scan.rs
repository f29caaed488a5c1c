//! `assay scan` and `assay test` over the built-in packages.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::assay;

fn json_scan(root: &str) -> serde_json::Value {
    let out = assay(&["scan", "--root", root, "--package", "security-best-practices", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_hardened_host_has_no_best_practice_finding() {
    let doc = json_scan("tests/fixtures/hosts/debian-hardened");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{:#}", doc["findings"]);
    assert!(doc["summary"]["passed"].as_u64().unwrap() >= 8);
}

#[test]
fn a_default_debian_has_the_expected_findings_with_file_and_line() {
    let doc = json_scan("tests/fixtures/hosts/debian-default");
    let findings = doc["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["rule_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["SBP-PWD-001", "SBP-PWD-002", "SBP-PWD-003", "SBP-SSH-001", "SBP-SSH-003"]);
    let source = |id: &str| {
        let f = findings.iter().find(|f| f["rule_id"] == id).unwrap();
        f["evidence"][0]["source"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(source("SBP-PWD-001"), "/etc/login.defs:165");
    assert_eq!(source("SBP-SSH-003"), "/etc/ssh/sshd_config.d/50-cloud-init.conf:1");
    assert_eq!(source("SBP-SSH-001"), "OpenSSH default");
}

#[test]
fn scan_gates_writes_html_and_rejects_unknown_packages() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let out = assay(&[
        "scan",
        "--root",
        "tests/fixtures/hosts/debian-default",
        "--report",
        "full",
        "--fail-on",
        "medium",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "medium findings fail at --fail-on medium");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>")
            && page.contains("SBP-PWD-001")
            && page.contains("/etc/login.defs:165")
    );
    assert!(page.contains("Not applicable") && !page.contains("<script") && !page.contains("http://"));
    let out = assay(&["scan", "--root", "tests/fixtures/hosts/debian-default", "--package", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn this_host_scans_and_reports_password_aging() {
    let out = assay(&["scan", "--format", "json", "--package", "security-best-practices"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["rules"].as_array().unwrap().iter().all(|r| r["outcome"] != "error"), "{:#}", doc["rules"]);
}

#[test]
fn policy_tests_of_every_built_in_package_pass_with_full_coverage() {
    let out = assay(&["test", "--coverage", "policies/"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_wrong_expectation_fails_the_policy_tests() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("security-best-practices");
    assert!(Command::new("cp")
        .arg("-r")
        .arg("policies/security-best-practices")
        .arg(&pkg)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap()
        .success());
    let tests = pkg.join("tests/ssh.yaml");
    let text = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(&tests, text.replacen("SBP-SSH-001: failed", "SBP-SSH-001: passed", 1)).unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SBP-SSH-001: expected passed, got failed (sshd permits root login"), "{err}");
}

#[test]
fn feed_import_skips_bad_records_and_scan_reports_cves_with_fixed_versions() {
    let dir = tempfile::tempdir().unwrap();
    let osv = dir.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("DEBIAN-CVE-2099-0001.json"),
        r#"{"id": "DEBIAN-CVE-2099-0001", "aliases": ["CVE-2099-0001"], "summary": "test advisory",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssh"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:99.0p1-1"}]}]}]}"#,
    )
    .unwrap();
    std::fs::write(osv.join("broken.json"), "{ this is not JSON").unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["feed", "import", "--osv", osv.to_str().unwrap()])
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped broken.json"));
    assert!(data.join("assay/feed.bin").exists());
    let gate = |env_data: &std::path::Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_assay"))
            .args([
                "scan",
                "--root",
                "tests/fixtures/hosts/debian-default",
                "--package",
                "cve",
                "--format",
                "json",
            ])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("XDG_DATA_HOME", env_data)
            .output()
            .unwrap()
    };
    let scan = |env_data: &std::path::Path| gate(env_data, &[]);
    let out = scan(&data);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{doc:#}");
    // The record rates it nowhere: reported as unrated, never as medium.
    assert_eq!(findings[0]["rule_id"], "CVE-UNRATED");
    assert!(findings[0]["message"].as_str().unwrap().ends_with("no source rates its severity"), "{doc:#}");
    assert!(findings.iter().all(|f| f["message"].as_str().unwrap().contains("fixed in 1:99.0p1-1")));
    let empty = dir.path().join("empty");
    let out = scan(&empty);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("CVE checks were skipped").count(), 1, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Without a feed the CVE rules were not evaluated: skipped, with why.
    let rules = doc["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["outcome"] == "skipped"), "{doc:#}");
    assert!(rules.iter().all(|r| r["reason"].as_str().unwrap().contains("no vulnerability feed")));
    assert_eq!(doc["summary"]["skipped"], 4);
    // A gate never goes green on checks it did not do.
    let out = gate(&empty, &["--fail-on", "low"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CVE-HIGH skipped: needs `vulnerabilities`"));
    let out = gate(&empty, &["--fail-on", "low", "--allow-skipped"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // With the feed, findings at the threshold fail the gate with 1.
    let out = gate(&data, &["--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

/// docs/rules/<package>.md are generated from the built-in packages; this
/// fails when one is stale (`ASSAY_UPDATE_DOCS=1 cargo test --test scan` rewrites them).
#[test]
fn rule_reference_pages_are_current() {
    let loaded = assay_compiler::package::load(&["policies".into()]).unwrap();
    let built = assay_compiler::build(&loaded).ok().unwrap();
    let bundle = assay_model::bundle::load(&built.bytes).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules");
    let mut stale = Vec::new();
    for (i, p) in bundle.content.packages.iter().enumerate() {
        let page = assay_runtime::reports::rulebook::package_page(&bundle.content, i);
        let path = dir.join(format!("{}.md", p.name));
        if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &page).unwrap();
        }
        if std::fs::read_to_string(&path).unwrap_or_default() != page {
            stale.push(path.display().to_string());
        }
    }
    assert!(stale.is_empty(), "stale: {stale:?}; run `ASSAY_UPDATE_DOCS=1 cargo test --test scan`");
    // The README's package table counts rules from the same bundle.
    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let mut readme = std::fs::read_to_string(&readme_path).unwrap();
    for (i, p) in bundle.content.packages.iter().enumerate() {
        let count = bundle.content.rules.iter().filter(|r| r.package as usize == i).count();
        let prefix = format!("| `{}` | ", p.name);
        let Some(start) = readme.find(&prefix) else { panic!("README.md has no row for {}", p.name) };
        let at = start + prefix.len();
        let end = at + readme[at..].find(" |").unwrap();
        if readme[at..end] != count.to_string() {
            if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
                readme.replace_range(at..end, &count.to_string());
            } else {
                panic!("README.md counts {} rules in {}, the bundle has {count}; run `ASSAY_UPDATE_DOCS=1 cargo test --test scan`", &readme[at..end], p.name);
            }
        }
    }
    if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
        std::fs::write(&readme_path, readme).unwrap();
    }
}

#[test]
fn explain_prints_a_rules_documentation() {
    let out = assay(&["explain", "sbp-pwd-001"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Configure password maximum age")
            && text.contains("PASS_MAX_DAYS")
            && text.contains("CIS Debian Linux 12")
    );
    let out = assay(&["explain", "SBP-PWD-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SBP-PWD-001"));
}

#[test]
fn watch_reruns_checks_and_tests_when_a_file_changes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("runtime-behavior");
    assert!(Command::new("cp")
        .arg("-r")
        .arg("policies/runtime-behavior")
        .arg(&pkg)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap()
        .success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["watch", pkg.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut wait_for = |needle: &str| {
        for line in lines.by_ref() {
            if line.unwrap().contains(needle) {
                return;
            }
        }
        panic!("watch ended before printing `{needle}`");
    };
    wait_for("expectation(s): 0 failed");
    wait_for("watching for changes");
    let tests = pkg.join("tests/network.yaml");
    let text = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(&tests, text.replacen("RBA-NET-001: failed", "RBA-NET-001: passed", 1)).unwrap();
    wait_for("expectation(s): 1 failed");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn every_built_in_rule_is_fully_documented() {
    let loaded = assay_compiler::package::load(&["policies".into()]).unwrap();
    let built = assay_compiler::build(&loaded).ok().unwrap();
    let bundle = assay_model::bundle::load(&built.bytes).unwrap();
    for r in &bundle.content.rules {
        for (what, text) in [
            ("title", &r.title),
            ("description", &r.description),
            ("rationale", &r.rationale),
            ("recommendation", &r.recommendation),
        ] {
            assert!(!text.trim().is_empty(), "{} has no {what}", r.id);
        }
        assert!(!r.references.is_empty(), "{} has no references", r.id);
        if r.id.starts_with("CIS-") {
            assert!(
                r.references.iter().any(|x| x.contains("CIS") && x.contains("(Level ")),
                "{} names no CIS section and level",
                r.id
            );
        }
    }
    assert!(bundle.content.rules.iter().filter(|r| r.id.starts_with("CIS-")).count() >= 60);
}

/// Real advisories (copied into tests/fixtures/osv from the shared OSV data):
/// a Debian record keyed on the source package and a PyPI YAML record.
#[test]
fn real_debian_and_pypi_advisories_match_through_source_packages() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("fixtures.feed");
    let out = assay(&["feed", "import", "--osv", "tests/fixtures/osv", "-o", feed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 3 advisories"));
    // The fixture's openssl is current; make libssl3 (source openssl) older.
    let root = dir.path().join("root");
    assert!(Command::new("cp")
        .arg("-a")
        .arg("tests/fixtures/hosts/debian-default")
        .arg(&root)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap()
        .success());
    common::set_dpkg_versions(&root, &["libssl3"], "3.0.11-1~deb12u2");
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        "cve",
        "--feed",
        feed.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<&str> =
        doc["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    let starts = |prefix: &str| messages.iter().any(|m| m.starts_with(prefix));
    assert!(starts("libssl3 3.0.11-1~deb12u2 (source package openssl) is affected by DEBIAN-CVE-2024-5535 (CVE-2024-5535); fixed in 3.0.15-1~deb12u1; rated "), "{messages:#?}");
    assert!(
        starts("requests 2.28.1 is affected by PYSEC-2023-74 (CVE-2023-32681); fixed in 2.31.0; "),
        "{messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.starts_with("openssl ")),
        "the current openssl is not affected: {messages:#?}"
    );
    // Each (advisory, package) is its own finding with its own fingerprint:
    // a vulnerability is named by its `id` (until schema 6 every CVE
    // finding of a rule on a host had the same one, and the server kept
    // one of them).
    let findings = doc["findings"].as_array().unwrap();
    let fingerprints: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f["fingerprint"].as_str().unwrap()).collect();
    assert!(findings.len() >= 2);
    assert_eq!(fingerprints.len(), findings.len(), "{findings:#?}");
    let libssl = findings.iter().find(|f| f["message"].as_str().unwrap().starts_with("libssl3 ")).unwrap();
    let path = libssl["evidence"][0]["path"].as_str().unwrap();
    assert!(
        path.starts_with("find(v in host.vulnerabilities where v.id == \"DEBIAN-CVE-2024-5535 libssl3\")."),
        "{path}"
    );
}

/// An author's own package against a host in one step: a folder compiled
/// on the fly, a built bundle, built-in packages beside them, rules chosen.
#[test]
fn scan_runs_your_own_package_folder_or_bundle_beside_the_built_in_ones() {
    let root = "tests/fixtures/hosts/debian-default";
    let json = |args: &[&str]| {
        let mut all = vec!["scan", "--root", root, "--format", "json"];
        all.extend_from_slice(args);
        let out = assay(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: std::collections::BTreeSet<String> = doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rule_id"].as_str().unwrap().to_owned())
            .collect();
        ids
    };
    let folder = json(&["--package", "examples/ssh-hardening"]);
    assert!(folder.contains("SSH-001") && !folder.iter().any(|r| r.starts_with("SBP-")), "{folder:?}");
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ssh.bundle");
    assert_eq!(
        assay(&["build", "examples/ssh-hardening", "-o", bundle.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let both = json(&["--package", bundle.to_str().unwrap(), "--package", "security-best-practices"]);
    assert!(
        both.contains("SSH-001")
            && both.contains("SBP-SSH-001")
            && !both.iter().any(|r| r.starts_with("CIS-"))
    );
    let chosen = json(&["--package", bundle.to_str().unwrap(), "--rule", "SSH-001", "--rule", "SSH-002"]);
    assert_eq!(chosen.into_iter().collect::<Vec<_>>(), ["SSH-001", "SSH-002"]);
    let tagged = json(&["--package", "cve", "--rule-tag", "cve", "--allow-skipped"]);
    assert_eq!(tagged.len(), 4);
    // A package that does not compile: its diagnostics, exit 1, no scan.
    let broken = dir.path().join("broken.assay");
    std::fs::write(&broken, "rule X \"t\" {\n  severity meduim\n}\n").unwrap();
    let out = assay(&["scan", "--root", root, "--package", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("E0102") && err.contains("does not compile"), "{err}");
}

/// Policy tests never invent what a case leaves out: a user given only a
/// name is not root with a password set; `sshd: {}` has no PermitRootLogin
/// of `""`. Before, both rules below fired on values the case never gave.
#[test]
fn partial_telemetry_in_policy_tests_invents_no_value() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(pkg.join("tests")).unwrap();
    std::fs::write(
        pkg.join("package.yaml"),
        "name: pkg\ntitle: T\nversion: 1.0.0\ndescription: D\nplatforms: [linux]\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("rules.assay"),
        r#"rule T-ROOT "Root with a password" {
  severity high
  description "d"
  recommendation "r"
  applies when host.users is present

  for each u in host.users where u.uid == 0 and u.password == set
    fail message "{u.name} is uid 0 with a password"
}

rule T-EMPTY "Empty PermitRootLogin" {
  severity high
  description "d"
  recommendation "r"
  applies when host.sshd is present

  fail when host.sshd.permit_root_login == ""
    message "empty"
}
"#,
    )
    .unwrap();
    std::fs::write(
        pkg.join("tests/cases.yaml"),
        "cases:\n  - name: a user given only a name\n    telemetry:\n      users: [{ name: alice }]\n    expect:\n      T-ROOT: passed\n  - name: an empty sshd section\n    telemetry:\n      sshd: {}\n    expect:\n      T-EMPTY: passed\n",
    )
    .unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `assay test`: findings assertions, -v, --filter, JUnit, and YAML
/// mistakes reported at their line (unknown and duplicate keys).
#[test]
fn policy_tests_assert_findings_filter_and_report_yaml_mistakes_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("minimal");
    common::copy_tree(std::path::Path::new("examples/minimal"), &pkg);
    std::fs::create_dir_all(pkg.join("tests")).unwrap();
    let case = |name: &str, findings: &str| {
        format!(
            "  - name: {name}\n    telemetry:\n      kernel:\n        parameters: [{{name: kernel.randomize_va_space, runtime: \"0\"}}]\n    expect:\n      MIN-001: failed\n    findings:\n      MIN-001: {findings}\n"
        )
    };
    let good = case(
        "aslr off",
        r#"{ count: 1, message: "is 0", message_matches: "^kernel", evidence: "host.kernel.parameters[].runtime" }"#,
    );
    let bad = case("aslr wrong", r#"{ count: 2, evidence: "host.sshd" }"#);
    std::fs::write(pkg.join("tests/a.yaml"), format!("cases:\n{good}{bad}")).unwrap();
    let p = pkg.to_str().unwrap();
    let out = assay(&["test", "-v", p]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok   ") && text.contains("FAIL ") && text.contains("aslr wrong"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expected 2 finding(s), got 1") && err.contains("no evidence at `host.sshd`"),
        "{err}"
    );
    let out = assay(&["test", "--filter", "aslr off", p]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = assay(&["test", "--format", "junit", p]);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(
        xml.starts_with("<?xml") && xml.matches("<testcase ").count() == 2 && xml.contains("<failure"),
        "{xml}"
    );
    let out = assay(&["test", "--filter", "nonesuch", p]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(pkg.join("tests/a.yaml"), "cases:\n  - name: x\n    telemetry: {}\n    expekt: {}\n")
        .unwrap();
    let out = assay(&["test", p]);
    let err: String = String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.status.code() == Some(2) && err.contains("a.yaml:4:5") && err.contains("unknown field `expekt`"),
        "{err}"
    );
    std::fs::write(
        pkg.join("tests/a.yaml"),
        "cases:\n  - name: x\n    telemetry: {}\n    expect:\n      MIN-001: passed\n      MIN-001: failed\n",
    )
    .unwrap();
    let out = assay(&["test", p]);
    let err = String::from_utf8_lossy(&out.stderr).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(out.status.code() == Some(2) && err.contains("duplicate entry"), "{err}");
}

/// Waivers: a matching one accepts the finding (kept, counted apart, not
/// failing the gate); an expired one waives nothing and raises a finding;
/// one for another asset matches nothing and is reported; `check` finds
/// unknown rule ids.
#[test]
fn waivers_accept_findings_until_they_expire_and_unused_ones_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.yaml");
    let write = |asset: &str, expires: &str| {
        std::fs::write(
            &waivers,
            format!(
                "waivers:\n  - rule: SBP-PWD-001\n    asset: \"{asset}\"\n    owner: platform-team@example.com\n    justification: Accounts are managed by the directory, not login.defs.\n    expires: {expires}\n"
            ),
        )
        .unwrap();
    };
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--root",
            "tests/fixtures/hosts/debian-default",
            "--package",
            "security-best-practices",
            "--rule",
            "SBP-PWD-001",
            "--format",
            "json",
            "--waivers",
            waivers.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        assay(&args)
    };
    write("*", "2999-12-31");
    let out = scan(&["--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["waived"], 1);
    assert_eq!(doc["summary"]["medium"], 0);
    assert_eq!(doc["findings"][0]["waived"]["owner"], "platform-team@example.com");
    assert!(doc["findings"][0]["waived"]["source"].as_str().unwrap().ends_with("waivers.yaml:2"));

    write("*", "2000-01-01");
    let out = scan(&["--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired on 2000-01-01"));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> =
        doc["findings"].as_array().unwrap().iter().map(|f| f["rule_id"].as_str().unwrap()).collect();
    assert!(rules.contains(&"SBP-PWD-001") && rules.contains(&"WAIVER-EXPIRED"), "{rules:?}");

    write("some-other-host", "2999-12-31");
    let out = scan(&["--fail-on", "medium"]);
    assert_eq!(out.status.code(), Some(1), "a waiver for another asset must not apply");
    assert!(String::from_utf8_lossy(&out.stderr).contains("matched no finding"));
    let out = scan(&["--fail-on-unused-waivers"]);
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(
        &waivers,
        "waivers:\n  - rule: SBP-PWD-01\n    owner: a\n    justification: j\n    expires: 2999-12-31\n",
    )
    .unwrap();
    let out = assay(&["check", "examples/minimal", "--waivers", waivers.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `SBP-PWD-001`?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Debian's default common-auth has `pam_unix.so nullok`: the CIS rule must
/// find it there (it was only looked for in the password stack), with the
/// file and line; the hardened host, without nullok, passes.
#[test]
fn nullok_in_common_auth_is_found_with_its_line() {
    let rules = |root: &str| {
        let out = assay(&[
            "scan",
            "--root",
            root,
            "--package",
            "cis-linux",
            "--rule",
            "CIS-5.3.3.4.1",
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let default = rules("tests/fixtures/hosts/debian-default");
    assert_eq!(default["rules"][0]["outcome"], "failed", "{default:#}");
    let evidence = &default["findings"][0]["evidence"][0];
    assert_eq!(evidence["source"], "/etc/pam.d/common-auth:17", "{default:#}");
    let hardened = rules("tests/fixtures/hosts/debian-hardened");
    assert_eq!(hardened["rules"][0]["outcome"], "passed", "{hardened:#}");
}

/// Policy-driven collection: a rule's `host.sysctl(...)` travels in the
/// bundle, scan gathers it, and telemetry collected without the bundle
/// leaves the rule skipped instead of passing or failing on nothing.
#[test]
fn lookups_by_name_are_collected_for_the_bundle_or_the_rule_is_skipped() {
    let host = common::copy_host("debian-default");
    let root = host.path().join("root");
    std::fs::create_dir_all(root.join("etc/sysctl.d")).unwrap();
    std::fs::write(root.join("etc/sysctl.d/50-perf.conf"), "# test\nkernel.perf_event_paranoid = 0\n")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("perf.assay");
    std::fs::write(
        &pkg,
        r#"rule LK-PERF "Restrict perf events" {
  severity medium
  description "Unprivileged users may use perf events."
  recommendation "Set `kernel.perf_event_paranoid = 2` in /etc/sysctl.d/."
  let perf = host.sysctl("kernel.perf_event_paranoid")

  fail when (perf.persisted ?? "0") == "0"
    message "kernel.perf_event_paranoid is {perf.persisted ?? "unset"} in sysctl.d"
}
"#,
    )
    .unwrap();
    let (root, pkg) = (root.to_str().unwrap(), pkg.to_str().unwrap());
    let out = assay(&["scan", "--root", root, "--package", pkg, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["message"], "kernel.perf_event_paranoid is 0 in sysctl.d", "{report}");
    let evidence = &finding["evidence"][0];
    assert_eq!(evidence["path"], "host.sysctl(\"kernel.perf_event_paranoid\").persisted");
    assert_eq!(evidence["source"], "/etc/sysctl.d/50-perf.conf:2");

    let bundle = dir.path().join("perf.bundle");
    let out = assay(&["build", pkg, "-o", bundle.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let outcome = |telemetry: &std::path::Path| {
        let out = assay(&[
            "eval",
            "--bundle",
            bundle.to_str().unwrap(),
            "--telemetry",
            telemetry.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["rules"][0].clone()
    };
    let without = dir.path().join("without.json");
    let out = assay(&["collect", "--root", root, "-o", without.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let rule = outcome(&without);
    assert_eq!(rule["outcome"], "skipped", "{rule}");
    assert!(
        rule["reason"].as_str().unwrap_or("").contains("host.sysctl(\"kernel.perf_event_paranoid\")"),
        "{rule}"
    );
    let with = dir.path().join("with.json");
    let out = assay(&[
        "collect",
        "--root",
        root,
        "--bundle",
        bundle.to_str().unwrap(),
        "-o",
        with.to_str().unwrap(),
    ]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(outcome(&with)["outcome"], "failed");
}

/// Evidence is printed in the language's own syntax (#31): every path a
/// scan of the fixture roots prints, with the built-in packages and the
/// examples, compiles as an expression in a rule (`assay check`), so an
/// author can copy it. Only an item with no naming field (`[]`) and a
/// function's parameter (`module.f(param)`) are not expressions.
#[test]
fn every_printed_evidence_path_compiles_as_an_expression() {
    let mut paths = std::collections::BTreeSet::new();
    for root in ["debian-default", "debian-hardened", "container-default", "rpm", "alpine"] {
        let root = format!("tests/fixtures/hosts/{root}");
        let mut args = vec!["scan", "--root", &root, "--format", "json"];
        for p in ["examples/package-versions", "examples/container-host", "examples/ssh-hardening"] {
            args.extend(["--package", p]);
        }
        let built_in = ["--package", "security-best-practices", "--package", "cis-linux"];
        args.extend(built_in);
        let out = assay(&args);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{root}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        let reports = match doc.as_array() {
            Some(all) => all.clone(),
            None => vec![doc],
        };
        for f in reports.iter().flat_map(|r| r["findings"].as_array().unwrap().clone()) {
            for e in f["evidence"].as_array().unwrap() {
                paths.insert(e["path"].as_str().unwrap().to_owned());
            }
        }
    }
    let expressions: Vec<&String> = paths
        .iter()
        .filter(|p| !p.contains("[]") && (p.starts_with("host.") || p.starts_with("find(")))
        .collect();
    for kind in [
        "host.sysctl(",
        "host.module(",
        "host.file(",
        "host.json(",
        "find(m in host.mounts",
        "find(u in host.users",
    ] {
        assert!(expressions.iter().any(|p| p.starts_with(kind)), "no {kind} path among {paths:#?}");
    }
    assert!(!paths.iter().any(|p| p.contains("[\"")), "a bracketed item: {paths:#?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.yaml"),
        "name: evidence\ntitle: Evidence\nversion: 0.1.0\ndescription: d\nplatforms: [linux]\n",
    )
    .unwrap();
    let rules: String = expressions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // A list that may be absent is guarded, as E0402 asks of any
            // read of it (and offers as its quick fix).
            let guard = match p.strip_prefix("find(").and_then(|f| f.split_once(" in ")) {
                Some((_, rest)) => format!("  applies when {} is present\n", rest.split(' ').next().unwrap()),
                None => String::new(),
            };
            format!(
                "rule EV-{i} \"evidence {i}\" {{\n  severity low\n  description \"d\"\n  recommendation \"r\"\n\
                 {guard}  let read = {p}\n  fail when read is present\n    message \"m\"\n}}\n\n"
            )
        })
        .collect();
    std::fs::write(dir.path().join("rules.assay"), &rules).unwrap();
    let out = assay(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}\n{rules}", String::from_utf8_lossy(&out.stderr));
}
