//! The platforms a package or rule can be scoped to, and whether a host's
//! operating system is one of them.

use crate::telemetry::Os;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A platform a manifest's `platforms` or a rule's `platform` clause names.
/// Encoded by variant index in bundles: append, never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Any Linux distribution.
    Linux,
    Debian,
    Ubuntu,
    Rhel,
    Centos,
    Rocky,
    Almalinux,
    Fedora,
    Amazon,
    Alpine,
    Suse,
    Opensuse,
}

impl Platform {
    pub const ALL: [Platform; 12] = [
        Platform::Linux,
        Platform::Debian,
        Platform::Ubuntu,
        Platform::Rhel,
        Platform::Centos,
        Platform::Rocky,
        Platform::Almalinux,
        Platform::Fedora,
        Platform::Amazon,
        Platform::Alpine,
        Platform::Suse,
        Platform::Opensuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Debian => "debian",
            Platform::Ubuntu => "ubuntu",
            Platform::Rhel => "rhel",
            Platform::Centos => "centos",
            Platform::Rocky => "rocky",
            Platform::Almalinux => "almalinux",
            Platform::Fedora => "fedora",
            Platform::Amazon => "amazon",
            Platform::Alpine => "alpine",
            Platform::Suse => "suse",
            Platform::Opensuse => "opensuse",
        }
    }

    pub fn parse(text: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether a host whose `/etc/os-release` says `ID=id` runs this platform.
    pub fn includes(self, id: &str) -> bool {
        match self {
            Platform::Linux => true,
            Platform::Amazon => id == "amzn",
            Platform::Suse => id.starts_with("sles") || id == "suse",
            Platform::Opensuse => id.starts_with("opensuse"),
            other => id == other.as_str(),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// `debian, ubuntu`.
pub fn join(platforms: &[Platform]) -> String {
    platforms.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
}

/// Whether a rule for `platforms` (empty: any) applies to a host running
/// `os`; the reason when it does not.
pub fn applies(platforms: &[Platform], os: Option<&Os>) -> Result<(), String> {
    let list = || join(platforms);
    if platforms.is_empty() || platforms.contains(&Platform::Linux) {
        return Ok(());
    }
    let Some(os) = os else {
        return Err(format!("the rule is for {} and the host's operating system is unknown", list()));
    };
    let id = os.distribution.as_str();
    if platforms.iter().any(|p| p.includes(id)) {
        Ok(())
    } else {
        Err(format!("the rule is for {}; the host runs {id}", list()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ids_match() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert!(Platform::Amazon.includes("amzn"));
        assert!(Platform::Suse.includes("sles_sap"));
        assert!(!Platform::Debian.includes("ubuntu"));
        let os = |id: &str| Os { distribution: id.into(), ..Os::default() };
        assert!(applies(&[Platform::Debian, Platform::Ubuntu], Some(&os("ubuntu"))).is_ok());
        assert!(applies(&[Platform::Debian], Some(&os("alpine"))).is_err());
        assert!(applies(&[Platform::Debian], None).is_err());
        assert!(applies(&[], None).is_ok());
    }
}
