//! `assay diff` end to end: a package's history in a temporary git
//! repository, fixture hosts' telemetry, and every kind of side.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assay_in as run, code, copy_tree, edit, fixture, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A repository whose `policies/ssh-hardening` has three commits: the
/// example package (tagged v1), a reformatting that changes no logic, and
/// a stricter MaxAuthTries threshold with a raised severity and a new title
/// (HEAD); and telemetry of four fixture roots in `telemetry/`.
fn history() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let pkg = repo.join("policies/ssh-hardening");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ssh-hardening"), &pkg);
    git(tmp.path(), &["init", "-q", "-b", "main", "repo"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "v1"]);
    git(&repo, &["tag", "v1"]);
    let rules = pkg.join("rules.assay");
    edit(
        &rules,
        "  fail when host.sshd.password_authentication\n",
        "  // unchanged logic\n  fail when host.sshd.password_authentication\n",
    );
    edit(&rules, "/// Passwords can be guessed", "\n\n/// Passwords can be guessed");
    git(&repo, &["commit", "-qam", "comments and blank lines"]);
    git(&repo, &["tag", "reformatted"]);
    edit(&pkg.join("common.assay"), "param MAX_AUTH_TRIES: int = 4", "param MAX_AUTH_TRIES: int = 3");
    edit(
        &rules,
        "rule SSH-002 \"Disable password authentication over SSH\" {\n  severity medium",
        "rule SSH-002 \"Disable password authentication over SSH\" {\n  severity high",
    );
    edit(
        &rules,
        "rule SSH-001 \"Disable root login over SSH\"",
        "rule SSH-001 \"Never allow root login over SSH\"",
    );
    git(&repo, &["commit", "-qam", "stricter"]);
    let telemetry = tmp.path().join("telemetry");
    std::fs::create_dir(&telemetry).unwrap();
    for host in ["debian-default", "debian-hardened", "rpm", "alpine"] {
        let out = run(
            tmp.path(),
            &[
                "collect",
                "--root",
                fixture(host).to_str().unwrap(),
                "-o",
                telemetry.join(format!("{host}.json")).to_str().unwrap(),
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    (tmp, repo)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

#[test]
fn a_change_between_two_revisions_names_the_changed_rules_and_the_hosts_that_flip() {
    let (tmp, repo) = history();
    let tel = tmp.path().join("telemetry");
    let tel = tel.to_str().unwrap();

    // Comments and blank lines: the bundle's digest changes (line tables),
    // the rules' logic does not.
    let d = json(&run(
        &repo,
        &["diff", "v1..reformatted", "policies/ssh-hardening", "--format", "json", "--telemetry", tel],
    ));
    assert_ne!(d["old"]["digest"], d["new"]["digest"]);
    assert_eq!(d["rules"], serde_json::json!([]), "{d:#}");
    assert_eq!(d["unchanged"], 4);
    assert_eq!(d["hosts"].as_array().unwrap().len(), 4);

    // The stricter version: one rule's logic, two rules' metadata, and the
    // one host at MaxAuthTries 4 now fails.
    let out =
        run(&repo, &["diff", "v1..main", "policies/ssh-hardening", "--format", "json", "--telemetry", tel]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let d = json(&out);
    let rules = d["rules"].as_array().unwrap();
    let by_id = |id: &str| rules.iter().find(|r| r["rule_id"] == id).unwrap_or_else(|| panic!("{id}: {d:#}"));
    assert_eq!(rules.len(), 3, "{d:#}");
    assert_eq!(by_id("SSH-003")["change"], "logic");
    assert_eq!(
        by_id("SSH-003")["flips"],
        serde_json::json!([{"host": "debian-hardened", "old": "passed", "new": "failed"}])
    );
    assert_eq!(by_id("SSH-002")["change"], "metadata");
    assert_eq!(by_id("SSH-002")["old_severity"], "medium");
    assert_eq!(by_id("SSH-002")["new_severity"], "high");
    assert_eq!(by_id("SSH-001")["change"], "metadata");
    assert_eq!(by_id("SSH-001")["fields"], serde_json::json!(["title"]));
    assert_eq!(d["old"]["label"], "v1:policies/ssh-hardening");

    // A CI gate on flips; and the Markdown a pull request shows.
    let out = run(
        &repo,
        &[
            "diff",
            "v1..main",
            "policies/ssh-hardening",
            "--telemetry",
            tel,
            "--fail-on-flip",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let digests = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap();
    insta::assert_snapshot!("diff_markdown", digests.replace_all(&stdout(&out), "sha256:…"));
    let out = run(
        &repo,
        &["diff", "v1..reformatted", "policies/ssh-hardening", "--telemetry", tel, "--fail-on-flip"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(&repo, &["diff", "v1..main", "policies/ssh-hardening", "--telemetry", tel]);
    insta::assert_snapshot!("diff_table", digests.replace_all(&stdout(&out), "sha256:…"));
}

#[test]
fn every_kind_of_side_compares_the_same() {
    let (_tmp, repo) = history();
    // A bundle built from v1 against the working tree, and `REV:PATH`
    // against a folder: the same three rules changed.
    git(&repo, &["worktree", "add", "-q", "../v1", "v1"]);
    let v1 = repo.parent().unwrap().join("v1/policies/ssh-hardening");
    let out = run(&repo, &["build", v1.to_str().unwrap(), "-o", "../v1.bundle"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for (old, new) in [
        ("../v1.bundle", "policies/ssh-hardening"),
        ("v1:policies/ssh-hardening", "policies/ssh-hardening"),
        (v1.to_str().unwrap(), "HEAD:policies/ssh-hardening"),
    ] {
        let d = json(&run(&repo, &["diff", old, new, "--format", "json"]));
        let changes: Vec<(&str, &str)> = d["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["rule_id"].as_str().unwrap(), r["change"].as_str().unwrap()))
            .collect();
        assert_eq!(
            changes,
            [("SSH-001", "metadata"), ("SSH-002", "metadata"), ("SSH-003", "logic")],
            "{old} {new}"
        );
    }
    // A rule added and one removed.
    let rules = repo.join("policies/ssh-hardening/rules.assay");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, text.replace("rule SSH-004 ", "rule SSH-040 ")).unwrap();
    let d = json(&run(
        &repo,
        &["diff", "HEAD:policies/ssh-hardening", "policies/ssh-hardening", "--format", "json"],
    ));
    let changes: Vec<(&str, &str)> = d["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("SSH-004", "removed"), ("SSH-040", "added")]);

    // A rule added first shifts every pool index after it (constants are
    // interned in rule order): no other rule changes.
    let first = "rule SSH-000 \"A new first rule\" {\n  severity low\n  description \"d\"\n  applies when host.sshd is present\n\n  fail when host.sshd.permit_root_login == \"a brand new constant\"\n    message \"m\"\n}\n\n";
    let (head, tail) = text.split_once("is_weak_cipher}\n").unwrap();
    std::fs::write(&rules, format!("{head}is_weak_cipher}}\n\n{first}{tail}")).unwrap();
    let d = json(&run(
        &repo,
        &["diff", "HEAD:policies/ssh-hardening", "policies/ssh-hardening", "--format", "json"],
    ));
    let changes: Vec<(&str, &str)> = d["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule_id"].as_str().unwrap(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("SSH-000", "added")], "{d:#}");

    // What cannot be compared says why.
    let out = run(&repo, &["diff", "v0:policies/ssh-hardening", "policies/ssh-hardening"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("v0"), "{}", stderr(&out));
    let out = run(&repo, &["diff", "v1:policies/nothing-here", "policies/ssh-hardening"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("does not exist at revision v1"), "{}", stderr(&out));
    std::fs::write(&rules, "rule {").unwrap();
    let out = run(&repo, &["diff", "v1:policies/ssh-hardening", "policies/ssh-hardening"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("the new side (policies/ssh-hardening) does not compile"),
        "{}",
        stderr(&out)
    );
    let out = run(&repo, &["diff", "v1..main", "policies/ssh-hardening", "--fail-on-flip"]);
    assert_eq!(code(&out), 2, "--fail-on-flip needs --telemetry: {}", stderr(&out));
}
