//! `assay fmt [--check] PATH...`: rewrite sources in the canonical layout.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::render_human;
use assay_compiler::format::{format_source, FormatError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders; folders are searched for `.assay` files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if any would.
    #[arg(long)]
    check: bool,
}

pub fn run(args: &Args) -> Outcome {
    let loaded = super::load_sources(&args.paths)?;
    let mut failed = false;
    let mut changed = 0usize;
    let files = loaded.source_files();
    for &file in &files {
        let (Some(source), Some(path)) = (loaded.sources.get(file), loaded.path(file)) else { continue };
        let own: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.primary_span().is_some_and(|s| s.file == file))
            .cloned()
            .collect();
        if !own.is_empty() {
            eprint!("{}", render_human(&loaded.sources, &own, super::stderr_color()));
            failed = true;
            continue;
        }
        let formatted = match format_source(file, source.text()) {
            Ok(text) => text,
            Err(FormatError::Syntax(diagnostics)) => {
                eprint!("{}", render_human(&loaded.sources, &diagnostics, super::stderr_color()));
                eprintln!("{}: not formatted, it has syntax errors", path.display());
                failed = true;
                continue;
            }
            Err(FormatError::Unstable(why)) => {
                return Err(Failure::internal(miette::miette!(
                    help = "please report this with the file attached; the file was left unchanged",
                    "formatter bug on {}: {why}",
                    path.display()
                )));
            }
        };
        if formatted == source.text() {
            continue;
        }
        changed += 1;
        if args.check {
            outln!("would reformat {}", path.display());
        } else {
            write_atomically(path, &formatted)
                .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?;
            outln!("formatted {}", path.display());
        }
    }
    if args.check && changed > 0 {
        eprintln!("{changed} of {} files would be reformatted", files.len());
        failed = true;
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Writes through a temporary file in the same folder, so an interrupted
/// write never leaves a half-written policy behind.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".assay-fmt.tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)
}
