//! `assay sbom [--root DIR | --telemetry FILE] [--format cyclonedx|spdx]
//! [-o FILE]`: the host's packages as a software bill of materials.

use super::{Failure, Outcome};
use assay_runtime::sbom::{self, Format};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A root file system to read instead of `/` (a container root, a mounted image).
    #[arg(long, conflicts_with = "telemetry")]
    root: Option<PathBuf>,
    /// Read the packages from this telemetry document (`assay collect`)
    /// instead of a host.
    #[arg(long, value_name = "FILE")]
    telemetry: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: SbomFormat,
    /// Write the SBOM here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The largest telemetry document read, in MiB.
    #[arg(long, default_value_t = 256)]
    max_telemetry_mib: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    #[default]
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

pub fn run(args: &Args) -> Outcome {
    let telemetry = match &args.telemetry {
        Some(path) => super::eval::read_telemetry(path, args.max_telemetry_mib)?,
        None => {
            let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
            if !root.is_dir() {
                return Err(Failure::input(miette::miette!("--root {}: not a directory", root.display())));
            }
            assay_runtime::collector::inventory(&root)
        }
    };
    if telemetry.packages.is_none() {
        let why = telemetry
            .errors
            .iter()
            .find(|e| e.sensor == "packages")
            .map_or("no package database was read".to_owned(), |e| e.message.clone());
        return Err(Failure::input(miette::miette!("no packages to list: {why}")));
    }
    let format = match args.format {
        SbomFormat::Cyclonedx => Format::CycloneDx,
        SbomFormat::Spdx => Format::Spdx,
    };
    let text = sbom::render(&telemetry, format, env!("CARGO_PKG_VERSION"))
        .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?,
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
