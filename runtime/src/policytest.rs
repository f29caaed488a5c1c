//! Policy tests: YAML files under a package's `tests/` folder, each a list
//! of cases, a partial telemetry document and the outcome expected of each
//! rule named. `assay test` runs them; `--coverage` also requires that every
//! rule was seen failing and seen passing.
//!
//! ```yaml
//! cases:
//!   - name: root may log in with a key
//!     telemetry:
//!       sshd: { permit_root_login: prohibit-password }
//!     expect:
//!       SBP-SSH-001: failed
//! ```

use crate::findings::Outcome;
use crate::value::Host;
use crate::vm::{Options, Program};
use assay_model::bundle::Bundle;
use assay_model::telemetry::partial;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub telemetry: serde_json::Value,
    /// Rule id → `passed`, `failed`, `not applicable` or `error`.
    pub expect: BTreeMap<String, String>,
}

/// Reads a test file; the error names the file and what is wrong.
pub fn load(path: &Path) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `tests/*.yaml` (and `.yml`) below a package root, sorted.
pub fn discover(package_root: &Path) -> Vec<PathBuf> {
    let dir = package_root.join("tests");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[derive(Debug, Default)]
pub struct Results {
    pub cases: usize,
    pub checks: usize,
    /// One line per expectation that did not hold.
    pub failures: Vec<String>,
    /// Rule id → (seen failing, seen passing).
    pub coverage: BTreeMap<String, (bool, bool)>,
}

fn outcome_name(o: &Outcome) -> &'static str {
    o.name()
}

/// Runs `cases` (with the file they came from) against `bundle`.
pub fn run(bundle: &Bundle, files: &[(PathBuf, CaseFile)]) -> Results {
    let program = Program::new(bundle);
    let mut results = Results::default();
    for rule in &bundle.content.rules {
        results.coverage.insert(rule.id.clone(), (false, false));
    }
    for (path, file) in files {
        for case in &file.cases {
            results.cases += 1;
            let label = format!("{}: {}", path.display(), case.name);
            let doc = partial::complete(&case.telemetry);
            let host = match serde_json::to_vec(&doc)
                .map_err(|e| e.to_string())
                .and_then(|b| Host::from_json(&b).map_err(|e| e.to_string()))
            {
                Ok(h) => h,
                Err(e) => {
                    results.failures.push(format!("{label}: the telemetry is not valid: {e}"));
                    continue;
                }
            };
            let report = program.evaluate(&host, &Options::default());
            for r in &report.rules {
                if let Some(c) = results.coverage.get_mut(&r.rule_id) {
                    match r.outcome {
                        Outcome::Failed { .. } => c.0 = true,
                        Outcome::Passed => c.1 = true,
                        _ => {}
                    }
                }
            }
            for (rule, expected) in &case.expect {
                results.checks += 1;
                let Some(actual) = report.rules.iter().find(|r| &r.rule_id == rule) else {
                    results.failures.push(format!("{label}: no rule {rule} in the packages under test"));
                    continue;
                };
                let got = outcome_name(&actual.outcome);
                if got != expected.trim() {
                    let detail = match &actual.outcome {
                        Outcome::Failed { .. } => report
                            .findings
                            .iter()
                            .filter(|f| &f.rule_id == rule)
                            .map(|f| f.message.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                        Outcome::NotApplicable { reason }
                        | Outcome::Skipped { reason }
                        | Outcome::Error { reason } => reason.clone(),
                        Outcome::Passed => String::new(),
                    };
                    let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
                    results.failures.push(format!("{label}: {rule}: expected {expected}, got {got}{detail}"));
                }
            }
        }
    }
    results
}
