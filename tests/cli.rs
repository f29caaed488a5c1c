//! End-to-end tests of the `assay` program: exit codes, output formats and
//! the acceptance scenarios, run against the built binary.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assay, code, stderr};

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
    assert!(stderr(&out).contains("no diagnostic code or built-in rule"));
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

fn built_examples(dir: &Path) -> PathBuf {
    let bundle = dir.join("examples.bundle");
    let out = assay(&["build", "examples/", "-o", bundle.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    bundle
}

/// Building twice, and with the paths in reverse order, gives the same bytes
/// and the same printed digest.
#[test]
fn builds_are_byte_for_byte_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
    let forward = [
        "examples/listening-ports",
        "examples/minimal",
        "examples/package-versions",
        "examples/ssh-hardening",
    ];
    let mut reverse = forward;
    reverse.reverse();
    let mut digests = Vec::new();
    for (out, paths) in [(&a, forward), (&b, forward), (&c, reverse)] {
        let mut args = vec!["build"];
        args.extend(paths);
        args.extend(["-o", out.to_str().unwrap()]);
        let run = assay(&args);
        assert_eq!(code(&run), 0, "{}", stderr(&run));
        digests.push(String::from_utf8(run.stdout).unwrap().split_whitespace().next().unwrap().to_owned());
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    assert!(digests.iter().all(|d| d == &digests[0] && d.starts_with("sha256:")), "{digests:?}");
}

#[test]
fn inspect_lists_rules_and_disassembles() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let out = assay(&["inspect", bundle.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    insta::assert_snapshot!("inspect_examples", String::from_utf8_lossy(&out.stdout));
    let out = assay(&["inspect", "--disasm", bundle.to_str().unwrap()]);
    assert_eq!(code(&out), 0);
    insta::assert_snapshot!("disasm_examples", String::from_utf8_lossy(&out.stdout));
}

/// Two rules fail on this host, a medium and a low one: `--fail-on` decides.
#[test]
fn eval_gates_on_the_chosen_severity() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let b = bundle.to_str().unwrap();
    let t = "tests/fixtures/telemetry/two-violations.json";
    let out = assay(&["eval", "--bundle", b, "--telemetry", t, "--format", "json"]);
    assert_eq!(code(&out), 0, "without --fail-on findings never fail: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{doc:#}");
    for f in findings {
        for key in [
            "rule_id",
            "title",
            "severity",
            "description",
            "recommendation",
            "asset",
            "evidence",
            "fingerprint",
            "bundle_digest",
        ] {
            assert!(!f[key].is_null(), "finding lacks {key}: {f:#}");
        }
        let evidence = f["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty() && evidence.iter().all(|e| e["source"].is_string()), "{f:#}");
    }
    // The examples' 10 rules and container-host's 11 (not applicable here).
    assert_eq!(doc["rules"].as_array().unwrap().len(), 21);
    assert_eq!(code(&assay(&["eval", "--bundle", b, "--telemetry", t, "--fail-on", "medium"])), 1);
    assert_eq!(code(&assay(&["eval", "--bundle", b, "--telemetry", t, "--fail-on", "high"])), 0);
    assert_eq!(code(&assay(&["eval", "--bundle", b, "--telemetry", t, "--fail-on", "severe"])), 2);
}

#[test]
fn eval_reports_validate_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let b = bundle.to_str().unwrap();
    let t = "tests/fixtures/telemetry/weak-ssh.json";
    let sarif_path = dir.path().join("out.sarif");
    let out = assay(&[
        "eval",
        "--bundle",
        b,
        "--telemetry",
        t,
        "--format",
        "sarif",
        "-o",
        sarif_path.to_str().unwrap(),
        "--attribute",
        "team=infra",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(&sarif_path).unwrap()).unwrap();
    let errors = common::sarif_schema_errors(&sarif);
    assert!(errors.is_empty(), "SARIF does not validate: {errors:#?}");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);

    let junit = assay(&["eval", "--bundle", b, "--telemetry", t, "--format", "junit"]);
    let junit = String::from_utf8(junit.stdout).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 21, "{junit}");
    assert_eq!(junit.matches("<failure").count(), 4, "{junit}");
    // Not applicable is out of scope, not a skipped check: it passes and says why.
    assert_eq!(junit.matches("<skipped").count(), 0, "{junit}");
    assert_eq!(junit.matches("not applicable: ").count(), 16, "{junit}");

    let table = assay(&["eval", "--bundle", b, "--telemetry", t, "--report", "full"]);
    let table = String::from_utf8(table.stdout).unwrap();
    insta::assert_snapshot!("eval_table_weak_ssh", table.replace(&digest_of(b), "<digest>"));
}

fn digest_of(bundle: &str) -> String {
    let bytes = std::fs::read(bundle).unwrap();
    bytes[bytes.len() - 32..].iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn malformed_telemetry_is_an_input_error_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let b = bundle.to_str().unwrap();
    let good = std::fs::read_to_string("tests/fixtures/telemetry/weak-ssh.json").unwrap();
    for (name, text, expect) in [
        ("not-json.json", "{ this is not json".to_owned(), "not-json.json"),
        (
            "wrong-type.json",
            good.replace("\"value\": 6,", "\"value\": \"six\","),
            "sshd.max_auth_tries.value",
        ),
        ("version.json", good.replace("\"schema_version\": 1", "\"schema_version\": 99"), "schema_version"),
        ("unknown-field.json", good.replace("\"hostname\"", "\"host_name\""), "host_name"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = assay(&["eval", "--bundle", b, "--telemetry", path.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(name) && stderr(&out).contains(expect), "{name}: {}", stderr(&out));
    }
}

#[test]
fn a_corrupted_or_truncated_bundle_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let bytes = std::fs::read(&bundle).unwrap();
    let t = "tests/fixtures/telemetry/weak-ssh.json";
    let bad = dir.path().join("bad.bundle");
    for (what, data, expect) in [
        (
            "flipped",
            {
                let mut d = bytes.clone();
                d[bytes.len() / 2] ^= 1;
                d
            },
            "digest",
        ),
        ("truncated", bytes[..bytes.len() - 10].to_vec(), "truncated"),
        (
            "not a bundle",
            b"hello world, not a bundle at all........................".to_vec(),
            "not an Assay bundle",
        ),
    ] {
        std::fs::write(&bad, data).unwrap();
        let out = assay(&["eval", "--bundle", bad.to_str().unwrap(), "--telemetry", t]);
        assert_eq!(code(&out), 2, "{what}");
        assert!(stderr(&out).contains(expect), "{what}: {}", stderr(&out));
    }
}

#[test]
fn budgets_are_configurable_and_a_rule_over_budget_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let b = bundle.to_str().unwrap();
    let out = assay(&[
        "eval",
        "--bundle",
        b,
        "--telemetry",
        "tests/fixtures/telemetry/weak-ssh.json",
        "--format",
        "json",
        "--max-instructions",
        "5",
    ]);
    assert_eq!(code(&out), 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<&serde_json::Value> =
        doc["rules"].as_array().unwrap().iter().filter(|r| r["outcome"] == "error").collect();
    assert!(
        !errors.is_empty()
            && errors.iter().all(|r| r["reason"].as_str().unwrap().contains("instruction budget")),
        "{doc:#}"
    );
    // Errors name the rule's source line; a gate over them fails with 4.
    assert!(errors.iter().all(|r| r["location"].as_str().unwrap().contains(".assay:")), "{doc:#}");
    let t = "tests/fixtures/telemetry/weak-ssh.json";
    let out =
        assay(&["eval", "--bundle", b, "--telemetry", t, "--max-instructions", "5", "--fail-on", "high"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("failed to evaluate: instruction budget exceeded"), "{}", stderr(&out));
    // --allow-skipped does not excuse errors.
    let out = assay(&[
        "eval",
        "--bundle",
        b,
        "--telemetry",
        t,
        "--max-instructions",
        "5",
        "--fail-on",
        "high",
        "--allow-skipped",
    ]);
    assert_eq!(code(&out), 4);
}

/// Runs assay with its standard output read for `keep` bytes, then closed.
fn closed_pipe(args: &[&str], keep: usize) -> Output {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = vec![0u8; keep];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The reader is gone: every later write meets a closed pipe.
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let bundle = bundle.to_str().unwrap();
    for args in [
        vec!["collect", "--root", "tests/fixtures/hosts/debian-default"],
        vec!["inspect", "--disasm", bundle],
        vec![
            "eval",
            "--bundle",
            bundle,
            "--telemetry",
            "tests/fixtures/telemetry/weak-ssh.json",
            "--format",
            "json",
        ],
    ] {
        let out = closed_pipe(&args, 10);
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn oversized_or_endless_inputs_are_refused_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = built_examples(dir.path());
    let bundle = bundle.to_str().unwrap();
    let out = assay(&["eval", "--bundle", bundle, "--telemetry", "/dev/zero"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("larger than the 256 MiB a telemetry document"), "{}", stderr(&out));
    let out = assay(&["eval", "--bundle", bundle, "--telemetry", "/dev/zero", "--max-telemetry-mib", "1"]);
    assert!(stderr(&out).contains("larger than the 1 MiB"), "{}", stderr(&out));
    let big = dir.path().join("big.bundle");
    std::fs::File::create(&big).unwrap().set_len(3 << 30).unwrap();
    let out = assay(&["inspect", big.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("larger than the 64 MiB a bundle"), "{}", stderr(&out));
}

#[test]
fn a_path_without_policy_source_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let no_modules = dir.path().join("no-modules");
    std::fs::create_dir(&no_modules).unwrap();
    std::fs::write(
        no_modules.join("package.yaml"),
        "name: none\ntitle: T\nversion: 1.0.0\ndescription: D\nplatforms: [linux]\n",
    )
    .unwrap();
    let yaml = dir.path().join("cases.yaml");
    std::fs::write(&yaml, "cases: []\n").unwrap();
    for command in ["check", "build", "test", "fmt"] {
        for (path, says) in
            [(&empty, "no policy source"), (&no_modules, "has no modules"), (&yaml, "is not a policy source")]
        {
            let mut args = vec![command, path.to_str().unwrap()];
            if command == "build" {
                args.extend(["-o", "/dev/null"]);
            }
            let out = assay(&args);
            assert_eq!(code(&out), 2, "{command} {}: {}", path.display(), stderr(&out));
            let err = stderr(&out).split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(err.contains(says), "{command} {}: {err}", path.display());
        }
    }
    // A package with sources but no test case: `test` says so.
    let (_keep, pkg) = copy_example("minimal");
    let out = assay(&["test", pkg.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("no policy test case"), "{}", stderr(&out));
}

/// An editor checks one file: inside a package, the package's other modules
/// resolve; outside one, the siblings it imports do, and a folder of loose
/// files is one unit.
#[test]
fn check_of_one_file_resolves_its_sibling_modules() {
    let (_dir, package) = copy_example("ssh-hardening");
    let one = package.join("rules.assay");
    let out = assay(&["check", one.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let loose = tempfile::tempdir().unwrap();
    for name in ["rules.assay", "common.assay"] {
        std::fs::copy(package.join(name), loose.path().join(name)).unwrap();
    }
    let file = loose.path().join("rules.assay");
    let out = assay(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("checked 2 files"), "{}", stderr(&out));
    let out = assay(&["check", loose.path().to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Without the sibling, the import is the error it always was.
    std::fs::remove_file(loose.path().join("common.assay")).unwrap();
    let out = assay(&["check", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("E0304"), "{}", stderr(&out));
}

/// The diagnostics the trial found wrong or missing, through the binary:
/// each corpus case exits 1 and names its code.
#[test]
fn check_reports_the_trial_diagnostics_with_their_codes() {
    let cases = [
        ("E0115-applies-when-after-the-check.assay", "E0115"),
        ("E0116-unclosed-rule.assay", "E0116"),
        ("E0116-unclosed-parenthesis.assay", "E0116"),
        ("E0101-c-style-operator.assay", "write `and`"),
        ("E0101-is-not.assay", "`is not` is not an operator"),
        ("E0101-indexing.assay", "look the item up by name, `host.sysctl(\"kernel.randomize_va_space\")`"),
        ("E0101-quoted-severity.assay", "`severity high`"),
        ("E0303-method-call.assay", "lists.len(host.users)"),
        ("E0401-bool-compared-with-string.assay", "compare with `true`"),
        ("E0301-enum-compared-with-string.assay", "did you mean `tcp`?"),
        ("E0402-narrowest-guard-and-function.assay", "`host.login_defs.pass_max_days is present`"),
        ("E0311-invalid-lookup.assay", "E0311"),
        ("E0312-item-not-collected.assay", "host.sysctl(\"kernel.unprivileged_bpf_disabled\")"),
    ];
    for (case, expected) in cases {
        let path = format!("compiler/tests/diagnostics/{case}");
        let out = assay(&["check", &path]);
        assert_eq!(code(&out), 1, "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{case}: no `{expected}` in\n{}", stderr(&out));
    }
}

/// A fault names the source line it happened at, inside a function too.
#[test]
fn a_runtime_fault_names_its_source_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("faulty.assay");
    std::fs::write(
        &src,
        "fn ratio(n: int) -> int {\n  100 / n\n}\n\nrule F-1 \"f\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  fail when ratio(host.schema_version - host.schema_version) > 1\n    message \"m\"\n}\n",
    )
    .unwrap();
    let out = assay(&[
        "scan",
        "--root",
        "tests/fixtures/hosts/debian-default",
        "--package",
        src.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = report["rules"][0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.contains("division by zero")
            && reason.contains("faulty.assay:2")
            && reason.contains("faulty.assay:9"),
        "{reason}"
    );
}
