//! Reading a telemetry document: its schema version first, migrations from
//! older versions, then the strict typed parse (unknown fields and wrong
//! types are errors naming the field).

use super::{Telemetry, SCHEMA_VERSION};
use crate::fingerprint;
use serde::Deserialize;
use std::fmt;

/// Why a telemetry document cannot be read. `path` names the field
/// (`sshd.max_auth_tries.value`), empty for the document as a whole.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "at `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ReadError {}

/// The oldest schema version this build migrates from.
pub const OLDEST_READABLE: u32 = 1;

/// What a document says of itself, read before the strict parse.
#[derive(Deserialize)]
struct Head {
    schema_version: Option<u32>,
    schema_fingerprint: Option<String>,
}

/// Reads a JSON telemetry document of this schema version, or of an older
/// one it can migrate. A document that names a fingerprint must name this
/// build's (a document from another build of the same version would put
/// values in the wrong fields); hand-written documents may leave it out.
pub fn from_json(bytes: &[u8]) -> Result<Telemetry, ReadError> {
    // A document of this build, read in one pass (the head is read first
    // only to tell older versions and other builds apart, and to say why
    // a document is refused): what the steps below would return for it.
    if let Ok(telemetry) = serde_json::from_slice::<Telemetry>(bytes) {
        let ours = telemetry.schema_fingerprint.as_deref().is_none_or(|f| f == fingerprint::schema());
        if telemetry.schema_version == SCHEMA_VERSION && ours {
            return Ok(telemetry);
        }
    }
    stepwise(bytes)
}

/// [`from_json`] step by step: the head, then the strict parse of what the
/// head says, migrated.
fn stepwise(bytes: &[u8]) -> Result<Telemetry, ReadError> {
    let whole = |message: String| ReadError { path: String::new(), message };
    let head: Head = serde_json::from_slice(bytes).map_err(|e| whole(e.to_string()))?;
    let version = head.schema_version.ok_or_else(|| ReadError {
        path: "schema_version".into(),
        message: "missing field `schema_version`".into(),
    })?;
    if version > SCHEMA_VERSION {
        return Err(ReadError {
            path: "schema_version".into(),
            message: format!(
                "written for telemetry schema {version} by a newer assay; this assay reads schemas \
                 {OLDEST_READABLE} to {SCHEMA_VERSION}: upgrade assay"
            ),
        });
    }
    if version < OLDEST_READABLE {
        return Err(ReadError {
            path: "schema_version".into(),
            message: format!(
                "telemetry schema {version} is older than any this assay reads ({OLDEST_READABLE} to \
                 {SCHEMA_VERSION}): collect again"
            ),
        });
    }
    if version == SCHEMA_VERSION {
        if let Some(found) = &head.schema_fingerprint {
            if found != fingerprint::schema() {
                return Err(ReadError {
                    path: "schema_fingerprint".into(),
                    message: format!(
                        "telemetry written for schema fingerprint {found}, this assay reads {} (same \
                         version {SCHEMA_VERSION}, another build): collect again with this assay",
                        fingerprint::schema()
                    ),
                });
            }
        }
    }
    // 5 → 6 before the strict parse: a vulnerability's `id` is required.
    let upgraded;
    let bytes = if version < 6 {
        upgraded = with_vulnerability_ids(bytes).map_err(|e| whole(e.to_string()))?;
        upgraded.as_slice()
    } else {
        bytes
    };
    let mut telemetry = strict(bytes).map_err(|e| {
        if version < SCHEMA_VERSION {
            ReadError {
                path: e.path,
                message: format!("{} (read as schema {version}, migrated to {SCHEMA_VERSION})", e.message),
            }
        } else {
            e
        }
    })?;
    migrate(&mut telemetry, version);
    Ok(telemetry)
}

/// A document older than schema 6 with each vulnerability given its `id`
/// (from its `advisory_id` and `package`, as the feed now names it);
/// unchanged when it has none.
fn with_vulnerability_ids(bytes: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut doc: serde_json::Value = serde_json::from_slice(bytes)?;
    let Some(list) = doc.get_mut("vulnerabilities").and_then(|v| v.as_array_mut()) else {
        return Ok(bytes.to_vec());
    };
    for v in list.iter_mut().filter_map(|v| v.as_object_mut()) {
        let text = |key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
        let id = super::Vulnerability::id_of(&text("advisory_id"), &text("package"));
        v.entry("id").or_insert(serde_json::Value::String(id));
        v.entry("severity_source").or_insert(serde_json::Value::String("not recorded (schema 5)".to_owned()));
    }
    serde_json::to_vec(&doc)
}

fn strict(bytes: &[u8]) -> Result<Telemetry, ReadError> {
    // Tracking the path costs about as much as the parse itself: it is
    // tracked only to say where a document that does not parse is wrong.
    // The same `Deserialize` reads the same value either way, and this
    // parse (which also refuses trailing text, as the head's did) succeeds
    // only where the tracked one does.
    if let Ok(telemetry) = serde_json::from_slice(bytes) {
        return Ok(telemetry);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ReadError { path: e.path().to_string(), message: e.inner().to_string() })
}

/// Brings a document of schema `from` up to [`SCHEMA_VERSION`]. Each step
/// names what changed between two versions.
fn migrate(t: &mut Telemetry, from: u32) {
    // 1 → 2: `schema_fingerprint` was added (optional); nothing moved.
    if from < 2 {
        t.schema_fingerprint = None;
    }
    // 2 → 3: `collection.looked_up`, `pam` and `unowned` were added
    // (optional): what such a document looked up is not recorded, nor its
    // PAM lines or unowned files.
    if from < 3 {
        if let Some(c) = &mut t.collection {
            c.looked_up = None;
        }
    }
    // 3 → 4: `config` and `apt_sources` were added (optional): such a
    // document did not read those files.
    // 4 → 5: `contents` and `collection.looked_up.contents` were added
    // (optional): such a document read no file's contents, and a rule
    // looking one up is skipped.
    // 5 → 6: `kernel.security_modules` was added (optional: not read), and
    // `vulnerabilities[].id` and `severity_source` (required, given before
    // the strict parse).
    // 6 → 7: `packages[].licenses` was added (optional: such a document read
    // no licence).
    t.schema_version = SCHEMA_VERSION;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(extra: &str) -> String {
        format!(r#"{{{extra} "asset": {{"id": "a", "hostname": "a", "tags": []}}, "errors": []}}"#)
    }

    /// The one-pass read is a shortcut: it returns what the steps return,
    /// value or error, for documents it takes and documents it refuses.
    #[test]
    fn the_one_pass_read_gives_what_the_steps_give() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/telemetry");
        let mut docs = vec![
            doc(&format!(r#""schema_version": {SCHEMA_VERSION},"#)),
            doc(&format!(r#""schema_version": {SCHEMA_VERSION},"#)) + " trailing",
            doc(&format!(r#""schema_version": {SCHEMA_VERSION}, "schema_fingerprint": "0123","#)),
            doc(&format!(r#""schema_version": {SCHEMA_VERSION}, "bogus": 1,"#)),
            doc(r#""schema_version": 1,"#),
            doc(""),
        ];
        for entry in std::fs::read_dir(dir).unwrap() {
            docs.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        assert!(docs.len() > 7);
        let read = |r: Result<Telemetry, ReadError>| r.map(|t| serde_json::to_value(t).unwrap());
        for d in &docs {
            assert_eq!(read(from_json(d.as_bytes())), read(stepwise(d.as_bytes())), "{d}");
        }
        assert!(docs.iter().filter(|d| from_json(d.as_bytes()).is_ok()).count() >= 3);
    }

    #[test]
    fn this_version_with_or_without_the_fingerprint() {
        let with = doc(&format!(
            r#""schema_version": {SCHEMA_VERSION}, "schema_fingerprint": "{}","#,
            fingerprint::schema()
        ));
        assert!(from_json(with.as_bytes()).is_ok());
        let without = doc(&format!(r#""schema_version": {SCHEMA_VERSION},"#));
        assert!(from_json(without.as_bytes()).is_ok());
    }

    #[test]
    fn another_fingerprint_of_this_version_is_rejected_with_both() {
        let other =
            doc(&format!(r#""schema_version": {SCHEMA_VERSION}, "schema_fingerprint": "0123456789abcdef","#));
        let e = from_json(other.as_bytes()).unwrap_err();
        assert_eq!(e.path, "schema_fingerprint");
        assert!(e.message.contains("0123456789abcdef") && e.message.contains(fingerprint::schema()), "{e}");
    }

    #[test]
    fn version_1_is_migrated_and_newer_versions_are_refused() {
        let old = from_json(doc(r#""schema_version": 1,"#).as_bytes()).unwrap();
        assert_eq!(old.schema_version, SCHEMA_VERSION);
        let newer = from_json(doc(&format!(r#""schema_version": {},"#, SCHEMA_VERSION + 1)).as_bytes());
        assert!(newer.unwrap_err().message.contains("newer assay"));
        let zero = from_json(doc(r#""schema_version": 0,"#).as_bytes());
        assert!(zero.unwrap_err().message.contains("older than any"));
        let bad = from_json(doc(r#""schema_version": 1, "bogus": 1,"#).as_bytes()).unwrap_err();
        assert!(bad.message.contains("migrated to"), "{bad}");
    }

    /// Schema 5 had no `vulnerabilities[].id`: it is given from the
    /// advisory and the package, so such a document still reads.
    #[test]
    fn a_schema_5_document_gets_vulnerability_ids() {
        let v5 = doc(
            r#""schema_version": 5, "vulnerabilities": [{"advisory_id": "DEBIAN-CVE-2024-5535", "cves": [],
               "package": "libssl3", "source_package": "openssl", "installed_version": "3.0.11-1",
               "fixed_version": null, "ecosystem": "debian", "severity": "high", "summary": "", "references": []}],"#,
        );
        let t = from_json(v5.as_bytes()).unwrap();
        assert_eq!(t.schema_version, SCHEMA_VERSION);
        assert_eq!(t.vulnerabilities.unwrap()[0].id, "DEBIAN-CVE-2024-5535 libssl3");
    }
}
