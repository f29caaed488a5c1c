//! One module per subcommand.

pub mod build;
pub mod check;
pub mod collect;
pub mod eval;
pub mod explain;
pub mod feed;
pub mod fmt;
pub mod inspect;
pub mod scan;
pub mod test;
pub mod watch;

use assay_model::bundle::Bundle;
use assay_runtime::findings::{Report, Severity};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// Reads and verifies a bundle; any problem is an input error naming the file.
pub fn load_bundle(path: &Path) -> Result<Bundle, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::input(miette::miette!("cannot read bundle {}: {e}", path.display())))?;
    assay_model::bundle::load(&bytes)
        .map_err(|e| Failure::input(miette::miette!("{} cannot be loaded: {e}", path.display())))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    /// Findings grouped by severity, for people.
    #[default]
    Table,
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one test case per rule and host.
    Junit,
}

/// Output options shared by `eval` and `scan`.
#[derive(clap::Args)]
pub struct OutputArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Exit 1 when a finding has this severity or higher (default: never).
    #[arg(long, value_parser = eval::parse_severity)]
    pub fail_on: Option<Severity>,
    /// `KEY=VALUE` copied onto every finding (repeatable).
    #[arg(long = "attribute", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The table lists passed and not-applicable rules too.
    #[arg(long)]
    pub full: bool,
    /// Instructions one rule may execute before it is stopped with an error.
    #[arg(long, default_value_t = assay_runtime::vm::Limits::default().instructions)]
    pub max_instructions: u64,
    /// Memory one rule may allocate, in MiB, before it is stopped with an error.
    #[arg(long, default_value_t = assay_runtime::vm::Limits::default().memory >> 20)]
    pub max_memory_mib: u64,
}

impl OutputArgs {
    /// A copy with `--full` set as given.
    pub fn clone_with_full(&self, full: bool) -> OutputArgs {
        OutputArgs {
            format: self.format,
            fail_on: self.fail_on,
            attributes: self.attributes.clone(),
            output: self.output.clone(),
            full,
            max_instructions: self.max_instructions,
            max_memory_mib: self.max_memory_mib,
        }
    }

    /// Evaluation options: attributes and budgets.
    pub fn options(&self) -> Result<assay_runtime::vm::Options, Failure> {
        let limits = assay_runtime::vm::Limits {
            instructions: self.max_instructions,
            memory: self.max_memory_mib.saturating_mul(1 << 20),
            ..assay_runtime::vm::Limits::default()
        };
        Ok(assay_runtime::vm::Options { limits, attributes: self.attributes()? })
    }

    pub fn attributes(&self) -> Result<Vec<(String, String)>, Failure> {
        self.attributes
            .iter()
            .map(|a| match a.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
                _ => Err(Failure::input(miette::miette!("`--attribute {a}`: expected KEY=VALUE"))),
            })
            .collect()
    }

    /// Renders, writes, and gives the exit code `--fail-on` asks for.
    pub fn emit(&self, bundle: &Bundle, reports: &[Report]) -> Outcome {
        use assay_runtime::reports;
        let text = match self.format {
            ReportFormat::Table => Ok(reports::table(reports, self.full)),
            ReportFormat::Json => reports::json(reports),
            ReportFormat::Sarif => reports::sarif(bundle, reports),
            ReportFormat::Junit => reports::junit(reports),
        }
        .map_err(|e| Failure::internal(miette::miette!("{e}")))?;
        match &self.output {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| Failure::input(miette::miette!("cannot write {}: {e}", path.display())))?,
            None => print!("{text}"),
        }
        let failing = self.fail_on.is_some_and(|t| reports.iter().any(|r| r.fails_at(t)));
        Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }
}
