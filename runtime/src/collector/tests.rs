use super::*;
use proptest::prelude::*;

const FILES: &[&str] = &[
    "etc/ssh/sshd_config",
    "etc/login.defs",
    "etc/pam.d/common-password",
    "etc/security/pwquality.conf",
    "etc/sysctl.conf",
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/fstab",
    "etc/os-release",
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "etc/modprobe.d/x.conf",
    "etc/systemd/journald.conf",
    "etc/security/faillock.conf",
    "etc/apt/apt.conf.d/99x",
    "etc/apt/sources.list",
    "etc/apt/sources.list.d/x.sources",
    "etc/nftables.conf",
    "etc/iptables/rules.v4",
    "etc/profile",
    "etc/rsyslog.conf",
];

/// Lines that look like the files' own, shuffled with noise.
fn content() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("Include /etc/ssh/sshd_config".to_owned()),
        Just("Include *.conf".to_owned()),
        Just("Match User bob".to_owned()),
        Just("PermitRootLogin".to_owned()),
        Just("MaxAuthTries 99999999999999999999".to_owned()),
        Just("LoginGraceTime 1w2d3h4m5s".to_owned()),
        Just("Ciphers -*".to_owned()),
        Just("password [success=1 default=ignore] pam_unix.so minlen=".to_owned()),
        Just("password requisite pam_pwquality.so minlen=-9223372036854775808".to_owned()),
        Just("root:x:0:0:root:/root:/bin/bash".to_owned()),
        Just("root:x:0:0:root:/root:/bin/sh:extra".to_owned()),
        Just("Package: p\nVersion: 1\nSource: s (".to_owned()),
        Just("net.ipv4.ip_forward = 1".to_owned()),
        Just("install cramfs /bin/false".to_owned()),
        Just("PASS_MAX_DAYS".to_owned()),
        Just("[Journal]\nStorage=".to_owned()),
        Just("APT { Get { AllowUnauthenticated \"true\"; }; }; }}} {{{".to_owned()),
        Just("deb [trusted=yes signed-by=] http://x/ y main".to_owned()),
        Just("deb [unterminated http://x/".to_owned()),
        Just("Types: deb\nURIs: http://x/\nSuites: y\n Signed-By: -----BEGIN PGP".to_owned()),
        Just("chain input { type filter hook input priority 0; policy drop; iif lo accept".to_owned()),
        Just("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT".to_owned()),
        Just("umask 027; umask -S".to_owned()),
        Just("$FileCreateMode 0640".to_owned()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the configuration files hold, collection ends, never panics,
    /// and neither a hash-looking value from shadow nor a proxy password
    /// from APT's configuration appears in the document.
    #[test]
    fn config_parsers_survive_any_content(contents in prop::collection::vec(content(), FILES.len())) {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in FILES.iter().zip(&contents) {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            // Whatever else shadow holds, it holds a hash.
            let text = match *file {
                "etc/shadow" => format!("{text}\nroot:$6$PLANTED$hash:1:2:3:4:5:6:\n"),
                "etc/apt/apt.conf.d/99x" => format!("{text}\nAcquire::http::Proxy \"http://u:PLANTED@proxy\";\n"),
                _ => text.clone(),
            };
            std::fs::write(&path, text).unwrap();
        }
        let doc = collect_root(dir.path());
        let json = serde_json::to_string(&doc).unwrap();
        prop_assert!(!json.contains("PLANTED"));
    }
}

/// Lines of every format the contents lookups parse, mixed with noise:
/// includes (some cyclic), sections, quotes, deep nesting, credentials.
fn contents_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("{\"icc\": false, \"live-restore\": true, \"a\": {\"b\": [1, \"x\", null]}}".to_owned()),
        Just("{\"a\": ".to_owned()),
        Just("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_owned()),
        Just("authentication:\n  anonymous:\n    enabled: false".to_owned()),
        Just("- &a [*a, *a]\n".to_owned()),
        Just("[plugins.\"io.containerd.grpc.v1.cri\"]\ndisable_apparmor = true".to_owned()),
        Just("[mysqld]\nlocal-infile = 1\n!includedir /etc/x/\n!include /etc/x/x.conf".to_owned()),
        Just("[client]\npassword = PLANTED".to_owned()),
        Just("include 'x.conf'\ninclude_dir '.'\ninclude_if_exists '/etc/x/none'".to_owned()),
        Just("ssl = on # comment\nssl_passphrase_command = 'echo PLANTED'".to_owned()),
        Just("url = \"postgres://app:PLANTED@db/app\"".to_owned()),
        Just("host all all 0.0.0.0/0 trust".to_owned()),
        Just("token: PLANTED".to_owned()),
        Just("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".to_owned()),
        Just("-----BEGIN PRIVATE KEY-----\nPLANTED\n-----END PRIVATE KEY-----".to_owned()),
        Just("-----BEGIN CERTIFICATE-----\n".to_owned()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ];
    prop::collection::vec(line, 0..8).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the files hold (including includes of themselves),
    /// collection ends, never panics, every lookup is either in the
    /// document or an error, and no planted credential is collected.
    #[test]
    fn content_lookups_survive_any_content(texts in prop::collection::vec(contents_text(), 2)) {
        use assay_model::lookup::ContentLookup;
        use assay_model::telemetry::ContentFormat;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/x")).unwrap();
        std::fs::write(dir.path().join("etc/x/x.conf"), &texts[0]).unwrap();
        std::fs::write(dir.path().join("etc/x/y.cnf"), &texts[1]).unwrap();
        let mut contents = Vec::new();
        for format in [ContentFormat::Json, ContentFormat::Yaml, ContentFormat::Toml, ContentFormat::Ini,
            ContentFormat::Keyvalue, ContentFormat::Lines]
        {
            for (path, key) in [
                ("/etc/x/x.conf", "live-restore"),
                ("/etc/x/x.conf", "a.b.1"),
                ("/etc/x/y.cnf", "mysqld.local-infile"),
                ("/etc/x/x.conf", "url"),
                ("/etc/x/x.conf", "ssl"),
                ("/etc/x/y.cnf", "."),
                ("/etc/x/x.conf", ":([A-Z]+)@"),
            ] {
                let lookup = ContentLookup::new(format, path, key);
                if lookup.check().is_ok() {
                    contents.push(lookup);
                }
            }
        }
        let wanted = contents.len();
        // The same files read as certificates: whatever they hold, an
        // error or a record, never a panic.
        let certificates = vec!["/etc/x/x.conf".to_owned(), "/etc/x/y.cnf".to_owned()];
        let plan = CollectionPlan { contents, certificates, ..CollectionPlan::default() };
        let doc = collect(&Config { root: dir.path().to_path_buf(), plan, ..Config::default() }, &mut |_| {});
        let json = serde_json::to_string(&doc).unwrap();
        prop_assert!(!json.contains("PLANTED"), "{json}");
        let found = doc.contents.as_ref().map_or(0, Vec::len);
        let errors = doc.errors.iter().filter(|e| e.sensor == "contents").count();
        prop_assert!(found + errors >= wanted.min(1), "{json}");
        prop_assert!(!doc.errors.iter().any(|e| e.message.contains("unexpectedly")), "{:?}", doc.errors);
        let covered = doc.collection.as_ref().and_then(|c| c.looked_up.as_ref()).and_then(|l| l.contents.as_ref());
        prop_assert_eq!(covered.map_or(0, Vec::len), found);
    }
}

/// Each sensor of a collection is timed once, the walk as `files`, and the
/// timings leave the document as it was.
#[test]
fn a_timed_collection_times_each_sensor_once_and_changes_nothing() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts/debian-default");
    let config = Config { root: root.clone(), ..Config::default() };
    let (doc, timings) = collect_timed(&config, &mut |_| {});
    let names: Vec<&str> = timings.iter().map(|(s, _)| s.as_str()).collect();
    for sensor in ["identity", "packages", "files", "services", "runtime"] {
        assert_eq!(names.iter().filter(|n| **n == sensor).count(), 1, "{sensor} in {names:?}");
    }
    let again = collect_root(&root);
    let strip = |mut t: Telemetry| {
        t.collection = None;
        t
    };
    assert_eq!(strip(doc), strip(again));
}
