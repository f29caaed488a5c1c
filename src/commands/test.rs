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
    /// Print every case with its result, not only the failures.
    #[arg(short, long)]
    verbose: bool,
    /// Only the cases whose name or file contains this text.
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    #[command(flatten)]
    selection: super::select::RuleSelection,
    #[command(flatten)]
    params: super::params::ParamArgs,
    /// Instead of running the tests, print a test case recorded from this
    /// telemetry document (`assay collect` output): the sections the
    /// packages' rules read, and each rule's outcome on them now.
    #[arg(long, value_name = "TELEMETRY")]
    record: Option<PathBuf>,
    /// `junit`: one test case per policy-test case, for CI.
    #[arg(long, value_enum, default_value_t)]
    format: TestFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TestFormat {
    /// Failures on standard error, a summary line.
    #[default]
    Text,
    /// JUnit XML on standard output.
    Junit,
}

impl Args {
    pub fn for_paths(paths: Vec<PathBuf>) -> Self {
        Args {
            paths,
            coverage: false,
            verbose: false,
            filter: None,
            selection: Default::default(),
            params: Default::default(),
            record: None,
            format: TestFormat::Text,
        }
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
    if let Some(path) = &args.record {
        let bytes = super::read_bounded(path, 256 << 20, "telemetry document", "")?;
        let telemetry: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::input(miette::miette!("{} is not a JSON telemetry document: {e}", path.display()))
        })?;
        let yaml = policytest::record(&bundle, &telemetry, &path.display().to_string())
            .map_err(|e| Failure::input(miette::miette!("{}: {e}", path.display())))?;
        out!("{yaml}");
        return Ok(ExitCode::SUCCESS);
    }
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
    args.selection.check(&[&bundle])?;
    let only: Option<std::collections::BTreeSet<String>> = (!args.selection.is_empty()).then(|| {
        bundle.content.rules.iter().filter(|r| args.selection.keeps(r)).map(|r| r.id.clone()).collect()
    });
    // Checked against the bundle once, so a wrong `--param` is one error.
    args.params.resolve(&[&bundle])?;
    let params = args.params.given()?;
    let options =
        policytest::RunOptions { filter: args.filter.as_deref(), only: only.as_ref(), params: &params };
    let results = policytest::run(&bundle, &files, &options);
    if results.cases == 0 {
        return Err(Failure::input(miette::miette!(
            "no case matches --filter {}",
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    if args.format == TestFormat::Junit {
        outln!("{}", junit(&results)?);
    } else if args.verbose {
        for case in &results.results {
            let mark = if case.failures.is_empty() { "ok  " } else { "FAIL" };
            outln!("{mark} {}: {}", case.file.display(), case.name);
        }
    }
    for failure in &results.failures {
        eprintln!("FAIL {failure}");
    }
    for invalid in &results.invalid {
        eprintln!("error: {invalid}");
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
    let summary = format!(
        "{} test file(s), {} case(s), {} expectation(s): {} failed",
        files.len(),
        results.cases,
        results.checks,
        results.failures.len()
    );
    // JUnit owns standard output.
    if args.format == TestFormat::Junit {
        eprintln!("{summary}");
    } else {
        outln!("{summary}");
    }
    if !uncovered.is_empty() {
        eprintln!(
            "coverage: {} rule(s) lack a case that fails or one that passes: {}",
            uncovered.len(),
            uncovered.join(", ")
        );
    }
    if !results.invalid.is_empty() {
        eprintln!("{} case(s) that are not valid: fix the test file", results.invalid.len());
        return Ok(ExitCode::from(2));
    }
    Ok(if results.failures.is_empty() && uncovered.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn junit(results: &policytest::Results) -> Result<String, Failure> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("assay test");
    let mut suites: std::collections::BTreeMap<String, TestSuite> = std::collections::BTreeMap::new();
    for case in &results.results {
        let file = case.file.display().to_string();
        let suite = suites.entry(file.clone()).or_insert_with(|| TestSuite::new(file));
        let status = if case.failures.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("{} expectation(s) did not hold", case.failures.len()));
            s.set_description(case.failures.join("\n"));
            s
        };
        suite.add_test_case(TestCase::new(case.name.clone(), status));
    }
    report.add_test_suites(suites.into_values());
    report.to_string().map_err(|e| Failure::internal(miette::miette!("cannot render JUnit: {e}")))
}
