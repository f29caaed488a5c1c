//! `assay sbom` (#30): the packages of fixture roots as CycloneDX 1.6 and
//! SPDX 2.3 JSON, validated by the reference libraries others wrote
//! (cyclonedx-python-lib, spdx-tools: tests/sbom/validate.py), with
//! Package URLs as the purl specification spells them and output that is
//! the same for the same host.
//!
//! `.ci/setup` installs the two PyPI packages; without them the validation
//! says so and is skipped, unless `ASSAY_SBOM_TESTS=required` (set by
//! `.ci/run`).

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assay, stderr};
use serde_json::Value;
use std::process::Command;

/// Whether the validators are installed (else the test is skipped, or
/// fails under `.ci/run`).
fn validators() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import cyclonedx.validation.json, spdx_tools.spdx.validation"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let required = std::env::var("ASSAY_SBOM_TESTS").is_ok_and(|v| v == "required");
        assert!(!required, "cyclonedx-python-lib or spdx-tools is missing: run .ci/setup");
        eprintln!("skipped: no cyclonedx-python-lib or spdx-tools (PyPI; .ci/setup)");
    }
    found
}

fn validate(format: &str, path: &std::path::Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sbom/validate.py");
    let out = Command::new("python3").args([script, format, path.to_str().unwrap()]).output().unwrap();
    assert!(
        out.status.success(),
        "{format} SBOM {} does not validate:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sboms_of_fixture_roots_validate_and_name_every_package_by_purl() {
    let validating = validators();
    let dir = tempfile::tempdir().unwrap();
    for host in ["debian-default", "rpm", "alpine"] {
        let root = format!("tests/fixtures/hosts/{host}");
        let cdx = dir.path().join(format!("{host}.cdx.json"));
        let spdx = dir.path().join(format!("{host}.spdx.json"));
        let out = assay(&["sbom", "--root", &root, "-o", cdx.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = assay(&["sbom", "--root", &root, "--format", "spdx", "-o", spdx.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        if validating {
            validate("cyclonedx", &cdx);
            validate("spdx", &spdx);
        }
        // Every package the collector read is a component with its purl.
        let telemetry: Value = serde_json::from_slice(&assay(&["collect", "--root", &root]).stdout).unwrap();
        let packages = telemetry["packages"].as_array().unwrap();
        let bom: Value = serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
        let components = bom["components"].as_array().unwrap();
        assert_eq!(components.len(), packages.len(), "{host}");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&spdx).unwrap()).unwrap();
        assert_eq!(doc["packages"].as_array().unwrap().len(), packages.len() + 1, "{host}: and the host");
        assert!(components.iter().all(|c| c["purl"].as_str().unwrap().starts_with("pkg:")));
    }
    let bom: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("debian-default.cdx.json")).unwrap())
            .unwrap();
    let purls: Vec<&str> =
        bom["components"].as_array().unwrap().iter().map(|c| c["purl"].as_str().unwrap()).collect();
    assert!(
        purls.contains(
            &"pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
        ),
        "{purls:#?}"
    );
    let host = &bom["metadata"]["component"];
    assert_eq!(host["type"], "operating-system");
    assert_eq!(host["name"], "debian");
    assert_eq!(host["version"], "12");
    let rpm: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("rpm.cdx.json")).unwrap()).unwrap();
    assert!(rpm["components"][0]["purl"].as_str().unwrap().starts_with("pkg:rpm/rocky/"), "{rpm:#}");
}

/// The same host gives the same bytes (with `SOURCE_DATE_EPOCH` for the
/// time stamp): an SBOM in git changes only when the packages do, and then
/// its serial number and namespace change with them.
#[test]
fn an_sbom_is_reproducible_and_changes_only_with_the_packages() {
    let host = common::copy_host("debian-default");
    let root = host.path().join("root");
    let sbom = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(["sbom", "--root", root.to_str().unwrap(), "--format", format])
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    for format in ["cyclonedx", "spdx"] {
        let first = sbom(format);
        assert_eq!(first, sbom(format), "{format}");
        assert!(first.contains("2026-01-01T00:00:00Z"), "{format}: SOURCE_DATE_EPOCH is the time stamp");
        let status = root.join("var/lib/dpkg/status");
        let text = std::fs::read_to_string(&status).unwrap();
        std::fs::write(&status, text.replace("Version: 5.2.15-2+b8", "Version: 5.2.15-2+b9")).unwrap();
        let changed = sbom(format);
        std::fs::write(&status, text).unwrap();
        let serial = |t: &str| -> String {
            let v: Value = serde_json::from_str(t).unwrap();
            v.get("serialNumber").or_else(|| v.get("documentNamespace")).unwrap().as_str().unwrap().to_owned()
        };
        assert_ne!(serial(&first), serial(&changed), "{format}");
    }
}

/// A telemetry document gives the same SBOM as the root it was collected
/// from; a root without any package database is an error that says so.
#[test]
fn an_sbom_of_telemetry_matches_its_root_and_no_packages_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = dir.path().join("t.json");
    let out = assay(&["collect", "--root", "tests/fixtures/hosts/alpine", "-o", telemetry.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let components = |args: &[&str]| -> Vec<String> {
        let out = assay(args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let bom: Value = serde_json::from_slice(&out.stdout).unwrap();
        bom["components"].as_array().unwrap().iter().map(|c| c["purl"].as_str().unwrap().to_owned()).collect()
    };
    let from_root = components(&["sbom", "--root", "tests/fixtures/hosts/alpine"]);
    assert!(!from_root.is_empty());
    assert_eq!(components(&["sbom", "--telemetry", telemetry.to_str().unwrap()]), from_root);
    let empty = tempfile::tempdir().unwrap();
    let out = assay(&["sbom", "--root", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no packages to list"), "{}", stderr(&out));
}
