//! Helpers shared by the end-to-end test crates (`mod common;` in each).
//! Each crate uses some of them, so unused ones are allowed here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A package folder `name` under `dir` holding `rules.assay` with `source`
/// (and an empty `tests/`).
pub fn package(dir: &Path, name: &str, source: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(
        root.join("package.yaml"),
        format!("name: {name}\ntitle: t\nversion: 1.0.0\ndescription: d\nplatforms: [linux]\n"),
    )
    .unwrap();
    std::fs::write(root.join("rules.assay"), source).unwrap();
    root
}

/// Runs the built `assay` binary from the checkout's root, without colours.
pub fn assay(args: &[&str]) -> Output {
    assay_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Runs the built `assay` binary in `dir`, without colours.
pub fn assay_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the assay binary runs")
}

/// Replaces the first `from` in the file with `to`; `from` must be there.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Sets the `Version:` of the named packages in a root's dpkg status
/// (a fixture made vulnerable to a test's advisory).
pub fn set_dpkg_versions(root: &Path, packages: &[&str], version: &str) {
    let path = root.join("var/lib/dpkg/status");
    let text = std::fs::read_to_string(&path).unwrap();
    let stanzas: Vec<String> = text
        .split("\n\n")
        .map(|stanza| {
            let named = packages.iter().any(|p| stanza.starts_with(&format!("Package: {p}\n")));
            if !named {
                return stanza.to_owned();
            }
            let lines: Vec<String> = stanza
                .lines()
                .map(
                    |l| if l.starts_with("Version: ") { format!("Version: {version}") } else { l.to_owned() },
                )
                .collect();
            lines.join("\n")
        })
        .collect();
    std::fs::write(&path, stanzas.join("\n\n")).unwrap();
}

/// A fixture host root under `tests/fixtures/hosts/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts").join(name)
}

/// Copies a fixture host into `<tempdir>/root` (symbolic links kept).
pub fn copy_host(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), &dir.path().join("root"));
    dir
}

/// Copies a tree, keeping symbolic links as links.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Violations of the published SARIF 2.1.0 schema (copied verbatim into
/// `tests/fixtures`). Its `run.language` pattern has a stray `]` that a
/// strict ECMA-262 parser rejects; Assay never writes that property, so the
/// intended pattern stands in.
pub fn sarif_schema_errors(sarif: &serde_json::Value) -> Vec<String> {
    let text = std::fs::read_to_string("tests/fixtures/sarif-schema-2.1.0.json").unwrap();
    let text = text.replace(r#"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$"#, r#"^[a-zA-Z]{2}(-[a-zA-Z]{2})?$"#);
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(sarif).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// A copy of the debian-default fixture whose `packages` are at
/// 3.0.11-1~deb12u2, a version the fixture advisories
/// (`tests/fixtures/osv`, CVE-2024-5535 and others of source openssl)
/// affect, with those advisories imported as a feed. Keep it alive as long
/// as its paths are used.
pub struct VulnerableHost {
    /// A directory for the test's own files; the feed is in it.
    pub dir: tempfile::TempDir,
    pub feed: PathBuf,
    _host: tempfile::TempDir,
    pub root: PathBuf,
}

pub fn vulnerable_openssl_host(packages: &[&str]) -> VulnerableHost {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("fixtures.feed");
    let out = assay(&["feed", "import", "--osv", "tests/fixtures/osv", "-o", feed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    set_dpkg_versions(&root, packages, "3.0.11-1~deb12u2");
    VulnerableHost { dir, feed, _host: host, root }
}
