use super::*;
use crate::sbom::purl_matches;

const OPENVEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/1",
  "author": "Security Team",
  "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2024-5535"},
     "products": [{"@id": "pkg:deb/debian/libssl3?arch=amd64"}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
     "impact_statement": "no TLS server on these hosts"},
    {"vulnerability": {"name": "CVE-2024-5535"},
     "products": [{"@id": "pkg:deb/debian/openssl@3.0.11-1~deb12u2"}],
     "status": "affected"},
    {"vulnerability": "cve-2023-1", "products": ["pkg:pypi/requests"], "status": "fixed",
     "timestamp": "2026-02-01T00:00:00Z"},
    {"vulnerability": {"name": "CVE-2023-1"}, "products": [{"@id": "pkg:pypi/requests"}],
     "status": "under_investigation", "timestamp": "2026-01-15T00:00:00Z"}
  ]
}"#;

#[test]
fn openvex_statements_are_read_one_per_vulnerability_and_product() {
    let s = read(OPENVEX.as_bytes(), "vex.json").unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].vulnerability, "CVE-2024-5535");
    assert_eq!(s[0].status, Status::NotAffected);
    assert_eq!(s[0].justification, "vulnerable_code_not_in_execute_path: no TLS server on these hosts");
    assert_eq!(s[0].timestamp, "2026-01-01T00:00:00Z", "the document's, when the statement has none");
    assert_eq!(s[2].vulnerability, "CVE-2023-1", "ids compare upper case");
    assert!(s[0].source.starts_with("vex.json#1"));
}

#[test]
fn purls_match_by_type_namespace_name_then_version_and_qualifiers_when_given() {
    let installed = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl";
    assert!(purl_matches("pkg:deb/debian/libssl3", installed), "no version: every version");
    assert!(purl_matches("pkg:deb/debian/libssl3@3.0.11-1~deb12u2", installed));
    assert!(purl_matches("pkg:deb/debian/libssl3?arch=amd64", installed));
    assert!(!purl_matches("pkg:deb/debian/libssl3@3.0.15-1", installed), "another version");
    assert!(!purl_matches("pkg:deb/debian/libssl3?arch=arm64", installed), "a qualifier differs");
    assert!(!purl_matches("pkg:deb/ubuntu/libssl3", installed), "another namespace");
    assert!(!purl_matches("pkg:rpm/debian/libssl3", installed), "another type");
    assert!(!purl_matches("not a purl", installed));
    // PyPI names compare as PEP 503 normalizes them.
    assert!(purl_matches("pkg:pypi/PyYAML", "pkg:pypi/pyyaml@5.3.1"));
    assert!(purl_matches("pkg:pypi/zope.interface@5.0", "pkg:pypi/zope-interface@5.0"));
    assert!(!purl_matches("pkg:pypi/pyyaml@5.4", "pkg:pypi/pyyaml@5.3.1"));
}

#[test]
fn cyclonedx_vex_names_products_by_bom_ref_or_purl() {
    let doc = r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
      "metadata": {"timestamp": "2026-03-01T00:00:00Z"},
      "components": [{"type": "library", "name": "requests", "bom-ref": "req", "purl": "pkg:pypi/requests@2.28.1"}],
      "vulnerabilities": [
        {"id": "CVE-2023-32681", "analysis": {"state": "not_affected", "justification": "code_not_reachable", "detail": "no proxies"},
         "affects": [{"ref": "req"}]},
        {"id": "CVE-2099-1", "analysis": {"state": "exploitable"}, "affects": [{"ref": "pkg:pypi/x"}]},
        {"id": "CVE-2099-2", "affects": [{"ref": "req"}]}
      ]}"#;
    let s = read(doc.as_bytes(), "bom.vex.json").unwrap();
    assert_eq!(s.len(), 2, "a vulnerability without an analysis states nothing");
    assert_eq!(s[0].product, "pkg:pypi/requests@2.28.1");
    assert_eq!(s[0].status, Status::NotAffected);
    assert_eq!(s[0].justification, "code_not_reachable: no proxies");
    assert_eq!(s[0].timestamp, "2026-03-01T00:00:00Z");
    assert_eq!(s[1].status, Status::Affected);
}

#[test]
fn bad_documents_say_what_is_wrong() {
    let err = |t: &str| read(t.as_bytes(), "v.json").unwrap_err();
    assert!(err("nope").starts_with("not a JSON VEX document"));
    assert!(err(r#"{"name": 1}"#).starts_with("neither an OpenVEX"));
    assert!(err(r#"{"@context": "https://example.com", "statements": []}"#).contains("not OpenVEX's"));
    let bad_status = r#"{"@context": "https://openvex.dev/ns/v0.2.0",
        "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [], "status": "fine"}]}"#;
    assert!(err(bad_status).contains("`fine` is not an OpenVEX status"));
}

mod properties {
    use super::super::read;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes and arbitrary statement fields give statements
        /// or an error, never a panic.
        #[test]
        fn reading_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200),
                                status in "[a-z_]{0,20}", product in "\\PC{0,30}", name in "\\PC{0,20}") {
            let _ = read(&bytes, "v.json");
            let doc = serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [{"vulnerability": {"name": name}, "products": [{"@id": product}], "status": status}]});
            let _ = read(doc.to_string().as_bytes(), "v.json");
        }
    }
}
