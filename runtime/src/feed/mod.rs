//! The vulnerability feed: OSV advisories imported into one compact file,
//! and the matching of installed packages against it. `assay scan` adds the
//! matches to the telemetry as `vulnerabilities`, which the `cve` rules
//! package reads.

mod cvss;
mod osv;
pub mod severities;

use assay_model::telemetry::{AdvisorySeverity, Ecosystem, Package, Version, Vulnerability};
use assay_stdlib::versions::{self, Scheme};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use osv::{import_osv, ImportWarning};

const MAGIC: &[u8; 8] = b"ASSAYFD\0";
/// Bumped with any change to the types below (postcard: order is format).
const FORMAT_VERSION: u32 = 3;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    pub advisories: Vec<Advisory>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    /// CVE ids among the aliases (and the id itself when it is one).
    pub cves: Vec<String>,
    pub summary: String,
    /// From CVSS when the record has it, else the database's own word;
    /// none when the record has neither (matches are then `unknown`).
    pub severity: Option<AdvisorySeverity>,
    /// Where `severity` came from (`Debian urgency high`).
    pub severity_source: Option<String>,
    pub references: Vec<String>,
    pub affected: Vec<Affected>,
}

/// The advisory databases Assay matches, by OSV ecosystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    Debian,
    Ubuntu,
    Alpine,
    Pypi,
}

impl Source {
    /// The OSV ecosystem name without its release (`Debian` of `Debian:12`).
    pub fn from_osv(name: &str) -> Option<Source> {
        Some(match name {
            "Debian" => Source::Debian,
            "Ubuntu" => Source::Ubuntu,
            "Alpine" => Source::Alpine,
            "PyPI" => Source::Pypi,
            _ => return None,
        })
    }

    /// The ecosystem of the installed packages its advisories are about,
    /// whose version scheme they use.
    pub fn packages(self) -> Ecosystem {
        match self {
            Source::Debian | Source::Ubuntu => Ecosystem::Debian,
            Source::Alpine => Ecosystem::Alpine,
            Source::Pypi => Ecosystem::Pypi,
        }
    }

    /// The database an installed package is matched against, on `distro`
    /// (`ID` of os-release); none for ecosystems without advisories here.
    fn for_package(ecosystem: Ecosystem, distro: &str) -> Option<Source> {
        match ecosystem {
            Ecosystem::Debian if distro == "ubuntu" => Some(Source::Ubuntu),
            Ecosystem::Debian => Some(Source::Debian),
            Ecosystem::Alpine => Some(Source::Alpine),
            Ecosystem::Pypi => Some(Source::Pypi),
            // No OSV database of RHEL-family advisories yet.
            Ecosystem::Rpm => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    pub ecosystem: Source,
    /// The release (`12` for `Debian:12`), when the record names one.
    pub release: Option<String>,
    /// Source package for Debian, Ubuntu and Alpine; the distribution name for PyPI.
    pub package: String,
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    pub versions: Vec<String>,
}

/// `introduced` (inclusive) up to `fixed` (exclusive) or `last_affected` (inclusive).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub introduced: String,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
}

impl Feed {
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = postcard::to_allocvec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Feed, String> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err("not an Assay vulnerability feed (wrong magic number)".into());
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(format!(
                "feed format {version} is not supported (this build reads {FORMAT_VERSION}); import it again"
            ));
        }
        postcard::from_bytes(&bytes[12..]).map_err(|e| format!("corrupted feed: {e}"))
    }

    pub fn load(path: &Path) -> Result<Feed, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Feed::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Where `assay feed import` writes and `assay scan` looks: the XDG data home.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("assay").join("feed.bin"))
}

/// PyPI names compare normalised (PEP 503: lowercase, runs of `-`, `_`
/// and `.` as one `-`), as the inventory looks them up.
fn normalise(source: Source, name: &str) -> String {
    if source == Source::Pypi {
        assay_model::telemetry::Ecosystem::Pypi.name_key(name)
    } else {
        name.to_owned()
    }
}

/// The feed indexed for matching: (ecosystem, package) → affected entries
/// (advisory and affected positions in the feed). Holds the feed as `F`
/// (`&Feed`, or an `Arc<Feed>` for an index built once and shared by a
/// server's evaluations: building it is the cost of a host's matching
/// many times over).
pub struct Index<F: std::borrow::Borrow<Feed>> {
    feed: F,
    by_package: HashMap<(Source, String), Vec<(u32, u32)>>,
}

impl<F: std::borrow::Borrow<Feed>> Index<F> {
    pub fn new(feed: F) -> Index<F> {
        let mut by_package: HashMap<(Source, String), Vec<(u32, u32)>> = HashMap::new();
        for (i, a) in feed.borrow().advisories.iter().enumerate() {
            for (j, aff) in a.affected.iter().enumerate() {
                by_package
                    .entry((aff.ecosystem, normalise(aff.ecosystem, &aff.package)))
                    .or_default()
                    .push((i as u32, j as u32));
            }
        }
        Index { feed, by_package }
    }

    pub fn feed(&self) -> &Feed {
        self.feed.borrow()
    }

    /// One vulnerability per installed package and advisory that affects it.
    /// Debian and Alpine advisories name source packages, so a binary
    /// package matches through its source name and version.
    pub fn matches(
        &self,
        packages: &[Package],
        os: Option<&assay_model::telemetry::Os>,
    ) -> Vec<Vulnerability> {
        let mut out = Vec::new();
        let distro = os.map(|o| o.distribution.as_str()).unwrap_or("");
        let release = os.and_then(|o| o.version.as_deref()).unwrap_or("");
        for p in packages {
            let Some(source) = Source::for_package(p.ecosystem, distro) else { continue };
            let (name, version) = match p.ecosystem {
                Ecosystem::Debian => (
                    p.source_name.clone().unwrap_or_else(|| p.name.clone()),
                    p.source_version.clone().unwrap_or_else(|| p.version.clone()),
                ),
                Ecosystem::Alpine => {
                    (p.source_name.clone().unwrap_or_else(|| p.name.clone()), p.version.clone())
                }
                Ecosystem::Pypi | Ecosystem::Rpm => (p.name.clone(), p.version.clone()),
            };
            let Some(entries) = self.by_package.get(&(source, normalise(source, &name))) else {
                continue;
            };
            let scheme = source.packages().scheme();
            let advisories = &self.feed.borrow().advisories;
            for &(i, j) in entries {
                let advisory = &advisories[i as usize];
                let affected = &advisory.affected[j as usize];
                // A record for another release of the distribution does not apply.
                if let Some(r) = &affected.release {
                    if !release.is_empty()
                        && source != Source::Pypi
                        && !release.starts_with(r.as_str())
                        && !r.starts_with(release)
                    {
                        continue;
                    }
                }
                if let Some(fixed) = affecting(scheme, affected, &version.0) {
                    out.push(Vulnerability {
                        id: Vulnerability::id_of(&advisory.id, &p.name),
                        advisory_id: advisory.id.clone(),
                        cves: advisory.cves.clone(),
                        package: p.name.clone(),
                        source_package: name.clone(),
                        installed_version: p.version.clone(),
                        fixed_version: fixed.map(Version),
                        ecosystem: p.ecosystem,
                        // Rated nowhere: unknown, reported as such (CVE-UNRATED).
                        severity: advisory.severity.unwrap_or(AdvisorySeverity::Unknown),
                        severity_source: advisory
                            .severity_source
                            .clone()
                            .unwrap_or_else(|| "not rated".to_owned()),
                        summary: advisory.summary.clone(),
                        references: advisory.references.clone(),
                    });
                }
            }
        }
        out
    }
}

/// `Some(fixed version, if any)` when `version` is affected.
fn affecting(scheme: Scheme, affected: &Affected, version: &str) -> Option<Option<String>> {
    let cmp = |a: &str, b: &str| versions::compare(scheme, a, b);
    if affected.versions.iter().any(|v| cmp(v, version) == Ordering::Equal) {
        let fixed = affected
            .ranges
            .iter()
            .filter_map(|r| r.fixed.clone())
            .find(|f| cmp(version, f) == Ordering::Less);
        return Some(fixed);
    }
    for r in &affected.ranges {
        let introduced = r.introduced == "0" || cmp(version, &r.introduced) != Ordering::Less;
        if !introduced {
            continue;
        }
        match (&r.fixed, &r.last_affected) {
            (Some(f), _) if cmp(version, f) == Ordering::Less => return Some(Some(f.clone())),
            (None, Some(l)) if cmp(version, l) != Ordering::Greater => return Some(None),
            (None, None) => return Some(None),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
