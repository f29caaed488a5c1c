//! The policy author's loop through the binary: names that would never
//! match are compile errors, shared test defaults, test-file positions in
//! telemetry errors, `explain --package`, one rule selection for scan, eval
//! and test, `assay new`, fingerprints that survive rewording, and
//! evidence that names accounts as the system does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assay, assay_in, code, package, stdout};

/// Standard error with miette's wrapping and frame undone: words separated
/// by single spaces.
fn stderr(out: &std::process::Output) -> String {
    let text = common::stderr(out);
    text.split_whitespace().filter(|w| *w != "│").collect::<Vec<_>>().join(" ")
}
use std::path::Path;

const JOURNALD: &str = r#"/// Logs kept only in memory are lost at reboot.
rule JD-001 "Persist the journal" {
  severity low
  description "journald keeps its logs in memory."
  recommendation "Set `Storage=persistent` in /etc/systemd/journald.conf."
  tags ["logging"]
  let storage = find(c in host.config ?? [] where c.config == "journald" and c.key == "Storage")
  fail when (storage.value ?? "auto") == "volatile"
    message "journald keeps logs in memory (Storage={storage.value ?? "auto"})"
}

/// Anyone who can read the kernel log learns kernel addresses.
rule JD-002 "Restrict the kernel log" {
  severity low
  description "Unprivileged users can read the kernel log."
  recommendation "Set `kernel.dmesg_restrict = 1`."
  tags ["kernel"]
  let d = host.sysctl("kernel.dmesg_restrict")
  fail when (d.runtime ?? "0") == "0"
    message "kernel.dmesg_restrict is {d.runtime ?? "unset"}"
}
"#;

#[test]
fn a_misspelt_configuration_or_key_is_a_compile_error_with_the_right_name() {
    let dir = tempfile::tempdir().unwrap();
    for (wrong, expected) in [
        ("c.config == \"journald\"", "c.config == \"jornald\""),
        ("c.key == \"Storage\"", "c.key == \"storage\""),
    ] {
        let pkg = package(dir.path(), "journal", &JOURNALD.replace(wrong, expected));
        let out = assay(&["check", "--deny-warnings", pkg.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("error[E0314]"), "{err}");
        let help = if expected.contains("jornald") {
            "did you mean `journald`?"
        } else {
            "did you mean `Storage`? keys keep their case"
        };
        assert!(err.contains(help), "{err}");
    }
    // A configuration the collector does not read at all.
    let pkg = package(
        dir.path(),
        "journal",
        &JOURNALD.replace("c.config == \"journald\"", "c.config == \"docker\""),
    );
    let err = stderr(&assay(&["check", pkg.to_str().unwrap()]));
    assert!(err.contains("never holds the configuration \"docker\"") && err.contains("host.json"), "{err}");
}

#[test]
fn a_misspelt_sysctl_is_a_warning_with_the_documented_name() {
    let dir = tempfile::tempdir().unwrap();
    let source = JOURNALD.replace("kernel.dmesg_restrict\")", "kernel.dmesg_restrit\")");
    let pkg = package(dir.path(), "journal", &source);
    let out = assay(&["check", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "a warning does not fail the check: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning[W0108]") && err.contains("did you mean `kernel.dmesg_restrict`?"), "{err}");
    let out = assay(&["check", "--deny-warnings", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
}

#[test]
fn shared_defaults_anchors_and_merge_keys_reach_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path(), "journal", JOURNALD);
    std::fs::write(
        pkg.join("tests/journal.yaml"),
        r#"defaults:
  telemetry:
    asset: { os: { family: debian, distribution: debian } }
    config:
      - { config: journald, key: Storage, value: volatile }
    kernel:
      parameters:
        - { name: kernel.dmesg_restrict, runtime: "1" }
anchors:
  open_dmesg: &open_dmesg
    kernel:
      parameters:
        - { name: kernel.dmesg_restrict, runtime: "0" }
cases:
  - name: the defaults alone
    expect: { JD-001: failed, JD-002: passed }
  - name: a case overrides one section
    telemetry:
      config:
        - { config: journald, key: Storage, value: persistent }
    expect: { JD-001: passed, JD-002: passed }
  - name: a merge key brings an anchored section
    telemetry:
      <<: *open_dmesg
    expect: { JD-001: failed, JD-002: failed }
"#,
    )
    .unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("3 case(s), 6 expectation(s): 0 failed"), "{}", stdout(&out));
}

#[test]
fn a_typo_in_a_case_s_telemetry_names_the_test_file_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path(), "journal", JOURNALD);
    let file = pkg.join("tests/journal.yaml");
    std::fs::write(
        &file,
        "cases:\n  - name: fine\n    expect: { JD-002: failed }\n  - name: typo\n    telemetry:\n      kernel:\n        parameters:\n          - { name: kernel.dmesg_restrict, runtim: \"1\" }\n    expect: { JD-002: passed }\n",
    )
    .unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    let at = format!("{}:8:", file.display());
    assert!(err.contains(&at), "the test file's own line: {err}");
    assert!(err.contains("kernel.parameters[0].runtim") && err.contains("unknown field `runtim`"), "{err}");
    assert!(!err.contains("column 1"), "no position in a re-serialised document: {err}");
}

#[test]
fn explain_shows_a_package_s_own_rule() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path(), "journal", JOURNALD);
    let out = assay(&["explain", "--package", pkg.to_str().unwrap(), "JD-001"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("Logs kept only in memory are lost at reboot."), "{}", stdout(&out));
    let out = assay(&["explain", "--package", pkg.to_str().unwrap(), "JD-01"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("did you mean `JD-001`?"), "{}", stderr(&out));
    let out = assay(&["explain", "JD-001"]);
    assert!(stderr(&out).contains("--package DIR"), "{}", stderr(&out));
}

#[test]
fn scan_eval_and_test_select_rules_by_tag_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path(), "journal", JOURNALD);
    let bundle = dir.path().join("j.bundle");
    assert_eq!(code(&assay(&["build", pkg.to_str().unwrap(), "-o", bundle.to_str().unwrap()])), 0);
    // A fixture root collected for the bundle (no live dmesg_restrict: JD-002
    // fails), with journald's storage made volatile (JD-001 fails).
    let telemetry = dir.path().join("t.json");
    let root = common::fixture("debian-default");
    let out = assay(&[
        "collect",
        "--root",
        root.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "-o",
        telemetry.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&telemetry).unwrap()).unwrap();
    doc["config"] = serde_json::json!([{"config": "journald", "key": "Storage", "value": {"value": "volatile", "source": {"file": "/etc/systemd/journald.conf", "line": 3}}}]);
    std::fs::write(&telemetry, doc.to_string()).unwrap();
    let eval = |extra: &[&str]| {
        let mut args =
            vec!["eval", "--bundle", bundle.to_str().unwrap(), "--telemetry", telemetry.to_str().unwrap()];
        args.extend_from_slice(&["--format", "json"]);
        args.extend_from_slice(extra);
        assay(&args)
    };
    let all: serde_json::Value = serde_json::from_slice(&eval(&[]).stdout).unwrap();
    assert_eq!(all["findings"].as_array().unwrap().len(), 2, "{all:#}");
    let out = eval(&["--rule-tag", "kernel"]);
    let tagged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> =
        tagged["findings"].as_array().unwrap().iter().map(|f| f["rule_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["JD-002"], "{tagged:#}");
    assert_eq!(tagged["rules"].as_array().unwrap().len(), 1);
    let out = eval(&["--rule-tag", "kernal"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("did you mean `kernel`?"), "{}", stderr(&out));

    // The same options on `test`: only the selected rule's expectations.
    std::fs::write(
        pkg.join("tests/t.yaml"),
        "cases:\n  - name: c\n    expect: { JD-001: failed, JD-002: failed }\n",
    )
    .unwrap();
    let out = assay(&["test", "--rule-tag", "kernel", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "JD-001's wrong expectation is not checked: {}", stderr(&out));
    assert!(stdout(&out).contains("1 expectation(s): 0 failed"), "{}", stdout(&out));
    assert_eq!(code(&assay(&["test", pkg.to_str().unwrap()])), 1);
}

#[test]
fn a_new_package_checks_and_its_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let out = assay_in(dir.path(), &["new", "my-team-baseline"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let pkg = dir.path().join("my-team-baseline");
    for file in ["package.yaml", "rules.assay", "tests/rules.yaml", "README.md"] {
        assert!(pkg.join(file).is_file(), "{file}");
    }
    let out = assay(&["check", "--deny-warnings", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = assay(&["test", "--coverage", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let out = assay(&["fmt", "--check", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "the scaffold is in the canonical layout: {}", stderr(&out));
    // Never over an existing package; never a bad name.
    assert_eq!(code(&assay_in(dir.path(), &["new", "my-team-baseline"])), 2);
    assert_eq!(code(&assay_in(dir.path(), &["new", "My_Team"])), 2);
}

/// The fingerprints of a scan of the fixture root with `package`.
fn fingerprints(root: &Path, package: &Path) -> Vec<(String, String)> {
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        package.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["message"].as_str().unwrap().to_owned(), f["fingerprint"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn rewording_a_message_keeps_every_fingerprint_and_old_pins_still_match() {
    let host = common::copy_host("debian-default");
    let root = host.path().join("root");
    let dir = tempfile::tempdir().unwrap();
    let source = r#"rule PK-001 "No telnet or ftp clients" {
  severity low
  description "d"
  recommendation "r"
  for each p in host.packages ?? [] where p.name in ["bash", "gzip"]
    fail message "{p.name} {p.version} is installed"
}
"#;
    let pkg = package(dir.path(), "pk", source);
    let before = fingerprints(&root, &pkg);
    assert_eq!(before.len(), 2, "{before:?}");
    assert_ne!(before[0].1, before[1].1, "two items, two findings");
    std::fs::write(
        pkg.join("rules.assay"),
        source.replace("{p.name} {p.version} is installed", "found {p.name}"),
    )
    .unwrap();
    let after = fingerprints(&root, &pkg);
    assert_ne!(before[0].0, after[0].0, "the message changed");
    let (old, new): (Vec<_>, Vec<_>) =
        (before.iter().map(|f| &f.1).collect(), after.iter().map(|f| &f.1).collect());
    assert_eq!(old, new, "the fingerprints did not");

    // A waiver pinned to the fingerprint of earlier releases (rule, asset,
    // message) still matches, with a warning naming the new one.
    let report: serde_json::Value = serde_json::from_slice(
        &assay(&[
            "scan",
            "--root",
            root.to_str().unwrap(),
            "--package",
            pkg.to_str().unwrap(),
            "--format",
            "json",
        ])
        .stdout,
    )
    .unwrap();
    let f = &report["findings"][0];
    let legacy = assay_model::findings::legacy_fingerprint(
        f["rule_id"].as_str().unwrap(),
        f["asset"]["id"].as_str().unwrap(),
        f["message"].as_str().unwrap(),
    );
    let waivers = dir.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        format!(
            "waivers:\n  - rule: PK-001\n    fingerprint: {legacy}\n    owner: me\n    justification: reviewed\n    expires: 2099-01-01\n"
        ),
    )
    .unwrap();
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        pkg.to_str().unwrap(),
        "--waivers",
        waivers.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["waived"], 1, "{report:#}");
    let new = f["fingerprint"].as_str().unwrap();
    assert!(stderr(&out).contains(&format!("pin `fingerprint: {new}`")), "{}", stderr(&out));
}

#[test]
fn check_flags_expired_and_soon_expiring_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(dir.path(), "journal", JOURNALD);
    let day = |offset: i64| {
        let secs = (assay_runtime::waivers::today() + offset) * 86_400;
        assay_runtime::collector::rfc3339(secs)[..10].to_owned()
    };
    let waivers = dir.path().join("waivers.yaml");
    let entry = |rule: &str, expires: String| {
        format!(
            "  - rule: {rule}\n    owner: ops@example.com\n    justification: j\n    expires: {expires}\n"
        )
    };
    std::fs::write(&waivers, format!("waivers:\n{}{}", entry("JD-001", day(10)), entry("JD-002", day(400))))
        .unwrap();
    let out = assay(&["check", pkg.to_str().unwrap(), "--waivers", waivers.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("waivers.yaml:2: the waiver of JD-001 expires on"), "{}", stderr(&out));
    assert!(stderr(&out).contains("(in 10 day(s)); owner ops@example.com"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("JD-002 expires"), "{}", stderr(&out));

    std::fs::write(&waivers, format!("waivers:\n{}", entry("JD-001", day(-1)))).unwrap();
    let out = assay(&["check", pkg.to_str().unwrap(), "--waivers", waivers.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("error: ") && stderr(&out).contains("expired on"), "{}", stderr(&out));
}

#[test]
fn a_uid_shared_by_two_accounts_is_named_by_the_first_and_empty_lists_are_said() {
    use std::os::unix::fs::MetadataExt;
    let host = common::copy_host("debian-default");
    let root = host.path().join("root");
    let uid = std::fs::metadata(root.join("etc/shadow")).unwrap().uid();
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        format!("alpha:x:{uid}:0::/root:/bin/sh\n{passwd}omega:x:{uid}:0::/root:/bin/sh\n"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(
        dir.path(),
        "owner",
        r#"rule OW-001 "Who owns /etc/shadow" {
  severity low
  description "d"
  recommendation "r"
  let f = host.file("/etc/shadow")
  applies when f is present
  fail when f.uid >= 0
    message "/etc/shadow is owned by {f.owner ?? "nobody"}"
}

rule OW-002 "An empty list" {
  severity low
  description "d"
  recommendation "r"
  let root = find(g in host.groups ?? [] where g.name == "root")
  fail when root is present
    message "members of root: {root.members ?? ["unknown"]}"
}
"#,
    );
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        pkg.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"/etc/shadow is owned by alpha"), "{messages:?}");
    assert!(messages.contains(&"members of root: none"), "{messages:?}");
}

/// Every finding of a scan has a fingerprint of its own: two clauses, two
/// items or two values of a `for each` over plain values are two findings.
#[test]
fn no_two_findings_of_a_scan_share_a_fingerprint() {
    for host in ["debian-default", "rpm", "alpine", "container-default"] {
        let root = common::fixture(host);
        let out = assay(&["scan", "--root", root.to_str().unwrap(), "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let findings = report["findings"].as_array().unwrap();
        let mut seen = std::collections::BTreeMap::new();
        for f in findings {
            let previous = seen.insert(f["fingerprint"].as_str().unwrap(), f["message"].as_str().unwrap());
            assert!(previous.is_none(), "{host}: {previous:?} and {} share a fingerprint", f["message"]);
        }
        assert!(findings.len() > 2, "{host}: {}", findings.len());
    }
}

/// The scan report of `examples/ssh-hardening` on the default fixture root,
/// with `extra` options.
fn ssh_scan(extra: &[&str]) -> (i32, serde_json::Value, String) {
    let root = common::fixture("debian-default");
    let mut args = vec!["scan", "--root", root.to_str().unwrap(), "--package", "examples/ssh-hardening"];
    args.extend_from_slice(&["--rule", "SSH-003", "--format", "json"]);
    args.extend_from_slice(extra);
    let out = assay(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code(&out), report, stderr(&out))
}

#[test]
fn a_parameter_overrides_a_limit_per_scan_and_is_recorded() {
    let (_, default, _) = ssh_scan(&[]);
    assert_eq!(default["rules"][0]["outcome"], "failed", "MaxAuthTries 6 > 4: {default:#}");
    let recorded = serde_json::json!([{"key": "ssh-hardening.MAX_AUTH_TRIES", "value": "4"}]);
    assert_eq!(default["params"], recorded);
    assert_eq!(default["findings"][0]["params"], recorded);

    let (_, relaxed, _) = ssh_scan(&["--param", "ssh-hardening.MAX_AUTH_TRIES=6"]);
    assert_eq!(relaxed["rules"][0]["outcome"], "passed", "{relaxed:#}");
    assert_eq!(relaxed["params"][0]["value"], "6");
    assert_eq!(relaxed["bundle_digest"], default["bundle_digest"], "values are not in the bundle");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("params.yaml");
    std::fs::write(&file, "MAX_AUTH_TRIES: 2\n").unwrap();
    let (_, strict, _) = ssh_scan(&["--params", file.to_str().unwrap()]);
    assert!(strict["findings"][0]["message"].as_str().unwrap().contains("at most 2"), "{strict:#}");
    // The command line wins over the file.
    let (_, both, _) = ssh_scan(&["--params", file.to_str().unwrap(), "--param", "MAX_AUTH_TRIES=8"]);
    assert_eq!(both["rules"][0]["outcome"], "passed", "{both:#}");

    let (code, _, err) = ssh_scan(&["--param", "ssh-hardening.MAX_AUTH_TRIES=many"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("parameter `ssh-hardening.MAX_AUTH_TRIES` is int: \"many\" is not an integer"),
        "{err}"
    );
    let (code, _, err) = ssh_scan(&["--param", "ssh-hardening.MAX_TRIES=3"]);
    assert_eq!(code, 2);
    assert!(err.contains("no parameter `ssh-hardening.MAX_TRIES`; the packages declare"), "{err}");
}

#[test]
fn a_parameter_is_set_per_eval_and_per_test_case() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ssh.bundle");
    assert_eq!(code(&assay(&["build", "examples/ssh-hardening", "-o", bundle.to_str().unwrap()])), 0);
    let telemetry = dir.path().join("t.json");
    let root = common::fixture("debian-default");
    let out = assay(&["collect", "--root", root.to_str().unwrap(), "-o", telemetry.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let eval = |extra: &[&str]| {
        let mut args =
            vec!["eval", "--bundle", bundle.to_str().unwrap(), "--telemetry", telemetry.to_str().unwrap()];
        args.extend_from_slice(&["--rule", "SSH-003", "--format", "json"]);
        args.extend_from_slice(extra);
        serde_json::from_slice::<serde_json::Value>(&assay(&args).stdout).unwrap()
    };
    assert_eq!(eval(&[])["rules"][0]["outcome"], "failed");
    assert_eq!(eval(&["--param", "MAX_AUTH_TRIES=6"])["rules"][0]["outcome"], "passed");

    // A test file: a default for every case, a case of its own, and the
    // command line under both.
    let (_tmp, pkg) = {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("ssh-hardening");
        common::copy_tree(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ssh-hardening").as_path(),
            &pkg,
        );
        (tmp, pkg)
    };
    std::fs::create_dir_all(pkg.join("tests")).unwrap();
    std::fs::write(
        pkg.join("tests/params.yaml"),
        r#"defaults:
  telemetry:
    asset: { os: { family: debian, distribution: debian } }
    sshd: { max_auth_tries: 5 }
  params:
    MAX_AUTH_TRIES: 5
cases:
  - name: the file's default allows 5
    expect: { SSH-003: passed }
  - name: a case's own value
    params: { ssh-hardening.MAX_AUTH_TRIES: 3 }
    expect: { SSH-003: failed }
    findings:
      SSH-003: { message: "at most 3" }
"#,
    )
    .unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // `--param` is under the file's values: the cases still hold.
    let out = assay(&["test", "--param", "MAX_AUTH_TRIES=1", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // A wrong value in a case is the test file's error, at its line.
    let file = pkg.join("tests/params.yaml");
    common::edit(&file, "ssh-hardening.MAX_AUTH_TRIES: 3", "ssh-hardening.MAX_AUTH_TRIES: three");
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{}:11:45:", file.display())), "{}", stderr(&out));
}

#[test]
fn a_recorded_case_holds_as_written_and_keeps_only_what_the_rules_read() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("container-host");
    common::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/container-host"), &pkg);
    let bundle = dir.path().join("c.bundle");
    assert_eq!(code(&assay(&["build", pkg.to_str().unwrap(), "-o", bundle.to_str().unwrap()])), 0);
    let telemetry = dir.path().join("host.json");
    let root = common::fixture("container-default");
    let out = assay(&[
        "collect",
        "--root",
        root.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "-o",
        telemetry.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = assay(&["test", "--record", telemetry.to_str().unwrap(), pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let yaml = stdout(&out);
    let doc: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    let case = &doc["cases"][0];
    let sections: Vec<&str> = case["telemetry"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(sections, ["asset", "certificates", "collection", "contents"], "{yaml}");
    // The recorded outcomes are the scan's: ten failed, TLS-001 passed.
    let failed = case["expect"].as_object().unwrap().values().filter(|v| *v == "failed").count();
    assert_eq!((failed, case["expect"]["TLS-001"].as_str()), (10, Some("passed")), "{yaml}");
    // Kept as a test file, it holds.
    std::fs::write(pkg.join("tests/recorded.yaml"), &yaml).unwrap();
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    // Nothing the collector would not keep: no planted credential.
    assert!(!yaml.contains("PLANTED"), "{yaml}");
}

#[test]
fn rules_about_time_use_the_collection_s_clock() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = package(
        dir.path(),
        "ages",
        r#"import std.dates

rule PWD-AGE "Passwords changed in the last 90 days" {
  severity low
  description "A password has not been changed for more than 90 days."
  recommendation "Change it."
  applies when host.collection is present
  let today = dates.days(host.collection.started) ?? 0
  for each u in host.users ?? [] where u.last_change is present and today - (u.last_change ?? 0) > 90
    fail message "{u.name} last changed their password {today - (u.last_change ?? 0)} days ago"
}
"#,
    );
    // 2026-12-07 is day 20794; 20694 is 100 days before, 20754 is 40.
    std::fs::write(
        pkg.join("tests/ages.yaml"),
        r#"defaults:
  telemetry:
    collection: { started: "2026-12-07T10:00:00Z" }
cases:
  - name: a password 100 days old
    telemetry:
      users: [{ name: ada, last_change: 20694 }, { name: bob, last_change: 20754 }]
    expect: { PWD-AGE: failed }
    findings:
      PWD-AGE: { count: 1, message: "ada last changed their password 100 days ago" }
  - name: the same host judged on the day it was collected, not today
    telemetry:
      collection: { started: "2026-09-08T10:00:00+02:00" }
      users: [{ name: ada, last_change: 20694 }]
    expect: { PWD-AGE: passed }
"#,
    )
    .unwrap();
    let out = assay(&["test", "--coverage", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}
