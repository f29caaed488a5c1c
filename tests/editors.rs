//! Editors others wrote, against `assay lsp` (#29): headless Neovim with
//! its built-in LSP client opens a package with a mistake; the diagnostic
//! arrives, hover over a telemetry field shows its documentation, a
//! completion after `host.` lists `sshd`, and formatting changes the
//! buffer (tests/editors/neovim.lua drives it).
//!
//! `.ci/setup` installs Debian's neovim; without it the test says so and
//! passes, unless `ASSAY_EDITOR_TESTS=required` (set by `.ci/run`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NVIM: &str = "/usr/bin/nvim";

const RULES: &str = r#"rule DEMO-001 "Few authentication tries" {
      severity    low
  description "Many tries per connection make guessing cheap."
  recommendation "Set `MaxAuthTries 4`."
  applies when host.sshd is present
  fail when host.sshd.client_alive_interval > "four"
    message "too many tries"
}
"#;

#[test]
fn neovim_shows_diagnostics_hover_completion_and_formats() {
    if !Path::new(NVIM).exists() {
        let required = std::env::var("ASSAY_EDITOR_TESTS").is_ok_and(|v| v == "required");
        assert!(!required, "{NVIM} is missing: run .ci/setup");
        eprintln!("skipped: no {NVIM} (Debian's neovim; .ci/setup)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("demo");
    std::fs::create_dir(&package).unwrap();
    std::fs::write(
        package.join("package.yaml"),
        "name: demo\ntitle: Demo\nversion: 1.0.0\ndescription: Demo rules.\nplatforms: [linux]\n",
    )
    .unwrap();
    let file = package.join("rules.assay");
    std::fs::write(&file, RULES).unwrap();
    let out = dir.path().join("out.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/editors/neovim.lua");
    let mut child = Command::new(NVIM)
        .args(["--headless", "--clean", "-n", "-i", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("ASSAY_BIN", env!("CARGO_BIN_EXE_assay"))
        .env("ASSAY_FILE", &file)
        .env("ASSAY_OUT", &out)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("neovim did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(results["errors"], serde_json::json!([]), "{results:#}");

    let diagnostics = results["diagnostics"].as_array().unwrap();
    assert!(
        diagnostics.iter().any(|d| d["code"] == "E0401" && d["line"] == 5),
        "the type error on line 6 is shown: {results:#}"
    );
    let hover = results["hover"].as_str().unwrap();
    assert!(
        hover.contains("client_alive_interval") && hover.contains("0 disables client keepalives"),
        "{hover}"
    );
    let completion: Vec<&str> =
        results["completion"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(completion.contains(&"sshd"), "{completion:?}");
    assert_eq!(results["changed"], true, "{results:#}");
    assert!(results["formatted"].as_str().unwrap().contains("\n  severity low\n"), "{results:#}");
}

/// The TextMate grammar (editors/vscode/syntaxes) through the engine VS
/// Code and GitHub use, the real `vscode-textmate` and `vscode-oniguruma`
/// from npm (`.ci/setup` installs them into editors/test/node_modules), on
/// every built-in policy: keywords, rule ids, severities, comments, doc
/// comments, strings and their interpolations get their scopes.
#[test]
fn the_textmate_grammar_tokenizes_the_built_in_policies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("editors/test/node_modules/vscode-textmate");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !node || !modules.exists() {
        let required = std::env::var("ASSAY_EDITOR_TESTS").is_ok_and(|v| v == "required");
        assert!(!required, "node or {} is missing: run .ci/setup", modules.display());
        eprintln!("skipped: no node or no editors/test/node_modules (.ci/setup)");
        return;
    }
    let out = Command::new("node")
        .arg(root.join("editors/test/tokenize.js"))
        .arg(root.join("policies"))
        .arg(root.join("examples"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(result["files"].as_u64().unwrap() >= 20, "{result:#}");
    let seen = &result["seen"];
    let scope = |kind: &str| -> String {
        let scopes = seen[kind]["scopes"].as_array().unwrap_or_else(|| panic!("no {kind}: {result:#}"));
        scopes.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(scope("rule keyword"), "keyword.other.rule.assay");
    assert_eq!(scope("rule id"), "entity.name.type.rule.assay");
    assert_eq!(scope("severity"), "constant.language.severity.assay");
    assert_eq!(scope("doc comment"), "comment.block.documentation.assay");
    assert_eq!(scope("comment"), "comment.line.double-slash.assay");
    assert_eq!(scope("string"), "string.quoted.double.assay");
    assert_eq!(scope("interpolated name"), "string.quoted.double.assay meta.interpolation.assay");
    assert_eq!(scope("host"), "variable.language.host.assay");
    assert_eq!(scope("number"), "constant.numeric.assay");
}
