//! CycloneDX 1.6 JSON: the parts Assay writes, as typed serde structs
//! (field names as the specification's JSON schema spells them).

use super::license::{self, Term};
use super::Inventory;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    /// The host, as an operating system.
    component: Component,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

/// An item of a component's `licenses`: licences one by one, or a single
/// SPDX expression (the schema allows no mix).
#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: License },
    Expression { expression: String, acknowledgement: &'static str },
}

#[derive(Serialize)]
struct License {
    /// An SPDX licence id.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// A licence SPDX has no id for, or an expression beside such one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    acknowledgement: &'static str,
}

/// The package's metadata states them: `declared`, not concluded.
const DECLARED: &str = "declared";

/// A package's licences: one SPDX expression when all it states are SPDX,
/// else each on its own, by id where it is one licence id.
fn licenses(terms: &[Term]) -> Vec<LicenseChoice> {
    let one = |id: Option<&str>, name: Option<&str>| LicenseChoice::License {
        license: License {
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            acknowledgement: DECLARED,
        },
    };
    match terms {
        [] => Vec::new(),
        [Term::Spdx { expression, single: true }] => vec![one(Some(expression), None)],
        _ if terms.iter().all(|t| matches!(t, Term::Spdx { .. })) => {
            let expression = license::declared(terms, &mut Default::default()).unwrap_or_default();
            vec![LicenseChoice::Expression { expression, acknowledgement: DECLARED }]
        }
        _ => terms
            .iter()
            .map(|t| match t {
                Term::Spdx { expression, single: true } => one(Some(expression), None),
                Term::Spdx { expression, single: false } => one(None, Some(expression)),
                Term::Named(name) => one(None, Some(name)),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

const HOST_REF: &str = "host";

/// The inventory as a CycloneDX 1.6 BOM.
pub(super) fn cyclonedx(inv: &Inventory<'_>, tool_version: &str) -> Bom {
    let mut host_props = vec![
        Property { name: "assay:hostname", value: inv.hostname.to_owned() },
        Property { name: "assay:machine-id-sha256", value: inv.machine_id_sha256.clone() },
    ];
    host_props.sort_by(|a, b| a.name.cmp(b.name));
    let host = Component {
        kind: "operating-system",
        bom_ref: Some(HOST_REF.to_owned()),
        name: inv.os_id.clone(),
        version: inv.os_version.map(str::to_owned),
        description: inv.os_name.map(str::to_owned),
        purl: None,
        licenses: Vec::new(),
        properties: host_props,
    };
    let components: Vec<Component> = inv
        .components
        .iter()
        .map(|c| {
            let p = c.package;
            let mut properties = vec![
                Property { name: "assay:ecosystem", value: p.ecosystem.as_str().to_owned() },
                Property { name: "assay:origin", value: p.origin.clone() },
            ];
            if let Some(source) = &p.source_name {
                properties.push(Property { name: "assay:source-package", value: source.clone() });
            }
            if let Some(v) = &p.source_version {
                properties.push(Property { name: "assay:source-version", value: v.0.clone() });
            }
            Component {
                kind: "library",
                bom_ref: Some(c.purl.clone()),
                name: p.name.clone(),
                version: Some(p.version.0.clone()),
                description: None,
                purl: Some(c.purl.clone()),
                licenses: licenses(&license::terms(p)),
                properties,
            }
        })
        .collect();
    let dependencies = vec![Dependency {
        reference: HOST_REF.to_owned(),
        depends_on: inv.components.iter().map(|c| c.purl.clone()).collect(),
    }];
    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", inv.uuid()),
        version: 1,
        metadata: Metadata {
            timestamp: inv.created.clone(),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    bom_ref: None,
                    name: "assay".to_owned(),
                    version: Some(tool_version.to_owned()),
                    description: None,
                    purl: None,
                    licenses: Vec::new(),
                    properties: Vec::new(),
                }],
            },
            component: host,
        },
        components,
        dependencies,
    }
}
