//! `assay waivers export --openvex FILE --waivers FILE [--root DIR | --sbom
//! FILE] [--feed FILE]`: the CVE findings a waiver file accepts, as an
//! OpenVEX 0.2 document, so an exception made in Assay travels to tools that
//! read VEX. A waiver names rules and fingerprints, not advisories and
//! packages, so the findings come from the `cve` package over the host
//! named, exactly as `assay scan --package cve --waivers FILE
//! --export-openvex FILE` finds and writes them (that scan is what runs).

use super::{Failure, Outcome};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Write the CVE findings the waivers accept as an OpenVEX 0.2 document.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Where to write the OpenVEX document.
    #[arg(long, value_name = "FILE")]
    openvex: PathBuf,
    /// The waiver file whose accepted CVE findings are exported (docs/waivers.md).
    #[arg(long, value_name = "FILE")]
    waivers: PathBuf,
    /// A root file system to assess instead of this host.
    #[arg(long, value_name = "DIR", conflicts_with = "sbom")]
    root: Option<PathBuf>,
    /// An SBOM to assess instead of a host (CycloneDX or SPDX JSON).
    #[arg(long, value_name = "FILE")]
    sbom: Option<PathBuf>,
    /// The vulnerability feed (default: the one `assay feed import` wrote).
    #[arg(long, value_name = "FILE")]
    feed: Option<PathBuf>,
}

/// The scan the export runs, parsed as `assay scan` parses its own
/// arguments, so both take the same options the same way.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct Scan {
    #[command(flatten)]
    args: super::scan::Args,
}

pub fn run(args: &Args) -> Outcome {
    let Sub::Export(a) = &args.command;
    let mut argv: Vec<OsString> = ["--package", "cve", "--format", "json", "--output", "/dev/null"]
        .iter()
        .map(OsString::from)
        .collect();
    let mut option = |name: &str, value: &PathBuf| {
        argv.push(name.into());
        argv.push(value.into());
    };
    option("--waivers", &a.waivers);
    option("--export-openvex", &a.openvex);
    if let Some(root) = &a.root {
        option("--root", root);
    }
    if let Some(sbom) = &a.sbom {
        option("--sbom", sbom);
    }
    if let Some(feed) = &a.feed {
        option("--feed", feed);
    }
    let scan = <Scan as clap::Parser>::try_parse_from(argv)
        .map_err(|e| Failure::internal(miette::miette!("the export's scan: {e}")))?;
    // The report itself goes nowhere: the document is the output, and the
    // scan's findings are not a gate here.
    super::scan::run(&scan.args)?;
    Ok(ExitCode::SUCCESS)
}
