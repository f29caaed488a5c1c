use super::*;
use assay_model::telemetry::{Os, OsFamily};

fn pkg(name: &str, version: &str, source: &str, source_version: &str) -> Package {
    Package {
        licenses: None,
        name: name.into(),
        version: Version(version.into()),
        source_name: Some(source.into()),
        source_version: Some(Version(source_version.into())),
        architecture: None,
        ecosystem: Ecosystem::Debian,
        origin: String::new(),
    }
}

fn debian12() -> Os {
    Os { family: OsFamily::Debian, distribution: "debian".into(), version: Some("12".into()), name: None }
}

#[test]
fn ranges_versions_and_source_packages_match() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        r#"{"id": "DEBIAN-CVE-2024-1", "aliases": ["CVE-2024-1"], "summary": "s",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.15-1~deb12u1"}]}]}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "id: PYSEC-2024-9\naffected:\n- package: {name: Requests, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: '2.0'\n    - last_affected: '2.31.0'\n  versions: ['2.28.1']\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "{ not json").unwrap();
    std::fs::write(
        dir.path().join("other.json"),
        r#"{"id": "GO-1", "affected": [{"package": {"ecosystem": "Go", "name": "x"}}]}"#,
    )
    .unwrap();
    let (feed, warnings) = import_osv(dir.path()).unwrap();
    assert_eq!(feed.advisories.len(), 2);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].record, "broken.json");
    let bytes = feed.to_bytes();
    let feed = Feed::from_bytes(&bytes).unwrap();
    let index = Index::new(&feed);
    let mut requests = pkg("requests", "2.28.1", "requests", "2.28.1");
    requests.ecosystem = Ecosystem::Pypi;
    let packages = vec![
        pkg("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
        pkg("openssl", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1"),
        requests,
    ];
    let found = index.matches(&packages, Some(&debian12()));
    let names: Vec<(&str, &str)> =
        found.iter().map(|v| (v.package.as_str(), v.advisory_id.as_str())).collect();
    assert_eq!(names, [("libssl3", "DEBIAN-CVE-2024-1"), ("requests", "PYSEC-2024-9")]);
    assert_eq!(found[0].fixed_version.as_ref().unwrap().0, "3.0.15-1~deb12u1");
    assert_eq!(found[0].severity, AdvisorySeverity::Critical);
    assert_eq!(found[0].severity_source, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H (base score 9.8)");
    // Rated nowhere: unknown, never taken for medium.
    assert_eq!(found[1].severity, AdvisorySeverity::Unknown);
    assert_eq!(found[1].severity_source, "not rated");
    assert!(Feed::from_bytes(&bytes[..20]).is_err());
    assert!(Feed::from_bytes(b"not a feed at all").is_err());
}

#[test]
fn ubuntu_hosts_match_ubuntu_advisories_and_unknown_severity_words_are_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("u.json"),
        r#"{"id": "UBUNTU-CVE-2024-2", "summary": "s", "database_specific": {"severity": "bogus"},
            "affected": [{"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.15"}]}]}]}"#,
    )
    .unwrap();
    let (feed, warnings) = import_osv(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(feed.advisories[0].severity, None, "an unknown word must not become a severity");
    assert_eq!(feed.advisories[0].affected[0].ecosystem, Source::Ubuntu);
    let index = Index::new(&feed);
    let p = pkg("libssl3", "3.0.2-0ubuntu1.10", "openssl", "3.0.2-0ubuntu1.10");
    let ubuntu = Os { distribution: "ubuntu".into(), version: Some("22.04".into()), ..debian12() };
    let found = index.matches(std::slice::from_ref(&p), Some(&ubuntu));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, AdvisorySeverity::Unknown);
    assert!(
        index.matches(&[p], Some(&debian12())).is_empty(),
        "a Debian host must not match Ubuntu advisories"
    );
}

/// Ratings a database writes as words: Debian's changelog urgency (as the
/// Debian 12 records carry it), Ubuntu's severity entries, GHSA's
/// database severity; a CVSS vector wins over all of them.
#[test]
fn database_ratings_are_read_with_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let record = |id: &str, extra: &str| {
        format!(
            r#"{{"id": "{id}", "summary": "s", {extra}
                "affected": [{{"package": {{"ecosystem": "Debian:12", "name": "sudo"}},
                  "ranges": [{{"type": "ECOSYSTEM", "events": [{{"introduced": "0"}}, {{"fixed": "1.9.6-1"}}]}}],
                  "ecosystem_specific": {{"urgency": "high"}}}}]}}"#
        )
    };
    std::fs::write(dir.path().join("a.json"), record("DEBIAN-CVE-2024-10", "")).unwrap();
    std::fs::write(
        dir.path().join("b.json"),
        record("UBUNTU-CVE-2024-11", r#""severity": [{"type": "Ubuntu", "score": "low"}],"#),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.json"),
        record(
            "GHSA-2024-12",
            r#""severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"#,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("d.json"),
        record("GHSA-2024-13", r#""database_specific": {"severity": "MODERATE"},"#),
    )
    .unwrap();
    // Only a v4 vector; and both, where v3 rates it.
    std::fs::write(
        dir.path().join("e.json"),
        record(
            "GHSA-2024-14",
            r#""severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"}],"#,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("f.json"),
        record(
            "GHSA-2024-15",
            r#""severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"},
                            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}],"#,
        ),
    )
    .unwrap();
    let (feed, _) = import_osv(dir.path()).unwrap();
    let rated: Vec<(&str, Option<AdvisorySeverity>, Option<&str>)> =
        feed.advisories.iter().map(|a| (a.id.as_str(), a.severity, a.severity_source.as_deref())).collect();
    assert_eq!(
        rated,
        [
            ("DEBIAN-CVE-2024-10", Some(AdvisorySeverity::High), Some("Debian urgency high")),
            (
                "GHSA-2024-12",
                Some(AdvisorySeverity::High),
                Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H (base score 8.1)")
            ),
            ("GHSA-2024-13", Some(AdvisorySeverity::Medium), Some("database severity MODERATE")),
            (
                "GHSA-2024-14",
                Some(AdvisorySeverity::Critical),
                Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H (score 10.0)")
            ),
            (
                "GHSA-2024-15",
                Some(AdvisorySeverity::Medium),
                Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N (base score 6.1)")
            ),
            ("UBUNTU-CVE-2024-11", Some(AdvisorySeverity::Low), Some("Ubuntu severity low")),
        ]
    );
}
