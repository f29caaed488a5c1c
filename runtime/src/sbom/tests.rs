use super::*;
use assay_model::telemetry::Version;

fn package(name: &str, version: &str, source: Option<&str>, ecosystem: Ecosystem) -> Package {
    Package {
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
