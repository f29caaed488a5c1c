//! A policy-test file: its format, shared `defaults` merged into every
//! case, YAML merge keys, and where in the file a path lies, so every
//! error names the test file's own line and column.

use crate::yaml_path::{locate, parse_path};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Telemetry and files every case starts from; a case's own values
    /// are merged over them (mappings key by key, anything else replaced).
    #[serde(default)]
    pub defaults: Defaults,
    /// YAML anchors for the cases to refer to (`*base`, `<<: *base`);
    /// otherwise ignored.
    #[serde(default)]
    pub anchors: serde_yaml::Value,
    pub cases: Vec<Case>,
    /// The file's text, to locate errors found after loading.
    #[serde(skip)]
    pub text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub telemetry: serde_json::Value,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub telemetry: serde_json::Value,
    /// Configuration files by path, as text: the packages' lookups of
    /// files' contents (`host.json(...)`, ...) read them as the collector
    /// reads a host's, into `contents`.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Package parameters set for this case (`PACKAGE.NAME` or `NAME` →
    /// value), over the file's `defaults` and `assay test --param`.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Rule id → `passed`, `failed`, `not applicable`, `skipped` or `error`.
    pub expect: BTreeMap<String, String>,
    /// Rule id → what its findings must be (the rule must then fail).
    #[serde(default)]
    pub findings: BTreeMap<String, FindingsCheck>,
}

/// Assertions on the findings of one rule in a case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsCheck {
    /// Exactly this many findings.
    pub count: Option<usize>,
    /// Every finding's message contains this text.
    pub message: Option<String>,
    /// Every finding's message matches this regular expression.
    pub message_matches: Option<String>,
    /// Every finding has evidence under this path (`host.sshd.permit_root_login`).
    pub evidence: Option<String>,
}

/// Why a test file cannot be read: where in it (line and column, 1-based)
/// when that is known, and what is wrong.
#[derive(Debug)]
pub struct LoadError {
    pub path: std::path::PathBuf,
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Reads a test file and merges its `defaults` into every case; the error
/// names the file, the line and what is wrong (an unknown key, a duplicate
/// key, a wrong type).
pub fn load(path: &Path) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    load_text(path, text).map_err(|e| e.to_string())
}

/// [`load`] of a file's text (an editor's unsaved buffer).
pub fn load_text(path: &Path, text: String) -> Result<CaseFile, LoadError> {
    let at = |at: Option<(usize, usize)>, e: &dyn fmt::Display| LoadError {
        path: path.to_path_buf(),
        at,
        message: e.to_string(),
    };
    let located = |e: serde_yaml::Error| at(e.location().map(|l| (l.line(), l.column())), &e);
    // A YAML mapping with the same key twice would silently keep the last
    // one in a typed map; as an untyped value it is an error.
    let mut value = serde_yaml::from_str::<serde_yaml::Value>(&text).map_err(located)?;
    let mut file: CaseFile = if has_merge_keys(&value) {
        // Merged mappings no longer match the text, so a typed error is
        // placed by its path.
        value.apply_merge().map_err(located)?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            let message = format!("{field}: {}", e.inner());
            at(locate(&text, &parse_path(&field)), &message)
        })?
    } else {
        serde_yaml::from_str(&text).map_err(located)?
    };
    for case in &mut file.cases {
        case.telemetry = merged(&file.defaults.telemetry, std::mem::take(&mut case.telemetry));
        for (path, text) in &file.defaults.files {
            case.files.entry(path.clone()).or_insert_with(|| text.clone());
        }
        for (name, value) in &file.defaults.params {
            case.params.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    file.text = text;
    Ok(file)
}

fn has_merge_keys(v: &serde_yaml::Value) -> bool {
    match v {
        serde_yaml::Value::Mapping(m) => m.iter().any(|(k, v)| k.as_str() == Some("<<") || has_merge_keys(v)),
        serde_yaml::Value::Sequence(s) => s.iter().any(has_merge_keys),
        serde_yaml::Value::Tagged(t) => has_merge_keys(&t.value),
        _ => false,
    }
}

/// `over` merged onto `base`: mappings key by key (recursively), anything
/// else from `over`; `null` (left out) keeps `base`.
fn merged(base: &serde_json::Value, over: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match (base, over) {
        (base, Value::Null) => base.clone(),
        (Value::Object(b), Value::Object(mut o)) => {
            let mut out = serde_json::Map::new();
            for (k, v) in b {
                let value = match o.remove(k) {
                    Some(ov) => merged(v, ov),
                    None => v.clone(),
                };
                out.insert(k.clone(), value);
            }
            out.extend(o);
            Value::Object(out)
        }
        (_, over) => over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_path::Step;

    const FILE: &str = "defaults:\n  telemetry:\n    sshd: { port: 22 }\ncases:\n  - name: a\n    telemetry:\n      sshd:\n        permit_root_logn: \"no\"\n    expect: {}\n  - name: b\n    expect: {}\n";

    #[test]
    fn paths_are_located_at_their_node() {
        let at = |p: &str| locate(FILE, &parse_path(p));
        assert_eq!(at("cases[0].telemetry.sshd.permit_root_logn"), Some((8, 27)));
        assert_eq!(at("cases[0].telemetry.sshd"), Some((8, 9)));
        assert_eq!(at("defaults.telemetry.sshd.port"), Some((3, 19)));
        // The deepest node that exists.
        assert_eq!(at("cases[1].telemetry.users[0]"), at("cases[1]"));
        assert!(at("cases[1]").is_some());
        assert_eq!(
            parse_path("a[0][1].b"),
            [Step::Key("a".into()), Step::Index(0), Step::Index(1), Step::Key("b".into())]
        );
    }

    #[test]
    fn a_case_is_merged_over_the_defaults() {
        let base = serde_json::json!({"sshd": {"port": 22, "permit_root_login": "yes"}, "users": [1]});
        let over = serde_json::json!({"sshd": {"permit_root_login": "no"}, "users": []});
        assert_eq!(
            merged(&base, over),
            serde_json::json!({"sshd": {"port": 22, "permit_root_login": "no"}, "users": []})
        );
        assert_eq!(merged(&base, serde_json::Value::Null), base);
    }
}
