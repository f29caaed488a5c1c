//! `assay key generate --out KEY`: a signing key pair for `assay build
//! --sign` (minisign's format; `docs/signing.md`).

use super::{Failure, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Write a new Ed25519 key pair: KEY (secret, mode 0600) and KEY.pub.
    Generate {
        /// Where to write the secret key; the public key goes to KEY.pub.
        #[arg(long)]
        out: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &Args) -> Outcome {
    match &args.command {
        KeyCommand::Generate { out, force } => generate(out, *force),
    }
}

fn generate(out: &std::path::Path, force: bool) -> Outcome {
    let public_path = public_path(out);
    for path in [out, public_path.as_path()] {
        if path.exists() && !force {
            return Err(Failure::input(miette::miette!(
                "{} exists: a key is not replaced without --force (what it signed would no longer verify with a new one)",
                path.display()
            )));
        }
    }
    let files = assay_runtime::signing::generate().map_err(|e| Failure::internal(miette::miette!("{e}")))?;
    assay_runtime::files::write_private(out, files.secret.as_bytes())
        .map_err(|e| Failure::input(miette::miette!("{e}")))?;
    std::fs::write(&public_path, files.public.as_bytes())
        .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", public_path.display())))?;
    outln!("key {}: secret {} (keep it private), public {}", files.id, out.display(), public_path.display());
    Ok(ExitCode::SUCCESS)
}

/// `KEY.pub` beside `KEY`.
pub fn public_path(key: &std::path::Path) -> PathBuf {
    let mut name = key.file_name().unwrap_or_default().to_os_string();
    name.push(".pub");
    key.with_file_name(name)
}
