//! `assay lsp`: the language server for editors, on standard input and
//! output (assay_lsp does the work).

use super::{Failure, Outcome};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it (VS Code's client does); standard
    /// input and output are the only transport.
    #[arg(long)]
    stdio: bool,
}

pub fn run(_args: &Args) -> Outcome {
    let (connection, io) = lsp_server::Connection::stdio();
    let served = assay_lsp::serve(&connection);
    // Closing the connection ends the writer thread once it has sent what
    // is queued (the answer to `shutdown`).
    drop(connection);
    io.join().map_err(|e| Failure::internal(miette::miette!("the editor's connection: {e}")))?;
    served.map_err(|e| Failure::internal(miette::miette!("assay lsp: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
