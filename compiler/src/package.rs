//! Reading sources from disk: `.assay` files and `package.yaml` manifests,
//! from files and folders named on the command line. The only IO in the
//! compiler crate; everything after it works on the [`SourceMap`].
//!
//! A folder holding a `package.yaml` is a rules package; every `.assay` file
//! below it belongs to it. Folders are walked in sorted order, hidden folders
//! and `target` are skipped, and symbolic links to folders are not followed,
//! so the walk always ends.

use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, SourceMap, Span};
use assay_model::Platform;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "package.yaml";
pub const EXTENSION: &str = "assay";

/// Platform names a manifest or a rule's `platform` clause may use.
pub fn platform_names() -> impl Iterator<Item = &'static str> {
    Platform::ALL.into_iter().map(Platform::as_str)
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    pub platforms: Vec<String>,
}

#[derive(Debug)]
pub struct Package {
    pub root: PathBuf,
    /// `None` when the manifest did not validate (a diagnostic says why).
    pub manifest: Option<Manifest>,
    pub manifest_file: FileId,
    pub files: Vec<FileId>,
}

/// Everything read from the paths given.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub packages: Vec<Package>,
    /// `.assay` files outside any package.
    pub loose_files: Vec<FileId>,
    /// The path each file was read from, indexed by its [`FileId`].
    paths: Vec<PathBuf>,
    /// Problems found while reading: non-UTF-8 sources, invalid manifests.
    pub diagnostics: Vec<Diagnostic>,
    /// Texts read instead of the files at these paths.
    overlay: BTreeMap<PathBuf, String>,
}

impl Loaded {
    /// Every `.assay` file, packages first, in a stable order.
    pub fn source_files(&self) -> Vec<FileId> {
        let mut files: Vec<FileId> = self.packages.iter().flat_map(|p| p.files.iter().copied()).collect();
        files.extend(&self.loose_files);
        files
    }

    pub fn path(&self, file: FileId) -> Option<&Path> {
        self.paths.get(file.0 as usize).map(PathBuf::as_path)
    }

    /// Sources held in memory, as if read from disk: `(path, text)` pairs
    /// and, for a package, its manifest. For tests, benchmarks and embedding.
    pub fn from_memory(manifest: Option<Manifest>, files: &[(&str, &str)]) -> Loaded {
        let mut loaded = Loaded::default();
        let mut ids = Vec::new();
        for (path, text) in files {
            let id = loaded.sources.add(*path, *text);
            loaded.paths.push(PathBuf::from(path));
            ids.push(id);
        }
        match manifest {
            Some(manifest) => {
                let manifest_file = loaded.sources.add("package.yaml", "");
                loaded.paths.push(PathBuf::from("package.yaml"));
                loaded.packages.push(Package {
                    root: PathBuf::new(),
                    manifest: Some(manifest),
                    manifest_file,
                    files: ids,
                })
            }
            None => loaded.loose_files = ids,
        }
        loaded
    }
}

/// A file or folder that could not be read: the command's input is wrong,
/// not the policy in it.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for LoadError {}

fn io_error(path: &Path, error: &std::io::Error) -> LoadError {
    let message = match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    };
    LoadError { path: path.to_path_buf(), message }
}

/// Reads every `.assay` file and manifest under `paths`. A single source
/// file is read with what it needs, as an editor checking one file expects:
/// inside a package (a `package.yaml` in its folder or above), the whole
/// package; otherwise the sibling files it imports.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    load_overlaid(paths, &BTreeMap::new())
}

/// [`load`], with the text of some files given (an editor's unsaved
/// buffers) rather than read: a given file under a package folder is part
/// of the package even before it is saved.
pub fn load_overlaid(paths: &[PathBuf], overlay: &BTreeMap<PathBuf, String>) -> Result<Loaded, LoadError> {
    let mut found: Vec<PathBuf> = Vec::new();
    for path in paths {
        let is_dir = match overlay.contains_key(path) {
            true => false,
            false => std::fs::metadata(path).map_err(|e| io_error(path, &e))?.is_dir(),
        };
        if is_dir {
            walk(path, &mut found, 0)?;
        } else {
            found.push(path.clone());
            if path.extension().is_some_and(|e| e == EXTENSION) {
                match enclosing_package(path) {
                    Some(root) => walk(&root, &mut found, 0)?,
                    None => imported_siblings(path, &mut found),
                }
            }
        }
    }
    // Unsaved files of the packages found.
    let roots: Vec<PathBuf> = found
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == MANIFEST))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    for path in overlay.keys() {
        if path.extension().is_some_and(|e| e == EXTENSION) && roots.iter().any(|r| path.starts_with(r)) {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();

    let mut loaded = Loaded { overlay: overlay.clone(), ..Loaded::default() };
    // Manifests first, so that each source can be put into its package.
    for path in found.iter().filter(|p| p.file_name().is_some_and(|n| n == MANIFEST)) {
        let file = loaded.read(path)?;
        let manifest = validate_manifest(&loaded.sources, file, &mut loaded.diagnostics);
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        loaded.packages.push(Package { root, manifest, manifest_file: file, files: Vec::new() });
    }
    for path in found.iter().filter(|p| p.file_name().is_none_or(|n| n != MANIFEST)) {
        let file = loaded.read(path)?;
        // The innermost package folder that contains the file owns it.
        let owner = loaded
            .packages
            .iter_mut()
            .filter(|p| path.starts_with(&p.root))
            .max_by_key(|p| p.root.components().count());
        match owner {
            Some(package) => package.files.push(file),
            None => loaded.loose_files.push(file),
        }
    }
    Ok(loaded)
}

const MAX_DEPTH: usize = 32;

/// How many folders above a source file are searched for its package.
const PACKAGE_SEARCH_DEPTH: usize = 4;

/// The folder of the package holding `file`: the nearest folder, from the
/// file's own upwards, with a `package.yaml`.
fn enclosing_package(file: &Path) -> Option<PathBuf> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.ancestors().take(PACKAGE_SEARCH_DEPTH).find(|d| d.join(MANIFEST).is_file()).map(Path::to_path_buf)
}

/// The sibling files a loose source file imports (`import common...` reads
/// `common.assay` next to it), and theirs, transitively. A file that cannot
/// be read here is left to the reader, which reports it.
fn imported_siblings(file: &Path, found: &mut Vec<PathBuf>) {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut pending = vec![file.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("import ") else { continue };
            let module: String =
                rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if module.is_empty() || module == "std" {
                continue;
            }
            let sibling = dir.join(format!("{module}.{EXTENSION}"));
            if sibling.is_file() && !found.contains(&sibling) {
                found.push(sibling.clone());
                pending.push(sibling);
            }
        }
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), LoadError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io_error(dir, &e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type().map_err(|e| io_error(&path, &e))?;
        if file_type.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&path, found, depth + 1)?;
            }
        } else if name == MANIFEST || path.extension().is_some_and(|e| e == EXTENSION) {
            found.push(path);
        }
    }
    Ok(())
}

impl Loaded {
    /// Reads a file into the source map. Bytes that are not UTF-8 become a
    /// diagnostic (E0001) at the first bad byte; the file is kept, lossily
    /// decoded, so the diagnostic can show it.
    fn read(&mut self, path: &Path) -> Result<FileId, LoadError> {
        let bytes = match self.overlay.get(path) {
            Some(text) => text.clone().into_bytes(),
            None => std::fs::read(path).map_err(|e| io_error(path, &e))?,
        };
        let (text, bad) = match String::from_utf8(bytes) {
            Ok(text) => (text, None),
            Err(error) => {
                let bad = (error.utf8_error().valid_up_to(), error.utf8_error().error_len().unwrap_or(1));
                (String::from_utf8_lossy(error.as_bytes()).into_owned(), Some(bad))
            }
        };
        let file = self.sources.add(path.display().to_string(), text);
        self.paths.push(path.to_path_buf());
        if let Some((offset, len)) = bad {
            self.diagnostics.push(not_utf8(file, offset, len));
        }
        Ok(file)
    }
}

/// The E0001 diagnostic for a file whose first invalid byte is at `offset`.
pub fn not_utf8(file: FileId, offset: usize, len: usize) -> Diagnostic {
    let span = Span::new(file, offset as u32, (offset + len.max(1)) as u32);
    Diagnostic::new(Code::E0001, "source file is not valid UTF-8")
        .primary(span, format!("invalid UTF-8 at byte {offset}"))
        .help("save the file as UTF-8 text")
}

/// E0201: a `package.yaml` that cannot be read or has an invalid field.
fn invalid_manifest(span: Span, message: String, label: String, help: String) -> Diagnostic {
    Diagnostic::new(Code::E0201, message).primary(span, label).help(help)
}

fn validate_manifest(
    sources: &SourceMap,
    file: FileId,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Manifest> {
    let source = sources.get(file)?;
    let text = source.text();
    let whole = Span::new(file, 0, text.len() as u32);
    let manifest: Manifest = match serde_yaml::from_str(text) {
        Ok(m) => m,
        Err(error) => {
            let span = error
                .location()
                .map(|loc| {
                    let at = loc.index().min(text.len()) as u32;
                    let end = text[at as usize..].find('\n').map_or(text.len(), |n| at as usize + n) as u32;
                    Span::new(file, at, end.max(at))
                })
                .unwrap_or(whole);
            let message = error.to_string();
            // serde_yaml appends " at line L column C"; the span says that.
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            diagnostics.push(invalid_manifest(
                span,
                format!("invalid package manifest: {message}"),
                "here".into(),
                "a manifest has `name`, `title`, `version`, `description` and `platforms`".into(),
            ));
            return None;
        }
    };
    let field_span = |key: &str| {
        text.lines()
            .scan(0usize, |offset, line| {
                let start = *offset;
                *offset += line.len() + 1;
                Some((start, line))
            })
            .find(|(_, line)| line.starts_with(&format!("{key}:")))
            .map_or(whole, |(start, line)| Span::new(file, start as u32, (start + line.len()) as u32))
    };
    let mut ok = true;
    let mut problem = |key: &str, message: String, help: String| {
        ok = false;
        diagnostics.push(invalid_manifest(field_span(key), message, format!("invalid `{key}`"), help));
    };
    let name_ok = !manifest.name.is_empty()
        && manifest.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !manifest.name.starts_with('-');
    if !name_ok {
        problem(
            "name",
            format!("package name `{}` is not valid", manifest.name),
            "use lowercase letters, digits and dashes, as in `security-best-practices`".to_string(),
        );
    }
    let version_ok = {
        let core = manifest.version.split(['-', '+']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    };
    if !version_ok {
        problem(
            "version",
            format!("package version `{}` is not a semantic version", manifest.version),
            "write MAJOR.MINOR.PATCH, as in `1.0.0`".to_string(),
        );
    }
    if manifest.platforms.is_empty() {
        problem("platforms", "a package must name at least one platform".to_string(), platforms_help());
    }
    for platform in &manifest.platforms {
        if Platform::parse(platform).is_none() {
            let mut help = platforms_help();
            if let Some(s) = did_you_mean(platform, platform_names()) {
                help = format!("did you mean `{s}`? {help}");
            }
            problem("platforms", format!("unknown platform `{platform}`"), help);
        }
    }
    ok.then_some(manifest)
}

fn platforms_help() -> String {
    format!("known platforms: {}", platform_names().collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> (Option<Manifest>, Vec<Diagnostic>) {
        let mut sources = SourceMap::new();
        let file = sources.add("package.yaml", yaml);
        let mut diagnostics = Vec::new();
        let m = validate_manifest(&sources, file, &mut diagnostics);
        (m, diagnostics)
    }

    #[test]
    fn a_valid_manifest_loads() {
        let (m, d) = check("name: sbp\ntitle: T\nversion: 1.2.3\ndescription: D\nplatforms: [linux]\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(m.map(|m| m.name), Some("sbp".to_string()));
    }

    #[test]
    fn bad_fields_are_reported_with_their_line() {
        let yaml = "name: Bad Name\ntitle: T\nversion: 1.2\ndescription: D\nplatforms: [linx]\n";
        let (m, d) = check(yaml);
        assert!(m.is_none());
        let lines: Vec<&str> = d.iter().map(|d| &yaml[d.primary_span().unwrap().range()]).collect();
        assert_eq!(lines, ["name: Bad Name", "version: 1.2", "platforms: [linx]"]);
        assert!(d[2].help.as_deref().unwrap().starts_with("did you mean `linux`?"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let (_, d) =
            check("name: a\ntitle: T\nversion: 1.0.0\ndescription: D\nplatforms: [linux]\nauthor: me\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("unknown field `author`"), "{}", d[0].message);
    }
}
