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

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportKind {
    /// Findings only.
    #[default]
    Findings,
    /// Findings, and every rule that passed or did not apply, with the reason.
    Full,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// Only these built-in packages (repeatable): security-best-practices,
    /// runtime-behavior, cis-linux, cve.
    #[arg(long = "package", value_name = "NAME")]
    packages: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    report: ReportKind,
    /// The vulnerability feed to match packages against (default: the one
    /// `assay feed import` wrote to Assay's data directory).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
    /// Also write a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
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
        match load_feed(args.feed.as_ref())? {
            Some(feed) => {
                let index = assay_runtime::feed::Index::new(&feed);
                let packages = telemetry.packages.as_deref().unwrap_or(&[]);
                telemetry.vulnerabilities = Some(index.matches(packages, telemetry.asset.os.as_ref()));
            }
            None => eprintln!(
                "note: CVE checks were skipped: no vulnerability feed. Import one with `assay feed import --osv PATH` \
                 (osv.dev exports, e.g. the Debian or PyPI data), or pass --feed FILE."
            ),
        }
    }
    let host = Host::new(telemetry)
        .map_err(|e| Failure::internal(miette::miette!("the collected telemetry does not load: {e}")))?;
    let options = args.output.options()?;
    let mut report = Program::new(&bundle).evaluate(&host, &options);
    if !args.packages.is_empty() {
        report = only(report, &args.packages);
    }
    if let Some(path) = &args.html {
        let page =
            assay_runtime::reports::html(std::slice::from_ref(&report), args.report == ReportKind::Full);
        std::fs::write(path, page)
            .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?;
    }
    let output = args.output.clone_with_full(args.output.full || args.report == ReportKind::Full);
    output.emit(&bundle, &[report])
}

/// The feed named with `--feed` (an error if unreadable), or the default
/// one if it exists.
fn load_feed(explicit: Option<&PathBuf>) -> Result<Option<assay_runtime::feed::Feed>, Failure> {
    use assay_runtime::feed::{default_path, Feed};
    match explicit {
        Some(p) => Feed::load(p).map(Some).map_err(|e| Failure::input(miette::miette!("{e}"))),
        None => match default_path().filter(|p| p.exists()) {
            Some(p) => Feed::load(&p).map(Some).map_err(|e| Failure::input(miette::miette!("{e}"))),
            None => Ok(None),
        },
    }
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
