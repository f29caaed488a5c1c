use super::*;
use std::path::Path;

#[test]
fn telemetry_reference_is_generated_from_the_types() {
    let mut generated = schema::markdown(Telemetry::schema, SCHEMA_VERSION);
    generated.push_str(&crate::lookup::defaults_markdown());
    generated.push_str(&crate::configs::markdown());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/telemetry.md");
    if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/telemetry.md is stale; run `ASSAY_UPDATE_DOCS=1 cargo test -p assay-model telemetry`"
    );
}

#[test]
fn record_names_are_unique_and_every_record_is_documented() {
    let records = schema::records(Telemetry::schema);
    let mut names: Vec<&str> = records.iter().map(|r| r.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "two records share a name");
    for record in &records {
        assert!(!record.doc.trim().is_empty(), "record {} has no doc comment", record.name);
    }
}

#[test]
fn a_document_round_trips_and_unknown_keys_are_rejected() {
    let mut doc = Telemetry::empty(Asset { id: "h1".into(), hostname: "h1".into(), ..Asset::default() });
    doc.listeners = Some(vec![Listener { protocol: Protocol::Udp, port: 53, ..Listener::default() }]);
    let json = serde_json::to_string(&doc).unwrap();
    let back: Telemetry = serde_json::from_str(&json).unwrap();
    assert_eq!(back, doc);
    assert!(json.contains("\"protocol\":\"udp\""));
    let bad = json.replace("\"hostname\"", "\"host_name\"");
    let err = serde_json::from_str::<Telemetry>(&bad).unwrap_err().to_string();
    assert!(err.contains("host_name"), "{err}");
}

#[test]
fn sections_missing_from_a_partial_document_are_absent() {
    let doc: Telemetry = serde_json::from_str(
        r#"{"schema_version": 1, "asset": {"id": "a", "hostname": "a", "tags": []}, "errors": []}"#,
    )
    .unwrap();
    assert!(doc.sshd.is_none() && doc.packages.is_none());
}

/// Names are looked up as PEP 503 normalises PyPI's (runs of `-`, `_`
/// and `.` as one `-`), and lowercase elsewhere.
#[test]
fn package_names_are_keyed_as_their_ecosystem_compares_them() {
    assert_eq!(Ecosystem::Pypi.name_key("Zope__Interface._x"), "zope-interface-x");
    assert_eq!(Ecosystem::Pypi.name_key("PyYAML"), "pyyaml");
    assert_eq!(Ecosystem::Pypi.name_key("py_yaml"), "py-yaml");
    assert_eq!(Ecosystem::Debian.name_key("libssl3"), "libssl3");
    assert_eq!(Ecosystem::Rpm.name_key("NetworkManager"), "networkmanager");
    assert_eq!(Ecosystem::Debian.name_key("g++-12"), "g++-12", "only PyPI folds punctuation");
}
