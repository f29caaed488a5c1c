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
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod load;
mod record;

pub use load::{load, load_text, Case, CaseFile, FindingsCheck, LoadError};
pub use record::record;

/// The outcome of one case: empty `failures` when every expectation held.
#[derive(Debug)]
pub struct CaseResult {
    pub file: PathBuf,
    pub name: String,
    pub failures: Vec<String>,
}

/// Whether a case is selected by `--filter` (a substring of its file or name).
pub fn selected(filter: Option<&str>, path: &Path, case: &Case) -> bool {
    filter.is_none_or(|f| case.name.contains(f) || path.to_string_lossy().contains(f))
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
    /// Cases whose telemetry is not a valid document, each with the test
    /// file's line and column: the test file is wrong, not the rules.
    pub invalid: Vec<String>,
    /// Each case run, with its own failures.
    pub results: Vec<CaseResult>,
    /// Rule id → (seen failing, seen passing).
    pub coverage: BTreeMap<String, (bool, bool)>,
}

fn outcome_name(o: &Outcome) -> &'static str {
    o.name()
}

/// A case's telemetry with the contents its `files` give the bundle's
/// lookups (after any `contents` it states itself). A file that cannot be
/// parsed is the case's error, with the parser's message.
fn with_files(bundle: &Bundle, case: &Case) -> Result<serde_json::Value, String> {
    if case.files.is_empty() {
        return Ok(case.telemetry.clone());
    }
    let read = crate::collector::contents::read_all(&case.files, &bundle.content.plan.contents);
    if let Some((path, message)) = read.errors.first() {
        return Err(format!("files.{path}: {message}"));
    }
    let mut telemetry = match &case.telemetry {
        serde_json::Value::Null => serde_json::json!({}),
        other => other.clone(),
    };
    let Some(doc) = telemetry.as_object_mut() else {
        return Err("`telemetry` is not a mapping".into());
    };
    let read_values = serde_json::to_value(&read.values).map_err(|e| e.to_string())?;
    let entry = doc.entry("contents").or_insert_with(|| serde_json::json!([]));
    match (entry.as_array_mut(), read_values) {
        (Some(list), serde_json::Value::Array(values)) => list.extend(values),
        _ => return Err("`telemetry.contents` is not a list".into()),
    }
    Ok(telemetry)
}

/// Why a case's telemetry is not a valid document: the field (a path
/// into the case's `telemetry`) and what is wrong with it.
struct Invalid {
    path: String,
    message: String,
}

impl Invalid {
    /// Where the field lies in the test file: in the case, else in the
    /// file's `defaults`, else the nearest node of the case that exists.
    fn position(&self, file: &CaseFile, index: usize) -> (usize, usize) {
        let field = crate::yaml_path::parse_path(&self.path);
        let case = [
            vec![crate::yaml_path::Step::Key("cases".into()), crate::yaml_path::Step::Index(index)],
            telemetry_path(&field),
        ]
        .concat();
        let defaults =
            [vec![crate::yaml_path::Step::Key("defaults".into())], telemetry_path(&field)].concat();
        crate::yaml_path::find(&file.text, &case)
            .or_else(|| crate::yaml_path::find(&file.text, &defaults))
            .or_else(|| crate::yaml_path::locate(&file.text, &case))
            .unwrap_or((1, 1))
    }
}

fn telemetry_path(field: &[crate::yaml_path::Step]) -> Vec<crate::yaml_path::Step> {
    let mut out = vec![crate::yaml_path::Step::Key("telemetry".into())];
    out.extend_from_slice(field);
    out
}

/// The host a case's partial telemetry describes.
fn host(telemetry: &serde_json::Value) -> Result<Host, Invalid> {
    let whole = |message: String| Invalid { path: String::new(), message };
    let doc = partial::complete(telemetry);
    let bytes = serde_json::to_vec(&doc).map_err(|e| whole(e.to_string()))?;
    let read = assay_model::telemetry::from_json(&bytes).map_err(|e| Invalid {
        // serde_json places its errors in the re-serialised document, which
        // the author never saw.
        message: strip_json_position(&e.message),
        path: e.path,
    })?;
    Host::from_partial(read, &partial::given(telemetry)).map_err(|e| whole(e.to_string()))
}

/// `... at line 1 column 1965` without the position.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_owned(),
        _ => message.to_owned(),
    }
}

/// What `assay test` asks of a run beyond the cases.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// Only the cases [`selected`] by this text.
    pub filter: Option<&'a str>,
    /// Only these rules' expectations are checked and their coverage kept
    /// (`--rule`, `--rule-tag`).
    pub only: Option<&'a std::collections::BTreeSet<String>>,
    /// Parameter values for every case (`--param`), under each case's own.
    pub params: &'a [(String, serde_json::Value)],
}

/// Runs `cases` (with the file they came from) against `bundle`; with
/// `filter`, only the cases [`selected`] by it.
pub fn run(bundle: &Bundle, files: &[(PathBuf, CaseFile)], options: &RunOptions<'_>) -> Results {
    let RunOptions { filter, only, params } = *options;
    let program = Program::new(bundle);
    let mut results = Results::default();
    let chosen = |rule: &str| only.is_none_or(|o| o.contains(rule));
    for rule in bundle.content.rules.iter().filter(|r| chosen(&r.id)) {
        results.coverage.insert(rule.id.clone(), (false, false));
    }
    for (path, file) in files {
        for (index, case) in file.cases.iter().enumerate().filter(|(_, c)| selected(filter, path, c)) {
            results.cases += 1;
            let before = results.failures.len();
            let label = format!("{}: {}", path.display(), case.name);
            let telemetry = match with_files(bundle, case) {
                Ok(t) => t,
                Err(e) => {
                    results.failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            let host = match host(&telemetry) {
                Ok(h) => h,
                Err(e) => {
                    let (line, column) = e.position(file, index);
                    let at = if e.path.is_empty() { String::new() } else { format!(" at `{}`", e.path) };
                    results.invalid.push(format!(
                        "{}:{line}:{column}: case {:?}: the telemetry is not valid{at}: {}",
                        path.display(),
                        case.name,
                        e.message
                    ));
                    results.results.push(CaseResult {
                        file: path.clone(),
                        name: case.name.clone(),
                        failures: vec![format!("the telemetry is not valid: {}", e.message)],
                    });
                    continue;
                }
            };
            let given: Vec<(String, serde_json::Value)> = params
                .iter()
                .cloned()
                .chain(case.params.iter().map(|(k, v)| (k.clone(), v.clone())))
                .collect();
            let values = match assay_model::bundle::params::resolve(&bundle.content, &given) {
                Ok(v) => v,
                Err(e) => {
                    // The case's own value that is wrong, else the case.
                    let wrong = case.params.iter().find(|(k, v)| {
                        assay_model::bundle::params::resolve(&bundle.content, &[((*k).clone(), (*v).clone())])
                            .is_err()
                    });
                    let mut at = vec![
                        crate::yaml_path::Step::Key("cases".into()),
                        crate::yaml_path::Step::Index(index),
                    ];
                    if let Some((name, _)) = wrong {
                        at.extend([
                            crate::yaml_path::Step::Key("params".into()),
                            crate::yaml_path::Step::Key(name.clone()),
                        ]);
                    }
                    let (line, column) = crate::yaml_path::locate(&file.text, &at).unwrap_or((1, 1));
                    results.invalid.push(format!(
                        "{}:{line}:{column}: case {:?}: {e}",
                        path.display(),
                        case.name
                    ));
                    results.results.push(CaseResult {
                        file: path.clone(),
                        name: case.name.clone(),
                        failures: vec![e],
                    });
                    continue;
                }
            };
            let report = program.evaluate(&host, &Options { params: values, ..Options::default() });
            for r in &report.rules {
                if let Some(c) = results.coverage.get_mut(&r.rule_id) {
                    match r.outcome {
                        Outcome::Failed { .. } => c.0 = true,
                        Outcome::Passed => c.1 = true,
                        _ => {}
                    }
                }
            }
            for (rule, expected) in case.expect.iter().filter(|(r, _)| chosen(r)) {
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
            for (rule, check) in case.findings.iter().filter(|(r, _)| chosen(r)) {
                results.checks += 1;
                let found: Vec<_> = report.findings.iter().filter(|f| &f.rule_id == rule).collect();
                for problem in check_findings(check, &found) {
                    results.failures.push(format!("{label}: {rule}: {problem}"));
                }
            }
            let failures = results.failures[before..].to_vec();
            results.results.push(CaseResult { file: path.clone(), name: case.name.clone(), failures });
        }
    }
    results
}

/// What is wrong with `found` against `check`, one line each.
fn check_findings(check: &FindingsCheck, found: &[&crate::findings::Finding]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = check.count {
        if found.len() != n {
            out.push(format!("expected {n} finding(s), got {}", found.len()));
        }
    }
    if found.is_empty() && check.count != Some(0) {
        out.push("expected findings, got none".to_owned());
    }
    let pattern = match check.message_matches.as_deref().map(regex::Regex::new) {
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            out.push(format!("`message_matches` is not a valid regular expression: {e}"));
            None
        }
        None => None,
    };
    for f in found {
        if let Some(text) = &check.message {
            if !f.message.contains(text.as_str()) {
                out.push(format!("the message `{}` does not contain `{text}`", f.message));
            }
        }
        if let Some(re) = &pattern {
            if !re.is_match(&f.message) {
                out.push(format!("the message `{}` does not match /{}/", f.message, re.as_str()));
            }
        }
        if let Some(path) = &check.evidence {
            if !f.evidence.iter().any(|e| evidence_matches(path, &e.path)) {
                let paths: Vec<&str> = f.evidence.iter().map(|e| e.path.as_str()).collect();
                out.push(format!("no evidence at `{path}` (evidence: {})", paths.join(", ")));
            }
        }
    }
    out
}

/// Whether an expected evidence path names a finding's (printed) path:
/// written as printed (`host.sysctl("x").runtime`), or in the bracketed
/// form with `[]` for any item (`host.kernel.parameters[].runtime`,
/// `host.packages["openssl"].version`), as earlier releases printed it.
fn evidence_matches(expected: &str, printed: &str) -> bool {
    if expected == printed {
        return true;
    }
    let (expected, _) = assay_model::evidence::parse(expected);
    let (actual, _) = assay_model::evidence::parse(printed);
    evidence_path_matches(&expected, &actual)
}

/// Whether an expected evidence path names `actual`: exactly, or with `[]`
/// standing for any item (`host.packages[].version` matches
/// `host.packages["openssl"].version`).
fn evidence_path_matches(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    let Some((head, tail)) = expected.split_once("[]") else { return false };
    let Some(rest) = actual.strip_prefix(head).and_then(|r| r.strip_prefix('[')) else { return false };
    // The item's name: a quoted string (with escapes) or a number.
    let mut chars = rest.char_indices();
    let end = match chars.next() {
        Some((_, '"')) => {
            let mut escaped = false;
            chars
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map(|(i, _)| i + 1)
        }
        Some(_) => rest.find(']'),
        None => None,
    };
    match end.and_then(|e| rest[e..].strip_prefix(']')) {
        Some(after) => evidence_path_matches(tail, after),
        None => false,
    }
}

#[cfg(test)]
mod evidence_path_tests {
    use super::evidence_path_matches as m;

    #[test]
    fn brackets_stand_for_any_named_item() {
        assert!(m("host.packages[].version", "host.packages[\"openssl\"].version"));
        assert!(m("host.packages[\"openssl\"].version", "host.packages[\"openssl\"].version"));
        assert!(m("host.listeners[].port", "host.listeners[22].port"));
        assert!(m("host.a[].b[].c", "host.a[\"x\"].b[\"y\\\"]\"].c"));
        assert!(!m("host.packages[].version", "host.packages[\"openssl\"].name"));
        assert!(!m("host.packages[\"bash\"].version", "host.packages[\"openssl\"].version"));
        assert!(!m("host.sshd", "host.sshd.port"));
    }

    #[test]
    fn printed_paths_match_either_form() {
        use super::evidence_matches as e;
        let sysctl = "host.sysctl(\"net.ipv4.ip_forward\").runtime";
        assert!(e(sysctl, sysctl));
        assert!(e("host.kernel.parameters[].runtime", sysctl));
        assert!(e("host.kernel.parameters[\"net.ipv4.ip_forward\"].runtime", sysctl));
        assert!(!e("host.kernel.parameters[\"kernel.modules_disabled\"].runtime", sysctl));
        let package = "find(p in host.packages where p.name == \"openssl\").version";
        assert!(e("host.packages[].version", package));
        assert!(!e("host.packages[].name", package));
        assert!(e("host.pam[].arguments", "host.pam[].arguments"));
    }
}
