use super::*;
use assay_model::telemetry::Version;

fn package(name: &str, version: &str, source: Option<&str>, ecosystem: Ecosystem) -> Package {
    Package {
        licenses: None,
        name: name.into(),
        version: Version(version.into()),
        source_name: source.map(str::to_owned),
        source_version: None,
        architecture: (ecosystem != Ecosystem::Pypi).then(|| "amd64".to_owned()),
        ecosystem,
        origin: "/var/lib/dpkg/status".into(),
    }
}

#[test]
fn package_urls_follow_the_purl_spec() {
    let deb = package("libssl3", "3.0.15-1~deb12u1", Some("openssl"), Ecosystem::Debian);
    assert_eq!(
        purl(&deb, "debian", Some("12")).unwrap(),
        "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"
    );
    let same = package("openssl", "3.0.15-1~deb12u1", Some("openssl"), Ecosystem::Debian);
    assert_eq!(
        purl(&same, "debian", Some("12")).unwrap(),
        "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"
    );
    let binnmu = Package {
        source_version: Some(Version("5.2.15-2".into())),
        ..package("bash", "5.2.15-2+b8", Some("bash"), Ecosystem::Debian)
    };
    assert_eq!(
        purl(&binnmu, "debian", Some("12")).unwrap(),
        "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
    );
    let epoch = package("bash", "1:5.2+b1", None, Ecosystem::Debian);
    assert_eq!(
        purl(&epoch, "debian", None).unwrap(),
        "pkg:deb/debian/bash@1:5.2%2Bb1?arch=amd64&distro=debian"
    );
    let py = package("Flask_Login", "0.6.3", None, Ecosystem::Pypi);
    assert_eq!(purl(&py, "debian", Some("12")).unwrap(), "pkg:pypi/flask-login@0.6.3");
    let apk = package("musl", "1.2.5-r0", None, Ecosystem::Alpine);
    assert_eq!(
        purl(&apk, "alpine", Some("3.20.3")).unwrap(),
        "pkg:apk/alpine/musl@1.2.5-r0?arch=amd64&distro=alpine-3.20.3"
    );
}

/// Licences written into either format are read back as each format
/// states them: CycloneDX's ids, names or expression, SPDX's
/// `licenseDeclared` expression.
#[test]
fn licences_round_trip_through_both_formats() {
    let with = |name: &str, licenses: &[&str]| Package {
        licenses: Some(licenses.iter().map(|l| (*l).to_owned()).collect()),
        ..package(name, "1.0-1", Some(name), Ecosystem::Debian)
    };
    let mut t = Telemetry::empty(assay_model::telemetry::Asset::default());
    t.packages = Some(vec![
        with("a", &["GPL-2+"]),
        with("b", &["GPL-2+", "MIT or Apache-2.0"]),
        with("c", &["Zlib", "public-domain"]),
        package("d", "1.0-1", Some("d"), Ecosystem::Debian),
    ]);
    let read_back = |format: Format| -> Vec<(String, Option<Vec<String>>)> {
        let text = render(&t, format, "test").unwrap();
        let read = super::read::read(text.as_bytes(), "sbom.json").unwrap();
        read.telemetry.packages.unwrap().into_iter().map(|p| (p.name, p.licenses)).collect()
    };
    let some = |ls: &[&str]| Some(ls.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>());
    assert_eq!(
        read_back(Format::CycloneDx),
        [
            ("a".to_owned(), some(&["GPL-2.0-or-later"])),
            ("b".to_owned(), some(&["GPL-2.0-or-later AND (MIT OR Apache-2.0)"])),
            ("c".to_owned(), some(&["Zlib", "public-domain"])),
            ("d".to_owned(), None),
        ]
    );
    assert_eq!(
        read_back(Format::Spdx),
        [
            ("a".to_owned(), some(&["GPL-2.0-or-later"])),
            ("b".to_owned(), some(&["GPL-2.0-or-later AND (MIT OR Apache-2.0)"])),
            ("c".to_owned(), some(&["Zlib AND LicenseRef-public-domain"])),
            ("d".to_owned(), None),
        ]
    );
}

mod reading {
    use super::super::read::read;
    use proptest::prelude::*;

    fn component() -> impl Strategy<Value = String> {
        let purl = prop_oneof![
            Just("pkg:deb/debian/openssl@3.0.11-1?distro=debian-12&upstream=openssl%403.0.11-1".to_owned()),
            Just("pkg:pypi/requests@2.28.1".to_owned()),
            Just("pkg:npm/x@1".to_owned()),
            Just("pkg:".to_owned()),
            Just("pkg:deb/".to_owned()),
            "pkg:[a-z]{0,4}/[ -~]{0,12}",
            "\\PC{0,16}",
        ];
        (purl, "\\PC{0,8}", prop::option::of("[ -~]{0,8}")).prop_map(|(purl, name, version)| {
            serde_json::json!({"type": "library", "name": name, "version": version, "purl": purl}).to_string()
        })
    }

    proptest! {
        /// Any component list reads without a panic, every component
        /// either a package or skipped with a reason.
        #[test]
        fn components_read_or_are_skipped(components in prop::collection::vec(component(), 0..8), spdx in any::<bool>()) {
            let doc = if spdx {
                let packages: Vec<serde_json::Value> = components.iter().map(|c| {
                    let c: serde_json::Value = serde_json::from_str(c).unwrap();
                    serde_json::json!({"name": c["name"], "versionInfo": c["version"],
                        "externalRefs": [{"referenceType": "purl", "referenceLocator": c["purl"]}]})
                }).collect();
                serde_json::json!({"spdxVersion": "SPDX-2.3", "packages": packages}).to_string()
            } else {
                format!(r#"{{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{}]}}"#, components.join(","))
            };
            let read = read(doc.as_bytes(), "sbom.json").unwrap();
            let packages = read.telemetry.packages.unwrap_or_default();
            prop_assert!(packages.len() + read.skipped.len() <= components.len());
            prop_assert!(read.skipped.iter().all(|s| !s.why.is_empty()));
        }

        /// Arbitrary bytes give a result or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = read(&bytes, "sbom.json");
        }
    }
}
