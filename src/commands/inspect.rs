//! `assay inspect [--disasm] FILE`: what a bundle holds.

use super::Outcome;
use assay_model::bundle::disasm;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A bundle written by `assay build`.
    bundle: PathBuf,
    /// Also list every instruction.
    #[arg(long)]
    disasm: bool,
}

pub fn run(args: &Args) -> Outcome {
    let bundle = super::load_bundle(&args.bundle)?;
    let text = if args.disasm { disasm::disassemble(&bundle) } else { disasm::summary(&bundle) };
    out!("{text}");
    Ok(ExitCode::SUCCESS)
}
