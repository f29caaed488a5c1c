//! Lookups of configuration files' contents (#32), end to end: fixture
//! roots with real-world files (Docker's daemon.json, a kubelet
//! config.yaml, containerd's config.toml, a postgresql.conf with
//! `include_dir`, a pg_hba.conf, a my.cnf with `!includedir`) give the
//! right verdicts through `assay scan --root --package`; a credential
//! planted in every file never reaches the telemetry; an unparsable file
//! skips its rules with the parser's message; a credential's value cannot
//! be looked up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assay, assay_in, code, fixture, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const PACKAGE: &str = "examples/container-host";

fn scan(root: &Path) -> Value {
    let out = assay(&["scan", "--root", root.to_str().unwrap(), "--package", PACKAGE, "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

/// A scan of `root` with the package `pkg` (a folder or `.assay` file).
fn scan_with(root: &Path, pkg: &Path) -> Value {
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        pkg.to_str().unwrap(),
        "--format",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

fn outcomes(report: &Value) -> BTreeMap<String, String> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap().to_owned(), r["outcome"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn real_configuration_files_give_the_right_verdicts() {
    let weak = scan(&fixture("container-default"));
    let failed = outcomes(&weak);
    assert_eq!(failed.len(), 11, "{failed:?}");
    // The weak host's certificate is valid for a century: TLS-001 passes
    // there (a_certificate_about_to_expire_is_found makes one that fails).
    assert!(
        failed.iter().all(|(rule, o)| o == if rule == "TLS-001" { "passed" } else { "failed" }),
        "{failed:?}"
    );
    let hardened = outcomes(&scan(&fixture("container-hardened")));
    assert_eq!(hardened.len(), 11);
    assert!(hardened.values().all(|o| o == "passed"), "{hardened:?}");

    // The value's provenance is the file that set it last: postgresql.conf
    // says `ssl = on`, its conf.d turns it off; my.cnf's includedir sets
    // local-infile; two pg_hba lines trust the network.
    let findings = weak["findings"].as_array().unwrap();
    let of = |rule: &str| -> Vec<&Value> { findings.iter().filter(|f| f["rule_id"] == rule).collect() };
    let text = serde_json::to_string(&of("DB-001")).unwrap();
    assert!(text.contains("/etc/postgresql/15/main/conf.d/90-local.conf:2"), "{text}");
    let text = serde_json::to_string(&of("DB-003")).unwrap();
    assert!(text.contains("/etc/mysql/mysql.conf.d/mysqld.cnf"), "{text}");
    let trusts = of("DB-002");
    assert_eq!(trusts.len(), 2, "{trusts:?}");
    assert!(trusts[0]["message"].as_str().unwrap().contains("line 15 trusts reports, all, 10.0.0.0/8"));
    assert!(trusts[1]["message"].as_str().unwrap().contains("line 16 trusts all, replicator, 0.0.0.0/0"));
    let text = serde_json::to_string(&of("CTR-003")).unwrap();
    assert!(text.contains(r#"host.json(\"/etc/docker/daemon.json\", \"icc\").boolean"#), "{text}");
}

#[test]
fn a_planted_credential_never_reaches_the_telemetry() {
    let dir = tempfile::tempdir().unwrap();
    // The example, and a package whose lines lookups match every line of
    // the files that hold the planted credentials.
    let greedy = dir.path().join("greedy");
    std::fs::create_dir(&greedy).unwrap();
    std::fs::write(
        greedy.join("package.yaml"),
        "name: greedy\ntitle: Greedy\nversion: 1.0.0\ndescription: Reads every line.\nplatforms: [linux]\n",
    )
    .unwrap();
    let mut rules = String::new();
    for (i, path) in [
        "/etc/mysql/conf.d/client.cnf",
        "/etc/containerd/config.toml",
        "/etc/postgresql/15/main/postgresql.conf",
        "/etc/ssl/certs/server.pem",
        "/etc/docker/daemon.json",
        "/var/lib/kubelet/config.yaml",
        "/etc/postgresql/15/main/pg_hba.conf",
        "/etc/postgresql/15/main/conf.d/90-local.conf",
        "/etc/mysql/my.cnf",
        "/etc/mysql/mysql.conf.d/mysqld.cnf",
    ]
    .iter()
    .enumerate()
    {
        rules.push_str(&format!(
            "rule G-{i:03} \"every line\" {{\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  \
             let every = host.lines(\"{path}\", \".\")\n  fail when (every.set ?? false)\n    message \"m\"\n}}\n"
        ));
    }
    std::fs::write(greedy.join("rules.assay"), rules).unwrap();
    let bundle = dir.path().join("b.bundle");
    let out = assay(&["build", PACKAGE, greedy.to_str().unwrap(), "-o", bundle.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for host in ["container-default", "container-hardened"] {
        let out = assay(&[
            "collect",
            "--root",
            fixture(host).to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let telemetry = stdout(&out);
        assert!(!telemetry.contains("PLANTED"), "{host}: a planted credential was collected");
        // The files were read: the lines that name a credential are
        // withheld, the others kept.
        assert!(telemetry.contains("(withheld: the line names `password`)"), "{host}");
        assert!(telemetry.contains("local-infile") || telemetry.contains("local_infile"), "{host}");
        assert!(telemetry.contains("username = \\\"puller\\\""), "{host}");
        assert!(telemetry.contains("http://docker:***@proxy.example.internal:3128"), "{host}");
        let doc: Value = serde_json::from_str(&telemetry).unwrap();
        let looked_up = doc["collection"]["looked_up"]["contents"].as_array().unwrap();
        // The example's lookups, the greedy ones, and the built-in packages' three
        // (/etc/default/useradd, limits.conf's two).
        assert_eq!(looked_up.len(), 21, "{looked_up:?}");
        // The certificate file is read, its private key never.
        let certs = doc["certificates"].as_array().unwrap();
        assert_eq!(certs.len(), 1);
        if host == "container-default" {
            assert_eq!(certs[0]["private_key"], true);
            let key = std::fs::read_to_string(fixture(host).join("etc/ssl/certs/server.pem")).unwrap();
            let body = key.split("-----BEGIN PRIVATE KEY-----").nth(1).unwrap();
            for line in body.lines().filter(|l| l.len() > 20 && !l.starts_with("-----")) {
                assert!(!telemetry.contains(line), "a line of the private key was collected");
            }
        }
    }
}

#[test]
fn an_unparsable_file_skips_its_rules_with_the_parsers_message() {
    let dir = common::copy_host("container-hardened");
    let root = dir.path().join("root");
    std::fs::write(root.join("etc/docker/daemon.json"), "{\n  \"icc\": false,\n  \"live-restore\": tru\n}\n")
        .unwrap();
    std::fs::write(root.join("var/lib/kubelet/config.yaml"), "authentication:\n  anonymous: [\n").unwrap();
    let report = scan(&root);
    let rules = report["rules"].as_array().unwrap();
    for (rule, said) in [
        ("CTR-001", "not valid JSON: expected ident at line"),
        ("CTR-002", "not valid JSON"),
        ("CTR-003", "not valid JSON"),
        ("CTR-004", "not valid YAML"),
    ] {
        let r = rules.iter().find(|r| r["rule_id"] == rule).unwrap();
        assert_eq!(r["outcome"], "skipped", "{r}");
        let reason = r["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(said) && reason.contains("could not be read"), "{rule}: {reason}");
    }
    // The other files still give their verdicts.
    let o = outcomes(&report);
    assert_eq!(o["CTR-005"], "passed");
    assert_eq!(o["DB-001"], "passed");
}

#[test]
fn a_credentials_value_cannot_be_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |lookup: &str| {
        format!(
            "rule S-001 \"s\" {{\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  let v = {lookup}\n  \
             fail when v ?? false\n    message \"m\"\n}}\n"
        )
    };
    let check = |lookup: &str| {
        std::fs::write(dir.path().join("s.assay"), rule(lookup)).unwrap();
        assay_in(dir.path(), &["check", "s.assay"])
    };
    let out = check(r#"(host.yaml("/etc/app/config.yaml", "db.password").boolean)"#);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    insta::assert_snapshot!("credential_value", stderr(&out));
    // Its presence, or a value the rule says is no secret.
    let out = check(r#"host.yaml("/etc/app/config.yaml", "db.password", "presence")"#);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = check(
        r#"(host.keyvalue("/etc/postgresql/15/main/postgresql.conf", "ssl_key_file", "not secret: the key file's path").set)"#,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// Policy tests give files as text; one that cannot be parsed fails its
/// case with the parser's message.
#[test]
fn policy_tests_read_files_given_as_text() {
    let out = assay(&["test", PACKAGE]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    common::copy_tree(Path::new(env!("CARGO_MANIFEST_DIR")).join(PACKAGE).as_path(), &pkg);
    std::fs::remove_file(pkg.join("tests/contents.yaml")).unwrap();
    common::edit(
        &pkg.join("tests/files.yaml"),
        r#"{"log-driver": "json-file", "icc": true}"#,
        r#"{"icc": tru}"#,
    );
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("files./etc/docker/daemon.json: not valid JSON: expected ident at line 1"),
        "{said}"
    );
}

/// A certificate that expires within 30 days of the collection, a
/// 1024-bit RSA key and a private key in the certificate's file are found;
/// the certificate's names and algorithms are read as openssl reads them.
#[test]
fn a_certificate_about_to_expire_is_found() {
    let dir = common::copy_host("container-hardened");
    let root = dir.path().join("root");
    let pem = root.join("etc/ssl/certs/server.pem");
    let key = dir.path().join("soon.key");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "10",
            "-subj",
            "/CN=soon.example.internal",
        ])
        .args(["-addext", "subjectAltName=DNS:soon.example.internal,IP:192.0.2.7"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl is installed (.ci/setup)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = scan(&root);
    let o = outcomes(&report);
    assert_eq!(
        (o["TLS-001"].as_str(), o["TLS-002"].as_str(), o["TLS-003"].as_str()),
        ("failed", "passed", "passed")
    );
    let finding = report["findings"].as_array().unwrap().iter().find(|f| f["rule_id"] == "TLS-001").unwrap();
    let message = finding["message"].as_str().unwrap();
    assert!(message.starts_with("CN=soon.example.internal expires on "), "{message}");
    assert!(message.ends_with("(9 days)") || message.ends_with("(10 days)"), "{message}");

    // What the collector read, against openssl's own reading.
    let bundle = dir.path().join("b.bundle");
    assert_eq!(code(&assay(&["build", PACKAGE, "-o", bundle.to_str().unwrap()])), 0);
    let out = assay(&["collect", "--root", root.to_str().unwrap(), "--bundle", bundle.to_str().unwrap()]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cert = &doc["certificates"][0]["certificates"][0];
    assert_eq!(cert["names"], serde_json::json!(["soon.example.internal", "192.0.2.7"]));
    assert_eq!((cert["key_type"].as_str(), cert["key_bits"].as_i64()), (Some("rsa"), Some(2048)));
    assert_eq!(cert["signature_algorithm"], "sha256WithRSAEncryption");
    assert_eq!(cert["self_signed"], true);
    let openssl = |what: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout"])
            .args(what)
            .arg("-in")
            .arg(&pem)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let fingerprint = openssl(&["-fingerprint", "-sha256"]).replace(':', "").to_ascii_lowercase();
    assert!(fingerprint.ends_with(cert["fingerprint"].as_str().unwrap()), "{fingerprint} {cert}");
    let serial = openssl(&["-serial"]).trim_start_matches("serial=").to_ascii_lowercase();
    // As numbers: DER keeps a leading zero byte before a high bit.
    assert_eq!(
        cert["serial"].as_str().unwrap().replace(':', "").trim_start_matches('0'),
        serial.trim_start_matches('0')
    );

    // A file that is no certificate: the rules are skipped, saying why.
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let report = scan(&root);
    let r = report["rules"].as_array().unwrap().iter().find(|r| r["rule_id"] == "TLS-001").unwrap().clone();
    assert_eq!(r["outcome"], "skipped", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("certificate 1: not an X.509 certificate"), "{r}");
}

/// `assay explain host.json` says what the lookup gives and reads; a
/// misspelt one is answered with the closest.
#[test]
fn explain_documents_each_lookup() {
    let out = assay(&["explain", "host.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("explain_host_json", stdout(&out));
    for word in
        ["host.yaml", "toml", "host.ini", "host.keyvalue", "host.lines", "host.certificate", "host.sysctl"]
    {
        let out = assay(&["explain", word]);
        assert_eq!(code(&out), 0, "{word}: {}", stderr(&out));
    }
    let out = assay(&["explain", "host.jsn"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("host.json"), "{}", stderr(&out));
}

/// A matched line's captures feed the standard library: `lists.get` takes
/// a group, `net.is_private` and `net.in_cidr` judge the address.
#[test]
fn captured_addresses_are_judged_by_the_standard_library() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("hba.assay");
    std::fs::write(
        &rules,
        r#"import std.lists
import std.net

rule HBA-1 "trust from outside the private networks" {
  severity high
  description "d"
  recommendation "r"
  let hba = host.lines("/etc/postgresql/15/main/pg_hba.conf", r"^host\S*\s+\S+\s+\S+\s+(\S+)\s+trust")
  applies when hba is present and hba.exists

  for each m in hba.lines ?? []
    where not (net.is_private(lists.get(m.captures, 0) ?? "") ?? false)
      and not (net.in_cidr(lists.get(m.captures, 0) ?? "", "192.0.2.0/24") ?? false)
    fail message "line {m.number}"
}
"#,
    )
    .unwrap();
    let root = fixture("container-default");
    let out = assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        rules.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let messages: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    // 10.0.0.0/8 is private; 0.0.0.0/0 is not.
    assert_eq!(messages, ["line 16"]);
}

/// JSON, YAML and TOML values name their line, as INI and key-value ones
/// do, so evidence points at the line to change.
#[test]
fn json_yaml_and_toml_values_carry_their_line() {
    let host = common::copy_host("container-default");
    let root = host.path().join("root");
    std::fs::write(
        root.join("var/lib/kubelet/config.yaml"),
        "# the kubelet\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\n  webhook:\n    enabled: false\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("lines.assay");
    std::fs::write(
        &pkg,
        r#"rule LN-1 "kubelet" {
  severity low
  description "d"
  recommendation "r"
  let anonymous = host.yaml("/var/lib/kubelet/config.yaml", "authentication.anonymous.enabled")
  fail when anonymous.boolean ?? true
    message "anonymous"
}

rule LN-2 "docker" {
  severity low
  description "d"
  recommendation "r"
  let size = host.json("/etc/docker/daemon.json", "log-opts.max-size")
  fail when (size.text ?? "") == "10m"
    message "max-size {size.text ?? "unset"}"
}

rule LN-3 "containerd" {
  severity low
  description "d"
  recommendation "r"
  let apparmor = host.toml("/etc/containerd/config.toml", "plugins.\"io.containerd.grpc.v1.cri\".disable_apparmor")
  fail when apparmor.boolean ?? true
    message "AppArmor is off"
}
"#,
    )
    .unwrap();
    let report = scan_with(&root, &pkg);
    let sources: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["evidence"].as_array().unwrap().iter().filter_map(|e| e["source"].as_str().map(str::to_owned))
        })
        .collect();
    assert!(sources.contains(&"/var/lib/kubelet/config.yaml:5".to_owned()), "{sources:?}");
    assert!(sources.contains(&"/etc/docker/daemon.json:4".to_owned()), "{sources:?}");
    assert!(sources.contains(&"/etc/containerd/config.toml:10".to_owned()), "{sources:?}");
}

/// A drop-in folder named in the lookup: its files read after the file in
/// name order, maps merged key by key, the value's provenance the drop-in
/// that set it last; an INI file's drop-ins the same, setting by setting.
/// A JSON key written twice is read, and located, at its last occurrence.
#[test]
fn drop_ins_override_the_file_and_a_repeated_key_is_found_where_it_wins() {
    let host = common::copy_host("container-hardened");
    let root = host.path().join("root");
    let dropins = root.join("etc/kubernetes/kubelet.conf.d");
    std::fs::create_dir_all(&dropins).unwrap();
    std::fs::write(dropins.join("10-tls.conf"), "tlsMinVersion: VersionTLS12\n").unwrap();
    // The hardened host passes with a drop-in that leaves the key alone.
    assert_eq!(outcomes(&scan(&root))["CTR-004"], "passed");

    std::fs::write(
        dropins.join("90-debug.conf"),
        "# for a debugging session\nauthentication:\n  anonymous:\n    enabled: true\n",
    )
    .unwrap();
    std::fs::write(dropins.join(".95-hidden.conf"), "authentication:\n  anonymous:\n    enabled: false\n")
        .unwrap();
    std::fs::write(dropins.join("99-off.conf.bak"), "authentication:\n  anonymous:\n    enabled: false\n")
        .unwrap();
    let report = scan(&root);
    assert_eq!(outcomes(&report)["CTR-004"], "failed");
    let finding = report["findings"].as_array().unwrap().iter().find(|f| f["rule_id"] == "CTR-004").unwrap();
    let text = serde_json::to_string(finding).unwrap();
    assert!(text.contains("/etc/kubernetes/kubelet.conf.d/90-debug.conf:4"), "{text}");

    // systemd's drop-ins for an INI file; a repeated JSON key.
    std::fs::create_dir_all(root.join("etc/systemd/journald.conf.d")).unwrap();
    std::fs::write(root.join("etc/systemd/journald.conf"), "[Journal]\nStorage=persistent\nCompress=yes\n")
        .unwrap();
    std::fs::write(
        root.join("etc/systemd/journald.conf.d/50-volatile.conf"),
        "[Journal]\nStorage=volatile\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/docker/daemon.json"),
        "{\n  \"icc\": false,\n  \"debug\": true,\n  \"icc\": true\n}\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("dropins.assay");
    std::fs::write(
        &pkg,
        r#"rule DI-1 "journald keeps its logs" {
  severity low
  description "d"
  recommendation "r"
  let storage = host.ini("/etc/systemd/journald.conf", "Journal.Storage", "drop-ins: /etc/systemd/journald.conf.d/*.conf")
  let compress = host.ini("/etc/systemd/journald.conf", "Journal.Compress", "drop-ins: /etc/systemd/journald.conf.d/*.conf")
  fail when (storage.text ?? "auto") == "volatile" and (compress.boolean ?? false)
    message "Storage={storage.text ?? "auto"}"
}

rule DI-2 "docker" {
  severity low
  description "d"
  recommendation "r"
  let icc = host.json("/etc/docker/daemon.json", "icc")
  fail when icc.boolean ?? true
    message "icc"
}

rule DI-3 "core limits" {
  severity low
  description "d"
  recommendation "r"
  let raised = host.lines("/etc/security/limits.conf", "hard\\s+core\\s+unlimited", "drop-ins: /etc/security/limits.d/*.conf")
  for each l in raised.lines ?? []
    fail message "{l.line}"
}
"#,
    )
    .unwrap();
    std::fs::create_dir_all(root.join("etc/security/limits.d")).unwrap();
    std::fs::write(root.join("etc/security/limits.conf"), "# limits\n* hard core unlimited\n").unwrap();
    std::fs::write(root.join("etc/security/limits.d/90-dev.conf"), "\n\n@dev hard core unlimited\n").unwrap();
    let report = scan_with(&root, &pkg);
    assert_eq!(
        outcomes(&report),
        BTreeMap::from([
            ("DI-1".into(), "failed".into()),
            ("DI-2".into(), "failed".into()),
            ("DI-3".into(), "failed".into())
        ])
    );
    let sources: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["evidence"].as_array().unwrap().iter().filter_map(|e| e["source"].as_str().map(str::to_owned))
        })
        .collect();
    assert!(sources.contains(&"/etc/systemd/journald.conf.d/50-volatile.conf:2".to_owned()), "{sources:?}");
    assert!(sources.contains(&"/etc/systemd/journald.conf:3".to_owned()), "{sources:?}");
    assert!(sources.contains(&"/etc/docker/daemon.json:4".to_owned()), "{sources:?}");
    // Matched lines of the file and its drop-ins, each at its own place.
    assert!(sources.contains(&"/etc/security/limits.conf:2".to_owned()), "{sources:?}");
    assert!(sources.contains(&"/etc/security/limits.d/90-dev.conf:3".to_owned()), "{sources:?}");
}
