//! One package as the editor sees it: read as `assay check FILE` reads it
//! (the whole package of a file inside one, or a loose file with the
//! siblings it imports), with the open documents' unsaved text in place of
//! the files, and checked by the compiler's own stages.

use assay_compiler::check::hir::Program;
use assay_compiler::package::{self, Loaded};
use assay_compiler::syntax::{self, ast};
use assay_compiler::{Diagnostic, FileId};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) struct Analysis {
    pub loaded: Loaded,
    /// The program as far as it checked, errors or not.
    pub program: Program,
    pub diagnostics: Vec<Diagnostic>,
    /// Each source file's syntax tree (the declarations that parsed),
    /// parsed when first asked for: diagnostics and completion need none.
    modules: std::cell::OnceCell<BTreeMap<FileId, ast::Module>>,
}

impl Analysis {
    /// Reads and checks the package of the file at `path`.
    pub(crate) fn of(path: &Path, open: &BTreeMap<PathBuf, String>) -> Result<Analysis, String> {
        let loaded = package::load_overlaid(&[path.to_path_buf()], open).map_err(|e| e.to_string())?;
        let (program, diagnostics) = assay_compiler::compile_for_editor(&loaded);
        Ok(Analysis { loaded, program, diagnostics, modules: std::cell::OnceCell::new() })
    }

    /// Each source file's syntax tree.
    pub(crate) fn modules(&self) -> &BTreeMap<FileId, ast::Module> {
        self.modules.get_or_init(|| {
            let loaded = &self.loaded;
            loaded
                .source_files()
                .into_iter()
                .filter_map(|file| Some((file, syntax::parse(file, loaded.sources.get(file)?.text()).module)))
                .collect()
        })
    }

    /// The file read from `path`.
    pub(crate) fn file(&self, path: &Path) -> Option<FileId> {
        self.loaded.sources.files().map(|(id, _)| id).find(|&id| self.loaded.path(id) == Some(path))
    }

    /// Every file read (sources and manifests) with its path.
    pub(crate) fn paths(&self) -> impl Iterator<Item = (FileId, &Path)> {
        self.loaded.sources.files().filter_map(|(id, _)| Some((id, self.loaded.path(id)?)))
    }

    pub(crate) fn text(&self, file: FileId) -> &str {
        self.loaded.sources.get(file).map_or("", |f| f.text())
    }

    /// The module name of a file: its stem, as imports name it.
    pub(crate) fn module_name(&self, file: FileId) -> String {
        self.loaded
            .path(file)
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}
