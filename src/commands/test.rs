//! `assay test [PATH...] [--coverage]`: run the policy tests of packages
//! (`tests/*.yaml` in each package folder) and report each expectation that
//! does not hold.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::render_human;
use assay_runtime::policytest;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Package folders (default: the current folder).
    paths: Vec<PathBuf>,
    /// Also require that every rule was seen failing and seen passing.
    #[arg(long)]
    coverage: bool,
}

impl Args {
    pub fn for_paths(paths: Vec<PathBuf>) -> Self {
        Args { paths, coverage: false }
    }
}

pub fn run(args: &Args) -> Outcome {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let loaded = super::load_sources(&paths)?;
    let built = match assay_compiler::build(&loaded) {
        Ok(b) => b,
        Err(diagnostics) => {
            eprint!("{}", render_human(&loaded.sources, &diagnostics, super::stderr_color()));
            eprintln!("the packages do not compile; no test ran");
            return Ok(ExitCode::from(1));
        }
    };
    let bundle = assay_model::bundle::load(&built.bytes)
        .map_err(|e| Failure::internal(miette::miette!("the bundle just built does not load: {e}")))?;
    let mut files = Vec::new();
    for pkg in &loaded.packages {
        for path in policytest::discover(&pkg.root) {
            let cases = policytest::load(&path).map_err(|e| Failure::input(miette::miette!("{e}")))?;
            files.push((path, cases));
        }
    }
    let cases: usize = files.iter().map(|(_, f)| f.cases.len()).sum();
    if cases == 0 {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Failure::input(miette::miette!(
            "no policy test case in {} (tests are `tests/*.yaml` in each package folder; see docs/testing.md)",
            shown.join(", ")
        )));
    }
    let results = policytest::run(&bundle, &files);
    for failure in &results.failures {
        eprintln!("FAIL {failure}");
    }
    let mut uncovered = Vec::new();
    if args.coverage {
        outln!("{:<16} {:<7} {:<7}", "rule", "fails", "passes");
        for (rule, (failed, passed)) in &results.coverage {
            let mark = |b: bool| if b { "yes" } else { "NO" };
            outln!("{rule:<16} {:<7} {:<7}", mark(*failed), mark(*passed));
            if !(*failed && *passed) {
                uncovered.push(rule.clone());
            }
        }
    }
    outln!(
        "{} test file(s), {} case(s), {} expectation(s): {} failed",
        files.len(),
        results.cases,
        results.checks,
        results.failures.len()
    );
    if !uncovered.is_empty() {
        eprintln!(
            "coverage: {} rule(s) lack a case that fails or one that passes: {}",
            uncovered.len(),
            uncovered.join(", ")
        );
    }
    Ok(if results.failures.is_empty() && uncovered.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
