//! The rules packages this server evaluates, as the API documents them,
//! and which of them leave a host out for its platform.

use super::auth::Caller;
use super::{App, Result};
use assay_api::admin::{PackageView, Packages, RuleDoc};
use assay_api::Role;

/// Why `packages` would not assess a host with `os` (an os-release ID
/// such as `debian`): one reason per package whose platforms leave it out.
/// A host that reported no OS is left out of none.
pub(crate) fn unsupported(app: &App, packages: &[String], os: &str) -> Vec<String> {
    if os.is_empty() {
        return Vec::new();
    }
    app.bundle
        .content
        .packages
        .iter()
        .filter(|p| packages.contains(&p.name))
        .filter(|p| !p.platforms.is_empty() && !p.platforms.iter().any(|pl| pl.includes(os)))
        .map(|p| {
            let names: Vec<&str> = p.platforms.iter().map(|pl| pl.as_str()).collect();
            format!("package {} is for {}, not {os}", p.name, names.join(", "))
        })
        .collect()
}

/// The title of rule `id`, if this server has it.
pub(crate) fn title(app: &App, id: &str) -> Option<String> {
    app.bundle.content.rules.iter().find(|r| r.id == id).map(|r| r.title.clone())
}

/// `GET /v1/packages`: every package with its rules' documentation.
pub(crate) fn list(app: &App, caller: &Caller) -> Result<Packages> {
    caller.require(Role::ReadOnly)?;
    let content = &app.bundle.content;
    let items = content
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| PackageView {
            name: p.name.clone(),
            title: p.title.clone(),
            version: p.version.clone(),
            description: p.description.clone(),
            platforms: p.platforms.iter().map(|pl| pl.as_str().to_owned()).collect(),
            rules: content
                .rules
                .iter()
                .filter(|r| r.package as usize == i)
                .map(|r| RuleDoc {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    severity: r.severity,
                    doc: r.doc.clone(),
                    description: r.description.clone(),
                    rationale: r.rationale.clone(),
                    recommendation: r.recommendation.clone(),
                    references: r.references.clone(),
                    tags: r.tags.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Packages { items, bundle_digest: app.bundle.digest.clone() })
}
