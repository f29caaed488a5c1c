//! One module per subcommand.

pub mod check;
pub mod explain;
pub mod fmt;

use assay_compiler::diagnostics::ColorChoice;
use std::io::IsTerminal;

/// A command that could not do its job, with the exit code that says why.
pub struct Failure {
    pub report: miette::Report,
    pub exit_code: u8,
}

impl Failure {
    /// Bad input: a missing file, an unknown code (exit 2).
    pub fn input(report: miette::Report) -> Self {
        Failure { report, exit_code: 2 }
    }

    /// A bug in Assay (exit 3).
    pub fn internal(report: miette::Report) -> Self {
        Failure { report, exit_code: 3 }
    }
}

impl From<assay_compiler::package::LoadError> for Failure {
    fn from(error: assay_compiler::package::LoadError) -> Self {
        Failure::input(miette::miette!("cannot read {}", error))
    }
}

pub type Outcome = Result<std::process::ExitCode, Failure>;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiagnosticFormat {
    /// rustc-style text with source excerpts.
    #[default]
    Human,
    /// One JSON document on standard output.
    Json,
}

/// Colour for diagnostics on standard error: only on a terminal, never when
/// `NO_COLOR` is set.
pub fn stderr_color() -> ColorChoice {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    }
}
