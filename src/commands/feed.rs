//! `assay feed import --osv PATH [-o FILE]`: import OSV advisories into the
//! compact feed `assay scan` matches installed packages against.

use super::{Failure, Outcome};
use assay_model::telemetry::{SkippedSection, Telemetry};
use assay_runtime::feed;
use std::path::{Path, PathBuf};
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
        /// Ratings for the advisories the records leave unrated: JSON lines
        /// of `{"id": CVE or advisory id, "cvss_vector": "CVSS:3.1/..."}` or
        /// `{"id": ..., "severity": "high"}`.
        #[arg(long, value_name = "FILE")]
        severities: Option<PathBuf>,
    },
}

pub fn run(args: &Args) -> Outcome {
    let Sub::Import { osv, output, severities } = &args.command;
    let (mut imported, warnings) =
        feed::import_osv(osv).map_err(|e| Failure::input(miette::miette!("{e}")))?;
    for w in &warnings {
        eprintln!("warning: skipped {}: {}", w.record, w.message);
    }
    if let Some(path) = severities {
        let bytes = super::read_bounded(path, 512 << 20, "severities file", "")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::input(miette::miette!("{}: not UTF-8 text", path.display())))?;
        let ratings = feed::severities::parse(&text, &path.display().to_string())
            .map_err(|e| Failure::input(miette::miette!("{e}")))?;
        let rated = feed::severities::apply(&mut imported, &ratings);
        eprintln!("rated {rated} unrated advisories from {} ({} ratings)", path.display(), ratings.len());
    }
    let unrated = imported.advisories.iter().filter(|a| a.severity.is_none()).count();
    if unrated > 0 {
        eprintln!(
            "note: {unrated} advisories have no severity (reported by CVE-UNRATED); --severities FILE can rate them"
        );
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

/// The feed named with `--feed` (an error if unreadable), or the default
/// one if it exists.
pub fn load(explicit: Option<&Path>) -> Result<Option<assay_runtime::feed::Feed>, Failure> {
    use assay_runtime::feed::{default_path, Feed};
    match explicit {
        Some(p) => Feed::load(p).map(Some).map_err(|e| Failure::input(miette::miette!("{e}"))),
        None => match default_path().filter(|p| p.exists()) {
            Some(p) => Feed::load(&p).map(Some).map_err(|e| Failure::input(miette::miette!("{e}"))),
            None => Ok(None),
        },
    }
}

/// Fills `vulnerabilities` from the feed (`--feed`, else the default one).
/// Without a feed the section is recorded as skipped, so CVE rules are
/// skipped rather than passed; `default_too`: whether the default feed is
/// used when no `--feed` is given.
pub fn apply(telemetry: &mut Telemetry, explicit: Option<&Path>, default_too: bool) -> Result<(), Failure> {
    let feed = if explicit.is_some() || default_too { load(explicit)? } else { None };
    match feed {
        Some(feed) => {
            let index = assay_runtime::feed::Index::new(&feed);
            let packages = telemetry.packages.as_deref().unwrap_or(&[]);
            telemetry.vulnerabilities = Some(index.matches(packages, telemetry.asset.os.as_ref()));
            if let Some(c) = telemetry.collection.as_mut() {
                c.skipped_sections.retain(|s| s.section != "vulnerabilities");
            }
        }
        None => {
            eprintln!(
                "note: CVE checks were skipped: no vulnerability feed. Import one with `assay feed import --osv PATH` \
                 (osv.dev exports, e.g. the Debian or PyPI data), or pass --feed FILE."
            );
            if let Some(c) = telemetry.collection.as_mut() {
                c.skipped_sections.push(SkippedSection {
                    section: "vulnerabilities".into(),
                    reason: "no vulnerability feed (import one with `assay feed import --osv PATH`, or pass --feed FILE)"
                        .into(),
                });
            }
        }
    }
    Ok(())
}
