//! `assay build PATH... -o FILE`: compile packages into one bundle and print
//! its digest.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::render_human;
use assay_compiler::package::Loaded;
use assay_runtime::signing::{self, SecretKey, SignedPackage};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Package folders or `.assay` files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(short, long)]
    output: PathBuf,
    /// Sign the bundle with this secret key (`assay key generate`); the
    /// signature goes beside it as OUTPUT.minisig. An encrypted minisign
    /// key takes its password from ASSAY_KEY_PASSWORD.
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
}

pub fn run(args: &Args) -> Outcome {
    // Read the key first: a build that cannot be signed writes nothing.
    let key = args.sign.as_deref().map(read_secret).transpose()?;
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
            let path = super::verify::signature_path(&args.output);
            if key.is_none() && path.exists() {
                // A signature of the bundle this one replaced would not verify.
                std::fs::remove_file(&path)
                    .map_err(|e| Failure::input(miette::miette!("cannot remove {}: {e}", path.display())))?;
            }
            if let Some(key) = &key {
                let signature = sign(key, &loaded, &built.bytes)?;
                std::fs::write(&path, signature)
                    .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?;
                outln!("signed by key {}  {}", key.id(), path.display());
            }
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

pub(crate) fn read_secret(path: &Path) -> Result<SecretKey, Failure> {
    let text = super::read_bounded(path, 4 << 10, "secret key", "")?;
    let password = std::env::var("ASSAY_KEY_PASSWORD").ok();
    signing::read_secret(&String::from_utf8_lossy(&text), password)
        .map_err(|e| Failure::input(miette::miette!("{}: {e}", path.display())))
}

/// The signature of `bytes`, built from `loaded`: every package's name and
/// version (as the bundle holds them) and the digest of its sources.
pub(crate) fn sign(key: &SecretKey, loaded: &Loaded, bytes: &[u8]) -> Result<String, Failure> {
    let bundle = assay_model::bundle::load(bytes).map_err(|e| Failure::internal(miette::miette!("{e}")))?;
    let sources = assay_compiler::package_sources(loaded);
    let packages = bundle
        .content
        .packages
        .iter()
        .map(|p| {
            let files =
                sources.iter().find(|s| s.name == p.name).map(|s| s.files.as_slice()).unwrap_or_default();
            SignedPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                sources: signing::sources_digest(
                    files.iter().map(|(path, text)| (path.as_str(), text.as_bytes())),
                ),
            }
        })
        .collect();
    signing::sign(key, bytes, &now(), packages)
        .map_err(|e| Failure::input(miette::miette!("cannot sign: {e}")))
}

/// The signing time in RFC 3339, or `SOURCE_DATE_EPOCH`'s when it is set
/// (reproducible builds).
fn now() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
