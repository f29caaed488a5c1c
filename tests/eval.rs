//! The VM end to end through the libraries: sources compiled in memory, run
//! against telemetry, outcomes and findings checked.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::package::{Loaded, Manifest};
use assay_model::bundle::{self, Bundle};
use assay_model::telemetry::SCHEMA_VERSION;
use assay_runtime::findings::{Outcome, Report};
use assay_runtime::value::Host;
use assay_runtime::vm::{Limits, Options, Program};
use proptest::prelude::*;

fn manifest() -> Manifest {
    Manifest {
        name: "t".into(),
        title: "Tests".into(),
        version: "1.0.0".into(),
        description: "d".into(),
        platforms: vec!["linux".into()],
    }
}

fn compile(src: &str) -> Bundle {
    let loaded = Loaded::from_memory(Some(manifest()), &[("rules.assay", src)]);
    let built = match assay_compiler::build(&loaded) {
        Ok(b) => b,
        Err(d) => panic!(
            "{}",
            assay_compiler::diagnostics::render_human(
                &loaded.sources,
                &d,
                assay_compiler::diagnostics::ColorChoice::Never
            )
        ),
    };
    bundle::load(&built.bytes).unwrap()
}

fn host(json: &str) -> Host {
    Host::from_json(json.as_bytes()).unwrap()
}

const BASE: &str = r#""schema_version": 3, "asset": {"id": "h1", "hostname": "h1", "tags": [], "os": {"family": "debian", "distribution": "debian"}}, "errors": []"#;

fn doc(sections: &str) -> Host {
    if sections.is_empty() {
        host(&format!("{{{BASE}}}"))
    } else {
        host(&format!("{{{BASE}, {sections}}}"))
    }
}

fn rule(id: &str, body: &str) -> String {
    format!("rule {id} \"{id}\" {{\n  severity medium\n  description \"d\"\n  recommendation \"r\"\n{body}\n}}\n\n")
}

fn run(b: &Bundle, h: &Host, limits: Limits) -> Report {
    Program::new(b).evaluate(
        h,
        &Options { limits, attributes: vec![("team".into(), "infra".into())], ..Options::default() },
    )
}

fn outcome<'a>(r: &'a Report, id: &str) -> &'a Outcome {
    &r.rules.iter().find(|x| x.rule_id == id).unwrap().outcome
}

const PACKAGES: &str = r#""packages": [
  {"name": "openssl", "version": "3.0.11-1~deb12u2", "source_name": "openssl", "source_version": "3.0.11-1~deb12u2", "architecture": "amd64", "ecosystem": "debian", "origin": "/var/lib/dpkg/status"},
  {"name": "bash", "version": "5.2.15-2+b7", "source_name": "bash", "source_version": "5.2.15-2", "architecture": "amd64", "ecosystem": "debian", "origin": "/var/lib/dpkg/status"},
  {"name": "requests", "version": "2.31.0", "source_name": null, "source_version": null, "architecture": null, "ecosystem": "pypi", "origin": "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA"}
]"#;

#[test]
fn quantifiers_loops_defaults_and_versions_evaluate() {
    let src = [
        rule("Q-ANY", "  applies when host.packages is present\n  fail when any(p in host.packages where p.name == \"bash\")\n    message \"bash\""),
        rule("Q-ALL", "  applies when host.packages is present\n  fail when all(p in host.packages where p.version > v\"1.0\")\n    message \"all new\""),
        rule("Q-NONE", "  applies when host.packages is present\n  fail when none(p in host.packages where p.name == \"telnet\")\n    message \"no telnet\""),
        rule("Q-COUNT", "  applies when host.packages is present\n  let n = count(p in host.packages where p.ecosystem == debian)\n  fail when n != 2\n    message \"{n}\""),
        rule("Q-FIND", "  applies when host.packages is present\n  let p = find(x in host.packages where x.name == \"requests\")\n  fail when (p.version ?? v\"0\") < v\"2.32.0\"\n    message \"requests {p.version ?? v\"0\"}\""),
        rule("LOOP", "  applies when host.packages is present\n  for each p in host.packages where p.ecosystem == debian and p.version < v\"3.0.15-1~deb12u1\"\n    fail message \"{p.name} {p.version}\""),
        rule("DEFAULT", "  fail when (host.sshd.max_auth_tries ?? 6) > 4\n    message \"default used\""),
        rule("NA", "  applies when host.sshd is present\n  fail when host.sshd.use_pam\n    message \"never\""),
    ]
    .concat();
    let b = compile(&src);
    let r = run(&b, &doc(PACKAGES), Limits::default());
    assert_eq!(outcome(&r, "Q-ANY"), &Outcome::Failed { findings: 1 });
    assert_eq!(outcome(&r, "Q-ALL"), &Outcome::Failed { findings: 1 });
    assert_eq!(outcome(&r, "Q-NONE"), &Outcome::Failed { findings: 1 });
    assert_eq!(outcome(&r, "Q-COUNT"), &Outcome::Passed);
    assert_eq!(outcome(&r, "Q-FIND"), &Outcome::Failed { findings: 1 });
    // dpkg ordering: 3.0.11-1~deb12u2 < 3.0.15-1~deb12u1, and bash 5.2 is not.
    assert_eq!(outcome(&r, "LOOP"), &Outcome::Failed { findings: 1 });
    let loop_finding = r.findings.iter().find(|f| f.rule_id == "LOOP").unwrap();
    assert_eq!(loop_finding.message, "openssl 3.0.11-1~deb12u2");
    assert!(loop_finding
        .evidence
        .iter()
        .any(|e| e.path == "find(p in host.packages where p.name == \"openssl\").version"
            && e.value == "3.0.11-1~deb12u2"));
    assert_eq!(outcome(&r, "DEFAULT"), &Outcome::Failed { findings: 1 });
    assert!(
        matches!(outcome(&r, "NA"), Outcome::NotApplicable { reason } if reason.contains("host.sshd is present"))
    );
    for f in &r.findings {
        assert_eq!(f.bundle_digest, b.digest);
        assert_eq!(f.attributes[0].key, "team");
        assert_eq!(f.fingerprint.len(), 32);
    }
}

#[test]
fn a_faulting_rule_is_an_error_and_the_others_still_run() {
    let src = [
        rule("DIV", &format!("  fail when 10 / (host.schema_version - {SCHEMA_VERSION}) > 0\n    message \"never\"")),
        rule("HEAVY", "  applies when host.packages is present\n  fail when count(p in host.packages where count(q in host.packages where q.name == p.name) > 0) > 100\n    message \"m\""),
        rule("OK", &format!("  fail when host.schema_version == {SCHEMA_VERSION}\n    message \"fires\"")),
    ]
    .concat();
    let b = compile(&src);
    let r = run(&b, &doc(PACKAGES), Limits { instructions: 60, ..Limits::default() });
    assert!(
        matches!(outcome(&r, "DIV"), Outcome::Error { reason } if reason.contains("division by zero") && reason.contains("instruction"))
    );
    assert!(
        matches!(outcome(&r, "HEAVY"), Outcome::Error { reason } if reason.contains("instruction budget"))
    );
    assert_eq!(outcome(&r, "OK"), &Outcome::Failed { findings: 1 });
}

#[test]
fn findings_carry_evidence_with_provenance_and_stable_fingerprints() {
    let loaded = assay_compiler::package::load(&["examples/ssh-hardening".into()]).unwrap();
    let b = bundle::load(&assay_compiler::build(&loaded).ok().unwrap().bytes).unwrap();
    let h = Host::from_json(&std::fs::read("tests/fixtures/telemetry/weak-ssh.json").unwrap()).unwrap();
    let one = run(&b, &h, Limits::default());
    let two = run(&b, &h, Limits::default());
    let root = one.findings.iter().find(|f| f.rule_id == "SSH-001").unwrap();
    assert_eq!(root.evidence[0].source.as_deref(), Some("/etc/ssh/sshd_config:32"));
    let ciphers = one.findings.iter().find(|f| f.rule_id == "SSH-004").unwrap();
    assert!(ciphers.evidence.iter().any(|e| e.source.as_deref() == Some("/etc/ssh/sshd_config:40")));
    let fps = |r: &Report| r.findings.iter().map(|f| f.fingerprint.clone()).collect::<Vec<_>>();
    assert_eq!(fps(&one), fps(&two));
}

#[test]
fn platforms_decide_applicability() {
    let b = compile(&rule(
        "DEB",
        &format!("  platform debian\n  fail when true == (host.schema_version == {SCHEMA_VERSION})\n    message \"m\""),
    ));
    let r = run(&b, &doc(""), Limits::default());
    assert_eq!(outcome(&r, "DEB"), &Outcome::Failed { findings: 1 });
    let alpine = host(&format!(
        "{{{}}}",
        BASE.replace("\"distribution\": \"debian\"", "\"distribution\": \"alpine\"")
    ));
    let r = run(&b, &alpine, Limits::default());
    assert!(matches!(outcome(&r, "DEB"), Outcome::NotApplicable { reason } if reason.contains("alpine")));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A hostile producer can write any content with a valid digest: the
    /// loader rejects it or the VM runs it within its budgets, never panics.
    #[test]
    fn resealed_mutations_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let loaded = assay_compiler::package::load(&["examples".into()]).unwrap();
        let bytes = assay_compiler::build(&loaded).ok().unwrap().bytes;
        let body_len = bytes.len() - 20 - 32;
        let mut body = bytes[20..20 + body_len].to_vec();
        for (i, v) in flips {
            let at = i.index(body.len());
            body[at] = v;
        }
        if let Ok(b) = reseal_and_load(&body) {
            let h = Host::from_json(&std::fs::read("tests/fixtures/telemetry/weak-ssh.json").unwrap()).unwrap();
            let limits = Limits { instructions: 100_000, ..Limits::default() };
            let _ = Program::new(&b).evaluate(&h, &Options { limits, ..Options::default() });
        }
    }
}

/// Seals `body` with a valid header and digest, as a hostile producer would,
/// and loads it.
fn reseal_and_load(body: &[u8]) -> Result<Bundle, bundle::LoadError> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(bundle::MAGIC);
    bytes.extend_from_slice(&bundle::FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(body);
    use sha2::Digest;
    let digest = sha2::Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    bundle::load(&bytes)
}
