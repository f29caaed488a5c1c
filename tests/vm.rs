//! Golden tests of the VM: `tests/vm/*.assay` evaluated against
//! `tests/vm/host.json`, every rule's outcome, findings and evidence a
//! snapshot (see `tests/vm/README.md`).

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::diagnostics::{render_human, ColorChoice};
use assay_runtime::findings::Outcome;
use assay_runtime::value::Host;
use assay_runtime::vm::{Limits, Options, Program};
use std::fmt::Write;

fn limits(source: &str) -> Limits {
    let mut limits = Limits::default();
    let Some(line) = source.lines().next().and_then(|l| l.strip_prefix("// limits:")) else { return limits };
    for setting in line.split_whitespace() {
        let (key, value) = setting.split_once('=').unwrap();
        match key {
            "instructions" => limits.instructions = value.parse().unwrap(),
            "memory" => limits.memory = value.parse().unwrap(),
            "calls" => limits.call_depth = value.parse().unwrap(),
            other => panic!("unknown limit {other}"),
        }
    }
    limits
}

#[test]
fn semantics() {
    let host = Host::from_json(&std::fs::read("tests/vm/host.json").unwrap()).unwrap();
    insta::glob!("vm", "*.assay", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let loaded = assay_compiler::package::load(&[path.to_path_buf()]).unwrap();
        let built = assay_compiler::build(&loaded)
            .unwrap_or_else(|d| panic!("{}", render_human(&loaded.sources, &d, ColorChoice::Never)));
        let bundle = assay_model::bundle::load(&built.bytes).unwrap();
        let options = Options { limits: limits(&source), ..Options::default() };
        let report = Program::new(&bundle).evaluate(&host, &options);
        let mut out = String::new();
        for rule in &report.rules {
            let outcome = match &rule.outcome {
                Outcome::Passed => "passed".to_owned(),
                Outcome::Failed { findings } => format!("failed ({findings} findings)"),
                Outcome::NotApplicable { reason } => format!("not applicable: {reason}"),
                Outcome::Skipped { reason } => format!("skipped: {reason}"),
                Outcome::Error { reason } => format!("error: {reason}"),
            };
            let _ = writeln!(out, "{}: {outcome}", rule.rule_id);
            for f in report.findings.iter().filter(|f| f.rule_id == rule.rule_id) {
                let _ = writeln!(out, "  finding: {}", f.message);
                for e in &f.evidence {
                    let source = e.source.as_deref().map(|s| format!("  ({s})")).unwrap_or_default();
                    let _ = writeln!(out, "    evidence: {} = {}{source}", e.path, e.value);
                }
            }
        }
        insta::assert_snapshot!(out);
    });
}
