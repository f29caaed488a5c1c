//! `assay server` and `assay fleet` as an operator uses them: a real server
//! process on loopback (ports chosen by the kernel), the first admin token
//! from its output, the fleet client for everything an operator does, real
//! `assay agent` processes collecting the fixture hosts over mutual TLS,
//! and SIGTERM to stop it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fleet/apply.rs"]
mod apply;
mod common;
#[path = "fleet/console.rs"]
mod console;
#[path = "fleet/faults.rs"]
mod faults;
#[path = "fleet/packages.rs"]
mod packages;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct ServerProcess {
    child: Child,
    /// Kept open: the server's output goes somewhere until it exits.
    _output: (BufReader<std::process::ChildStderr>, BufReader<std::process::ChildStdout>),
    admin: String,
    agent: String,
    token: String,
    /// The agents' CA, which agents pin at enrolment.
    fingerprint: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(data: &std::path::Path) -> ServerProcess {
    server_with(data, &[])
}

fn server_with(data: &std::path::Path, extra: &[&str]) -> ServerProcess {
    spawn_server(data, ("127.0.0.1:0", "127.0.0.1:0"), extra, &[], None)
}

/// A server process on `listen` (admin, agents); `token` is the admin
/// token of an earlier start, `None` for the first start (which prints
/// one).
fn spawn_server(
    data: &std::path::Path,
    listen: (&str, &str),
    extra: &[&str],
    env: &[(&str, &str)],
    token: Option<&str>,
) -> ServerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["server", "--data", data.to_str().unwrap(), "--listen", listen.0, "--agent-listen", listen.1])
        .args(extra)
        .env_remove("ASSAY_DATABASE")
        .env_remove("ASSAY_BLOBS")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    // "assay server: admin API on SCHEME://ADDR/v1, agents on https://ADDR/agent/v1"
    let urls: Vec<String> = line
        .split_whitespace()
        .filter(|w| w.contains("://"))
        .map(|u| u.trim_end_matches(',').trim_end_matches("/agent/v1").trim_end_matches("/v1").to_owned())
        .collect();
    assert_eq!(urls.len(), 2, "{line}");
    let mut pin = String::new();
    err.read_line(&mut pin).unwrap();
    let fingerprint = pin.split_whitespace().last().unwrap_or_default().to_owned();
    assert_eq!(fingerprint.len(), 64, "the CA's fingerprint is printed: {pin}");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let token = match token {
        Some(t) => t.to_owned(),
        None => {
            let mut token = String::new();
            out.read_line(&mut token).unwrap();
            assert!(token.starts_with("assay_"), "the first start prints the admin token: {token:?}");
            token.trim().to_owned()
        }
    };
    let (admin, agent) = (urls[0].clone(), urls[1].clone());
    ServerProcess { admin, agent, token, fingerprint, child, _output: (err, out) }
}

/// A real agent process collecting a fixture host; killed when dropped.
struct AgentProcess(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(s: &ServerProcess, token: &str, host: &str) -> AgentProcess {
    agent_on(s, token, &common::fixture(host))
}

/// A real agent process collecting the root file system at `root`.
fn agent_on(s: &ServerProcess, token: &str, root: &std::path::Path) -> AgentProcess {
    let state = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["agent", "--server", &s.agent, "--enroll-token", token, "--ca-fingerprint", &s.fingerprint])
        .args(["--state-dir", state.path().to_str().unwrap(), "--nice", "0"])
        .args(["--root", root.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    AgentProcess(child, state)
}

/// Waits until `n` agents are enrolled; their listing.
fn enrolled(s: &ServerProcess, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (_, out, _) = fleet(s, &["agents", "--format", "json"]);
        let items = serde_json::from_str::<Value>(&out).map(|v| v["items"].clone()).unwrap_or(Value::Null);
        if items.as_array().is_some_and(|a| a.len() == n) {
            return items.as_array().unwrap().clone();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{n} agents did not enrol: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_run(s: &ServerProcess, id: &str, states: &[&str]) -> Value {
    let start = Instant::now();
    loop {
        let (_, out, _) = fleet(s, &["run", "show", id, "--format", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        if states.iter().any(|st| v["state"] == *st) {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{v:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn fleet(s: &ServerProcess, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .arg("fleet")
        .args(args)
        .env("ASSAY_SERVER", &s.admin)
        .env("ASSAY_TOKEN", &s.token)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (common::code(&out), common::stdout(&out), common::stderr(&out))
}

#[test]
fn an_operator_assesses_a_host_with_server_and_fleet() {
    let data = tempfile::tempdir().unwrap();
    let s = server(data.path());

    let (code, token, _) = fleet(&s, &["enrollment", "create", "--uses", "2", "--tag", "env=prod"]);
    assert_eq!(code, 0);
    let _agent = agent(&s, token.trim(), "debian-default");
    let agent = enrolled(&s, 1).remove(0);
    let agent = json!({ "agent_id": agent["id"] });

    let (code, out, _) = fleet(&s, &["agents", "--tag", "env=prod"]);
    assert_eq!(code, 0);
    assert!(out.contains("debian-default") && out.contains("HEALTHY"), "{out}");
    assert_eq!(fleet(&s, &["target", "create", "prod", "--tag", "env=prod"]).0, 0);
    let (_, preview, _) = fleet(&s, &["target", "preview", "prod"]);
    assert!(preview.contains(agent["agent_id"].as_str().unwrap()), "{preview}");
    let (code, out, err) = fleet(
        &s,
        &[
            "template",
            "create",
            "daily",
            "--target",
            "prod",
            "--package",
            "cis-linux",
            "--duration",
            "5m",
            "--attribute",
            "team=sec",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 1"), "{out}");
    let (code, _, err) = fleet(
        &s,
        &["template", "create", "bad", "--target", "prod", "--package", "cis-linux", "--schedule", "daily"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not a cron schedule"), "{err}");
    let (code, _, err) = fleet(&s, &["template", "create", "bad", "--target", "prod", "--package", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a rules package"), "{err}");

    let (code, out, _) = fleet(&s, &["run", "start", "daily", "--format", "json"]);
    assert_eq!(code, 0);
    let run: Value = serde_json::from_str(&out).unwrap();
    let id = run["id"].as_str().unwrap().to_owned();
    let (code, _, err) = fleet(&s, &["run", "start", "daily"]);
    assert_eq!(code, 2, "the agent is in a run");
    assert!(err.contains("agents_in_run"), "{err}");

    // The agent, told to collect by its heartbeat, sends the fixture
    // host's telemetry; the run completes when every agent delivered.
    wait_run(&s, &id, &["COMPLETED"]);
    let (_, out, _) = fleet(&s, &["run", "show", &id]);
    assert!(out.contains("COLLECTING_DATA") && out.contains("COMPLETED"), "{out}");
    let (code, out, _) = fleet(&s, &["findings", "--run", &id, "--format", "json", "--limit", "1000"]);
    assert_eq!(code, 0);
    let findings: Value = serde_json::from_str(&out).unwrap();
    let items = findings["items"].as_array().unwrap();
    assert!(items.iter().any(|f| f["rule_id"] == "CIS-5.4.3.3"), "{out}");
    assert!(items.iter().all(|f| f["package"] == "cis-linux" && f["attributes"][0]["value"] == "sec"));
    let (_, table, _) = fleet(&s, &["findings", "--run", &id, "--severity", "medium"]);
    assert!(table.starts_with("SEVERITY") && table.contains("debian-default"), "{table}");

    let page = data.path().join("report.html");
    let (code, _, err) = fleet(&s, &["report", &id, "--full", "-o", page.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Full report") && html.contains("CIS-5.4.3.3")
    );
    let (_, json_report, _) = fleet(&s, &["report", &id, "--format", "json"]);
    let report: Value = serde_json::from_str(&json_report).unwrap();
    assert_eq!(report["summary"]["hosts_assessed"], 1);

    // The fleet's open findings, and a feed import that queues re-evaluation.
    let (code, open, _) = fleet(&s, &["findings", "--state", "open", "--limit", "1000"]);
    assert_eq!(code, 0);
    assert!(open.starts_with("STATE") && open.contains("CIS-5.4.3.3"), "{open}");
    let osv = data.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("DEBIAN-CVE-2099-0001.json"),
        r#"{"id": "DEBIAN-CVE-2099-0001", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssh"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:99.0p1-1"}]}]}]}"#,
    )
    .unwrap();
    let (code, out, err) = fleet(&s, &["feed", "import", "--osv", osv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("with 1 advisories; re-evaluating 1 agent(s)"), "{out}");

    // A read-only token cannot start runs; a wrong token is refused.
    let (_, reader, _) = fleet(&s, &["token", "create", "--role", "read-only"]);
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["fleet", "run", "start", "daily", "--server", &s.admin, "--token", reader.trim()])
        .output()
        .unwrap();
    assert_eq!(common::code(&out), 2);
    assert!(common::stderr(&out).contains("forbidden"), "{}", common::stderr(&out));

    let waivers = data.path().join("waivers.yaml");
    std::fs::write(&waivers, "waivers:\n  - rule: CIS-5.4.3.3\n    owner: me@example.com\n    justification: reviewed\n    expires: 2099-01-01\n").unwrap();
    let (code, out, err) = fleet(&s, &["waivers", "upload", waivers.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 waiver(s) in use"), "{out}");
    let (_, shown, _) = fleet(&s, &["waivers", "show"]);
    assert!(shown.contains("justification: reviewed"), "{shown}");
    let (code, audit, _) = fleet(&s, &["audit", "--limit", "1000"]);
    assert_eq!(code, 0);
    assert!(audit.contains("run.start") && audit.contains("feed.import"), "{audit}");

    // SIGTERM stops it cleanly; a second start keeps the data and prints no token.
    let mut s = s;
    terminate(s.child.id());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let out = common::assay(&[
        "server",
        "admin-token",
        "--data",
        data.path().to_str().unwrap(),
        "--role",
        "operator",
    ]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    assert!(common::stdout(&out).starts_with("assay_"));
    let out = common::assay(&["server", "webhook-key", "--data", data.path().to_str().unwrap()]);
    assert_eq!(common::stdout(&out).trim().len(), 64, "{}", common::stderr(&out));
}

fn terminate(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn fleet_talks_to_a_tls_server_it_trusts() {
    let data = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, private) = (data.path().join("cert.pem"), data.path().join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&private, key.signing_key.serialize_pem()).unwrap();
    let s = server_with(
        data.path(),
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", private.to_str().unwrap()],
    );
    assert!(s.admin.starts_with("https://"), "{}", s.admin);
    let (code, out, err) = fleet(&s, &["target", "list", "--ca", cert.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    let (code, _, err) = fleet(&s, &["target", "list"]);
    assert_eq!(
        code, 3,
        "an untrusted certificate is refused: the server is not reached (3), no request refused (2)"
    );
    assert!(err.contains("cannot reach the server"), "{err}");
}

/// The rule outcomes `assay scan --root ROOT` gives (with the built-in
/// packages, or with `--package` each of `packages`): rule id to outcome.
fn scan_outcomes(root: &Path, packages: &[&Path]) -> std::collections::BTreeMap<String, String> {
    let mut args = vec!["scan", "--root", root.to_str().unwrap(), "--format", "json"];
    for p in packages {
        args.extend(["--package", p.to_str().unwrap()]);
    }
    let out = common::assay(&args);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)));
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap().to_owned(), r["outcome"].as_str().unwrap().to_owned()))
        .collect()
}

/// The rule outcomes of a run's full report on a fixture host, named by
/// its agent and hostname (`ids`: agent by hostname).
fn run_outcomes(
    s: &ServerProcess,
    run: &str,
    ids: &std::collections::BTreeMap<String, String>,
    host: &str,
) -> std::collections::BTreeMap<String, String> {
    let (code, out, err) = fleet(s, &["report", run, "--full", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let name = std::fs::read_to_string(common::fixture(host).join("etc/hostname")).unwrap();
    let id = &ids[name.trim()];
    let mut served = std::collections::BTreeMap::new();
    for rule in report["rules"].as_array().unwrap() {
        for (outcome, on) in rule["outcomes"].as_object().unwrap() {
            if on
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["agent"] == id.as_str() && h["hostname"] == name.trim())
            {
                served.insert(rule["rule_id"].as_str().unwrap().to_owned(), outcome.clone());
            }
        }
    }
    served
}

/// Several real agents (each a fixture host) assessed by one run with all
/// built-in packages: per host, the full report's rule outcomes are those
/// of `assay scan --root` on the same fixture.
fn agents_assess_like_scan(database: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let extra: Vec<&str> = database.map(|d| vec!["--database", d]).unwrap_or_default();
    let s = server_with(data.path(), &extra);
    let hosts = ["debian-default", "debian-hardened", "alpine", "rpm"];
    let (_, token, _) = fleet(&s, &["enrollment", "create", "--uses", "4", "--tag", "fleet=fixtures"]);
    let _agents: Vec<AgentProcess> = hosts.iter().map(|h| agent(&s, token.trim(), h)).collect();
    let ids: std::collections::BTreeMap<String, String> = enrolled(&s, hosts.len())
        .iter()
        .map(|a| (a["hostname"].as_str().unwrap().to_owned(), a["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(fleet(&s, &["target", "create", "fixtures", "--tag", "fleet"]).0, 0);
    let mut args = vec!["template", "create", "all", "--target", "fixtures", "--duration", "1m"];
    for p in ["cis-linux", "security-best-practices", "runtime-behavior", "cve"] {
        args.extend(["--package", p]);
    }
    let (code, _, err) = fleet(&s, &args);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = fleet(&s, &["run", "start", "all", "--format", "json"]);
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
    let done = wait_run(&s, &id, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"]);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    for host in hosts {
        let served = run_outcomes(&s, &id, &ids, host);
        let local = scan_outcomes(&common::fixture(host), &[]);
        assert!(!local.is_empty());
        assert_eq!(served, local, "{host}: the server's outcomes differ from assay scan --root");
    }
    inventory_answers_as_local_sboms_do(&s, &ids, &hosts);
}

/// The Package URLs of an SBOM's components.
fn purls(sbom: &Value) -> std::collections::BTreeSet<String> {
    sbom["components"].as_array().unwrap().iter().map(|c| c["purl"].as_str().unwrap().to_owned()).collect()
}

/// The fleet's package inventory after a run over fixture hosts: each
/// agent's packages are those of `assay sbom --root` of its fixture, its
/// SBOM from the server has the same components, and `fleet packages`
/// finds the hosts a local reading of the fixtures says run a package
/// (versions compared as each ecosystem orders them).
fn inventory_answers_as_local_sboms_do(
    s: &ServerProcess,
    ids: &std::collections::BTreeMap<String, String>,
    hosts: &[&str],
) {
    let hostname = |host: &str| std::fs::read_to_string(common::fixture(host).join("etc/hostname")).unwrap();
    for host in hosts {
        let local = common::assay(&["sbom", "--root", common::fixture(host).to_str().unwrap()]);
        let local: Value = serde_json::from_slice(&local.stdout).unwrap();
        let id = &ids[hostname(host).trim()];
        let (code, out, err) = fleet(s, &["agent", "packages", id, "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        let served: Value = serde_json::from_str(&out).unwrap();
        let served: std::collections::BTreeSet<String> = served["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["purl"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(served, purls(&local), "{host}: the inventory differs from assay sbom --root");
        let (code, out, err) = fleet(s, &["sbom", id]);
        assert_eq!(code, 0, "{err}");
        let sbom: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(purls(&sbom), purls(&local), "{host}: the server's SBOM differs from assay sbom --root");
        // With the same licences: the server's plan asks agents for them.
        let licenses = |bom: &Value| -> Vec<(Value, Value)> {
            bom["components"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["purl"].clone(), c["licenses"].clone()))
                .collect()
        };
        assert_eq!(licenses(&sbom), licenses(&local), "{host}: licences differ");
        if *host == "debian-default" {
            assert!(
                sbom.to_string().contains("GPL-3.0-or-later"),
                "{host}: dpkg licences were read: {sbom:#}"
            );
        }
        // The host as enrolled, which is what its fixture says.
        assert_eq!(sbom["metadata"]["component"]["properties"], local["metadata"]["component"]["properties"]);
        let (code, out, err) = fleet(s, &["sbom", id, "--spdx"]);
        assert_eq!(code, 0, "{err}");
        let spdx: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    }
    // Which fixture hosts each query finds.
    let found = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["packages", "--format", "json"];
        all.extend(args);
        let (code, out, err) = fleet(s, &all);
        assert_eq!(code, 0, "{args:?}: {err}");
        let page: Value = serde_json::from_str(&out).unwrap();
        let mut names: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let host =
                    hosts.iter().find(|h| ids[hostname(h).trim()] == i["agent"].as_str().unwrap()).unwrap();
                format!("{host} {}", i["package"]["version"].as_str().unwrap())
            })
            .collect();
        names.sort();
        names
    };
    let debian = ["debian-default 3.0.19-1~deb12u2", "debian-hardened 3.0.19-1~deb12u2"];
    assert_eq!(found(&["--name", "libssl3"]), [&["alpine 3.3.2-r0"], &debian[..]].concat());
    assert_eq!(found(&["--name", "libssl3", "--version", "<3.1"]), debian);
    assert_eq!(found(&["--name", "libssl3", "--ecosystem", "apk"]), ["alpine 3.3.2-r0"]);
    // dpkg and rpm order: the rpm's epoch 1 puts 1:3.0.7 after 3.0.20.
    assert_eq!(found(&["--name", "openssl", "--version", "<3.0.20"]), debian);
    assert_eq!(found(&["--name", "openssl", "--version", ">=1:3.0.7"]), ["rpm 1:3.0.7-27.el9"]);
    assert_eq!(found(&["--purl", "pkg:apk/alpine/libssl3"]), ["alpine 3.3.2-r0"]);
    assert_eq!(found(&["--purl", "pkg:deb/debian/libpam-runtime?arch=all"]).len(), 2);
    assert!(found(&["--purl", "pkg:deb/debian/libpam-runtime?arch=amd64"]).is_empty());
    assert_eq!(found(&["--name", "Requests"]), ["debian-default 2.28.1", "debian-hardened 2.28.1"]);
    // Paged by agent: two pages of one host, then none.
    let (_, out, _) = fleet(
        s,
        &["packages", "--name", "openssl", "--version", "<3.0.20", "--limit", "1", "--format", "json"],
    );
    let first: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let next = first["next"].as_str().expect("a next page");
    let (_, out, _) = fleet(
        s,
        &[
            "packages",
            "--name",
            "openssl",
            "--version",
            "<3.0.20",
            "--limit",
            "1",
            "--after",
            next,
            "--format",
            "json",
        ],
    );
    let second: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(second["items"][0]["agent"], first["items"][0]["agent"]);
    // CSV, for a spreadsheet: a header and one row per installed package.
    let (code, out, err) = fleet(s, &["packages", "--name", "libssl3", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "agent,hostname,tags,received_at,ecosystem,name,version,architecture,source_name,source_version,purl"
    );
    assert_eq!(lines.len(), 4, "{out}");
    let (code, _, err) = fleet(s, &["packages", "--name", "openssl", "--version", ">=1 <2"]);
    assert_eq!(code, 2);
    assert!(err.contains("join comparisons with commas"), "{err}");
}

#[test]
fn agents_assess_fixture_hosts_as_scan_does_on_sqlite() {
    agents_assess_like_scan(None);
}

/// Runs one statement on the local PostgreSQL as `postgres`; whether it
/// succeeded.
fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `test` with the URL of a fresh database `PREFIX_PID` on the local
/// PostgreSQL, dropped afterwards whatever happened; skipped with a
/// message when PostgreSQL is unreachable.
fn with_postgres(prefix: &str, test: impl FnOnce(&str) + std::panic::UnwindSafe) {
    let name = format!("{prefix}_{}", std::process::id());
    // A database of this name is a dead run's (process ids are reused),
    // left behind if it was killed: it would make CREATE fail and the test
    // look skipped.
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if !psql(&format!("CREATE DATABASE {name}")) {
        assert!(
            std::env::var("ASSAY_REQUIRE_POSTGRES").is_err(),
            "PostgreSQL at 127.0.0.1:5432 is not reachable and ASSAY_REQUIRE_POSTGRES is set"
        );
        eprintln!("PostgreSQL at 127.0.0.1:5432 is not reachable: skipped");
        return;
    }
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let result = std::panic::catch_unwind(|| test(&url));
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn agents_assess_fixture_hosts_as_scan_does_on_postgres() {
    with_postgres("assay_fleet", |url| agents_assess_like_scan(Some(url)));
}

/// Two agents on one machine-id (a cloned image: both collect the same
/// fixture root) are flagged on each other in `assay fleet agents`, as
/// JSON and as a table.
#[test]
fn fleet_agents_flags_agents_of_a_cloned_image() {
    let data = tempfile::tempdir().unwrap();
    let s = server(data.path());
    let (_, token, _) = fleet(&s, &["enrollment", "create", "--uses", "2", "--tag", "env=lab"]);
    let _agents: Vec<AgentProcess> = (0..2).map(|_| agent(&s, token.trim(), "debian-default")).collect();
    let listed = enrolled(&s, 2);
    let ids: Vec<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    for a in &listed {
        let other = ids.iter().find(|id| **id != a["id"]).unwrap();
        assert_eq!(a["same_machine_id"], json!([other]), "{a:#}");
    }
    let (code, table, _) = fleet(&s, &["agents"]);
    assert_eq!(code, 0);
    for id in &ids {
        assert!(table.contains(&format!("same machine-id as {id}")), "{table}");
    }
    let (_, shown, _) = fleet(&s, &["agent", "show", ids[0]]);
    assert!(shown.contains(&format!("same machine-id as {}", ids[1])), "{shown}");
}

/// Lists follow their pages past the API's 1,000 a page; `--limit` asks
/// for one page and names the next. Errors are JSON with `--format json`,
/// and exit 2 for a refused request.
#[test]
fn fleet_lists_every_page_and_errors_are_data() {
    let data = tempfile::tempdir().unwrap();
    let s = server_with(data.path(), &["--max-targets", "1100"]);
    let http: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for i in 0..1005 {
        let status = http
            .post(&format!("{}/v1/targets", s.admin))
            .header("authorization", &format!("Bearer {}", s.token))
            .send_json(
                json!({ "name": format!("t{i:04}"), "tags": [{ "key": "n", "value": i.to_string() }] }),
            )
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 201);
    }
    let (code, out, err) = fleet(&s, &["target", "list", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let all: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 1005, "every target, not one page of 1000");
    assert_eq!((names[0], names[1004]), ("t0000", "t1004"));
    let (_, table, _) = fleet(&s, &["target", "list"]);
    assert_eq!(table.lines().count(), 1 + 1005, "a header and every target");
    let (code, page, err) = fleet(&s, &["target", "list", "--limit", "2", "--after", "t0999"]);
    assert_eq!(code, 0);
    assert_eq!(
        page.lines().skip(1).map(|l| l.split_whitespace().next().unwrap()).collect::<Vec<_>>(),
        ["t1000", "t1001"]
    );
    assert!(err.contains("more: --after t1001"), "{err}");

    // Tags with no key are refused; a target in use cannot be deleted.
    for bad in ["", "=x"] {
        let (code, _, err) = fleet(&s, &["target", "create", "bad", "--tag", bad]);
        assert_eq!(code, 2, "--tag {bad:?}: {err}");
        assert!(err.contains("tag key"), "{err}");
    }
    assert_eq!(
        fleet(&s, &["template", "create", "uses-it", "--target", "t0000", "--package", "cis-linux"]).0,
        0
    );
    let (code, _, err) = fleet(&s, &["target", "delete", "t0000", "--format", "json"]);
    assert_eq!(code, 2);
    let error: Value = serde_json::from_str(&err).unwrap();
    assert_eq!(
        (error["status"].as_i64(), error["error"]["code"].as_str()),
        (Some(409), Some("conflict")),
        "{err}"
    );
    assert_eq!(fleet(&s, &["template", "delete", "uses-it"]).0, 0);
    assert_eq!(fleet(&s, &["target", "delete", "t0000"]).0, 0);
    let (code, _, err) = fleet(&s, &["template", "show", "uses-it", "--format", "json"]);
    assert_eq!(code, 2);
    assert_eq!(serde_json::from_str::<Value>(&err).unwrap()["error"]["code"], "not_found", "{err}");
    // A deleted name is free again.
    assert_eq!(fleet(&s, &["target", "create", "t0000", "--tag", "n=new"]).0, 0);
}

/// #27.14 and #27.15: an agent in its long poll ends within a second or
/// two of SIGTERM (it waited the poll out, ~18 s); `--once` ends when
/// `--once-timeout` does (it took ~25 s for 3 s); an enrolled agent
/// follows a new `--server` keeping its identity, and refuses a `--tag`
/// other than its enrolment's, saying how to retag.
#[test]
fn agents_stop_when_asked_and_say_what_their_flags_change() {
    let data = tempfile::tempdir().unwrap();
    let s = server(data.path());
    let (_, out, err) =
        fleet(&s, &["enrollment", "create", "--uses", "5", "--tag", "fleet=test", "--format", "json"]);
    let token = serde_json::from_str::<Value>(&out).unwrap_or_else(|_| panic!("{out}{err}"))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = tempfile::tempdir().unwrap();
    let start_agent = |server: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(["agent", "--server", server, "--enroll-token", &token, "--ca-fingerprint", &s.fingerprint])
            .args(["--state-dir", state.path().to_str().unwrap(), "--nice", "0"])
            .args(["--root", common::fixture("debian-default").to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = start_agent(&s.agent, &[]);
    let agents = enrolled(&s, 1);
    let id = agents[0]["id"].as_str().unwrap().to_owned();
    // In its long poll (25 s) by now: enrolled, and one heartbeat sent.
    std::thread::sleep(Duration::from_secs(2));
    let asked = Instant::now();
    terminate(child.id());
    let status = child.wait().unwrap();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");

    // The same server under another name its certificate holds.
    let moved = s.agent.replace("127.0.0.1", "localhost");
    let child = start_agent(&moved, &["--once", "--once-timeout", "3s"]);
    let asked = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = asked.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no run asked for this agent's telemetry"), "{err}");
    assert!(err.contains("the server moved from") && err.contains(&id), "{err}");
    assert!(took < Duration::from_secs(8), "--once-timeout 3s took {took:?}");
    let stored = std::fs::read_to_string(state.path().join("agent.json")).unwrap();
    assert!(stored.contains(&moved) && stored.contains(&id), "{stored}");
    assert_eq!(enrolled(&s, 1)[0]["id"], id.as_str(), "no second enrolment");

    let out = start_agent(&moved, &["--tag", "role=db"]).wait_with_output().unwrap();
    let err = unwrapped(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("enrolled with the tags (none), not role=db"), "{err}");
    assert!(err.contains(&format!("assay fleet agent tag {id}")), "{err}");
}

/// A message as one line: miette wraps it to the terminal's width (after
/// a hyphen, too) behind `×` and `│`.
fn unwrapped(message: &str) -> String {
    let mut out = String::new();
    for line in message.lines() {
        let line = line.trim_start().trim_start_matches(['×', '│']).trim();
        if !out.is_empty() && !out.ends_with('-') {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

/// #27.16: the server logs refused requests and revocations, one JSON
/// line each with `--log-format json`, and never a token.
#[test]
fn the_server_logs_refusals_and_revocations_and_no_secret() {
    let data = tempfile::tempdir().unwrap();
    let mut s = server_with(data.path(), &["--log-format", "json"]);
    let (code, created, err) = fleet(&s, &["token", "create", "--role", "read-only", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    let (code, _, err) = fleet(&s, &["token", "revoke", &secret]);
    assert_eq!(code, 0, "{err}");
    let bogus = "assay_0123456789abcdef-not-a-token";
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["fleet", "agents"])
        .env("ASSAY_SERVER", &s.admin)
        .env("ASSAY_TOKEN", bogus)
        .output()
        .unwrap();
    assert_eq!(common::code(&out), 2, "{}", common::stderr(&out));
    terminate(s.child.id());
    s.child.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut s._output.0, &mut log).unwrap();
    let events: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let said = |message: &str| events.iter().find(|e| e["message"] == message).cloned();
    let refused = said("request refused").unwrap_or_else(|| panic!("{log}"));
    assert_eq!(refused["status"], 401, "{refused}");
    assert_eq!(refused["route"], "/v1/agents", "{refused}");
    assert!(refused["level"] == "INFO" && refused["timestamp"].is_string(), "{refused}");
    let revoked = said("API token revoked").unwrap_or_else(|| panic!("{log}"));
    assert_eq!(revoked["token"], created["id"], "{revoked}");
    assert!(
        !log.contains(&secret) && !log.contains(bogus) && !log.contains(&s.token),
        "a token in the log: {log}"
    );
}

/// The fleet's VEX (issue 30): a run's CVE findings are open; uploading an
/// OpenVEX document re-evaluates the fleet, and the finding its
/// `not_affected` statement covers becomes waived, naming the statement,
/// while an `affected` statement leaves the other open. A file that is not
/// VEX is refused before anything is sent.
#[test]
fn vex_uploaded_to_the_server_waives_the_cve_findings_it_covers() {
    let data = tempfile::tempdir().unwrap();
    let s = server(data.path());
    let (_, token, _) = fleet(&s, &["enrollment", "create", "--uses", "1", "--tag", "env=prod"]);
    let _agent = agent(&s, token.trim(), "debian-default");
    enrolled(&s, 1);
    let osv = data.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    for (id, package, fixed) in
        [("DEBIAN-CVE-2099-0001", "openssh", "1:99.0p1-1"), ("DEBIAN-CVE-2099-0002", "curl", "99.0-1")]
    {
        let record = json!({ "id": id, "affected": [{ "package": { "ecosystem": "Debian:12", "name": package },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }, { "fixed": fixed }] }] }] });
        std::fs::write(osv.join(format!("{id}.json")), record.to_string()).unwrap();
    }
    assert_eq!(fleet(&s, &["feed", "import", "--osv", osv.to_str().unwrap()]).0, 0);
    assert_eq!(fleet(&s, &["target", "create", "prod", "--tag", "env=prod"]).0, 0);
    let (code, _, err) =
        fleet(&s, &["template", "create", "cve", "--target", "prod", "--package", "cve", "--duration", "1m"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = fleet(&s, &["run", "start", "cve", "--format", "json"]);
    let run = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(wait_run(&s, &run, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"])["state"], "COMPLETED");
    let findings = |state: &str| -> Vec<String> {
        let (code, out, err) = fleet(
            &s,
            &["findings", "--state", state, "--package", "cve", "--format", "json", "--limit", "1000"],
        );
        assert_eq!(code, 0, "{err}");
        let page: Value = serde_json::from_str(&out).unwrap();
        let mut found: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| !f["rule_id"].as_str().unwrap().ends_with(":no-findings"))
            .map(|f| {
                let suppressed = f["suppressed"]["justification"].as_str().unwrap_or("-");
                format!("{} {suppressed}", f["message"].as_str().unwrap().split(' ').next().unwrap())
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(findings("open"), ["curl -", "libcurl4 -", "openssh-client -"]);

    let vex = data.path().join("team.openvex.json");
    std::fs::write(
        &vex,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/fleet", "author": "Security Team",
            "timestamp": "2026-06-01T00:00:00Z", "version": 1, "statements": [
              {"vulnerability": {"name": "DEBIAN-CVE-2099-0001"}, "products": [{"@id": "pkg:deb/debian/openssh-client"}],
               "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
              {"vulnerability": {"name": "DEBIAN-CVE-2099-0002"}, "products": [{"@id": "pkg:deb/debian/curl"}],
               "status": "affected", "action_statement": "upgrade"}]}"#,
    )
    .unwrap();
    let not_vex = data.path().join("waivers.yaml");
    std::fs::write(&not_vex, "waivers: []\n").unwrap();
    let (code, _, err) = fleet(&s, &["vex", "upload", vex.to_str().unwrap(), not_vex.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("waivers.yaml"), "{err}");
    assert_eq!(fleet(&s, &["vex", "show"]).0, 2, "nothing was uploaded");
    let (code, out, err) = fleet(&s, &["vex", "upload", vex.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 VEX document(s), 2 statement(s) in use; re-evaluating 1 agent(s)"), "{out}");
    let start = std::time::Instant::now();
    while fleet(&s, &["feed", "show", "--format", "json"]).1.contains("\"reevaluations_pending\": 1") {
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "the re-evaluation did not finish");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(findings("waived"), ["openssh-client vulnerable_code_not_in_execute_path"]);
    assert_eq!(findings("open"), ["curl -", "libcurl4 -"]);
    let (code, shown, _) = fleet(&s, &["vex", "show"]);
    assert_eq!(code, 0);
    assert!(
        shown.contains("2 statement(s) in 1 document(s)") && shown.contains("team.openvex.json"),
        "{shown}"
    );
    let (_, audit, _) = fleet(&s, &["audit", "--limit", "1000"]);
    assert!(audit.contains("vex.upload"), "{audit}");
}
