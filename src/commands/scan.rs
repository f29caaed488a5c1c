//! `assay scan`: the main job. Collect this host (or `--root`), evaluate the
//! built-in rules packages, which were compiled from `policies/` when assay
//! was built and are embedded in the binary, and report.

use super::collect::SourceArgs;
use super::{Failure, Outcome};
use assay_model::bundle::{self, Bundle};
use assay_runtime::findings::{Report, Summary};
use assay_runtime::value::Host;
use assay_runtime::vm::Program;
use std::path::PathBuf;

/// The built-in packages, compiled by `build.rs`.
static BUILTIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin.bundle"));

pub fn builtin() -> Result<Bundle, Failure> {
    bundle::load(BUILTIN)
        .map_err(|e| Failure::internal(miette::miette!("the built-in bundle does not load: {e}")))
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// Only these built-in packages (repeatable): security-best-practices,
    /// runtime-behavior, cis-linux, cve.
    #[arg(long = "package", value_name = "NAME")]
    packages: Vec<String>,
    /// The vulnerability feed to match packages against (default: the one
    /// `assay feed import` wrote to Assay's data directory).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
    #[command(flatten)]
    output: super::OutputArgs,
}

pub fn run(args: &Args) -> Outcome {
    let bundle = builtin()?;
    let names: Vec<&str> = bundle.content.packages.iter().map(|p| p.name.as_str()).collect();
    for p in &args.packages {
        if !names.contains(&p.as_str()) {
            return Err(Failure::input(miette::miette!(
                "no built-in package `{p}`; there are: {}",
                names.join(", ")
            )));
        }
    }
    let mut telemetry = args.source.collect()?;
    let wants_cve = args.packages.is_empty() || args.packages.iter().any(|p| p == "cve");
    if wants_cve {
        super::feed::apply(&mut telemetry, args.feed.as_deref(), true)?;
    }
    let host = Host::new(telemetry)
        .map_err(|e| Failure::internal(miette::miette!("the collected telemetry does not load: {e}")))?;
    let options = args.output.options()?;
    let mut report = Program::new(&bundle).evaluate(&host, &options);
    if !args.packages.is_empty() {
        report = only(report, &args.packages);
    }
    args.output.emit(&bundle, &[report])
}

/// The report restricted to some packages.
fn only(mut report: Report, packages: &[String]) -> Report {
    report.findings.retain(|f| packages.contains(&f.package));
    report.rules.retain(|r| packages.contains(&r.package));
    let instructions = report.summary.instructions;
    report.summary = Summary::of(&report.findings, &report.rules);
    report.summary.instructions = instructions;
    report
}
