//! The Assay policy compiler.
//!
//! Pipeline (see ARCHITECTURE.md): source text → [`syntax::parse`] → AST
//! ([`syntax::ast::Module`]) → [`check::analyze`] (names, types, lints) →
//! typed program ([`check::hir::Program`]) → [`codegen::generate`] →
//! bundle content, encoded by `assay_model::bundle`. [`format`] lays out
//! source canonically.
//!
//! The crate does no IO except in [`package`], which reads a package folder
//! from disk into a [`source::SourceMap`].

pub mod check;
pub mod codegen;
pub mod diagnostics;
pub mod format;
pub mod package;
pub mod source;
pub mod syntax;

pub use diagnostics::{Code, Diagnostic};
pub use source::{FileId, SourceMap, Span};

use std::path::Path;

/// What the front end made of everything loaded.
pub struct Compiled {
    /// The checked program; `None` when there were errors.
    pub program: Option<check::hir::Program>,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses, resolves and type-checks everything `loaded` holds: `assay check`.
pub fn check(loaded: &package::Loaded) -> Vec<Diagnostic> {
    compile(loaded).diagnostics
}

/// Parses and checks `loaded`. Packages with syntax errors are not checked
/// further, so one mistake is not reported again as missing names.
pub fn compile(loaded: &package::Loaded) -> Compiled {
    let mut all = loaded.diagnostics.clone();
    let mut parsed: Vec<(FileId, syntax::ast::Module, bool)> = Vec::new();
    for file in loaded.source_files() {
        let Some(source) = loaded.sources.get(file) else { continue };
        // A file that is not UTF-8 already has its diagnostic and nothing else
        // worth saying.
        if loaded
            .diagnostics
            .iter()
            .any(|d| d.code == Code::E0001 && d.primary_span().is_some_and(|s| s.file == file))
        {
            parsed.push((
                file,
                syntax::ast::Module { docs: vec![], items: vec![], span: Span::default() },
                false,
            ));
            continue;
        }
        let result = syntax::parse(file, source.text());
        let clean = !result.has_errors();
        all.extend(result.diagnostics);
        parsed.push((file, result.module, clean));
    }
    let mut units = Vec::new();
    let mut blocked = false;
    for package in &loaded.packages {
        match &package.manifest {
            Some(m) => {
                blocked |= !add_unit(loaded, &parsed, m.name.clone(), Some(m), &package.files, &mut units)
            }
            None => blocked = true,
        }
    }
    // Loose files of one folder are one unit, so they can import each
    // other; a lone file is named after itself, a folder's files after it.
    let mut by_folder: std::collections::BTreeMap<&Path, Vec<FileId>> = std::collections::BTreeMap::new();
    for &file in &loaded.loose_files {
        let folder = loaded.path(file).and_then(Path::parent).unwrap_or(Path::new(""));
        by_folder.entry(folder).or_default().push(file);
    }
    for (folder, files) in by_folder {
        let name = match (files.as_slice(), folder.file_name()) {
            ([file], _) => stem(loaded, *file),
            (_, Some(name)) => name.to_string_lossy().into_owned(),
            (_, None) => "policies".to_owned(),
        };
        blocked |= !add_unit(loaded, &parsed, name, None, &files, &mut units);
    }
    let analysis = check::analyze(&loaded.sources, units);
    all.extend(analysis.diagnostics);
    diagnostics::sort(&mut all);
    let failed = blocked || all.iter().any(Diagnostic::is_error);
    Compiled { program: (!failed).then_some(analysis.program), diagnostics: all }
}

/// A compiled bundle.
pub struct Built {
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of the bundle.
    pub digest: String,
    /// Warnings (a bundle is only built without errors).
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles everything `loaded` holds into one bundle, or returns the
/// diagnostics that prevent it. The bytes depend only on the sources: not on
/// the order of paths, the working directory, the machine or the time.
pub fn build(loaded: &package::Loaded) -> Result<Built, Vec<Diagnostic>> {
    let compiled = compile(loaded);
    let Some(program) = compiled.program else { return Err(compiled.diagnostics) };
    let location = |span: Span| {
        let line = loaded.sources.get(span.file).map(|f| f.line_col(span.start).0).unwrap_or(0);
        let path = loaded.path(span.file).map(Path::to_path_buf).unwrap_or_default();
        let shown = loaded
            .packages
            .iter()
            .find(|p| p.files.contains(&span.file))
            .and_then(|p| {
                let name = p.manifest.as_ref()?.name.clone();
                let rel = path.strip_prefix(&p.root).ok()?;
                Some(format!("{name}/{}", rel.to_string_lossy().replace('\\', "/")))
            })
            .unwrap_or_else(|| {
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            });
        format!("{shown}:{line}")
    };
    let content = codegen::generate(&program, &loaded.sources, &location);
    let bytes = match assay_model::bundle::encode(&content) {
        Ok(b) => b,
        Err(e) => return Err(vec![Diagnostic::new(Code::E0901, e.to_string())]),
    };
    let digest = assay_model::bundle::digest_hex(&bytes);
    Ok(Built { bytes, digest, diagnostics: compiled.diagnostics })
}

fn stem(loaded: &package::Loaded, file: FileId) -> String {
    loaded
        .path(file)
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".into())
}

/// Adds a unit when every file of it parsed cleanly; false otherwise.
fn add_unit<'a>(
    loaded: &package::Loaded,
    parsed: &'a [(FileId, syntax::ast::Module, bool)],
    name: String,
    manifest: Option<&'a package::Manifest>,
    files: &[FileId],
    units: &mut Vec<check::Unit<'a>>,
) -> bool {
    let mut modules = Vec::new();
    for &file in files {
        match parsed.iter().find(|(f, _, _)| *f == file) {
            Some((_, ast, true)) => modules.push(check::ModuleSource { name: stem(loaded, file), file, ast }),
            _ => return false,
        }
    }
    units.push(check::Unit { name, manifest, modules });
    true
}
