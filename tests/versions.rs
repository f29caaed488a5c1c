//! The dpkg version comparison against `dpkg --compare-versions` itself: every
//! distinct version (and source version) on this machine, each compared with
//! its neighbours in sorted order and with a spread of others, plus edge
//! cases (epochs, `~`, `+`, revisions, leading zeros, letters).

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_stdlib::versions::dpkg;
use std::cmp::Ordering;
use std::process::Command;

fn dpkg_says(a: &str, op: &str, b: &str) -> bool {
    Command::new("dpkg").args(["--compare-versions", a, op, b]).status().expect("dpkg runs").success()
}

#[test]
fn dpkg_comparison_agrees_with_dpkg_on_this_machines_versions() {
    let status =
        std::fs::read_to_string("/var/lib/dpkg/status").expect("this test needs a Debian host with dpkg");
    let mut versions: Vec<String> = status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Version: ").map(str::to_owned).or_else(|| {
                l.strip_prefix("Source: ")
                    .and_then(|s| s.split_once(" ("))
                    .map(|(_, v)| v.trim_end_matches(')').to_owned())
            })
        })
        .collect();
    versions.extend(
        [
            "0",
            "1.0",
            "1.0-1",
            "1:0.9",
            "2:0",
            "1.0~rc1",
            "1.0~~",
            "1.0~",
            "1.0+deb12u1",
            "1.0-1+b1",
            "1.0-1~bpo12+1",
            "1.0a",
            "1.0-0",
            "01.0",
            "1.00",
            "1.0.0",
            "1.0-1.1",
            "3.0.15-1~deb12u1",
            "3.0.11-1~deb12u2",
            "9.2p1-2+deb12u3",
            "1:9.2p1-2+deb12u3",
            "2.36-9+deb12u10",
            "2.36-9+deb12u7",
            "1.2.3-4ubuntu0.1",
            "1.2.3-4",
            "10",
            "9",
            "a",
            "1.0-a",
            "1.0.",
            "1..0",
            "1.0-1-1",
            "0:1.0",
            "1.0+",
            "1.0+~",
            "20230311",
            "2023.03.11",
        ]
        .map(str::to_owned),
    );
    versions.sort_by(|a, b| dpkg(a, b).then_with(|| a.cmp(b)));
    versions.dedup();
    let mut pairs: Vec<(usize, usize)> = (1..versions.len()).map(|i| (i - 1, i)).collect();
    // A spread of distant pairs too (deterministic).
    let n = versions.len();
    pairs.extend((0..300).map(|k| ((k * 7919) % n, (k * 104_729 + 13) % n)));
    let mut disagreements = Vec::new();
    for (i, j) in pairs {
        let (a, b) = (&versions[i], &versions[j]);
        let ours = dpkg(a, b);
        let theirs = if dpkg_says(a, "lt", b) {
            Ordering::Less
        } else if dpkg_says(a, "eq", b) {
            Ordering::Equal
        } else {
            Ordering::Greater
        };
        if ours != theirs {
            disagreements.push(format!("{a} vs {b}: ours {ours:?}, dpkg {theirs:?}"));
        }
    }
    assert!(versions.len() > 100, "too few versions to be a meaningful test: {}", versions.len());
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
