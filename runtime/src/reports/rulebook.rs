//! Reference pages for rules packages (`docs/rules/<package>.md`) and the
//! text of `assay explain RULE-ID`, both from a compiled bundle, which the
//! compiler built from the package sources.

use assay_model::bundle::{Content, RuleMeta};
use std::fmt::Write;

/// The Markdown page of package `index`.
pub fn package_page(content: &Content, index: usize) -> String {
    let Some(p) = content.packages.get(index) else { return String::new() };
    let mut out = String::new();
    let _ = writeln!(out, "# {} (`{}` {})\n", p.title, p.name, p.version);
    let _ = writeln!(out, "<!-- Generated from policies/{}/ by `ASSAY_UPDATE_DOCS=1 cargo test --test scan`; do not edit. -->\n", p.name);
    let _ = writeln!(out, "{}\n", p.description);
    let _ = writeln!(out, "Platforms: {}.\n", assay_model::platform::join(&p.platforms));
    let rules: Vec<&RuleMeta> = content.rules.iter().filter(|r| r.package as usize == index).collect();
    let _ = writeln!(out, "| rule | severity | title |\n| --- | --- | --- |");
    for r in &rules {
        let _ = writeln!(out, "| [`{}`](#{}) | {} | {} |", r.id, anchor(&r.id), r.severity, r.title);
    }
    for r in rules {
        let _ = writeln!(out, "\n## {}\n", r.id);
        out.push_str(&explain(content, r));
    }
    out
}

fn anchor(id: &str) -> String {
    id.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

/// What `assay explain RULE-ID` prints: the rule's documentation.
pub fn explain(content: &Content, r: &RuleMeta) -> String {
    let mut out = String::new();
    let package = content.packages.get(r.package as usize);
    let _ = writeln!(
        out,
        "**{}** · severity **{}** · package `{}`\n",
        r.title,
        r.severity,
        package.map(|p| p.name.as_str()).unwrap_or("")
    );
    if !r.doc.is_empty() {
        let _ = writeln!(out, "{}\n", r.doc.trim());
    }
    for (label, text) in [
        ("What is wrong", &r.description),
        ("Why it matters", &r.rationale),
        ("What to do", &r.recommendation),
    ] {
        if !text.is_empty() {
            let _ = writeln!(out, "- {label}: {text}");
        }
    }
    if !r.references.is_empty() {
        let _ = writeln!(out, "- References: {}", r.references.join("; "));
    }
    if !r.tags.is_empty() {
        let _ = writeln!(out, "- Tags: {}", r.tags.join(", "));
    }
    if !r.platforms.is_empty() {
        let _ = writeln!(out, "- Platforms: {}", assay_model::platform::join(&r.platforms));
    }
    out
}
