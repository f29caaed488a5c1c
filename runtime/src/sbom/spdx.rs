//! SPDX 2.3 JSON: the parts Assay writes, as typed serde structs (field
//! names as the specification's JSON schema spells them).

use super::license::{self, References};
use super::Inventory;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    document_describes: Vec<String>,
    packages: Vec<Package>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
}

/// A licence the packages name that SPDX has no id for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    name: String,
    extracted_text: String,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

const NOASSERTION: &str = "NOASSERTION";
const HOST_ID: &str = "SPDXRef-OperatingSystem";

/// The text with every character SPDX ids do not allow (anything but
/// letters, digits, `.` and `-`) as `-`: the body of an `SPDXRef-` or a
/// `LicenseRef-`.
pub(super) fn id_body(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect()
}

fn spdx_id(text: &str) -> String {
    format!("SPDXRef-{}", id_body(text))
}

/// The inventory as an SPDX 2.3 document.
pub(super) fn spdx(inv: &Inventory<'_>, tool_version: &str) -> Document {
    let mut packages = vec![Package {
        spdx_id: HOST_ID.to_owned(),
        name: inv.os_id.clone(),
        version_info: inv.os_version.map(str::to_owned),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION.to_owned(),
        copyright_text: NOASSERTION,
        source_info: None,
        comment: Some(format!(
            "The host {} ({}); machine id SHA-256 {}",
            inv.hostname,
            inv.os_name.unwrap_or(&inv.os_id),
            inv.machine_id_sha256
        )),
        primary_package_purpose: "OPERATING-SYSTEM",
        external_refs: Vec::new(),
    }];
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".to_owned(),
        relationship_type: "DESCRIBES",
        related_spdx_element: HOST_ID.to_owned(),
    }];
    let mut references = References::default();
    for (i, c) in inv.components.iter().enumerate() {
        let p = c.package;
        // The index keeps ids unique where two names differ only in
        // characters an id cannot hold.
        let id = spdx_id(&format!("Package-{}-{}-{i}", p.ecosystem.as_str(), p.name));
        let source_info = p.source_name.as_ref().map(|s| match &p.source_version {
            Some(v) => format!("built from source package {s} {}", v.0),
            None => format!("built from source package {s}"),
        });
        packages.push(Package {
            spdx_id: id.clone(),
            name: p.name.clone(),
            version_info: Some(p.version.0.clone()),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: license::declared(&license::terms(p), &mut references)
                .unwrap_or_else(|| NOASSERTION.to_owned()),
            copyright_text: NOASSERTION,
            source_info,
            comment: Some(format!("read from {}", p.origin)),
            primary_package_purpose: "LIBRARY",
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: c.purl.clone(),
            }],
        });
        relationships.push(Relationship {
            spdx_element_id: HOST_ID.to_owned(),
            relationship_type: "CONTAINS",
            related_spdx_element: id,
        });
    }
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: format!("{} packages", inv.hostname),
        document_namespace: format!("https://spdx.org/spdxdocs/assay-{}", inv.uuid()),
        creation_info: CreationInfo {
            created: inv.created.clone(),
            creators: vec![format!("Tool: assay-{tool_version}")],
        },
        document_describes: vec![HOST_ID.to_owned()],
        packages,
        relationships,
        has_extracted_licensing_infos: references
            .into_named()
            .into_iter()
            .map(|(name, license_id)| ExtractedLicense {
                extracted_text: format!(
                    "The licence the packages' metadata names `{name}`, an identifier SPDX does not \
                     define; its text was not collected."
                ),
                license_id,
                name,
            })
            .collect(),
    }
}
