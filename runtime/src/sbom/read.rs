//! Reading an SBOM (`assay scan --sbom FILE`): CycloneDX 1.4 to 1.6 JSON
//! or SPDX 2.2/2.3 JSON, as Assay, syft, Trivy, cdxgen or cyclonedx-py
//! write them, into telemetry with no host: its `packages` from each
//! component's Package URL, its operating system from the `distro`
//! qualifier, and the licences each declares (CycloneDX's ids, names and
//! expressions; SPDX's `licenseDeclared`), as written. A component the
//! vulnerability feed cannot cover (no Package
//! URL, no version, another ecosystem) is kept as skipped, with the reason,
//! never passed.

use assay_model::telemetry::{Asset, Ecosystem, Os, OsFamily, Package, Telemetry, Version};
use serde::Deserialize;

/// The most components read from one SBOM: an SBOM is input too.
pub const MAX_COMPONENTS: usize = 200_000;

/// What an SBOM gives.
#[derive(Debug)]
pub struct Read {
    pub telemetry: Telemetry,
    /// `CycloneDX 1.6`, `SPDX-2.3`.
    pub format: String,
    pub skipped: Vec<Skipped>,
}

/// A component that was not assessed, and why.
#[derive(Debug, PartialEq)]
pub struct Skipped {
    pub name: String,
    pub purl: Option<String>,
    pub why: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CycloneDx {
    bom_format: String,
    spec_version: String,
    #[serde(default)]
    metadata: Option<CdxMetadata>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    #[serde(default)]
    component: Option<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    licenses: Vec<CdxLicenseChoice>,
    #[serde(default)]
    components: Vec<CdxComponent>,
}

/// A licence by SPDX id or by name, or an SPDX expression.
#[derive(Deserialize)]
struct CdxLicenseChoice {
    #[serde(default)]
    license: Option<CdxLicense>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Deserialize)]
struct CdxLicense {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl CdxLicenseChoice {
    fn stated(self) -> Option<String> {
        self.expression.or_else(|| self.license.and_then(|l| l.id.or(l.name)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spdx {
    spdx_version: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    packages: Vec<SpdxPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version_info: Option<String>,
    #[serde(default)]
    primary_package_purpose: Option<String>,
    #[serde(default)]
    license_declared: Option<String>,
    #[serde(default)]
    external_refs: Vec<SpdxRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxRef {
    #[serde(default)]
    reference_type: String,
    #[serde(default)]
    reference_locator: String,
}

/// Which format a document is, from its own marker fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    #[serde(default)]
    bom_format: Option<String>,
    #[serde(default)]
    spdx_version: Option<String>,
}

/// A component as the SBOM lists it.
struct Listed {
    name: String,
    version: Option<String>,
    purl: Option<String>,
    /// The licences it declares, as written (`None`: none, or
    /// `NOASSERTION`).
    licenses: Option<Vec<String>>,
}

/// Reads an SBOM; `origin` (its file name) is each package's origin.
pub fn read(bytes: &[u8], origin: &str) -> Result<Read, String> {
    let marker: Marker =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON SBOM (CycloneDX or SPDX): {e}"))?;
    // The format, the host's name and every component.
    let (format, host, components): (String, String, Vec<Listed>) =
        match (marker.bom_format, marker.spdx_version) {
            (Some(f), _) if f == "CycloneDX" => {
                let bom: CycloneDx = serde_json::from_slice(bytes).map_err(|e| format!("CycloneDX: {e}"))?;
                if !["1.4", "1.5", "1.6"].contains(&bom.spec_version.as_str()) {
                    return Err(format!(
                        "CycloneDX {} is not read: CycloneDX 1.4, 1.5 and 1.6 JSON are",
                        bom.spec_version
                    ));
                }
                let host = bom.metadata.and_then(|m| m.component).map(|c| c.name).unwrap_or_default();
                let mut out = Vec::new();
                flatten(bom.components, &mut out)?;
                (format!("{} {}", bom.bom_format, bom.spec_version), host, out)
            }
            (_, Some(v)) if v == "SPDX-2.3" || v == "SPDX-2.2" => {
                let doc: Spdx = serde_json::from_slice(bytes).map_err(|e| format!("SPDX: {e}"))?;
                if doc.packages.len() > MAX_COMPONENTS {
                    return Err(format!("more than {MAX_COMPONENTS} packages"));
                }
                let out = doc
                    .packages
                    .into_iter()
                    // The document's subject (an operating system, a
                    // container) is no package to match.
                    .filter(|p| p.primary_package_purpose.as_deref() != Some("OPERATING-SYSTEM"))
                    .map(|p| {
                        let purl = p
                            .external_refs
                            .into_iter()
                            .find(|r| r.reference_type == "purl")
                            .map(|r| r.reference_locator);
                        let licenses = p
                            .license_declared
                            .filter(|l| !["NOASSERTION", "NONE", ""].contains(&l.trim()))
                            .map(|l| vec![l]);
                        Listed { name: p.name, version: p.version_info, purl, licenses }
                    })
                    .collect();
                (doc.spdx_version, doc.name, out)
            }
            (Some(f), _) => return Err(format!("`bomFormat` is `{f}`, not CycloneDX")),
            (None, Some(v)) => return Err(format!("{v} is not read: SPDX 2.2 and 2.3 JSON are")),
            (None, None) => {
                return Err(
                    "neither a CycloneDX (`bomFormat`) nor an SPDX (`spdxVersion`) document".to_owned()
                )
            }
        };
    let mut packages = Vec::new();
    let mut skipped = Vec::new();
    let mut os: Option<Os> = None;
    for Listed { name, version, purl, licenses } in components {
        match package(&name, version.as_deref(), purl.as_deref(), origin) {
            Ok((mut p, distro)) => {
                if os.is_none() {
                    os = distro;
                }
                p.licenses = licenses;
                packages.push(p);
            }
            Err(why) => skipped.push(Skipped { name, purl, why }),
        }
    }
    packages.sort_by(|a, b| {
        (a.ecosystem.as_str(), &a.name, &a.version.0).cmp(&(b.ecosystem.as_str(), &b.name, &b.version.0))
    });
    packages.dedup();
    let hostname = if host.is_empty() { origin.to_owned() } else { host };
    let asset = Asset {
        id: hostname.clone(),
        hostname,
        tags: Vec::new(),
        os,
        kernel_release: None,
        architecture: None,
    };
    let mut telemetry = Telemetry::empty(asset);
    telemetry.packages = Some(packages);
    Ok(Read { telemetry, format, skipped })
}

/// Components and their nested components, depth first.
fn flatten(components: Vec<CdxComponent>, out: &mut Vec<Listed>) -> Result<(), String> {
    let mut stack: Vec<CdxComponent> = components.into_iter().rev().collect();
    while let Some(c) = stack.pop() {
        if out.len() >= MAX_COMPONENTS {
            return Err(format!("more than {MAX_COMPONENTS} components"));
        }
        stack.extend(c.components.into_iter().rev());
        let licenses: Vec<String> = c.licenses.into_iter().filter_map(CdxLicenseChoice::stated).collect();
        let licenses = (!licenses.is_empty()).then_some(licenses);
        out.push(Listed { name: c.name, version: c.version, purl: c.purl, licenses });
    }
    Ok(())
}

/// A component as an installed package, from its Package URL, and the
/// operating system its `distro` qualifier names (`debian-12`).
fn package(
    name: &str,
    version: Option<&str>,
    purl: Option<&str>,
    origin: &str,
) -> Result<(Package, Option<Os>), String> {
    let purl = purl.ok_or("no Package URL")?;
    let parsed: packageurl::PackageUrl<'_> =
        purl.parse().map_err(|e| format!("the Package URL does not parse: {e}"))?;
    let ecosystem = super::ecosystem_of_purl_type(parsed.ty()).ok_or_else(|| {
        format!("the vulnerability feed covers deb, rpm, apk and pypi packages, not `{}`", parsed.ty())
    })?;
    let version = parsed.version().or(version).filter(|v| !v.is_empty()).ok_or("no version")?;
    let qualifier = |key: &str| parsed.qualifiers().get(key).map(|v| v.to_string());
    // `upstream=openssl` or `upstream=openssl@3.0.11-1` (syft's form); an
    // rpm's is its source rpm's file name, which the feed does not use.
    let (source_name, source_version) = match (ecosystem, qualifier("upstream")) {
        (Ecosystem::Debian | Ecosystem::Alpine, Some(u)) => match u.split_once('@') {
            Some((n, v)) => (Some(n.to_owned()), Some(Version(v.to_owned()))),
            None => (Some(u), None),
        },
        _ => (None, None),
    };
    let os = qualifier("distro").map(|d| {
        // `debian-12`, `ubuntu-22.04`, `alpine-3.20.3`, `rhel-9.4`; the
        // namespace names the distribution when the qualifier is a bare id.
        let (id, release) = match d.split_once('-') {
            Some((id, release)) => (id.to_owned(), Some(release.to_owned())),
            None => (d.clone(), None),
        };
        let family = match ecosystem {
            Ecosystem::Debian => OsFamily::Debian,
            Ecosystem::Rpm => OsFamily::Redhat,
            Ecosystem::Alpine => OsFamily::Alpine,
            Ecosystem::Pypi => OsFamily::Other,
        };
        Os { family, distribution: id, version: release, name: None }
    });
    let os = os.or_else(|| {
        let namespace = parsed.namespace()?.to_lowercase();
        (ecosystem != Ecosystem::Pypi).then_some(Os {
            family: match ecosystem {
                Ecosystem::Debian => OsFamily::Debian,
                Ecosystem::Alpine => OsFamily::Alpine,
                _ => OsFamily::Redhat,
            },
            distribution: namespace,
            version: None,
            name: None,
        })
    });
    let name = if parsed.name().is_empty() { name.to_owned() } else { parsed.name().to_owned() };
    let package = Package {
        name,
        version: Version(version.to_owned()),
        source_name,
        source_version,
        architecture: qualifier("arch"),
        ecosystem,
        origin: format!("{origin}: {purl}"),
        licenses: None,
    };
    Ok((package, os))
}

/// Gives each vulnerability finding of `report` the Package URL of the SBOM
/// component it is about, as its `component` attribute (the package and
/// the installed version its evidence names).
pub fn name_components(report: &mut assay_model::findings::Report, packages: &[Package]) {
    for f in &mut report.findings {
        let Some(id) = crate::vex::vulnerability_of(f) else { continue };
        let Some((_, package)) = id.split_once(' ') else { continue };
        let installed =
            f.evidence.iter().find(|e| e.path.ends_with(").installed_version")).map(|e| e.value.as_str());
        let found = packages.iter().find(|p| p.name == package && Some(p.version.0.as_str()) == installed);
        if let Some(purl) = found.and_then(|p| p.origin.split_once(": ")).map(|(_, purl)| purl) {
            f.attributes.push(assay_model::findings::KeyValue {
                key: "component".to_owned(),
                value: purl.to_owned(),
            });
        }
    }
}
