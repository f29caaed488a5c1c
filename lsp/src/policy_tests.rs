//! A package's policy tests (`tests/*.yaml`) in the editor: their own
//! mistakes (what `assay test` would refuse, an expectation of a rule the
//! package does not have, an outcome that does not exist) as diagnostics;
//! on each rule, a code lens that runs the cases naming it, whose failures
//! are published on the cases' lines.

use crate::analysis::Analysis;
use crate::text::Lines;
use assay_compiler::diagnostics::suggest::did_you_mean;
use assay_model::findings::Outcome;
use assay_runtime::policytest::{self, CaseFile, RunOptions};
use assay_runtime::yaml_path::{locate, Step};
use lsp_types::{Diagnostic, DiagnosticSeverity, Position, Range, Url};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The package folder of a test file (`PKG/tests/x.yaml` with
/// `PKG/package.yaml`).
pub(crate) fn package_of(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?;
    if !matches!(ext, "yaml" | "yml") {
        return None;
    }
    let tests = path.parent()?;
    let root = tests.parent()?;
    (tests.file_name()? == "tests" && root.join("package.yaml").is_file()).then(|| root.to_path_buf())
}

/// The test files of the package at `root`, each with its text (the open
/// document's where there is one).
pub(crate) fn files(root: &Path, open: &BTreeMap<PathBuf, String>) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    let dir = root.join("tests");
    let mut paths: BTreeSet<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| package_of(p).is_some())
        .collect();
    paths.extend(open.keys().filter(|p| p.starts_with(&dir) && package_of(p).is_some()).cloned());
    for path in paths {
        let text = match open.get(&path) {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(&path).unwrap_or_default(),
        };
        out.push((path, text));
    }
    out
}

fn at(text: &str, steps: &[Step]) -> Range {
    let (line, column) = locate(text, steps).unwrap_or((1, 1));
    let start = Position::new(line.saturating_sub(1) as u32, column.saturating_sub(1) as u32);
    // To the end of the line.
    let end = Lines::new(text)
        .position(text.lines().take(line).map(|l| l.len() + 1).sum::<usize>().saturating_sub(1));
    Range::new(start, if end.line == start.line { end } else { start })
}

fn diagnostic(range: Range, code: &str, message: String) -> Diagnostic {
    Diagnostic {
        range,
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(lsp_types::NumberOrString::String(code.to_owned())),
        source: Some("assay test".to_owned()),
        message,
        ..Diagnostic::default()
    }
}

/// The rule ids of the package the analysis read.
pub(crate) fn rule_ids(analysis: &Analysis) -> Vec<String> {
    analysis.program.rules.iter().map(|r| r.id.clone()).collect()
}

/// What is wrong with a test file's text, for the rules `rules`.
pub(crate) fn check(path: &Path, text: &str, rules: &[String]) -> Vec<Diagnostic> {
    let file = match policytest::load_text(path, text.to_owned()) {
        Ok(f) => f,
        Err(e) => {
            let (line, column) = e.at.unwrap_or((1, 1));
            let start = Position::new(line.saturating_sub(1) as u32, column.saturating_sub(1) as u32);
            return vec![diagnostic(Range::new(start, start), "test-file", e.message)];
        }
    };
    let mut out = Vec::new();
    for (index, case) in file.cases.iter().enumerate() {
        let base = [Step::Key("cases".into()), Step::Index(index)];
        let named =
            case.expect.keys().map(|r| ("expect", r)).chain(case.findings.keys().map(|r| ("findings", r)));
        for (section, rule) in named {
            if rules.contains(rule) {
                continue;
            }
            let steps = [&base[..], &[Step::Key(section.into()), Step::Key(rule.clone())]].concat();
            let mut message = format!("the package has no rule {rule}");
            if let Some(s) = did_you_mean(rule, rules.iter().map(String::as_str)) {
                message = format!("{message}: did you mean {s}?");
            }
            out.push(diagnostic(at(text, &steps), "unknown-rule", message));
        }
        for (rule, outcome) in &case.expect {
            if !Outcome::NAMES.contains(&outcome.trim()) {
                let steps = [&base[..], &[Step::Key("expect".into()), Step::Key(rule.clone())]].concat();
                let mut message =
                    format!("{outcome:?} is not an outcome: one of {}", Outcome::NAMES.join(", "));
                if let Some(s) = did_you_mean(outcome, Outcome::NAMES) {
                    message = format!("{outcome:?} is not an outcome: did you mean {s:?}?");
                }
                out.push(diagnostic(at(text, &steps), "unknown-outcome", message));
            }
        }
    }
    out
}

/// How many cases of the package's test files name `rule`.
pub(crate) fn cases_naming(files: &[(PathBuf, String)], rule: &str) -> usize {
    files
        .iter()
        .filter_map(|(path, text)| policytest::load_text(path, text.clone()).ok())
        .flat_map(|f| f.cases)
        .filter(|c| c.expect.contains_key(rule) || c.findings.contains_key(rule))
        .count()
}

/// What running a rule's cases found.
pub(crate) struct Ran {
    pub cases: usize,
    pub failed: usize,
    /// The failures of each test file, on the lines of their cases.
    pub diagnostics: BTreeMap<Url, Vec<Diagnostic>>,
}

/// Builds the package and runs the cases of its test files that name
/// `rule`, checking only that rule's expectations.
pub(crate) fn run(analysis: &Analysis, files: &[(PathBuf, String)], rule: &str) -> Result<Ran, String> {
    let built = assay_compiler::build(&analysis.loaded).map_err(|d| {
        format!("the package does not compile ({} errors)", d.iter().filter(|d| d.is_error()).count())
    })?;
    let bundle = assay_model::bundle::load(&built.bytes).map_err(|e| e.to_string())?;
    let mut loaded: Vec<(PathBuf, CaseFile)> = Vec::new();
    for (path, text) in files {
        let mut file = policytest::load_text(path, text.clone()).map_err(|e| e.to_string())?;
        file.cases.retain(|c| c.expect.contains_key(rule) || c.findings.contains_key(rule));
        if !file.cases.is_empty() {
            loaded.push((path.clone(), file));
        }
    }
    let only = BTreeSet::from([rule.to_owned()]);
    let results =
        policytest::run(&bundle, &loaded, &RunOptions { only: Some(&only), ..RunOptions::default() });
    let mut diagnostics: BTreeMap<Url, Vec<Diagnostic>> = BTreeMap::new();
    let mut failed = 0;
    for (path, text) in files {
        let Ok(url) = Url::from_file_path(path) else { continue };
        let entry = diagnostics.entry(url).or_default();
        if !loaded.iter().any(|(p, _)| p == path) {
            continue;
        }
        // The cases' places in the whole file, not among the cases kept.
        let whole = policytest::load_text(path, text.clone()).map_err(|e| e.to_string())?;
        for result in results.results.iter().filter(|r| &r.file == path && !r.failures.is_empty()) {
            failed += 1;
            let index = whole.cases.iter().position(|c| c.name == result.name).unwrap_or(0);
            let steps = [Step::Key("cases".into()), Step::Index(index), Step::Key("name".into())];
            let message = format!("{}: {}", result.name, result.failures.join("; "));
            entry.push(diagnostic(at(text, &steps), "test-failed", message));
        }
    }
    Ok(Ran { cases: results.cases, failed, diagnostics })
}
