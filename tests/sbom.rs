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

    // Licences, as each package's metadata states them (validated above
    // with the rest): Debian's DEP-5 copyright files, rpm's License tag,
    // apk's `L:`, a Python distribution's License field.
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    let licenses = |bom: &Value, name: &str| -> Value {
        let c = bom["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        c["licenses"].clone()
    };
    let id = |id: &str| serde_json::json!([{"license": {"id": id, "acknowledgement": "declared"}}]);
    let declared = |doc: &Value, name: &str| -> String {
        let p = doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
        p["licenseDeclared"].as_str().unwrap().to_owned()
    };
    let (cdx, spdx) = (read("debian-default.cdx.json"), read("debian-default.spdx.json"));
    assert_eq!(licenses(&cdx, "zlib1g"), id("Zlib"));
    assert_eq!(
        licenses(&cdx, "procps"),
        serde_json::json!([{
            "expression": "LGPL-2.1-or-later AND LGPL-2.0-or-later AND GPL-2.0-or-later",
            "acknowledgement": "declared"
        }])
    );
    // A short name SPDX has no id for is named as stated, and in SPDX a
    // LicenseRef- with its name in hasExtractedLicensingInfos.
    let named = serde_json::json!({"license": {"name": "public-domain", "acknowledgement": "declared"}});
    assert!(licenses(&cdx, "login").as_array().unwrap().contains(&named));
    assert_eq!(
        declared(&spdx, "login"),
        "BSD-3-Clause AND GPL-1.0-only AND GPL-2.0-or-later AND LicenseRef-public-domain"
    );
    let extracted = spdx["hasExtractedLicensingInfos"].as_array().unwrap();
    assert!(extracted
        .iter()
        .any(|e| e["licenseId"] == "LicenseRef-public-domain" && e["name"] == "public-domain"));
    // libc6's copyright file is prose: no licence is claimed for it.
    assert_eq!(licenses(&cdx, "libc6"), Value::Null);
    assert_eq!(declared(&spdx, "libc6"), "NOASSERTION");
    assert_eq!(declared(&spdx, "requests"), "LicenseRef-Apache-2.0");
    // Fedora's former names: `GPLv3+` is an SPDX licence, `ASL 2.0` is not
    // guessed at.
    let rpm_spdx = read("rpm.spdx.json");
    assert_eq!(declared(&rpm_spdx, "bash"), "GPL-3.0-or-later");
    assert_eq!(declared(&rpm_spdx, "openssl"), "LicenseRef-ASL-2.0");
    assert_eq!(licenses(&read("alpine.cdx.json"), "musl"), id("MIT"));
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

/// `assay scan --sbom` (#30) over an SBOM another tool wrote:
/// cyclonedx-py's of a virtual environment with old pinned packages
/// (tests/fixtures/sbom/README.md), against the PyPI advisories that
/// concern them. Each finding names its component's Package URL; the
/// advisories for versions not installed give none.
#[test]
fn a_cyclonedx_py_sbom_is_scanned_against_pypi_advisories() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("pypi.feed");
    // Two of the unrated advisories rated by the operator: one by CVE id
    // with NVD's vector, one by advisory id with a word.
    let severities = dir.path().join("severities.jsonl");
    std::fs::write(
        &severities,
        "{\"id\": \"CVE-2023-32681\", \"cvss_vector\": \"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N\"}\n\
         {\"id\": \"PYSEC-2021-66\", \"severity\": \"low\"}\n",
    )
    .unwrap();
    let sev = severities.to_str().unwrap();
    let osv = "tests/fixtures/sbom/osv-pypi";
    let out = assay(&["feed", "import", "--osv", osv, "--severities", sev, "-o", feed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("rated 2 unrated advisories"), "{}", stderr(&out));
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--sbom", "tests/fixtures/sbom/cyclonedx-py-venv.cdx.json"];
        args.extend(["--feed", feed.to_str().unwrap()]);
        args.extend(extra);
        assay(&args)
    };
    let out = scan(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("CycloneDX 1.6, 10 component(s) assessed"), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let component =
                f["attributes"].as_array().unwrap().iter().find(|a| a["key"] == "component").unwrap();
            (f["message"].as_str().unwrap().to_owned(), component["value"].as_str().unwrap().to_owned())
        })
        .collect();
    found.sort();
    let expected = [
        format!("jinja2 2.11.2 is affected by PYSEC-2021-66 (CVE-2020-28493); fixed in 2.11.3; rated low by severity low imported from {sev}"),
        "pip 23.2.1 is affected by PYSEC-2023-228 (CVE-2023-5752); fixed in 23.3; rated low by CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N (base score 3.3)".to_owned(),
        "pyyaml 5.3.1 is affected by PYSEC-2021-142 (CVE-2020-14343); fixed in 5.4; no source rates its severity".to_owned(),
        format!("requests 2.28.1 is affected by PYSEC-2023-74 (CVE-2023-32681); fixed in 2.31.0; rated medium by CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N (base score 6.1, imported from {sev})"),
        "setuptools 65.5.0 is affected by PYSEC-2022-43012 (CVE-2022-40897); fixed in 65.5.1; no source rates its severity".to_owned(),
        "urllib3 1.26.4 is affected by PYSEC-2021-108 (CVE-2021-33503); fixed in 1.26.5; no source rates its severity".to_owned(),
        "urllib3 1.26.4 is affected by PYSEC-2023-192 (CVE-2023-43804); fixed in 2.0.6; rated high by CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N (base score 8.1)".to_owned(),
        "urllib3 1.26.4 is affected by PYSEC-2023-212 (CVE-2023-45803); fixed in 2.0.7; rated medium by CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N (base score 4.2)".to_owned(),
    ];
    let purls = [
        "jinja2@2.11.2",
        "pip@23.2.1",
        "pyyaml@5.3.1",
        "requests@2.28.1",
        "setuptools@65.5.0",
        "urllib3@1.26.4",
        "urllib3@1.26.4",
        "urllib3@1.26.4",
    ];
    let expected: Vec<(String, String)> =
        expected.into_iter().zip(purls).map(|(m, p)| (m, format!("pkg:pypi/{p}"))).collect();
    assert_eq!(found, expected);
    // A gate over it: PYSEC-2023-192 is rated high.
    assert_eq!(scan(&["--fail-on", "high"]).status.code(), Some(1));
}

/// Assay's own SBOM of a fixture root gives the same CVE findings as
/// scanning the root, through the source packages its Package URLs name.
#[test]
fn assays_own_sbom_round_trips_to_the_same_cve_findings_as_the_root() {
    // libssl3 (source openssl) at a vulnerable version.
    let common::VulnerableHost { dir, feed, root, .. } = &common::vulnerable_openssl_host(&["libssl3"]);
    let messages = |out: std::process::Output| -> Vec<String> {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut m: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["rule_id"].as_str().unwrap(), f["message"].as_str().unwrap()))
            .collect();
        m.sort();
        m
    };
    let f = feed.to_str().unwrap();
    let from_root = messages(assay(&[
        "scan",
        "--root",
        root.to_str().unwrap(),
        "--package",
        "cve",
        "--feed",
        f,
        "--format",
        "json",
    ]));
    assert!(from_root.iter().any(|m| m.contains("libssl3 3.0.11-1~deb12u2")), "{from_root:#?}");
    for format in ["cyclonedx", "spdx"] {
        let sbom = dir.path().join(format!("root.{format}.json"));
        let out = assay(&[
            "sbom",
            "--root",
            root.to_str().unwrap(),
            "--format",
            format,
            "-o",
            sbom.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let from_sbom =
            messages(assay(&["scan", "--sbom", sbom.to_str().unwrap(), "--feed", f, "--format", "json"]));
        assert_eq!(from_sbom, from_root, "{format}");
    }
}

/// Components the feed cannot cover are listed as skipped, never passed:
/// a gate over them is incomplete (exit 4) unless `--allow-skipped`; a
/// document that is no SBOM, or of a version not read, is an error that
/// says what it is.
#[test]
fn uncovered_components_are_skipped_and_bad_sboms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("pypi.feed");
    let out =
        assay(&["feed", "import", "--osv", "tests/fixtures/sbom/osv-pypi", "-o", feed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let mixed = write(
        "mixed.cdx.json",
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": [
            {"type": "library", "name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"},
            {"type": "library", "name": "mystery", "version": "1"},
            {"type": "application", "name": "app", "components": [
                {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0"}]}]}"#,
    );
    let scan = |sbom: &str, extra: &[&str]| {
        let mut args = vec!["scan", "--sbom", sbom, "--feed", feed.to_str().unwrap()];
        args.extend(extra);
        assay(&args)
    };
    let out = scan(&mixed, &["--fail-on", "low"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("CycloneDX 1.5, 1 component(s) assessed"), "{err}");
    assert!(err.contains("skipped component left-pad (pkg:npm/left-pad@1.3.0): the vulnerability feed covers deb, rpm, apk and pypi packages, not `npm`"), "{err}");
    assert!(err.contains("skipped component mystery (no Package URL): no Package URL"), "{err}");
    assert_eq!(scan(&mixed, &["--fail-on", "low", "--allow-skipped"]).status.code(), Some(0));
    for (name, text, says) in [
        ("a.txt", "not json", "not a JSON SBOM"),
        ("b.json", r#"{"bomFormat": "CycloneDX", "specVersion": "1.2"}"#, "CycloneDX 1.2 is not read"),
        ("c.json", r#"{"spdxVersion": "SPDX-3.0"}"#, "SPDX-3.0 is not read"),
        ("d.json", r#"{"name": "x"}"#, "neither a CycloneDX"),
        (
            "e.json",
            r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {"a": 1}}"#,
            "CycloneDX: invalid type",
        ),
    ] {
        let out = scan(&write(name, text), &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
    }
}

/// A rule about licences reads what the packages' metadata states: its
/// bundle asks the collector for dpkg's copyright files, which a scan
/// without such a rule does not read.
#[test]
fn a_rule_about_licences_sees_the_dpkg_copyright_files_in_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let package = common::package(
        dir.path(),
        "licences",
        r#"import std.strings

rule LIC-1 "No GPL-3 software" {
  severity low
  description "A package is under the GPL version 3 or later."
  recommendation "Ask legal."
  let p = find(p in host.packages ?? [] where "GPL-3+" in (p.licenses ?? []))
  fail when p is present
    message "{p.name} is under GPL-3+ ({strings.join(p.licenses ?? [], ", ")})"
}
"#,
    );
    let scan = |root: &str| -> Value {
        let out =
            assay(&["scan", "--root", root, "--package", package.to_str().unwrap(), "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
    };
    let debian = scan("tests/fixtures/hosts/debian-default");
    let messages: Vec<&str> =
        debian["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        ["bash is under GPL-3+ (GPL-3+, GPL-3+ with Bison exception, BSD-4-clause-UC and MIT-like, permissive)"]
    );
    // Alpine's packages state no GPL-3+: the rule passes.
    let alpine = scan("tests/fixtures/hosts/alpine");
    assert_eq!(alpine["findings"].as_array().unwrap().len(), 0, "{alpine:#}");
    let outcome = |r: &Value| r["rules"].as_array().unwrap()[0]["outcome"].clone();
    assert_eq!(outcome(&alpine), "passed", "{alpine:#}");
    assert_eq!(outcome(&debian), "failed", "{debian:#}");
}
