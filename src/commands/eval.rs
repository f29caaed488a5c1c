//! `assay eval --bundle FILE --telemetry FILE`: run a bundle against one
//! host's telemetry and report, gating CI with `--fail-on`.

use super::{Failure, Outcome};
use assay_model::telemetry::Telemetry;
use assay_runtime::findings::{Report, Severity};
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
    /// Match the document's packages against this vulnerability feed
    /// (replacing any `vulnerabilities` it holds).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
    /// The largest telemetry document read, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_TELEMETRY_MIB)]
    max_telemetry_mib: u64,
    #[command(flatten)]
    selection: super::select::RuleSelection,
    #[command(flatten)]
    params: super::params::ParamArgs,
    #[command(flatten)]
    output: super::OutputArgs,
}

/// Telemetry of a real host is well under 10 MiB; a document over this is
/// refused before it is parsed (reading costs several times its size).
pub const DEFAULT_MAX_TELEMETRY_MIB: u64 = 256;

pub fn run(args: &Args) -> Outcome {
    let bundle = super::load_bundle(&args.bundle)?;
    let mut telemetry = read_telemetry(&args.telemetry, args.max_telemetry_mib)?;
    if let Some(feed) = &args.feed {
        super::feed::apply(&mut telemetry, Some(feed), false)?;
    }
    // What VEX statements are matched against (the packages and their
    // vulnerabilities), kept only when there are statements.
    let for_vex = args.output.needs_telemetry().then(|| telemetry.clone());
    let host = Host::new(telemetry).map_err(|e| {
        Failure::input(miette::miette!("{} is not a valid telemetry document: {e}", args.telemetry.display()))
    })?;
    let mut options = args.output.options()?;
    options.params = args.params.resolve(&[&bundle])?.pop().unwrap_or_default();
    args.selection.check(&[&bundle])?;
    let mut report = Program::new(&bundle).evaluate(&host, &options);
    args.selection.apply(&mut report, &[&bundle]);
    if let Some(telemetry) = &for_vex {
        args.output.apply_vex(&mut report, telemetry)?;
        args.output.write_openvex(&report, telemetry)?;
        report.summary = recount(&report);
    }
    args.output.emit(&[&bundle], vec![report])
}

/// The summary after findings were suppressed, with the instructions run.
pub fn recount(report: &Report) -> assay_runtime::findings::Summary {
    let mut summary = assay_runtime::findings::Summary::of(&report.findings, &report.rules);
    summary.instructions = report.summary.instructions;
    summary
}

pub fn read_telemetry(path: &std::path::Path, max_mib: u64) -> Result<Telemetry, Failure> {
    let limit = max_mib.saturating_mul(1 << 20);
    let bytes = super::read_bounded(path, limit, "telemetry document", " (--max-telemetry-mib)")?;
    assay_model::telemetry::from_json(&bytes).map_err(|e| {
        Failure::input(miette::miette!("{} is not a valid telemetry document: {e}", path.display()))
    })
}

pub fn parse_severity(text: &str) -> Result<Severity, String> {
    Severity::parse_loose(text)
        .ok_or_else(|| format!("`{text}` is not a severity: high, medium, low or informational"))
}
