//! VEX (`--vex FILE`): statements that a vulnerability does or does not
//! affect a product, read from OpenVEX 0.2 JSON or CycloneDX VEX (a BOM's
//! `vulnerabilities` with an `analysis`), applied to CVE findings. A
//! finding a `not_affected` or `fixed` statement covers is kept, marked
//! suppressed with the statement's justification; `affected` and
//! `under_investigation` leave it as it is. The matching rules
//! (docs/vulnerabilities.md):
//!
//! - the vulnerability: the statement names the finding's advisory id or
//!   one of its CVE ids (case does not matter);
//! - the product: a Package URL of the same type, namespace and name as
//!   the installed package's; a statement PURL without a version matches
//!   every version, with one only that version; its qualifiers must each
//!   equal the package's (a qualifier the statement leaves out matches
//!   any);
//! - of several statements for one vulnerability and product, the newest
//!   wins (the statement's timestamp, else its document's; one with
//!   neither is the oldest; a later file or a later statement wins a tie).

use crate::findings::{Finding, Report, Suppressed};
use assay_model::telemetry::Vulnerability;
use serde::Deserialize;
use std::collections::HashMap;

/// The most statements read from one document: a VEX file is input too.
pub const MAX_STATEMENTS: usize = 100_000;

/// What a statement says of a vulnerability and product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    fn parse_openvex(s: &str) -> Option<Status> {
        Some(match s {
            "not_affected" => Status::NotAffected,
            "affected" => Status::Affected,
            "fixed" => Status::Fixed,
            "under_investigation" => Status::UnderInvestigation,
            _ => return None,
        })
    }

    /// CycloneDX's `analysis.state`.
    fn parse_cyclonedx(s: &str) -> Option<Status> {
        Some(match s {
            "not_affected" | "false_positive" => Status::NotAffected,
            "exploitable" => Status::Affected,
            "resolved" | "resolved_with_pedigree" => Status::Fixed,
            "in_triage" => Status::UnderInvestigation,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
        }
    }

    fn suppresses(self) -> bool {
        matches!(self, Status::NotAffected | Status::Fixed)
    }
}

/// One statement about one vulnerability and one product.
#[derive(Clone, Debug)]
pub struct Statement {
    /// Upper case: `CVE-2024-5535`.
    pub vulnerability: String,
    pub product: String,
    pub status: Status,
    /// The justification and the impact statement or detail, as given.
    pub justification: String,
    /// RFC 3339, as given; compared as text (RFC 3339 in UTC sorts).
    pub timestamp: String,
    /// `vex.json#3`: the document and the statement's position, and author.
    pub source: String,
}

#[derive(Deserialize)]
struct OpenVex {
    #[serde(rename = "@context")]
    context: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    statements: Vec<OpenVexStatement>,
}

#[derive(Deserialize)]
struct OpenVexStatement {
    vulnerability: OpenVexVulnerability,
    #[serde(default)]
    products: Vec<OpenVexProduct>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    status_notes: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// `{"name": "CVE-..."}` (0.2), or a bare id (0.0.x).
#[derive(Deserialize)]
#[serde(untagged)]
enum OpenVexVulnerability {
    Named {
        name: String,
        #[serde(default)]
        aliases: Vec<String>,
    },
    Id(String),
}

/// `{"@id": "pkg:..."}`, or a bare PURL.
#[derive(Deserialize)]
#[serde(untagged)]
enum OpenVexProduct {
    Object {
        #[serde(rename = "@id")]
        id: String,
    },
    Id(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CdxVex {
    #[serde(default)]
    metadata: Option<CdxMetadata>,
    #[serde(default)]
    components: Vec<CdxComponent>,
    #[serde(default)]
    vulnerabilities: Vec<CdxVulnerability>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(rename = "bom-ref", default)]
    bom_ref: Option<String>,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct CdxVulnerability {
    id: String,
    #[serde(default)]
    analysis: Option<CdxAnalysis>,
    #[serde(default)]
    affects: Vec<CdxAffects>,
    #[serde(default)]
    updated: Option<String>,
}

#[derive(Deserialize)]
struct CdxAnalysis {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct CdxAffects {
    #[serde(rename = "ref")]
    reference: String,
}

/// The statements of one VEX document (`name`: its file, for sources).
pub fn read(bytes: &[u8], name: &str) -> Result<Vec<Statement>, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON VEX document: {e}"))?;
    if doc.get("@context").is_some() {
        let vex: OpenVex = serde_json::from_value(doc).map_err(|e| format!("OpenVEX: {e}"))?;
        if !vex.context.starts_with("https://openvex.dev/ns") {
            return Err(format!(
                "`@context` is `{}`, not OpenVEX's (https://openvex.dev/ns/v0.2.0)",
                vex.context
            ));
        }
        if vex.statements.len() > MAX_STATEMENTS {
            return Err(format!("more than {MAX_STATEMENTS} statements"));
        }
        let mut out = Vec::new();
        for (i, s) in vex.statements.into_iter().enumerate() {
            let at = format!(
                "{name}#{} (statement {}, by {})",
                i + 1,
                i + 1,
                if vex.author.is_empty() { "no author" } else { &vex.author }
            );
            let status = Status::parse_openvex(&s.status)
                .ok_or_else(|| format!("statement {}: `{}` is not an OpenVEX status", i + 1, s.status))?;
            let names = match s.vulnerability {
                OpenVexVulnerability::Named { name, aliases } => {
                    std::iter::once(name).chain(aliases).collect()
                }
                OpenVexVulnerability::Id(id) => vec![id],
            };
            let justification = [s.justification, s.impact_statement, s.status_notes]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let timestamp = s.timestamp.unwrap_or_else(|| vex.timestamp.clone());
            for product in s.products {
                let product = match product {
                    OpenVexProduct::Object { id } | OpenVexProduct::Id(id) => id,
                };
                for v in &names {
                    out.push(Statement {
                        vulnerability: v.to_ascii_uppercase(),
                        product: product.clone(),
                        status,
                        justification: justification.clone(),
                        timestamp: timestamp.clone(),
                        source: at.clone(),
                    });
                }
            }
        }
        return Ok(out);
    }
    if doc.get("bomFormat").and_then(|f| f.as_str()) == Some("CycloneDX") {
        let vex: CdxVex = serde_json::from_value(doc).map_err(|e| format!("CycloneDX VEX: {e}"))?;
        if vex.vulnerabilities.len() > MAX_STATEMENTS {
            return Err(format!("more than {MAX_STATEMENTS} vulnerabilities"));
        }
        // `affects` names components by bom-ref; a PURL stands for itself.
        let purls: HashMap<String, String> =
            vex.components.iter().filter_map(|c| Some((c.bom_ref.clone()?, c.purl.clone()?))).collect();
        let document_time = vex.metadata.and_then(|m| m.timestamp).unwrap_or_default();
        let mut out = Vec::new();
        for (i, v) in vex.vulnerabilities.into_iter().enumerate() {
            let Some(analysis) = v.analysis else { continue };
            let Some(state) = analysis.state else { continue };
            let status = Status::parse_cyclonedx(&state).ok_or_else(|| {
                format!("vulnerability {}: `{state}` is not a CycloneDX analysis state", i + 1)
            })?;
            let justification = [analysis.justification, analysis.detail]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            for a in v.affects {
                let product = purls.get(&a.reference).cloned().unwrap_or(a.reference);
                out.push(Statement {
                    vulnerability: v.id.to_ascii_uppercase(),
                    product,
                    status,
                    justification: justification.clone(),
                    timestamp: v.updated.clone().unwrap_or_else(|| document_time.clone()),
                    source: format!("{name}#{} (vulnerability {})", i + 1, i + 1),
                });
            }
        }
        return Ok(out);
    }
    Err("neither an OpenVEX document (`@context`) nor a CycloneDX VEX (`bomFormat`)".to_owned())
}

/// Marks the CVE findings of `report` that a statement suppresses, using
/// the host's vulnerabilities (each finding names one by its id) and
/// `purl_of`, the Package URL of an installed package. Statements later in
/// `statements` win ties. Returns how many findings were suppressed.
pub fn apply(
    report: &mut Report,
    vulnerabilities: &[Vulnerability],
    statements: &[Statement],
    purl_of: &dyn Fn(&Vulnerability) -> Option<String>,
) -> usize {
    let by_id: HashMap<&str, &Vulnerability> = vulnerabilities.iter().map(|v| (v.id.as_str(), v)).collect();
    // The statements about each vulnerability, by position: a host's
    // findings look up theirs rather than scan every statement (a fleet's
    // set may hold thousands).
    let mut about: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in statements.iter().enumerate() {
        about.entry(s.vulnerability.as_str()).or_default().push(i);
    }
    let mut suppressed = 0;
    for f in &mut report.findings {
        let Some(v) = vulnerability_of(f).and_then(|id| by_id.get(id.as_str())) else { continue };
        let mut candidates: Vec<usize> = std::iter::once(&v.advisory_id)
            .chain(&v.cves)
            .filter_map(|n| about.get(n.to_ascii_uppercase().as_str()))
            .flatten()
            .copied()
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let Some(purl) = purl_of(v) else { continue };
        // In document order, so that of two equally new statements the
        // later wins.
        candidates.sort_unstable();
        candidates.dedup();
        // The newest applicable statement; on a tie, the later one.
        let newest = candidates
            .into_iter()
            .map(|i| &statements[i])
            .filter(|s| crate::sbom::purl_matches(&s.product, &purl))
            .fold(None::<&Statement>, |best, s| match best {
                Some(b) if b.timestamp > s.timestamp => Some(b),
                _ => Some(s),
            });
        if let Some(s) = newest.filter(|s| s.status.suppresses()) {
            f.suppressed = Some(Suppressed {
                status: s.status.as_str().to_owned(),
                justification: s.justification.clone(),
                source: s.source.clone(),
            });
            suppressed += 1;
        }
    }
    suppressed
}

/// The id of the host's vulnerability a CVE finding is about
/// (`Vulnerability::id`, as its evidence names it), if it is one.
pub fn vulnerability_of(f: &Finding) -> Option<String> {
    f.evidence.iter().find_map(|e| match assay_model::evidence::parse(&e.path).1 {
        Some(("vulnerability", id)) => Some(id),
        _ => None,
    })
}

/// The Package URL of a vulnerability's installed package on the host of
/// `telemetry`, as `assay sbom` writes it (an SBOM's components keep the
/// PURL they came with).
fn installed_purl<'t>(
    telemetry: &'t assay_model::telemetry::Telemetry,
) -> impl Fn(&Vulnerability) -> Option<String> + 't {
    let packages = telemetry.packages.as_deref().unwrap_or_default();
    let (os_id, os_version) = crate::sbom::host_os(telemetry);
    move |v: &Vulnerability| {
        let p = packages.iter().find(|p| {
            p.name == v.package && p.version == v.installed_version && p.ecosystem == v.ecosystem
        })?;
        if let Some((_, purl)) = p.origin.split_once(": ").filter(|(_, purl)| purl.starts_with("pkg:")) {
            return Some(purl.to_owned());
        }
        crate::sbom::purl(p, &os_id, os_version)
    }
}

/// [`apply`] over a host's telemetry.
pub fn suppress(
    report: &mut Report,
    telemetry: &assay_model::telemetry::Telemetry,
    statements: &[Statement],
) -> usize {
    let Some(vulnerabilities) = &telemetry.vulnerabilities else { return 0 };
    apply(report, vulnerabilities, statements, &installed_purl(telemetry))
}

/// An OpenVEX 0.2 document with a `not_affected` statement for each CVE
/// finding of `report` a waiver accepts: the advisory (its CVEs as
/// aliases) and the installed package's Package URL, the waiver's owner,
/// justification, expiry and entry as the impact statement. So an
/// exception made in Assay travels to tools that read VEX (and back:
/// `--vex` of this document suppresses the same findings). Statements are
/// sorted and the document's id is its content's digest, so the same
/// waivers over the same host give the same document but for `timestamp`.
pub fn export_openvex(
    report: &Report,
    telemetry: &assay_model::telemetry::Telemetry,
    author: &str,
    timestamp: &str,
) -> serde_json::Value {
    use serde_json::json;
    let vulnerabilities = telemetry.vulnerabilities.as_deref().unwrap_or_default();
    let by_id: HashMap<&str, &Vulnerability> = vulnerabilities.iter().map(|v| (v.id.as_str(), v)).collect();
    let purl_of = installed_purl(telemetry);
    let mut statements: Vec<(String, String, serde_json::Value)> = Vec::new();
    for f in &report.findings {
        let Some(w) = &f.waived else { continue };
        let Some(v) = vulnerability_of(f).and_then(|id| by_id.get(id.as_str()).copied()) else { continue };
        let Some(purl) = purl_of(v) else { continue };
        let statement = json!({
            "vulnerability": { "name": v.advisory_id, "aliases": v.cves },
            "products": [{ "@id": purl }],
            "status": "not_affected",
            "impact_statement": format!(
                "Accepted by {} until {}: {} ({})", w.owner, w.expires, w.justification, w.source
            ),
        });
        statements.push((v.advisory_id.clone(), purl, statement));
    }
    statements.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    statements.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    let statements: Vec<serde_json::Value> = statements.into_iter().map(|(_, _, s)| s).collect();
    let digest = {
        use sha2::Digest;
        let body = serde_json::to_vec(&statements).unwrap_or_default();
        assay_model::hex::encode(&sha2::Sha256::digest(&body))
    };
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("urn:sha256:{digest}"),
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "tooling": "assay",
        "statements": statements,
    })
}

#[cfg(test)]
mod tests;
