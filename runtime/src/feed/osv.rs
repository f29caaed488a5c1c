//! Importing OSV advisories (https://ossf.github.io/osv-schema/): a folder of
//! `.json` / `.yaml` files, or an osv.dev-style zip. Records for the
//! ecosystems Assay matches (Debian, Ubuntu, Alpine, PyPI) are kept; a
//! record that cannot be read is skipped with a warning naming it.

use super::{cvss, Advisory, Affected, Feed, Range, Source};
use assay_model::telemetry::AdvisorySeverity;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// A record that was skipped, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportWarning {
    pub record: String,
    pub message: String,
}

/// The most bytes read from one record.
const MAX_RECORD: u64 = 16 << 20;

pub fn import_osv(path: &Path) -> Result<(Feed, Vec<ImportWarning>), String> {
    let mut feed = Feed::default();
    let mut warnings = Vec::new();
    fn add(feed: &mut Feed, warnings: &mut Vec<ImportWarning>, name: &str, bytes: &[u8]) {
        let parsed: Result<Value, String> = if name.ends_with(".json") {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        } else {
            serde_yaml::from_slice::<serde_yaml::Value>(bytes)
                .map_err(|e| e.to_string())
                .and_then(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
        };
        match parsed.and_then(|v| record(&v)) {
            Ok(Some(a)) => feed.advisories.push(a),
            Ok(None) => {}
            Err(message) => warnings.push(ImportWarning { record: name.to_owned(), message }),
        }
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for e in entries.filter_map(Result::ok) {
                let p = e.path();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(p);
                } else if ft.is_file()
                    && p.extension().is_some_and(|x| x == "json" || x == "yaml" || x == "yml")
                {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            let name = f.strip_prefix(path).unwrap_or(&f).display().to_string();
            match std::fs::File::open(&f).and_then(|file| {
                let mut buf = Vec::new();
                file.take(MAX_RECORD).read_to_end(&mut buf).map(|_| buf)
            }) {
                Ok(bytes) => add(&mut feed, &mut warnings, &name, &bytes),
                Err(e) => warnings.push(ImportWarning { record: name, message: e.to_string() }),
            }
        }
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| format!("{}: not a folder or a zip archive: {e}", path.display()))?;
        for i in 0..zip.len() {
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(ImportWarning { record: format!("entry {i}"), message: e.to_string() });
                    continue;
                }
            };
            let name = match entry.name() {
                Ok(n) => n.to_string(),
                Err(e) => {
                    warnings.push(ImportWarning { record: format!("entry {i}"), message: e.to_string() });
                    continue;
                }
            };
            if !(name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml"))
                || entry.is_dir()
            {
                continue;
            }
            let mut bytes = Vec::new();
            if let Err(e) = (&mut entry).take(MAX_RECORD).read_to_end(&mut bytes) {
                warnings.push(ImportWarning { record: name, message: e.to_string() });
                continue;
            }
            add(&mut feed, &mut warnings, &name, &bytes);
        }
    }
    feed.advisories.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((feed, warnings))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// One OSV record; `Ok(None)` when it names no ecosystem Assay matches.
fn record(v: &Value) -> Result<Option<Advisory>, String> {
    let id = v.get("id").and_then(Value::as_str).ok_or("no `id`")?.to_owned();
    if v.get("withdrawn").is_some_and(|w| !w.is_null()) {
        return Ok(None);
    }
    let mut cves: Vec<String> = strings(v.get("aliases").unwrap_or(&Value::Null))
        .into_iter()
        .filter(|a| a.starts_with("CVE-"))
        .collect();
    if id.starts_with("CVE-") && !cves.contains(&id) {
        cves.insert(0, id.clone());
    }
    let summary = v
        .get("summary")
        .and_then(Value::as_str)
        .or_else(|| v.get("details").and_then(Value::as_str))
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect::<String>();
    let references: Vec<String> = v
        .get("references")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|x| x.get("url").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut severity = severity_of(v);
    let affected_list = v.get("affected").and_then(Value::as_array).ok_or("no `affected` list")?;
    let mut affected = Vec::new();
    for a in affected_list {
        let Some(pkg) = a.get("package") else { continue };
        let eco = pkg.get("ecosystem").and_then(Value::as_str).unwrap_or_default();
        let (base, release) = match eco.split_once(':') {
            Some((b, r)) => (b, Some(r.to_owned())),
            None => (eco, None),
        };
        let Some(ecosystem) = Source::from_osv(base) else { continue };
        let package = pkg
            .get("name")
            .and_then(Value::as_str)
            .ok_or("an affected entry without a package name")?
            .to_owned();
        let mut ranges = Vec::new();
        for r in a.get("ranges").and_then(Value::as_array).into_iter().flatten() {
            let kind = r.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind != "ECOSYSTEM" && kind != "SEMVER" {
                continue;
            }
            let events = r.get("events").and_then(Value::as_array).ok_or("a range without events")?;
            // Events come in order: each `introduced` opens a range that the
            // next `fixed` or `last_affected` closes.
            let mut open: Option<String> = None;
            for e in events {
                let text = |k: &str| {
                    e.get(k).map(|x| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string()))
                };
                if let Some(i) = text("introduced") {
                    if let Some(prev) = open.take() {
                        ranges.push(Range { introduced: prev, fixed: None, last_affected: None });
                    }
                    open = Some(i);
                } else if let Some(f) = text("fixed") {
                    ranges.push(Range {
                        introduced: open.take().unwrap_or_else(|| "0".into()),
                        fixed: Some(f),
                        last_affected: None,
                    });
                } else if let Some(l) = text("last_affected") {
                    ranges.push(Range {
                        introduced: open.take().unwrap_or_else(|| "0".into()),
                        fixed: None,
                        last_affected: Some(l),
                    });
                } else if e.get("limit").is_none() {
                    return Err(format!("an event without introduced, fixed or last_affected: {e}"));
                }
            }
            if let Some(prev) = open {
                ranges.push(Range { introduced: prev, fixed: None, last_affected: None });
            }
        }
        let versions = strings(a.get("versions").unwrap_or(&Value::Null));
        if ranges.is_empty() && versions.is_empty() {
            continue;
        }
        if severity.is_none() {
            severity = severity_of(a);
        }
        affected.push(Affected { ecosystem, release, package, ranges, versions });
    }
    if affected.is_empty() {
        return Ok(None);
    }
    let (severity, severity_source) = severity.unzip();
    Ok(Some(Advisory { id, cves, summary, severity, severity_source, references, affected }))
}

/// `critical`/`high`/`medium`/`low` and where it came from: a CVSS v3
/// vector's base score, else a CVSS v4 vector's score (v3 first, so a
/// record that has both keeps the rating it had before v4 was read), else
/// a severity entry a database writes as a word
/// (Ubuntu's `{"type": "Ubuntu", "score": "medium"}`), else
/// `database_specific.severity` (GHSA's `HIGH`, `MODERATE`), else
/// `ecosystem_specific.urgency` (Debian's changelog urgency). A word that
/// names no level (`not yet assigned`) is no severity, never a guess.
fn severity_of(v: &Value) -> Option<(AdvisorySeverity, String)> {
    // (type, score) of each `severity[]` entry.
    let entries: Vec<(&str, &str)> = v
        .get("severity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default();
            (field("type"), field("score"))
        })
        .collect();
    let vector = |version: &str, what: &str| {
        entries.iter().filter(|(kind, _)| kind.starts_with(version)).find_map(|(_, score)| {
            let base = cvss::base_score(score)?;
            Some((cvss::level(base), format!("{score} ({what} {base:.1})")))
        })
    };
    if let Some(rated) = vector("CVSS_V3", "base score").or_else(|| vector("CVSS_V4", "score")) {
        return Some(rated);
    }
    let worded = entries
        .iter()
        .filter(|(kind, _)| !kind.starts_with("CVSS"))
        .find_map(|(kind, score)| word(score).map(|level| (level, format!("{kind} severity {score}"))));
    if worded.is_some() {
        return worded;
    }
    let text = |section: &str, key: &str| {
        v.get(section).and_then(|d| d.get(key)).and_then(Value::as_str).map(str::to_owned)
    };
    if let Some(w) = text("database_specific", "severity") {
        if let Some(level) = word(&w) {
            return Some((level, format!("database severity {w}")));
        }
    }
    let urgency = text("ecosystem_specific", "urgency")?;
    word(&urgency).map(|level| (level, format!("Debian urgency {urgency}")))
}

/// A database's severity word as a level: `moderate` is medium, Debian's
/// `emergency` critical, `unimportant` and `negligible` low.
pub(super) fn word(w: &str) -> Option<AdvisorySeverity> {
    match w.trim().to_ascii_lowercase().as_str() {
        "moderate" => Some(AdvisorySeverity::Medium),
        "emergency" => Some(AdvisorySeverity::Critical),
        "unimportant" | "negligible" => Some(AdvisorySeverity::Low),
        // `unknown` is what no rating says; it is not one.
        "unknown" => None,
        other => AdvisorySeverity::parse(other),
    }
}
