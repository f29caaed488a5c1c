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
