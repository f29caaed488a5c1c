//! Fuzz the collector's config parsers: the input's first byte picks a
//! parser (sshd, login.defs, PAM, sysctl, dpkg status, apk installed,
//! os-release), the rest is written as that file under a scratch root, and
//! the one sensor runs. Any text gives a section or recorded errors, never a
//! panic (a panic inside a sensor is caught and recorded, so the target
//! fails on that recorded message too) and never a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const FILES: &[(&str, &str)] = &[
    ("sshd", "etc/ssh/sshd_config"),
    ("login.defs", "etc/login.defs"),
    ("pam", "etc/pam.d/common-password"),
    ("kernel", "etc/sysctl.d/99-fuzz.conf"),
    ("packages", "var/lib/dpkg/status"),
    ("packages", "lib/apk/db/installed"),
    ("os", "etc/os-release"),
];

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("assay-fuzz-config-{}", std::process::id()));
        for (_, path) in FILES {
            let _ = std::fs::create_dir_all(root.join(path).parent().unwrap_or(&root));
        }
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let (sensor, path) = FILES[usize::from(pick) % FILES.len()];
    let root = root();
    for (_, other) in FILES {
        let _ = std::fs::remove_file(root.join(other));
    }
    if std::fs::write(root.join(path), text).is_err() {
        return;
    }
    let doc = assay_runtime::collector::collect_one(root, sensor).expect("a known sensor");
    // A caught panic is recorded with no path and this exact text (an error
    // that merely quotes the input cannot match both).
    assert!(
        !doc.errors.iter().any(|e| e.path.is_none()
            && e.message == "the sensor failed unexpectedly (a bug in assay); other sensors ran"),
        "the {sensor} sensor panicked: {:?}",
        doc.errors
    );
    // The document always serializes and reads back.
    let json = serde_json::to_vec(&doc).expect("serializes");
    assay_model::telemetry::from_json(&json).expect("reads back");
});
