//! `assay check PATH...`: parse, resolve and type-check every source and
//! report every problem.

use super::{DiagnosticFormat, Outcome};
use assay_compiler::diagnostics::{render_human, render_json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders; folders are searched for `.assay` files and packages.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t)]
    format: DiagnosticFormat,
    /// Treat warnings (lints, `W` codes) as errors.
    #[arg(long)]
    deny_warnings: bool,
}

impl Args {
    pub fn for_paths(paths: Vec<PathBuf>) -> Self {
        Args { paths, format: DiagnosticFormat::Human, deny_warnings: false }
    }
}

pub fn run(args: &Args) -> Outcome {
    let loaded = super::load_sources(&args.paths)?;
    let mut all = assay_compiler::check(&loaded);
    if args.deny_warnings {
        for d in &mut all {
            d.level = assay_compiler::diagnostics::Level::Error;
        }
    }
    let files = loaded.source_files();
    let errors = all.iter().filter(|d| d.is_error()).count();
    let warnings = all.len() - errors;
    match args.format {
        DiagnosticFormat::Json => {
            let doc = serde_json::json!({
                "files": files.len(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": render_json(&loaded.sources, &all),
            });
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| super::Failure::internal(miette::miette!("{e}")))?;
            outln!("{text}");
        }
        DiagnosticFormat::Human => {
            eprint!("{}", render_human(&loaded.sources, &all, super::stderr_color()));
            let summary = match (errors, warnings) {
                (0, 0) => format!("checked {}: no problems", plural(files.len(), "file")),
                _ => format!(
                    "checked {}: {}, {}",
                    plural(files.len(), "file"),
                    plural(errors, "error"),
                    plural(warnings, "warning")
                ),
            };
            eprintln!("{summary}");
        }
    }
    Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
