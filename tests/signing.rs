//! Signed bundles end to end: `assay key generate`, `assay build --sign`,
//! `assay verify`, and minisign itself (Debian's `minisign`, the reference
//! implementation, installed by `.ci/setup`) checking what Assay signed
//! and signing with Assay's key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, copy_tree, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MINISIGN: &str = "/usr/bin/minisign";

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ASSAY_KEY_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A temporary folder with a copy of the ssh-hardening example as `pkg/`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ssh-hardening"), &pkg);
    (dir, pkg)
}

fn ok(out: &Output) -> String {
    assert_eq!(code(out), 0, "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
    stdout(out)
}

/// The refusal's sentence on one line (miette wraps long messages).
fn refusal(out: &Output) -> String {
    assert_eq!(code(out), 1, "stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out));
    stderr(out).split_whitespace().filter(|w| *w != "│").collect::<Vec<_>>().join(" ")
}

#[test]
fn a_signed_bundle_says_who_signed_what_and_refuses_every_change() {
    let (tmp, _pkg) = workspace();
    let d = tmp.path();
    let out = ok(&run(d, &["key", "generate", "--out", "team.key"], &[]));
    let id = out.split_whitespace().nth(1).unwrap().trim_end_matches(':').to_owned();
    assert_eq!(id.len(), 16, "{out}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(d.join("team.key")).unwrap().permissions().mode() & 0o777, 0o600);
    // A key is never replaced by accident.
    assert_eq!(code(&run(d, &["key", "generate", "--out", "team.key"], &[])), 2);

    let built = ok(&run(
        d,
        &["build", "pkg", "-o", "b.bundle", "--sign", "team.key"],
        &[("SOURCE_DATE_EPOCH", "1796515200")],
    ));
    let digest = built.split_whitespace().next().unwrap().to_owned();
    assert!(built.contains(&format!("signed by key {id}")), "{built}");

    let v: serde_json::Value = serde_json::from_str(&ok(&run(
        d,
        &["verify", "b.bundle", "--key", "team.key.pub", "--sources", "pkg", "--format", "json"],
        &[],
    )))
    .unwrap();
    assert_eq!(v["key"], id.as_str());
    assert_eq!(v["statement"]["bundle"], digest.as_str(), "the digest findings carry: {v:#}");
    assert_eq!(v["statement"]["created"], "2026-12-06T00:00:00Z");
    assert_eq!(v["statement"]["packages"][0]["name"], "ssh-hardening");
    assert_eq!(v["statement"]["packages"][0]["version"], "1.0.0");
    assert_eq!(v["sources_checked"][0], "ssh-hardening");

    // The sources digest is sha256sum's listing, hashed: checkable by hand.
    let by_hand = Command::new("sh")
        .arg("-c")
        .arg("find . -type f \\( -name '*.assay' -o -name package.yaml \\) | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum")
        .current_dir(d.join("pkg"))
        .output()
        .unwrap();
    let by_hand = String::from_utf8_lossy(&by_hand.stdout).split_whitespace().next().unwrap().to_owned();
    assert_eq!(v["statement"]["packages"][0]["sources"], format!("sha256:{by_hand}").as_str());

    // A changed byte anywhere in the bundle.
    let good = std::fs::read(d.join("b.bundle")).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x20;
    std::fs::write(d.join("b.bundle"), &bad).unwrap();
    let err = refusal(&run(d, &["verify", "b.bundle", "--key", "team.key.pub"], &[]));
    assert!(err.contains("the signature does not verify"), "{err}");
    std::fs::write(d.join("b.bundle"), &good).unwrap();

    // The statement raised to another version after signing.
    let sig = std::fs::read_to_string(d.join("b.bundle.minisig")).unwrap();
    std::fs::write(d.join("edited.minisig"), sig.replace("\"1.0.0\"", "\"1.0.1\"")).unwrap();
    let err = refusal(&run(
        d,
        &["verify", "b.bundle", "--key", "team.key.pub", "--signature", "edited.minisig"],
        &[],
    ));
    assert!(err.contains("the signature does not verify"), "{err}");

    // An unknown key.
    ok(&run(d, &["key", "generate", "--out", "other.key"], &[]));
    let err = refusal(&run(d, &["verify", "b.bundle", "--key", "other.key.pub"], &[]));
    assert!(err.contains(&format!("signed by key {id}, which is not trusted")), "{err}");

    // A source changed after signing.
    let rules = d.join("pkg/rules.assay");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(&rules, format!("{text}\n// edited\n")).unwrap();
    let err = refusal(&run(d, &["verify", "b.bundle", "--key", "team.key.pub", "--sources", "pkg"], &[]));
    assert!(err.contains("the sources of package ssh-hardening are sha256:"), "{err}");
    std::fs::write(&rules, &text).unwrap();

    // A signature stripped: no signature file is no verification.
    std::fs::remove_file(d.join("b.bundle.minisig")).unwrap();
    let out = run(d, &["verify", "b.bundle", "--key", "team.key.pub"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("b.bundle.minisig"), "{}", stderr(&out));

    // Rebuilding without --sign removes a signature that would no longer match.
    ok(&run(d, &["build", "pkg", "-o", "b.bundle", "--sign", "team.key"], &[]));
    ok(&run(d, &["build", "pkg", "-o", "b.bundle"], &[]));
    assert!(!d.join("b.bundle.minisig").exists());
}

#[test]
fn minisign_checks_what_assay_signs_and_signs_with_assays_key() {
    if !Path::new(MINISIGN).exists() {
        eprintln!("skipped: no {MINISIGN} (Debian's minisign; .ci/setup installs it)");
        return;
    }
    let (tmp, _pkg) = workspace();
    let d = tmp.path();
    ok(&run(d, &["key", "generate", "--out", "team.key"], &[]));
    ok(&run(d, &["build", "pkg", "-o", "b.bundle", "--sign", "team.key"], &[]));
    let out = Command::new(MINISIGN)
        .args(["-V", "-m", "b.bundle", "-p", "team.key.pub"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Trusted comment: {\"format\":\"assay-signature/1\""), "{said}");

    // minisign refuses the tampered bundle too.
    let mut bad = std::fs::read(d.join("b.bundle")).unwrap();
    bad[40] ^= 1;
    std::fs::write(d.join("bad.bundle"), &bad).unwrap();
    std::fs::copy(d.join("b.bundle.minisig"), d.join("bad.bundle.minisig")).unwrap();
    let out = Command::new(MINISIGN)
        .args(["-V", "-m", "bad.bundle", "-p", "team.key.pub"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!out.status.success());

    // minisign signs with Assay's key file; a signature without Assay's
    // statement proves nothing about packages and is refused.
    let out = Command::new(MINISIGN)
        .args(["-S", "-s", "team.key", "-m", "b.bundle", "-x", "bare.minisig"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = refusal(&run(
        d,
        &["verify", "b.bundle", "--key", "team.key.pub", "--signature", "bare.minisig"],
        &[],
    ));
    assert!(err.contains("the signature does not say what it covers"), "{err}");
}
