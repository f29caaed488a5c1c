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
    let (program, diagnostics, failed) = analyze_all(loaded);
    Compiled { program: (!failed).then_some(program), diagnostics }
}

/// What an editor needs: every diagnostic, and the program as far as it
/// was checked, errors or not (an expression that did not check has the
/// error type), for hover, completion and navigation.
pub fn compile_for_editor(loaded: &package::Loaded) -> (check::hir::Program, Vec<Diagnostic>) {
    let (program, diagnostics, _) = analyze_all(loaded);
    (program, diagnostics)
}

/// The checked program, every diagnostic, and whether it failed.
fn analyze_all(loaded: &package::Loaded) -> (check::hir::Program, Vec<Diagnostic>, bool) {
    let mut all = loaded.diagnostics.clone();
    let mut parsed: Vec<(FileId, syntax::ast::Module, bool)> = Vec::new();
    // The parts of files that a syntax error made unreliable to check.
    let mut broken: Vec<Span> = Vec::new();
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
        for d in result.diagnostics.iter().filter(|d| d.is_error()) {
            if let Some(at) = d.primary_span() {
                broken.push(broken_region(&result.module, file, at.start, source.text().len() as u32));
            }
        }
        all.extend(result.diagnostics);
        parsed.push((file, result.module, clean));
    }
    let mut units = Vec::new();
    let mut blocked = loaded.packages.iter().any(|p| p.manifest.is_none());
    for group in groups(loaded) {
        blocked |= !add_unit(loaded, &parsed, group.name, group.manifest, &group.files, &mut units);
    }
    // The parser recovers per declaration, so the declarations that did
    // parse are checked too: a syntax error in one rule does not hide the
    // type errors of the others. What the broken declarations defined is
    // missing, so "unknown" and "unused" diagnostics are not trusted then.
    let any_broken = parsed.iter().any(|(_, _, clean)| !clean);
    let analysis = check::analyze(&loaded.sources, units);
    all.extend(analysis.diagnostics.into_iter().filter(|d| {
        let in_broken = d.primary_span().is_some_and(|s| {
            broken.iter().any(|b| b.file == s.file && b.start <= s.start && s.start < b.end)
        });
        let unreliable = any_broken && after_syntax_error_unreliable(d.code);
        !(in_broken || unreliable)
    }));
    diagnostics::sort(&mut all);
    let failed = blocked || all.iter().any(Diagnostic::is_error);
    (analysis.program, all, failed)
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

/// The files of one package as the compiler names it: a folder with a
/// manifest, or loose files (those of one folder are one package, so they
/// can import each other; a lone file is named after itself, a folder's
/// files after it).
struct Group<'a> {
    name: String,
    manifest: Option<&'a package::Manifest>,
    /// The folder that paths inside the package are relative to.
    root: &'a Path,
    files: Vec<FileId>,
    /// The manifest's file, for a package folder.
    manifest_file: Option<FileId>,
}

/// Every package `loaded` holds, as [`compile`] names them; a package
/// whose manifest did not validate is left out (its diagnostic says why).
fn groups(loaded: &package::Loaded) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = loaded
        .packages
        .iter()
        .filter_map(|p| {
            let m = p.manifest.as_ref()?;
            Some(Group {
                name: m.name.clone(),
                manifest: Some(m),
                root: &p.root,
                files: p.files.clone(),
                manifest_file: Some(p.manifest_file),
            })
        })
        .collect();
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
        groups.push(Group { name, manifest: None, root: folder, files, manifest_file: None });
    }
    groups
}

/// The source files of one package, as a signature covers them.
pub struct PackageSources {
    /// The package's name, as its bundle names it.
    pub name: String,
    /// `(path inside the package, text)`: the manifest (`package.yaml`)
    /// and every `.assay` file, paths with `/`, sorted.
    pub files: Vec<(String, String)>,
}

/// The sources of every package `loaded` holds, by package name.
pub fn package_sources(loaded: &package::Loaded) -> Vec<PackageSources> {
    let mut all: Vec<PackageSources> = groups(loaded)
        .into_iter()
        .map(|g| {
            let mut files: Vec<(String, String)> = g
                .manifest_file
                .into_iter()
                .chain(g.files.iter().copied())
                .filter_map(|id| {
                    let text = loaded.sources.get(id)?.text().to_owned();
                    let path = loaded.path(id)?;
                    let rel = path.strip_prefix(g.root).unwrap_or(path);
                    Some((rel.to_string_lossy().replace('\\', "/"), text))
                })
                .collect();
            files.sort();
            PackageSources { name: g.name, files }
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

fn stem(loaded: &package::Loaded, file: FileId) -> String {
    loaded
        .path(file)
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".into())
}

/// Adds a unit when every file of it parsed cleanly; false otherwise.
/// The declaration a syntax error at `at` is in: from the start of the
/// last declaration that starts before it to the start of the next one
/// (what recovery made of that declaration is not checked).
fn broken_region(module: &syntax::ast::Module, file: FileId, at: u32, len: u32) -> Span {
    let starts: Vec<u32> = module.items.iter().map(|i| i.span().start).collect();
    let start = starts.iter().copied().filter(|s| *s <= at).max().unwrap_or(0);
    let end = starts.iter().copied().filter(|s| *s > at).min().unwrap_or(len.max(at + 1));
    Span { file, start, end }
}

/// Diagnostics that a declaration lost to a syntax error can cause:
/// references to what it defined, and uses it made.
fn after_syntax_error_unreliable(code: Code) -> bool {
    matches!(code, Code::E0301 | Code::E0303 | Code::E0304 | Code::W0101 | Code::W0102 | Code::W0103)
}

/// Adds the unit of `files`; `false` when one of them does not parse (its
/// declarations that did are still added, to be checked).
fn add_unit<'a>(
    loaded: &package::Loaded,
    parsed: &'a [(FileId, syntax::ast::Module, bool)],
    name: String,
    manifest: Option<&'a package::Manifest>,
    files: &[FileId],
    units: &mut Vec<check::Unit<'a>>,
) -> bool {
    let mut modules = Vec::new();
    let mut clean = true;
    for &file in files {
        match parsed.iter().find(|(f, _, _)| *f == file) {
            Some((_, ast, parsed_cleanly)) => {
                clean &= *parsed_cleanly;
                modules.push(check::ModuleSource { name: stem(loaded, file), file, ast });
            }
            None => return false,
        }
    }
    units.push(check::Unit { name, manifest, modules });
    clean
}
