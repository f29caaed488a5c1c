//! `assay diff OLD NEW`: what a change to rules packages means. Each side
//! is a package folder (or `.assay` files), a bundle, or a git revision of
//! a path (`REV:PATH`, or `REV1..REV2 PATH` for both sides), read with git's
//! plumbing without touching the working tree.

use super::{Failure, Outcome};
use assay_model::bundle::Bundle;
use assay_runtime::diff;
use assay_runtime::value::Host;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
pub struct Args {
    /// The old side: a package folder, a `.assay` file, a bundle, or
    /// `REV:PATH` (a git revision of a path); or `REV1..REV2` followed by
    /// the PATH both revisions are read at.
    old: String,
    /// The new side, as OLD; or the PATH after `REV1..REV2`.
    new: String,
    /// Recorded telemetry (a JSON document from `assay collect`, or a folder
    /// of them): evaluate both sides and list the hosts whose outcome flips.
    #[arg(long, value_name = "PATH")]
    telemetry: Option<PathBuf>,
    /// Exit 1 when any outcome flips (needs --telemetry).
    #[arg(long, requires = "telemetry")]
    fail_on_flip: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Format {
    #[default]
    Table,
    Json,
    /// For a pull-request comment.
    Markdown,
}

/// Where one side's sources or bundle come from.
enum Source {
    Path(PathBuf),
    Git { rev: String, path: PathBuf },
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Git { rev, path } => format!("{rev}:{}", path.display()),
        }
    }
}

pub fn run(args: &Args) -> Outcome {
    let (old, new) = sides(&args.old, &args.new)?;
    let (old_label, new_label) = (old.label(), new.label());
    let old_bundle = open(&old, "old")?;
    let new_bundle = open(&new, "new")?;
    let mut result = diff::compare(&old_label, &old_bundle, &new_label, &new_bundle);
    if let Some(path) = &args.telemetry {
        let hosts = read_hosts(path)?;
        diff::evaluate(&mut result, &old_bundle, &new_bundle, &hosts);
    }
    match args.format {
        Format::Table => out!("{}", diff::render_table(&result)),
        Format::Markdown => out!("{}", diff::render_markdown(&result)),
        Format::Json => {
            let text = serde_json::to_string_pretty(&result)
                .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
            outln!("{text}");
        }
    }
    if args.fail_on_flip && result.flips() > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn sides(old: &str, new: &str) -> Result<(Source, Source), Failure> {
    if let Some((a, b)) = old.split_once("..") {
        if !Path::new(old).exists() {
            let b = if b.is_empty() { "HEAD" } else { b };
            let a = if a.is_empty() { "HEAD" } else { a };
            let path = PathBuf::from(new);
            return Ok((
                Source::Git { rev: a.to_owned(), path: path.clone() },
                Source::Git { rev: b.to_owned(), path },
            ));
        }
    }
    Ok((side(old), side(new)))
}

/// `REV:PATH` when it is not a path that exists (`C:` never occurs on Unix).
fn side(text: &str) -> Source {
    if !Path::new(text).exists() {
        if let Some((rev, path)) = text.split_once(':') {
            if !rev.is_empty() && !path.is_empty() {
                return Source::Git { rev: rev.to_owned(), path: PathBuf::from(path) };
            }
        }
    }
    Source::Path(PathBuf::from(text))
}

/// The side's bundle: read, or compiled from its sources.
fn open(source: &Source, which: &str) -> Result<Bundle, Failure> {
    match source {
        Source::Path(path) if is_bundle(path) => super::load_bundle(path),
        Source::Path(path) => compile(std::slice::from_ref(path), which, &source.label()),
        Source::Git { rev, path } => {
            let tmp = tempfile::tempdir()
                .map_err(|e| Failure::input(miette::miette!("cannot create a temporary folder: {e}")))?;
            let checked_out = git_export(rev, path, tmp.path())?;
            if is_bundle(&checked_out) {
                return super::load_bundle(&checked_out);
            }
            compile(&[checked_out], which, &source.label())
        }
    }
}

/// A file that starts as a bundle does (`assay build`'s output).
pub(crate) fn is_bundle(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    path.is_file()
        && std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok()
        && &magic == assay_model::bundle::MAGIC
}

fn compile(paths: &[PathBuf], which: &str, label: &str) -> Result<Bundle, Failure> {
    let loaded = super::load_sources(paths)?;
    match assay_compiler::build(&loaded) {
        Ok(built) => assay_model::bundle::load(&built.bytes)
            .map_err(|e| Failure::internal(miette::miette!("the {which} side's bundle does not load: {e}"))),
        Err(diagnostics) => {
            let rendered = assay_compiler::diagnostics::render_human(
                &loaded.sources,
                &diagnostics,
                super::stderr_color(),
            );
            eprint!("{rendered}");
            Err(Failure::problems(miette::miette!("the {which} side ({label}) does not compile")))
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Failure> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Failure::input(miette::miette!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Failure::input(miette::miette!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// Writes the files of `path` at `rev` under `into` (with git's plumbing:
/// `ls-tree` and `cat-file`, the working tree untouched) and returns
/// where `path` is in the copy.
fn git_export(rev: &str, path: &Path, into: &Path) -> Result<PathBuf, Failure> {
    let abs =
        std::path::absolute(path).map_err(|e| Failure::input(miette::miette!("{}: {e}", path.display())))?;
    // The nearest existing folder finds the repository, even when the
    // path was deleted in the working tree.
    let mut dir = abs.clone();
    while !dir.is_dir() {
        if !dir.pop() {
            break;
        }
    }
    let top = String::from_utf8_lossy(&git(&dir, &["rev-parse", "--show-toplevel"])?).trim().to_owned();
    let top = PathBuf::from(top);
    let top_real = top.canonicalize().unwrap_or_else(|_| top.clone());
    let dir_real = dir.canonicalize().unwrap_or_else(|_| dir.clone());
    let rest = abs.strip_prefix(&dir).unwrap_or(Path::new(""));
    let rel = dir_real.strip_prefix(&top_real).unwrap_or(Path::new("")).join(rest);
    let rel_text = rel.to_string_lossy().into_owned();
    let spec = if rel_text.is_empty() { ".".to_owned() } else { rel_text.clone() };
    let listing = git(&top, &["ls-tree", "-r", "-z", "--full-tree", rev, "--", &spec])?;
    let mut count = 0;
    for entry in listing.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        let Some((meta, file)) = entry.split_once('\t') else { continue };
        let fields: Vec<&str> = meta.split(' ').collect();
        // Regular files only: no links, no submodules.
        let [mode, "blob", object] = fields.as_slice() else { continue };
        if !mode.starts_with("100") {
            continue;
        }
        let bytes = git(&top, &["cat-file", "blob", object])?;
        let target = into.join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", parent.display())))?;
        }
        std::fs::write(&target, bytes)
            .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", target.display())))?;
        count += 1;
    }
    if count == 0 {
        return Err(Failure::input(miette::miette!("{} does not exist at revision {rev}", path.display())));
    }
    Ok(into.join(rel))
}

/// Every telemetry document at `path` (a file, or the `.json` files of a
/// folder), named by its hostname.
fn read_hosts(path: &Path) -> Result<Vec<(String, Host)>, Failure> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Failure::input(miette::miette!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Failure::input(miette::miette!(
                "no telemetry document (`.json`) in {}",
                path.display()
            )));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut hosts = Vec::new();
    for file in files {
        let telemetry = super::eval::read_telemetry(&file, super::eval::DEFAULT_MAX_TELEMETRY_MIB)?;
        let mut name = telemetry.asset.hostname.clone();
        if name.is_empty() || hosts.iter().any(|(n, _): &(String, Host)| *n == name) {
            name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        }
        let host = Host::new(telemetry).map_err(|e| {
            Failure::input(miette::miette!("{} is not a valid telemetry document: {e}", file.display()))
        })?;
        hosts.push((name, host));
    }
    Ok(hosts)
}
