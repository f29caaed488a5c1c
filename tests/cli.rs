//! End-to-end tests of the `assay` program: exit codes, output formats and
//! the acceptance scenarios, run against the built binary.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn assay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the assay binary runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A copy of an example package in a temporary folder.
fn copy_example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
    let dst = dir.path().join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
    (dir, dst)
}

#[test]
fn check_passes_on_the_examples() {
    let out = assay(&["check", "examples/"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("no problems"));
}

#[test]
fn check_reports_three_syntax_errors_in_three_rules() {
    let (_dir, pkg) = copy_example("ssh-hardening");
    let rules = pkg.join("rules.assay");
    let text = std::fs::read_to_string(&rules).unwrap();
    let broken = text
        .replacen(
            "  severity medium\n  description \"The SSH server allows",
            "  severity meduim\n  description \"The SSH server allows",
            1,
        )
        .replacen("password_authentication\n", "password_authentication = true\n", 1)
        .replacen("  severity low\n", "  severty low\n", 1);
    std::fs::write(&rules, broken).unwrap();
    let path = pkg.to_str().unwrap();

    let out = assay(&["check", path]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    for (code, line) in [("E0102", ":8:12"), ("E0101", ":33:47"), ("E0103", ":38:3")] {
        assert!(err.contains(&format!("error[{code}]")), "missing {code}:\n{err}");
        assert!(err.contains(line), "missing position {line}:\n{err}");
    }
    assert!(err.contains("^^^^^^"), "underlines the excerpt:\n{err}");
    assert!(err.contains("did you mean `medium`?"));

    let out = assay(&["check", "--format", "json", path]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> =
        doc["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0102", "E0101", "E0103"]);
    assert_eq!(doc["diagnostics"][0]["line"], 8);
    assert_eq!(doc["diagnostics"][0]["column"], 12);
}

#[test]
fn check_of_a_missing_path_is_a_usage_error() {
    let out = assay(&["check", "no/such/dir"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
    let out = assay(&["check"]);
    assert_eq!(code(&out), 2, "clap usage errors exit 2");
}

#[test]
fn fmt_check_passes_on_the_examples_and_restores_mangled_layout() {
    let out = assay(&["fmt", "--check", "examples/"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let (_dir, pkg) = copy_example("listening-ports");
    let rules = pkg.join("rules.assay");
    let canonical = std::fs::read_to_string(&rules).unwrap();
    // Layout only: indentation, trailing blanks and spacing around code tokens
    // (never inside strings, which would change the meaning).
    let mangled: String = canonical
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{}{}  \n", if i % 2 == 0 { "" } else { "      " }, l.trim_start()))
        .collect::<String>()
        .replace(" == ", "==")
        .replace("[21, 23, 80", "[ 21,23 ,80")
        .replace("where l.", "where    l.")
        .replace("(l in", "( l   in");
    assert_ne!(mangled, canonical);
    std::fs::write(&rules, &mangled).unwrap();

    let out = assay(&["fmt", "--check", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("would reformat"));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), mangled, "--check changes nothing");

    let out = assay(&["fmt", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), canonical);
}

#[test]
fn fmt_leaves_files_with_syntax_errors_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.assay");
    std::fs::write(&file, "rule X \"t\" {\n  severity nope\n}\n").unwrap();
    let out = assay(&["fmt", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("E0102"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "rule X \"t\" {\n  severity nope\n}\n");
}

#[test]
fn explain_prints_every_code_and_rejects_unknown_ones() {
    let list = assay(&["explain"]);
    assert_eq!(code(&list), 0);
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    for line in listing.lines() {
        let code_text = line.split_whitespace().next().unwrap();
        let out = assay(&["explain", code_text]);
        assert_eq!(code(&out), 0);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(code_text));
    }
    let out = assay(&["explain", "E0102x"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown diagnostic code"));
}

/// The type-checker issue's acceptance: a misspelt telemetry field, a
/// wrong-typed comparison, an unknown function and an unhandled optional are
/// reported together, each with its code, the misspelling with the right field.
#[test]
fn check_reports_four_semantic_errors_at_once() {
    let (_dir, pkg) = copy_example("ssh-hardening");
    let rules = pkg.join("rules.assay");
    let text = std::fs::read_to_string(&rules).unwrap();
    let broken = text
        .replacen("host.sshd.permit_root_login != \"no\"", "host.sshd.permit_root_logon != \"no\"", 1)
        .replacen("host.sshd.max_auth_tries > MAX_AUTH_TRIES", "host.sshd.max_auth_tries > \"4\"", 1)
        .replacen("is_weak_cipher(cipher)", "is_weak_ciper(cipher)", 1);
    let broken = format!(
        "{broken}\nrule SSH-005 \"Password aging\" {{\n  severity low\n  description \"d\"\n  recommendation \"r\"\n\n  \
         fail when host.login_defs.pass_max_days > 365\n    message \"too long\"\n}}\n"
    );
    std::fs::write(&rules, broken).unwrap();
    let out = assay(&["check", "--format", "json", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diagnostics = doc["diagnostics"].as_array().unwrap();
    let find = |code: &str| {
        diagnostics.iter().find(|d| d["code"] == code).unwrap_or_else(|| panic!("no {code}: {doc:#}"))
    };
    assert!(find("E0302")["help"].as_str().unwrap().contains("did you mean `permit_root_login`?"));
    assert!(find("E0401")["message"].as_str().unwrap().contains("`int` and `string`"));
    assert!(find("E0303")["help"].as_str().unwrap().contains("is_weak_cipher"));
    assert!(find("E0402")["message"].as_str().unwrap().contains("host.login_defs.pass_max_days"));
    assert_eq!(doc["errors"], 4, "{doc:#}");
}

#[test]
fn deny_warnings_turns_lints_into_a_failing_check() {
    let (_dir, pkg) = copy_example("ssh-hardening");
    let rules = pkg.join("rules.assay");
    let text = std::fs::read_to_string(&rules).unwrap();
    std::fs::write(
        &rules,
        text.replacen("import common.{MAX_AUTH_TRIES,", "import common.{WEAK_CIPHERS, MAX_AUTH_TRIES,", 1),
    )
    .unwrap();
    let path = pkg.to_str().unwrap();
    let out = assay(&["check", path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("warning[W0102]"), "{}", stderr(&out));
    let out = assay(&["check", "--deny-warnings", path]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("error[W0102]"), "{}", stderr(&out));
}
