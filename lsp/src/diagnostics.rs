//! The compiler's diagnostics as the protocol's: one per diagnostic, at its
//! primary span, with its code, its help and notes in the message, and its
//! other labels as related information. The rendering for the terminal
//! (`assay check`) and this one read the same data.

use crate::analysis::Analysis;
use crate::text::Lines;
use assay_compiler::diagnostics::Level;
use lsp_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString,
    Url,
};
use std::collections::BTreeMap;

/// Every file the analysis read, each with its diagnostics (none clears
/// what the editor shows). With `explanations` (the address of
/// docs/diagnostics.md), each code links to its section there.
pub(crate) fn by_file(analysis: &Analysis, explanations: Option<&Url>) -> BTreeMap<Url, Vec<Diagnostic>> {
    let mut out: BTreeMap<Url, Vec<Diagnostic>> = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (file, path) in analysis.paths() {
        if let Ok(url) = Url::from_file_path(path) {
            out.entry(url).or_default();
            lines.insert(file, Lines::new(analysis.text(file)));
        }
    }
    let location = |span: assay_compiler::Span| -> Option<(Url, lsp_types::Range)> {
        let url = Url::from_file_path(analysis.loaded.path(span.file)?).ok()?;
        let range = lines.get(&span.file)?.range(span.start as usize, span.end as usize);
        Some((url, range))
    };
    for d in &analysis.diagnostics {
        let Some((url, range)) = d.primary_span().and_then(location) else { continue };
        let mut message = d.message.clone();
        if let Some(label) = d.labels.iter().find(|l| l.primary && !l.message.is_empty()) {
            message = format!("{message}\n{}", label.message);
        }
        if let Some(help) = &d.help {
            message = format!("{message}\nhelp: {help}");
        }
        for note in &d.notes {
            message = format!("{message}\nnote: {note}");
        }
        let related: Vec<DiagnosticRelatedInformation> = d
            .labels
            .iter()
            .filter(|l| !l.primary)
            .filter_map(|l| {
                let (uri, range) = location(l.span)?;
                Some(DiagnosticRelatedInformation {
                    location: Location { uri, range },
                    message: l.message.clone(),
                })
            })
            .collect();
        let unused = d.code.title().starts_with("unused");
        let code_description = explanations.map(|page| {
            let mut href = page.clone();
            href.set_fragment(Some(&d.code.anchor()));
            lsp_types::CodeDescription { href }
        });
        out.entry(url).or_default().push(Diagnostic {
            range,
            severity: Some(match d.level {
                Level::Error => DiagnosticSeverity::ERROR,
                Level::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(d.code.as_str().to_owned())),
            code_description,
            source: Some("assay".to_owned()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            tags: unused.then(|| vec![DiagnosticTag::UNNECESSARY]),
            ..Diagnostic::default()
        });
    }
    out
}
