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

mod common;

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
        let bundle = bundle_of(path);
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

fn bundle_of(path: &std::path::Path) -> assay_model::bundle::Bundle {
    let loaded = assay_compiler::package::load(&[path.to_path_buf()]).unwrap();
    let built = assay_compiler::build(&loaded)
        .unwrap_or_else(|d| panic!("{}", render_human(&loaded.sources, &d, ColorChoice::Never)));
    assay_model::bundle::load(&built.bytes).unwrap()
}

/// The VM runs a loop filter as one step (`runtime/src/vm/scan.rs`); the
/// report must be the plain instructions' to the byte, instruction counts
/// included, and so must a budget that runs out anywhere, mid-filter too.
#[test]
fn fused_filters_report_what_the_plain_instructions_do() {
    let host = Host::from_json(&std::fs::read("tests/vm/host.json").unwrap()).unwrap();
    for entry in std::fs::read_dir("tests/vm").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "assay") {
            continue;
        }
        let bundle = bundle_of(&path);
        let (fused, plain) = (Program::new(&bundle), Program::plain(&bundle));
        let budgets = (1..=80).chain([400, Limits::default().instructions]);
        for instructions in budgets {
            let options =
                Options { limits: Limits { instructions, ..Limits::default() }, ..Options::default() };
            assert_eq!(
                fused.evaluate(&host, &options),
                plain.evaluate(&host, &options),
                "{} with a budget of {instructions}",
                path.display()
            );
        }
    }
}

mod generated {
    use super::*;
    use assay_model::telemetry as t;
    use proptest::prelude::*;

    /// Filters of every fused shape (`in`, `not in`, a comparison with a
    /// literal of each type) and some that are not, over lists whose items
    /// may pass or not.
    const RULES: &str = r#"
rule GEN-IN "in" {
  severity low
  description "d"
  recommendation "r"
  applies when host.packages is present

  for each p in host.packages where p.name in ["a", "bb", "ccc"]
    fail message "{p.name} {p.version}"
}

rule GEN-NOT-IN "not in" {
  severity low
  description "d"
  recommendation "r"
  applies when host.packages is present

  for each p in host.packages where p.name not in ["a", "dddd"] and p.ecosystem == debian
    fail message "{p.name}"
}

rule GEN-VERSION "version" {
  severity low
  description "d"
  recommendation "r"
  applies when host.packages is present

  for each p in host.packages where p.version < v"1.5-1"
    fail message "{p.name} {p.version}"
}

rule GEN-COUNT "count and find" {
  severity low
  description "d"
  recommendation "r"
  applies when host.packages is present

  let n = count(p in host.packages where p.ecosystem == pypi)
  let first = find(p in host.packages where p.name == "bb")
  fail when n > 1 or first is present
    message "{n} {first.version ?? v"0"}"
}

rule GEN-PORTS "ports" {
  severity low
  description "d"
  recommendation "r"
  applies when host.listeners is present

  for each l in host.listeners where l.port >= 1000 and not (l.address starts with "127.")
    fail message "{l.address}:{l.port}"
}
"#;

    fn bundle() -> &'static assay_model::bundle::Bundle {
        static BUNDLE: std::sync::OnceLock<assay_model::bundle::Bundle> = std::sync::OnceLock::new();
        BUNDLE.get_or_init(compile)
    }

    fn compile() -> assay_model::bundle::Bundle {
        let dir = tempfile::tempdir().unwrap();
        bundle_of(&common::package(dir.path(), "gen", RULES))
    }

    fn host(packages: Vec<(usize, u8, bool)>, ports: Vec<(u16, bool)>) -> Host {
        let names = ["a", "bb", "ccc", "dddd", "e"];
        let mut telemetry = t::Telemetry {
            schema_version: 7,
            asset: t::Asset {
                id: "gen".into(),
                hostname: "gen".into(),
                os: Some(t::Os {
                    family: t::OsFamily::Debian,
                    distribution: "debian".into(),
                    version: Some("12".into()),
                    name: None,
                }),
                ..t::Asset::default()
            },
            ..t::Telemetry::default()
        };
        telemetry.packages = Some(
            packages
                .into_iter()
                .map(|(name, minor, pypi)| t::Package {
                    name: names[name % names.len()].into(),
                    version: t::Version(format!("1.{minor}-1")),
                    source_name: None,
                    source_version: None,
                    architecture: None,
                    ecosystem: if pypi { t::Ecosystem::Pypi } else { t::Ecosystem::Debian },
                    origin: "/var/lib/dpkg/status".into(),
                    licenses: None,
                })
                .collect(),
        );
        telemetry.listeners = Some(
            ports
                .into_iter()
                .map(|(port, local)| t::Listener {
                    protocol: t::Protocol::Tcp,
                    family: t::AddressFamily::Ipv4,
                    address: if local { "127.0.0.1" } else { "0.0.0.0" }.into(),
                    port,
                    process: None,
                    connections_seen: 0,
                    seen: t::Sighting::default(),
                })
                .collect(),
        );
        Host::from_json(&serde_json::to_vec(&telemetry).unwrap()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn fused_and_plain_agree_on_generated_hosts(
            packages in prop::collection::vec((0usize..5, 0u8..9, any::<bool>()), 0..40),
            ports in prop::collection::vec((prop_oneof![Just(22u16), Just(1000), 0u16..3000], any::<bool>()), 0..12),
            budget in prop_oneof![Just(Limits::default().instructions), 1u64..300],
        ) {
            let bundle = bundle();
            let host = host(packages, ports);
            let options = Options { limits: Limits { instructions: budget, ..Limits::default() }, ..Options::default() };
            let fused = Program::new(bundle).evaluate(&host, &options);
            let plain = Program::plain(bundle).evaluate(&host, &options);
            prop_assert_eq!(fused, plain);
        }
    }
}
