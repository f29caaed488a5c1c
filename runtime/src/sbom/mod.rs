//! Software bills of materials of a host (`assay sbom`): its packages as
//! CycloneDX 1.6 JSON or SPDX 2.3 JSON, each with its Package URL, and the
//! host (operating system, hostname, a digest of its machine id) as the
//! subject, and the licences each package's metadata states
//! (`license.rs`).
//!
//! The input is a telemetry document's header and `packages`; the output
//! is deterministic: components sorted by Package URL, the serial number
//! and SPDX namespace derived from the content, and the time stamp the
//! collection's start, or `SOURCE_DATE_EPOCH` when it is set (the
//! reproducible-builds convention), so an SBOM of an unchanged host diffs
//! clean in git. The formats are written through typed serde structs of
//! the parts Assay emits (`cyclonedx.rs`, `spdx.rs`): the `cyclonedx-bom`
//! crate stops at CycloneDX 1.5, and the SPDX crates at 2.2.

mod cyclonedx;
mod license;
pub mod read;
mod spdx;

use assay_model::telemetry::{Ecosystem, Package, Telemetry};
use sha2::{Digest, Sha256};

/// An SBOM format `assay sbom` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    CycloneDx,
    Spdx,
}

/// The SBOM of `telemetry` in `format`, as pretty JSON with a final newline.
pub fn render(telemetry: &Telemetry, format: Format, tool_version: &str) -> Result<String, String> {
    let inventory = Inventory::of(telemetry);
    let text = match format {
        Format::CycloneDx => serde_json::to_string_pretty(&cyclonedx::cyclonedx(&inventory, tool_version)),
        Format::Spdx => serde_json::to_string_pretty(&spdx::spdx(&inventory, tool_version)),
    };
    text.map(|t| t + "\n").map_err(|e| format!("cannot write the SBOM: {e}"))
}

/// What an SBOM says, read from telemetry.
pub(crate) struct Inventory<'t> {
    pub hostname: &'t str,
    /// SHA-256 of the asset id (the machine id where there is one), hex:
    /// identifies the host without publishing its id.
    pub machine_id_sha256: String,
    /// `ID` of os-release (`debian`), or `linux` when unknown.
    pub os_id: String,
    pub os_version: Option<&'t str>,
    pub os_name: Option<&'t str>,
    /// RFC 3339.
    pub created: String,
    /// Sorted by Package URL, once each.
    pub components: Vec<Component<'t>>,
    /// SHA-256 over the host and components, hex: the document's identity.
    pub digest: String,
}

pub(crate) struct Component<'t> {
    pub package: &'t Package,
    pub purl: String,
}

impl<'t> Inventory<'t> {
    fn of(t: &'t Telemetry) -> Inventory<'t> {
        let os = t.asset.os.as_ref();
        let (os_id, os_version) = host_os(t);
        let mut components: Vec<Component<'t>> = t
            .packages
            .iter()
            .flatten()
            .filter_map(|p| Some(Component { package: p, purl: purl(p, &os_id, os_version)? }))
            .collect();
        components.sort_by(|a, b| a.purl.cmp(&b.purl));
        components.dedup_by(|a, b| a.purl == b.purl);
        let mut h = Sha256::new();
        for part in [t.asset.hostname.as_str(), t.asset.id.as_str(), os_id.as_str(), os_version.unwrap_or("")]
        {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for c in &components {
            h.update(c.purl.as_bytes());
            h.update([0]);
            for l in c.package.licenses.iter().flatten() {
                h.update(b"license:");
                h.update(l.as_bytes());
                h.update([0]);
            }
        }
        let digest = assay_model::hex::encode(&h.finalize());
        let created = source_date_epoch()
            .or_else(|| t.collection.as_ref().map(|c| c.started.clone()))
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
        Inventory {
            hostname: &t.asset.hostname,
            machine_id_sha256: assay_model::hex::encode(&Sha256::digest(t.asset.id.as_bytes())),
            os_version,
            os_name: os.and_then(|o| o.name.as_deref()),
            os_id,
            created,
            components,
            digest,
        }
    }

    /// A UUID made of the digest (RFC 4122 version 5 and variant bits set),
    /// so the same content always has the same serial number.
    pub fn uuid(&self) -> String {
        let mut b: Vec<u8> =
            (0..16).map(|i| u8::from_str_radix(&self.digest[i * 2..i * 2 + 2], 16).unwrap_or(0)).collect();
        b[6] = (b[6] & 0x0f) | 0x50;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex = assay_model::hex::encode(&b);
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

/// `SOURCE_DATE_EPOCH` as RFC 3339, when set to a number of seconds.
fn source_date_epoch() -> Option<String> {
    let secs: i64 = std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()?;
    Some(crate::collector::rfc3339(secs))
}

/// The package's Package URL (purl-spec): `pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12`,
/// `pkg:rpm/rocky/openssl@...`, `pkg:apk/alpine/...`, `pkg:pypi/requests@2.28.1`.
/// A Debian binary package built from a source package of another name or
/// version names it as `upstream` (`upstream=openssl`,
/// `upstream=glibc@2.36-9`), as syft does.
pub fn purl(p: &Package, os_id: &str, os_version: Option<&str>) -> Option<String> {
    use packageurl::PackageUrl;
    let mut purl = PackageUrl::new(purl_type(p.ecosystem), p.name.as_str()).ok()?;
    purl.with_version(p.version.0.as_str()).ok()?;
    if p.ecosystem != Ecosystem::Pypi {
        purl.with_namespace(os_id).ok()?;
        if let Some(arch) = p.architecture.as_deref().filter(|a| !a.is_empty()) {
            purl.add_qualifier("arch", arch).ok()?;
        }
        let distro = match os_version {
            Some(v) => format!("{os_id}-{v}"),
            None => os_id.to_owned(),
        };
        purl.add_qualifier("distro", distro).ok()?;
        // `upstream=openssl`, with `@VERSION` when the source's version is
        // not the package's (a binNMU, or a binary versioned on its own).
        let source = p.source_name.as_deref().filter(|s| !s.is_empty());
        let source_version = p.source_version.as_ref().map(|v| v.0.as_str()).filter(|v| *v != p.version.0);
        match (source, source_version) {
            (Some(s), Some(v)) => {
                purl.add_qualifier("upstream", format!("{s}@{v}")).ok()?;
            }
            (Some(s), None) if s != p.name => {
                purl.add_qualifier("upstream", s).ok()?;
            }
            _ => {}
        }
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests;

/// The host's OS as its packages' Package URLs name it: the os-release
/// `ID` (`debian`; `linux` when unknown) and `VERSION_ID`.
pub fn host_os(t: &Telemetry) -> (String, Option<&str>) {
    let os = t.asset.os.as_ref();
    let id = os.map_or("", |o| o.distribution.as_str());
    let id = if id.is_empty() { "linux".to_owned() } else { id.to_lowercase() };
    (id, os.and_then(|o| o.version.as_deref()))
}

/// The Package URL type of an ecosystem's packages.
pub fn purl_type(ecosystem: Ecosystem) -> &'static str {
    match ecosystem {
        Ecosystem::Debian => "deb",
        Ecosystem::Rpm => "rpm",
        Ecosystem::Alpine => "apk",
        Ecosystem::Pypi => "pypi",
    }
}

/// The ecosystem of a Package URL type Assay reads packages of.
pub fn ecosystem_of_purl_type(ty: &str) -> Option<Ecosystem> {
    [Ecosystem::Debian, Ecosystem::Rpm, Ecosystem::Alpine, Ecosystem::Pypi]
        .into_iter()
        .find(|e| purl_type(*e) == ty)
}

/// The ecosystem and name a Package URL names (`pkg:deb/debian/openssl`
/// → Debian, `openssl`), or why it names none Assay knows.
pub fn purl_package(text: &str) -> Result<(Ecosystem, String), String> {
    let parsed: packageurl::PackageUrl<'_> =
        text.parse().map_err(|e| format!("the Package URL `{text}` does not parse: {e}"))?;
    let ecosystem = ecosystem_of_purl_type(parsed.ty()).ok_or_else(|| {
        format!(
            "the Package URL `{text}` is of type `{}`: Assay reads deb, rpm, apk and pypi packages",
            parsed.ty()
        )
    })?;
    Ok((ecosystem, parsed.name().to_string()))
}

/// Whether the Package URL `pattern` names the package whose Package URL
/// is `purl`: the same type, namespace and name (a PyPI name as PEP 503
/// normalizes it); a pattern without a version names every version; the
/// qualifiers a pattern gives must be the package's, others are not
/// looked at. The rule VEX statements and `assay fleet packages --purl`
/// follow (docs/vulnerabilities.md#vex).
pub fn purl_matches(pattern: &str, purl: &str) -> bool {
    use packageurl::PackageUrl;
    let (Ok(s), Ok(p)) = (pattern.parse::<PackageUrl<'_>>(), purl.parse::<PackageUrl<'_>>()) else {
        return false;
    };
    let same_name = match ecosystem_of_purl_type(s.ty()) {
        Some(Ecosystem::Pypi) => Ecosystem::Pypi.name_key(s.name()) == Ecosystem::Pypi.name_key(p.name()),
        _ => s.name() == p.name(),
    };
    s.ty() == p.ty()
        && s.namespace() == p.namespace()
        && same_name
        && s.version().is_none_or(|v| Some(v) == p.version())
        && s.qualifiers().iter().all(|(k, v)| p.qualifiers().get(k) == Some(v))
}
