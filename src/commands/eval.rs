//! `assay eval --bundle FILE --telemetry FILE`: run a bundle against one
//! host's telemetry and report, gating CI with `--fail-on`.

use super::{Failure, Outcome};
use assay_runtime::findings::Severity;
use assay_runtime::value::Host;
use assay_runtime::vm::Program;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A bundle written by `assay build`.
    #[arg(long)]
    bundle: PathBuf,
    /// A telemetry document (JSON), as `assay collect` writes.
    #[arg(long)]
    telemetry: PathBuf,
    #[command(flatten)]
    output: super::OutputArgs,
}

pub fn run(args: &Args) -> Outcome {
    let bundle = super::load_bundle(&args.bundle)?;
    let host = load_telemetry(&args.telemetry)?;
    let options = args.output.options()?;
    let report = Program::new(&bundle).evaluate(&host, &options);
    args.output.emit(&bundle, &[report])
}

pub fn load_telemetry(path: &PathBuf) -> Result<Host, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::input(miette::miette!("cannot read telemetry {}: {e}", path.display())))?;
    Host::from_json(&bytes).map_err(|e| {
        Failure::input(miette::miette!("{} is not a valid telemetry document: {e}", path.display()))
    })
}

pub fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse(text)
        .ok_or_else(|| format!("`{text}` is not a severity: high, medium, low or informational"))
}
