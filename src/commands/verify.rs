//! `assay verify BUNDLE --key KEY.pub`: checks a signed bundle (and, with
//! `--sources`, the package folders it was built from) and says who signed
//! what.

use super::{Failure, Outcome};
use assay_runtime::signing::{self, PublicKey, Verified};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The bundle (`assay build -o FILE --sign KEY`).
    bundle: PathBuf,
    /// A trusted public key (`KEY.pub`); repeat for several.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// The signature file [default: BUNDLE.minisig].
    #[arg(long)]
    signature: Option<PathBuf>,
    /// Package folders or `.assay` files the bundle was built from: their
    /// sources must be the ones signed.
    #[arg(long = "sources")]
    sources: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Format {
    #[default]
    Human,
    Json,
}

/// What `verify` prints as JSON.
#[derive(serde::Serialize)]
struct Report<'a> {
    verified: bool,
    key: String,
    statement: &'a signing::Statement,
    sources_checked: Vec<&'a str>,
}

pub fn run(args: &Args) -> Outcome {
    let trusted = args.keys.iter().map(|p| read_public(p)).collect::<Result<Vec<_>, _>>()?;
    let bytes = super::read_bounded(&args.bundle, assay_model::bundle::MAX_BUNDLE_LEN as u64, "bundle", "")?;
    let sig_path = args.signature.clone().unwrap_or_else(|| signature_path(&args.bundle));
    let sig = super::read_bounded(&sig_path, 64 << 10, "signature", "")?;
    let refused = |e: signing::Refusal| {
        Failure::problems(miette::miette!("{} is not verified: {e}", args.bundle.display()))
    };
    let sig = String::from_utf8(sig)
        .map_err(|_| refused(signing::Refusal::Malformed(format!("{} is not text", sig_path.display()))))?;
    let verified = signing::verify(&bytes, &sig, &trusted).map_err(refused)?;
    let bundle = assay_model::bundle::load(&bytes)
        .map_err(|e| Failure::input(miette::miette!("{} cannot be loaded: {e}", args.bundle.display())))?;
    let packages: Vec<(String, String)> =
        bundle.content.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    verified.covers(&packages).map_err(refused)?;
    let checked = check_sources(&verified, &args.sources).map_err(|e| match e {
        SourcesError::Refused(r) => refused(r),
        SourcesError::Failure(f) => f,
    })?;
    match args.format {
        Format::Json => {
            let report = Report {
                verified: true,
                key: verified.key.to_string(),
                statement: &verified.statement,
                sources_checked: checked.iter().map(String::as_str).collect(),
            };
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
            outln!("{text}");
        }
        Format::Human => {
            let s = &verified.statement;
            outln!("{}: signed by key {} on {}", args.bundle.display(), verified.key, s.created);
            outln!("  bundle   {}", s.bundle);
            for p in &s.packages {
                let mark = if checked.contains(&p.name) { " (sources checked)" } else { "" };
                outln!("  package  {}@{}  sources {}{mark}", p.name, p.version, p.sources);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

enum SourcesError {
    Refused(signing::Refusal),
    Failure(Failure),
}

/// Checks every package found under `paths` against the statement; the
/// names of the packages checked.
fn check_sources(verified: &Verified, paths: &[PathBuf]) -> Result<Vec<String>, SourcesError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let loaded = super::load_sources(paths).map_err(SourcesError::Failure)?;
    let mut checked = Vec::new();
    for package in assay_compiler::package_sources(&loaded) {
        let digest = signing::sources_digest(package.files.iter().map(|(p, t)| (p.as_str(), t.as_bytes())));
        verified.covers_sources(&package.name, &digest).map_err(SourcesError::Refused)?;
        checked.push(package.name);
    }
    Ok(checked)
}

pub fn read_public(path: &Path) -> Result<PublicKey, Failure> {
    let text = super::read_bounded(path, 4 << 10, "public key", "")?;
    let text = String::from_utf8_lossy(&text);
    signing::read_public(&text).map_err(|e| Failure::input(miette::miette!("{}: {e}", path.display())))
}

/// `BUNDLE.minisig` beside the bundle.
pub fn signature_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.file_name().unwrap_or_default().to_os_string();
    name.push(signing::SUFFIX);
    bundle.with_file_name(name)
}
