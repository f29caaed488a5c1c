//! `assay build PATH... -o FILE`: compile packages into one bundle and print
//! its digest.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::render_human;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Package folders or `.assay` files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &Args) -> Outcome {
    let loaded = super::load_sources(&args.paths)?;
    match assay_compiler::build(&loaded) {
        Ok(built) => {
            if !built.diagnostics.is_empty() {
                eprint!("{}", render_human(&loaded.sources, &built.diagnostics, super::stderr_color()));
            }
            std::fs::write(&args.output, &built.bytes).map_err(|e| {
                Failure::input(miette::miette!("cannot write {}: {e}", args.output.display()))
            })?;
            outln!("sha256:{}  {}", built.digest, args.output.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            eprint!("{}", render_human(&loaded.sources, &diagnostics, super::stderr_color()));
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!("build failed: {errors} error(s); no bundle written");
            Ok(ExitCode::from(1))
        }
    }
}
