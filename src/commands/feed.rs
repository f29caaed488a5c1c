//! `assay feed import --osv PATH [-o FILE]`: import OSV advisories into the
//! compact feed `assay scan` matches installed packages against.

use super::{Failure, Outcome};
use assay_runtime::feed;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Import advisories (a folder of .json/.yaml files or an osv.dev zip).
    Import {
        /// OSV records: a folder or a zip archive.
        #[arg(long)]
        osv: PathBuf,
        /// Where to write the feed (default: Assay's data directory, where `scan` looks).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

pub fn run(args: &Args) -> Outcome {
    let Sub::Import { osv, output } = &args.command;
    let (imported, warnings) = feed::import_osv(osv).map_err(|e| Failure::input(miette::miette!("{e}")))?;
    for w in &warnings {
        eprintln!("warning: skipped {}: {}", w.record, w.message);
    }
    let path = match output.clone().or_else(feed::default_path) {
        Some(p) => p,
        None => {
            return Err(Failure::input(miette::miette!(
                "no data directory (set XDG_DATA_HOME or HOME), and no -o FILE"
            )))
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::input(miette::miette!("cannot create {}: {e}", dir.display())))?;
    }
    let bytes = imported.to_bytes();
    std::fs::write(&path, &bytes)
        .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?;
    let entries: usize = imported.advisories.iter().map(|a| a.affected.len()).sum();
    outln!(
        "imported {} advisories ({} affected packages) into {} ({} KiB); {} record(s) skipped",
        imported.advisories.len(),
        entries,
        path.display(),
        bytes.len() / 1024,
        warnings.len()
    );
    Ok(ExitCode::SUCCESS)
}
