//! The Assay policy compiler.
//!
//! Pipeline (see ARCHITECTURE.md): source text → [`syntax::parse`] → AST
//! ([`syntax::ast::Module`]) → [`format`] for canonical layout. Name
//! resolution, type checking and code generation are planned stages.
//!
//! The crate does no IO except in [`package`], which reads a package folder
//! from disk into a [`source::SourceMap`].

pub mod diagnostics;
pub mod format;
pub mod package;
pub mod source;
pub mod syntax;

pub use diagnostics::{Code, Diagnostic};
pub use source::{FileId, SourceMap, Span};

/// Runs the front end over everything `loaded` holds and returns every
/// diagnostic, sorted by file and position. This is `assay check`.
pub fn check(loaded: &package::Loaded) -> Vec<Diagnostic> {
    let mut all = loaded.diagnostics.clone();
    for file in loaded.source_files() {
        let Some(source) = loaded.sources.get(file) else { continue };
        // A file that is not UTF-8 already has its diagnostic and nothing else
        // worth saying.
        if loaded
            .diagnostics
            .iter()
            .any(|d| d.code == Code::E0001 && d.primary_span().is_some_and(|s| s.file == file))
        {
            continue;
        }
        all.extend(syntax::parse(file, source.text()).diagnostics);
    }
    diagnostics::sort(&mut all);
    all
}
