//! Rules packages published to a real server with `assay fleet package`:
//! built-in and published packages listed alike, versions immutable and
//! idempotent, yanking, and a server with a trusted key failing closed
//! (unsigned, unknown key, a changed byte, other sources, a rollback), on
//! SQLite and PostgreSQL.

use super::{
    agent_on, common, enrolled, fleet, run_outcomes, scan_outcomes, server_with, spawn_server, wait_run,
    with_postgres, AgentProcess, ServerProcess,
};
use common::{assay_in as assay, edit};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A copy of the ssh-hardening example in `dir/pkg`.
fn package(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    common::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ssh-hardening"), &pkg);
    pkg
}

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
    r.1
}

fn json(r: (i32, String, String)) -> Value {
    serde_json::from_str(&ok(r)).unwrap()
}

/// The refusal's message on one line.
fn refused(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 2, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
    super::unwrapped(&r.2)
}

fn publish_and_version(s: &ServerProcess) {
    let work = tempfile::tempdir().unwrap();
    let pkg = package(work.path());
    let p = pkg.to_str().unwrap();

    // The built-in packages are published by the server itself.
    let all = json(fleet(s, &["package", "list", "--format", "json"]));
    let builtin: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["builtin"] == true)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(builtin.contains(&"security-best-practices") && builtin.contains(&"cis-linux"), "{all:#}");

    let v = json(fleet(s, &["package", "publish", p, "--format", "json"]));
    assert_eq!(v["packages"][0]["name"], "ssh-hardening");
    assert_eq!(v["packages"][0]["new"], true);
    assert_eq!(v["signer"], Value::Null);
    // The same content again, even reformatted: nothing changes.
    edit(&pkg.join("rules.assay"), "/// Passwords can be guessed", "\n\n/// Passwords can be guessed");
    let again = json(fleet(s, &["package", "publish", p, "--format", "json"]));
    assert_eq!(again["packages"][0]["new"], false, "{again:#}");
    // Other content under the same version is refused.
    edit(&pkg.join("common.assay"), "param MAX_AUTH_TRIES: int = 4", "param MAX_AUTH_TRIES: int = 3");
    let r = fleet(s, &["package", "publish", p]);
    assert_eq!(r.0, 2, "{r:?}");
    assert!(
        super::unwrapped(&r.2).contains("ssh-hardening@1.0.0 is already published with other content"),
        "{}",
        r.2
    );
    // A new version is taken.
    edit(&pkg.join("package.yaml"), "version: 1.0.0", "version: 1.1.0");
    ok(fleet(s, &["package", "publish", p]));
    edit(&pkg.join("package.yaml"), "version: 1.1.0", "version: 1.1");
    let r = refused(fleet(s, &["package", "publish", p]));
    assert!(
        r.contains("package version `1.1` is not a semantic version") && r.contains("nothing was published"),
        "{r}"
    );

    let versions = json(fleet(s, &["package", "show", "ssh-hardening", "--format", "json"]));
    let listed: Vec<&str> =
        versions["items"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(listed, ["1.1.0", "1.0.0"]);
    let detail = json(fleet(s, &["package", "show", "ssh-hardening@1.1.0", "--format", "json"]));
    assert_eq!(detail["rules"].as_array().unwrap().len(), 4, "{detail:#}");
    assert_eq!(detail["rules"][2]["id"], "SSH-003");
    assert!(detail["sources_digest"].as_str().unwrap().starts_with("sha256:"));
    let table = ok(fleet(s, &["package", "show", "ssh-hardening@1.1.0"]));
    assert!(table.contains("signer     unsigned") && table.contains("SSH-003"), "{table}");

    // A built-in package's name is the server's.
    let imposter = work.path().join("imposter");
    common::copy_tree(&pkg, &imposter);
    edit(&imposter.join("package.yaml"), "name: ssh-hardening", "name: cis-linux");
    edit(&imposter.join("package.yaml"), "version: 1.1", "version: 9.0.0");
    let r = refused(fleet(s, &["package", "publish", imposter.to_str().unwrap()]));
    assert!(r.contains("cis-linux is a built-in package of this server"), "{r}");

    let yanked = json(fleet(s, &["package", "yank", "ssh-hardening@1.0.0", "--format", "json"]));
    assert!(yanked["yanked_at"].is_i64(), "{yanked:#}");
    let r = refused(fleet(s, &["package", "yank", "cis-linux@2.0.0"]));
    assert!(r.contains("no package") || r.contains("built into this server"), "{r}");
    let builtin_version = all["items"].as_array().unwrap().iter().find(|v| v["name"] == "cis-linux").unwrap()
        ["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = refused(fleet(s, &["package", "yank", &format!("cis-linux@{builtin_version}")]));
    assert!(r.contains("built into this server"), "{r}");
}

#[test]
fn packages_are_published_immutable_and_yanked_on_sqlite() {
    let data = tempfile::tempdir().unwrap();
    publish_and_version(&server_with(data.path(), &[]));
}

#[test]
fn packages_are_published_immutable_and_yanked_on_postgres() {
    with_postgres("assay_packages", |url| {
        let data = tempfile::tempdir().unwrap();
        let s = spawn_server(data.path(), ("127.0.0.1:0", "127.0.0.1:0"), &["--database", url], &[], None);
        publish_and_version(&s);
    });
}

#[test]
fn a_server_with_a_trusted_key_fails_closed() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for key in ["team", "stranger"] {
        let out = assay(w, &["key", "generate", "--out", &format!("{key}.key")]);
        assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    }
    let pkg = package(w);
    let p = pkg.to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let trusted = w.join("team.key.pub");
    let s = server_with(data.path(), &["--trusted-key", trusted.to_str().unwrap()]);

    let r = refused(fleet(&s, &["package", "publish", p]));
    assert!(
        r.contains("the bundle is unsigned and this server accepts only packages signed by a trusted key"),
        "{r}"
    );
    let stranger = w.join("stranger.key");
    let r = refused(fleet(&s, &["package", "publish", p, "--sign", stranger.to_str().unwrap()]));
    assert!(r.contains("which is not trusted"), "{r}");

    // A signed bundle with one letter of a rule's title changed and its
    // digest recomputed (which needs no key): the loader would take it,
    // the signature does not.
    let team = w.join("team.key");
    let out = assay(w, &["build", p, "-o", "b.bundle", "--sign", team.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let bundle = w.join("b.bundle");
    let good = std::fs::read(&bundle).unwrap();
    let mut bytes = good.clone();
    let at = bytes.windows(10).position(|w| w == b"root login").unwrap();
    bytes[at] = b'R';
    let n = bytes.len() - 32;
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes[..n])
    };
    bytes[n..].copy_from_slice(&digest);
    std::fs::write(&bundle, &bytes).unwrap();
    let out = assay(w, &["inspect", "b.bundle"]);
    assert_eq!(common::code(&out), 0, "the changed bundle loads: {}", common::stderr(&out));
    let r = refused(fleet(&s, &["package", "publish", bundle.to_str().unwrap()]));
    assert!(r.contains("the signature does not verify"), "{r}");
    // The signed statement edited.
    std::fs::write(&bundle, &good).unwrap();
    let sig = std::fs::read_to_string(w.join("b.bundle.minisig")).unwrap();
    std::fs::write(w.join("b.bundle.minisig"), sig.replace("\"1.0.0\"", "\"1.0.9\"")).unwrap();
    let r = refused(fleet(&s, &["package", "publish", bundle.to_str().unwrap()]));
    assert!(r.contains("the signature does not verify"), "{r}");
    std::fs::write(w.join("b.bundle.minisig"), &sig).unwrap();
    // Sources other than the signed ones.
    let other = w.join("other");
    common::copy_tree(&pkg, &other);
    edit(
        &other.join("rules.assay"),
        "/// Passwords can be guessed",
        "// edited\n/// Passwords can be guessed",
    );
    let r = refused(fleet(
        &s,
        &["package", "publish", bundle.to_str().unwrap(), "--sources", other.to_str().unwrap()],
    ));
    assert!(r.contains("the sources of package ssh-hardening are sha256:"), "{r}");

    // Signed by the trusted key, with its sources: published, and shown so.
    let v = json(fleet(
        &s,
        &["package", "publish", bundle.to_str().unwrap(), "--sources", p, "--format", "json"],
    ));
    let id = std::fs::read_to_string(&trusted).unwrap();
    assert!(v["signer"].is_string(), "{v:#}");
    assert!(id.contains(v["signer"].as_str().unwrap()), "{v:#} {id}");
    edit(&pkg.join("package.yaml"), "version: 1.0.0", "version: 1.2.0");
    ok(fleet(&s, &["package", "publish", p, "--sign", team.to_str().unwrap()]));
    // A lower version than one published: a rollback.
    edit(&pkg.join("package.yaml"), "version: 1.2.0", "version: 1.1.0");
    let r = refused(fleet(&s, &["package", "publish", p, "--sign", team.to_str().unwrap()]));
    assert!(r.contains("is lower than ssh-hardening@1.2.0"), "{r}");

    // Every refusal is in the audit log.
    let audit = json(fleet(&s, &["audit", "--limit", "1000", "--format", "json"]));
    let refusals = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "package.publish.refused")
        .count();
    let reasons: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "package.publish.refused")
        .map(|e| &e["detail"]["reason"])
        .collect();
    assert_eq!(refusals, 6, "{reasons:#?}");
}

/// A team's own package, published and named by a template with a version
/// requirement, runs on real agents (fixture roots): per host the same
/// outcomes as `assay scan --root ROOT --package PATH`; the run records
/// the exact version; a stricter 1.1.0 is taken by the next run of the
/// same template, and a yanked or unknown version cannot be named.
#[test]
fn a_published_package_runs_on_the_fleet_as_scan_runs_it() {
    let work = tempfile::tempdir().unwrap();
    let pkg = package(work.path());
    // A rule with a lookup (the collection plan must reach the agents).
    std::fs::write(
        pkg.join("kernel.assay"),
        "rule KRN-001 \"Restrict unprivileged BPF\" {\n  severity medium\n  description \"d\"\n  recommendation \"r\"\n  applies when host.kernel is present\n\n  let p = host.sysctl(\"kernel.unprivileged_bpf_disabled\")\n  let persisted = p.persisted ?? \"not set\"\n  fail when persisted != \"1\" and persisted != \"2\"\n    message \"unprivileged BPF is {persisted} in sysctl.d files\"\n}\n",
    )
    .unwrap();
    let check = assay(work.path(), &["check", pkg.to_str().unwrap()]);
    assert_eq!(common::code(&check), 0, "{}", common::stderr(&check));
    let data = tempfile::tempdir().unwrap();
    let s = server_with(data.path(), &[]);
    let hosts = ["debian-default", "debian-hardened"];
    // Copies of the fixture roots with a parameter no built-in rule looks
    // up: only the run's collection plan makes the agents read it.
    let roots: Vec<tempfile::TempDir> = hosts
        .iter()
        .zip(["0", "1"])
        .map(|(h, value)| {
            let copy = common::copy_host(h);
            let conf = copy.path().join("root/etc/sysctl.d/50-bpf.conf");
            std::fs::write(conf, format!("kernel.unprivileged_bpf_disabled = {value}\n")).unwrap();
            copy
        })
        .collect();
    let root_of = |host: &str| roots[hosts.iter().position(|h| *h == host).unwrap()].path().join("root");
    let (_, token, _) = fleet(&s, &["enrollment", "create", "--uses", "2", "--tag", "team=mine"]);
    let _agents: Vec<AgentProcess> = hosts.iter().map(|h| agent_on(&s, token.trim(), &root_of(h))).collect();
    let ids: std::collections::BTreeMap<String, String> = enrolled(&s, hosts.len())
        .iter()
        .map(|a| (a["hostname"].as_str().unwrap().to_owned(), a["id"].as_str().unwrap().to_owned()))
        .collect();
    ok(fleet(&s, &["target", "create", "mine", "--tag", "team"]));

    // Not published yet: a template cannot name it.
    let r = refused(fleet(
        &s,
        &[
            "template",
            "create",
            "team",
            "--target",
            "mine",
            "--duration",
            "1m",
            "--package",
            "ssh-hardening@1",
        ],
    ));
    assert!(r.contains("`ssh-hardening` is not a rules package of this server"), "{r}");
    ok(fleet(&s, &["package", "publish", pkg.to_str().unwrap()]));
    ok(fleet(
        &s,
        &[
            "template",
            "create",
            "team",
            "--target",
            "mine",
            "--duration",
            "1m",
            "--package",
            "ssh-hardening@1",
        ],
    ));

    let start = |s: &ServerProcess| {
        let v = json(fleet(s, &["run", "start", "team", "--format", "json"]));
        let id = v["id"].as_str().unwrap().to_owned();
        let done = wait_run(s, &id, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR"]);
        assert_eq!(done["state"], "COMPLETED", "{done:#}");
        id
    };
    let first = start(&s);
    for host in hosts {
        let served = run_outcomes(&s, &first, &ids, host);
        let local = scan_outcomes(&root_of(host), &[&pkg]);
        assert_eq!(local.len(), 5, "{local:?}");
        assert_eq!(served, local, "{host}: the fleet's outcomes differ from assay scan --root --package");
    }
    let findings = json(fleet(&s, &["findings", "--run", &first, "--format", "json"]));
    let f = findings["items"].as_array().unwrap().iter().find(|f| f["rule_id"] == "SSH-003").unwrap().clone();
    assert_eq!(f["package_version"], "1.0.0", "{f:#}");

    // 1.1.0 with a stricter threshold: the next run of the same template
    // (which follows @1) evaluates it; debian-hardened (MaxAuthTries 4) flips.
    let hardened = &ids["debian-hardened"];
    let before = scan_outcomes(&root_of("debian-hardened"), &[&pkg]);
    assert_eq!(
        (before["KRN-001"].as_str(), scan_outcomes(&root_of("debian-default"), &[&pkg])["KRN-001"].as_str()),
        ("passed", "failed")
    );
    edit(&pkg.join("common.assay"), "param MAX_AUTH_TRIES: int = 4", "param MAX_AUTH_TRIES: int = 3");
    edit(&pkg.join("package.yaml"), "version: 1.0.0", "version: 1.1.0");
    // Previewed first: exactly the host that flips, nothing written.
    let preview =
        json(fleet(&s, &["package", "publish", pkg.to_str().unwrap(), "--dry-run", "--format", "json"]));
    let rules = preview["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{preview:#}");
    assert_eq!(rules[0]["rule_id"], "SSH-003");
    assert_eq!(rules[0]["change"], "logic");
    assert_eq!(
        rules[0]["flips"],
        serde_json::json!([{"host": "debian-hardened", "agent": hardened, "old": "passed", "new": "failed"}])
    );
    assert_eq!(rules[0]["same_hosts"], 1);
    assert_eq!(preview["unchanged"], 4);
    assert_eq!(preview["hosts"].as_array().unwrap().len(), 2);
    let markdown =
        ok(fleet(&s, &["package", "publish", pkg.to_str().unwrap(), "--dry-run", "--format", "markdown"]));
    assert!(markdown.contains("| SSH-003 | debian-hardened | passed | failed |"), "{markdown}");
    let versions = json(fleet(&s, &["package", "show", "ssh-hardening", "--format", "json"]));
    assert_eq!(versions["items"].as_array().unwrap().len(), 1, "a preview publishes nothing: {versions:#}");

    let published = json(fleet(&s, &["package", "publish", pkg.to_str().unwrap(), "--format", "json"]));
    assert_eq!(published["agents_queued"], 2, "{published:#}");
    // Re-evaluation of the latest telemetry opens the fleet finding on
    // debian-hardened, naming the package change as its cause.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let opened = loop {
        let open = json(fleet(
            &s,
            &["findings", "--state", "open", "--rule", "SSH-003", "--agent", hardened, "--format", "json"],
        ));
        if let Some(f) = open["items"].as_array().unwrap().first() {
            break f.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no fleet finding opened by the new version");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(opened["package_version"], "1.1.0", "{opened:#}");
    let history =
        json(fleet(&s, &["finding", hardened, opened["fingerprint"].as_str().unwrap(), "--format", "json"]));
    let causes: Vec<&str> =
        history["history"].as_array().unwrap().iter().map(|c| c["cause"].as_str().unwrap()).collect();
    assert_eq!(causes, ["package ssh-hardening 1.0.0 → 1.1.0"], "{history:#}");
    let second = start(&s);
    let after = run_outcomes(&s, &second, &ids, "debian-hardened");
    assert_eq!(after, scan_outcomes(&root_of("debian-hardened"), &[&pkg]));
    assert_eq!((before["SSH-003"].as_str(), after["SSH-003"].as_str()), ("passed", "failed"));
    let findings = json(fleet(&s, &["findings", "--run", &second, "--rule", "SSH-003", "--format", "json"]));
    assert!(
        findings["items"].as_array().unwrap().iter().all(|f| f["package_version"] == "1.1.0"),
        "{findings:#}"
    );

    // A template sets the package's parameter: checked against the
    // package when saved, stored typed under its full name, and its runs
    // evaluate (and record) it.
    let create = |extra: &[&str]| {
        let mut args = vec![
            "template",
            "create",
            "relaxed",
            "--target",
            "mine",
            "--duration",
            "1m",
            "--package",
            "ssh-hardening@1",
        ];
        args.extend_from_slice(extra);
        fleet(&s, &args)
    };
    let r = refused(create(&["--param", "MAX_AUTH_TRIES=five"]));
    assert!(r.contains("parameter `ssh-hardening.MAX_AUTH_TRIES` is int: \"five\" is not an integer"), "{r}");
    let r = refused(create(&["--param", "ssh-hardening.MAX_TRIES=5"]));
    assert!(r.contains("no parameter `ssh-hardening.MAX_TRIES`"), "{r}");
    let saved = json(create(&["--param", "MAX_AUTH_TRIES=5", "--format", "json"]));
    assert_eq!(saved["params"], serde_json::json!({"ssh-hardening.MAX_AUTH_TRIES": 5}), "{saved:#}");
    let v = json(fleet(&s, &["run", "start", "relaxed", "--format", "json"]));
    let relaxed = v["id"].as_str().unwrap().to_owned();
    let done = wait_run(&s, &relaxed, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR"]);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    // MaxAuthTries 6 on debian-default, 4 on debian-hardened: over 5 only
    // on the first, where the package's own default (3) failed both.
    assert_eq!(run_outcomes(&s, &relaxed, &ids, "debian-default")["SSH-003"], "failed");
    assert_eq!(run_outcomes(&s, &relaxed, &ids, "debian-hardened")["SSH-003"], "passed");
    let findings = json(fleet(&s, &["findings", "--run", &relaxed, "--rule", "SSH-003", "--format", "json"]));
    let f = &findings["items"][0];
    assert!(f["message"].as_str().unwrap().contains("at most 5"), "{f:#}");
    assert_eq!(
        f["params"],
        serde_json::json!([{"key": "ssh-hardening.MAX_AUTH_TRIES", "value": "5"}]),
        "{f:#}"
    );

    // A yanked version cannot be named by a new template.
    ok(fleet(&s, &["package", "yank", "ssh-hardening@1.0.0"]));
    let r = refused(fleet(
        &s,
        &["template", "create", "old", "--target", "mine", "--package", "ssh-hardening@1.0.0"],
    ));
    assert!(
        r.contains(
            "no version of ssh-hardening matches `ssh-hardening@1.0.0`: published 1.1.0, 1.0.0 (yanked)"
        ),
        "{r}"
    );
    let r = refused(fleet(
        &s,
        &["template", "create", "old", "--target", "mine", "--package", "ssh-hardening@2"],
    ));
    assert!(r.contains("no version of ssh-hardening matches"), "{r}");
}

/// A server upgrade that changes the bundle format must not strand
/// published packages: a stored bundle whose header names another
/// instruction set is compiled again from its kept sources (its signature
/// still verifying against the trusted key), and runs and `package show`
/// work as before.
#[test]
fn a_stored_bundle_of_another_build_is_rebuilt_from_its_sources() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let out = assay(w, &["key", "generate", "--out", "team.key"]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let pkg = package(w);
    let trusted = w.join("team.key.pub");
    let key = ["--trusted-key", trusted.to_str().unwrap()];
    let data = tempfile::tempdir().unwrap();
    let token = {
        let s = server_with(data.path(), &key);
        let team = w.join("team.key");
        ok(fleet(&s, &["package", "publish", pkg.to_str().unwrap(), "--sign", team.to_str().unwrap()]));
        s.token.clone()
    };
    // What another build of assay would have stored: the same content
    // under another instruction-set fingerprint, its digest recomputed.
    let db = rusqlite::Connection::open(data.path().join("assay.db")).unwrap();
    let (digest, mut body): (String, Vec<u8>) = db
        .query_row("SELECT digest, body FROM package_bundles WHERE signature IS NOT NULL", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    body[12..20].copy_from_slice(b"\0other\0\0");
    let n = body.len() - 32;
    let sum = {
        use sha2::Digest;
        sha2::Sha256::digest(&body[..n])
    };
    body[n..].copy_from_slice(&sum);
    // ... and signed by the team's key as that build would have signed it.
    let sources: String = db
        .query_row("SELECT sources_digest FROM package_versions WHERE bundle = ?1", [&digest], |r| r.get(0))
        .unwrap();
    let secret = std::fs::read_to_string(w.join("team.key")).unwrap();
    let secret = assay_runtime::signing::read_secret(&secret, None).unwrap();
    let signed = vec![assay_runtime::signing::SignedPackage {
        name: "ssh-hardening".into(),
        version: "1.0.0".into(),
        sources,
    }];
    let signature = assay_runtime::signing::sign(&secret, &body, "2026-12-06T00:00:00Z", signed).unwrap();
    db.execute(
        "UPDATE package_bundles SET body = ?1, signature = ?2 WHERE digest = ?3",
        rusqlite::params![body, signature, digest],
    )
    .unwrap();
    drop(db);
    let inspect = std::fs::write(w.join("other.bundle"), &body)
        .map(|_| assay(w, &["inspect", "other.bundle"]))
        .unwrap();
    assert!(common::stderr(&inspect).contains("instruction set"), "{}", common::stderr(&inspect));

    let s = spawn_server(data.path(), ("127.0.0.1:0", "127.0.0.1:0"), &key, &[], Some(&token));
    let detail = json(fleet(&s, &["package", "show", "ssh-hardening@1.0.0", "--format", "json"]));
    assert_eq!(detail["rules"].as_array().unwrap().len(), 4, "{detail:#}");
    assert!(detail["signer"].is_string());
    let (_, enrol, _) = fleet(&s, &["enrollment", "create", "--uses", "1", "--tag", "team=mine"]);
    let _agent = agent_on(&s, enrol.trim(), &common::fixture("debian-default"));
    let ids = enrolled(&s, 1);
    ok(fleet(&s, &["target", "create", "mine", "--tag", "team"]));
    ok(fleet(
        &s,
        &["template", "create", "team", "--target", "mine", "--duration", "1m", "--package", "ssh-hardening"],
    ));
    let run =
        json(fleet(&s, &["run", "start", "team", "--format", "json"]))["id"].as_str().unwrap().to_owned();
    let done = wait_run(&s, &run, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR"]);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    let served = run_outcomes(
        &s,
        &run,
        &std::collections::BTreeMap::from([(
            "debian-default".to_owned(),
            ids[0]["id"].as_str().unwrap().to_owned(),
        )]),
        "debian-default",
    );
    assert_eq!(served, scan_outcomes(&common::fixture("debian-default"), &[&pkg]));
    drop(s);

    // Kept sources other than the signed ones are never compiled.
    let db = rusqlite::Connection::open(data.path().join("assay.db")).unwrap();
    db.execute("UPDATE package_versions SET sources = replace(sources, 'MaxAuthTries', 'MaxAuthTries!') WHERE bundle = ?1", [&digest])
        .unwrap();
    drop(db);
    let s = spawn_server(data.path(), ("127.0.0.1:0", "127.0.0.1:0"), &key, &[], Some(&token));
    let r = refused(fleet(&s, &["package", "show", "ssh-hardening@1.0.0"]));
    assert!(r.contains("the sources of package ssh-hardening are sha256:"), "{r}");
}

/// A package that reads configuration files' contents (#32) runs on the
/// fleet as scan runs it: the agents read exactly the keys the run's plan
/// names, and the fleet's outcomes per host are `assay scan --root
/// --package`'s, with no planted credential stored by the server.
#[test]
fn a_package_reading_configuration_files_runs_on_the_fleet() {
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/container-host");
    let data = tempfile::tempdir().unwrap();
    let s = server_with(data.path(), &[]);
    let hosts = ["container-default", "container-hardened"];
    let (_, token, _) = fleet(&s, &["enrollment", "create", "--uses", "2", "--tag", "team=containers"]);
    let _agents: Vec<AgentProcess> =
        hosts.iter().map(|h| agent_on(&s, token.trim(), &common::fixture(h))).collect();
    let ids: std::collections::BTreeMap<String, String> = enrolled(&s, hosts.len())
        .iter()
        .map(|a| (a["hostname"].as_str().unwrap().to_owned(), a["id"].as_str().unwrap().to_owned()))
        .collect();
    ok(fleet(&s, &["target", "create", "containers", "--tag", "team"]));
    ok(fleet(&s, &["package", "publish", pkg.to_str().unwrap()]));
    ok(fleet(
        &s,
        &[
            "template",
            "create",
            "c",
            "--target",
            "containers",
            "--duration",
            "1m",
            "--package",
            "container-host@1",
        ],
    ));
    let v = json(fleet(&s, &["run", "start", "c", "--format", "json"]));
    let run = v["id"].as_str().unwrap().to_owned();
    let done = wait_run(&s, &run, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "ERROR"]);
    assert_eq!(done["state"], "COMPLETED", "{done:#}");
    for host in hosts {
        let served = run_outcomes(&s, &run, &ids, host);
        let local = scan_outcomes(&common::fixture(host), &[&pkg]);
        assert_eq!(local.len(), 11, "{local:?}");
        assert_eq!(served, local, "{host}: the fleet's outcomes differ from assay scan --root --package");
    }
    drop(s);
    // Nothing the server stores in the clear (its database: findings,
    // evidence, reports) holds a planted credential. Uploaded telemetry is
    // sealed; tests/contents.rs shows the collector reads none into it.
    for entry in walk(data.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(7).any(|w| w == b"PLANTED"), "{} holds a planted credential", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
