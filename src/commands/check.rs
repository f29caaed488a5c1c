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
    /// Also validate this waiver file: its format, dates, and that every
    /// rule it names exists in the packages checked or the built-in ones.
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
}

impl Args {
    pub fn for_paths(paths: Vec<PathBuf>) -> Self {
        Args { paths, format: DiagnosticFormat::Human, deny_warnings: false, waivers: None }
    }
}

pub fn run(args: &Args) -> Outcome {
    let loaded = super::load_sources(&args.paths)?;
    let compiled = assay_compiler::compile(&loaded);
    let waiver_errors = match &args.waivers {
        Some(path) => check_waivers(path, compiled.program.as_ref())?,
        None => 0,
    };
    let mut all = compiled.diagnostics;
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
        DiagnosticFormat::Sarif => {
            let text = sarif(&loaded, &all).map_err(|e| super::Failure::internal(miette::miette!("{e}")))?;
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
    Ok(if errors + waiver_errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The diagnostics as SARIF, each file located relative to the current
/// folder (`SRCROOT`, the repository code scanning checked out) when it is
/// inside it.
fn sarif(
    loaded: &assay_compiler::package::Loaded,
    diagnostics: &[assay_compiler::Diagnostic],
) -> Result<String, serde_json::Error> {
    use assay_runtime::reports::{root_uri, uri_path as encode};
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    let srcroot = root_uri(&cwd);
    let uri_of = |file: assay_compiler::FileId| -> Result<String, String> {
        let name = loaded.sources.get(file).map(|f| f.name().to_owned()).unwrap_or_default();
        let path = loaded.path(file).map(std::path::Path::to_path_buf).unwrap_or_else(|| name.clone().into());
        let absolute = if path.is_absolute() { path } else { cwd.join(path) };
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        match absolute.strip_prefix(&cwd) {
            Ok(relative) => Ok(encode(relative)),
            Err(_) => Err(format!("file://{}", encode(&absolute))),
        }
    };
    assay_compiler::diagnostics::render_sarif(&loaded.sources, diagnostics, &srcroot, &uri_of)
}

/// A waiver expiring within this many days is warned about.
const SOON_DAYS: i64 = 30;

/// Prints each waiver whose rule does not exist (with the nearest id) or
/// that expired, and warns of those expiring within [`SOON_DAYS`]; returns
/// how many are wrong. A file that does not parse is an input error.
fn check_waivers(
    path: &std::path::Path,
    program: Option<&assay_compiler::check::hir::Program>,
) -> Result<usize, super::Failure> {
    let waivers =
        assay_runtime::waivers::load(path).map_err(|e| super::Failure::input(miette::miette!("{e}")))?;
    let mut known: Vec<String> =
        program.map(|p| p.rules.iter().map(|r| r.id.clone()).collect()).unwrap_or_default();
    known.extend(super::scan::builtin()?.content.rules.iter().map(|r| r.id.clone()));
    let mut problems = 0;
    for w in &waivers {
        if !known.contains(&w.rule) {
            problems += 1;
            let near =
                assay_compiler::diagnostics::suggest::did_you_mean(&w.rule, known.iter().map(String::as_str));
            let hint = near.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            eprintln!(
                "error: {}: the waiver names rule `{}`, which is in none of the packages checked or the built-in ones{hint}",
                w.source, w.rule
            );
        }
    }
    // An expired waiver waives nothing: CI should fail before the findings
    // come back; one about to expire is worth a warning.
    let today = assay_runtime::waivers::today();
    let mut soon = 0;
    for w in &waivers {
        if w.expires < today {
            problems += 1;
            eprintln!(
                "error: {}: the waiver of {} expired on {}; it waives nothing (renew it with a new date, or remove it)",
                w.source, w.rule, w.expires_text
            );
        } else if w.expires - today < SOON_DAYS {
            soon += 1;
            let days = w.expires - today;
            eprintln!(
                "warning: {}: the waiver of {} expires on {} (in {days} day(s)); owner {}",
                w.source, w.rule, w.expires_text, w.owner
            );
        }
    }
    if problems == 0 {
        let soon =
            if soon > 0 { format!(", {soon} expiring within {SOON_DAYS} days") } else { String::new() };
        eprintln!("{}: {} waiver(s), every rule known, none expired{soon}", path.display(), waivers.len());
    }
    Ok(problems)
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
