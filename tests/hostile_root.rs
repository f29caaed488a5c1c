//! A root file system being scanned may be hostile: these roots are built
//! at test time under a temporary folder and try to make the collector read
//! files outside them or hide files from it.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assay_runtime::collector::collect_root;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{copy_tree, fixture};

/// An rpm database whose `Packages` table is empty: what a host-side
/// database looks like to the old URI-building code (no packages found).
fn empty_rpmdb(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL);").unwrap();
}

fn rpm_names(root: &Path) -> Vec<String> {
    let doc = collect_root(root);
    let mut names: Vec<String> = doc.packages.unwrap_or_default().into_iter().map(|p| p.name).collect();
    names.sort();
    names
}

#[test]
fn sqlite_uri_syntax_in_the_root_path_does_not_open_another_database() {
    let expected = rpm_names(&fixture("rpm"));
    assert!(!expected.is_empty());
    for trick in ["evil#", "evil?mode=rw&", "a%2f..%2fevil"] {
        let base = tempfile::tempdir().unwrap();
        // `base/evil` is what a URI cut at `#`/`?` or decoded `%2f` names.
        empty_rpmdb(&base.path().join("evil"));
        let root = base.path().join(trick);
        copy_tree(&fixture("rpm"), &root);
        assert_eq!(rpm_names(&root), expected, "root {trick}: another database was read");
    }
}

#[test]
fn a_database_linked_outside_the_root_is_read_inside_it() {
    let base = tempfile::tempdir().unwrap();
    let outside = base.path().join("host-rpmdb.sqlite");
    std::fs::copy(fixture("rpm").join("var/lib/rpm/rpmdb.sqlite"), &outside).unwrap();
    let root = base.path().join("root");
    copy_tree(&fixture("rpm"), &root);
    let db = root.join("var/lib/rpm/rpmdb.sqlite");
    std::fs::remove_file(&db).unwrap();
    // An absolute link: inside the root it names the root's own path.
    std::os::unix::fs::symlink(&outside, &db).unwrap();
    let doc = collect_root(&root);
    let packages = doc.packages.unwrap_or_default();
    assert!(packages.is_empty(), "the host's database was read: {packages:?}");
}

#[test]
fn a_file_name_that_is_not_utf8_does_not_hide_a_setting() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let ssh = root.join("etc/ssh");
    std::fs::create_dir_all(ssh.join("sshd_config.d")).unwrap();
    std::fs::write(
        ssh.join("sshd_config"),
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
    )
    .unwrap();
    let name = std::ffi::OsStr::from_bytes(b"00-\xff.conf");
    std::fs::write(ssh.join("sshd_config.d").join(name), "PasswordAuthentication yes\n").unwrap();
    let sshd = collect_root(&root).sshd.unwrap();
    assert!(sshd.password_authentication.value, "the drop-in was not read");
    assert_eq!(sshd.password_authentication.source.to_string(), "/etc/ssh/sshd_config.d/00-\\xff.conf:1");
}

#[test]
fn an_include_fan_out_stops_at_the_limit_and_says_so() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let ssh = root.join("etc/ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    // Each file includes the next four times, 17 deep: 4^17 reads unbounded.
    std::fs::write(ssh.join("sshd_config"), "Include /etc/ssh/f1\n".repeat(4)).unwrap();
    for i in 1..=17 {
        std::fs::write(
            ssh.join(format!("f{i}")),
            format!("Include /etc/ssh/f{}\nPort {i}\n", i + 1).repeat(4),
        )
        .unwrap();
    }
    let doc = collect_root(&root);
    assert!(doc.sshd.is_some());
    assert!(
        doc.errors.iter().any(|e| e.sensor == "sshd" && e.message.contains("limit of 256 files")),
        "{:?}",
        doc.errors
    );
}

#[test]
fn a_flood_of_malformed_records_keeps_a_bounded_error_list() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    // About 1.3 MiB of distinct stanzas with no Package field.
    let stanzas: String = (0..90_000).map(|i| format!("Status: x{i}\n\n")).collect();
    std::fs::write(root.join("var/lib/dpkg/status"), stanzas).unwrap();
    let keys: String = (0..20_000).map(|i| format!("KEY_{i} {i}\n")).collect();
    std::fs::write(root.join("etc/login.defs"), keys).unwrap();
    let doc = collect_root(&root);
    let packages = doc.errors.iter().filter(|e| e.sensor == "packages").count();
    assert!(packages <= 101, "{packages} errors kept");
    assert!(doc
        .errors
        .iter()
        .any(|e| e.sensor == "packages" && e.message.contains("more errors of this sensor")));
    let defs = doc.login_defs.unwrap();
    assert_eq!(defs.settings.len(), 10_000);
    assert!(doc
        .errors
        .iter()
        .any(|e| e.sensor == "login.defs" && e.message.contains("more than 10000 keys")));
}
