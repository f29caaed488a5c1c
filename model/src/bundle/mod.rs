//! The bundle: one binary file holding compiled packages.
//!
//! Layout (all integers little-endian; `docs/bytecode.md` has the details):
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `ASSAYBC\0` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | instruction-set fingerprint ([`crate::fingerprint::instruction_set`]) |
//! | 4 | telemetry schema version ([`SCHEMA_VERSION`]) |
//! | 8 | telemetry schema fingerprint ([`crate::fingerprint::schema`]) |
//! | 8 | content length |
//! | n | content: [`Content`] in postcard encoding |
//! | 32 | SHA-256 of everything before it |
//!
//! The content holds the sections: packages, rules (metadata), code,
//! constants, and debug information (spans and evidence paths), which the
//! evaluation loop never reads except to label evidence and errors.
//!
//! The fingerprints come before the content, so a bundle written by another
//! build is rejected with a sentence naming both fingerprints instead of a
//! decoding error deep inside the content. Natives are linked by signature
//! (`strings.lower(s: string) -> string`), never by their position in the
//! standard library's table.

pub mod bytecode;
pub mod disasm;
pub mod logic;
pub mod params;
mod verify;

use crate::fingerprint;
use crate::telemetry::SCHEMA_VERSION;
use crate::{Platform, Severity};
use bytecode::{Code, Constant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

pub use verify::{verify, VerifyError};

pub const MAGIC: &[u8; 8] = b"ASSAYBC\0";
/// Bumped whenever the content's encoding or meaning changes; the
/// fingerprint test in `fingerprint.rs` fails until it is.
pub const FORMAT_VERSION: u32 = 6;
/// The largest bundle the loader accepts (64 MiB).
pub const MAX_BUNDLE_LEN: usize = 64 << 20;
const HEADER_LEN: usize = 8 + 4 + 8 + 4 + 8 + 8;
const DIGEST_LEN: usize = 32;

/// Everything a bundle holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// The compiler that wrote it (`assay-compiler 0.1.0`).
    pub compiler: String,
    /// The natives the code calls, by signature; `Native { native }` indexes
    /// this list, and the loader links each entry to this build's table.
    pub natives: Vec<String>,
    pub packages: Vec<PackageMeta>,
    /// Sorted by package, then id.
    pub rules: Vec<RuleMeta>,
    pub constants: Vec<Constant>,
    /// Regular expressions of `matches` with a literal pattern.
    pub regexes: Vec<String>,
    /// Package constants, computed in order before the rules run.
    pub globals: Vec<Code>,
    pub functions: Vec<Code>,
    /// What the rules look up by name, for the collector.
    pub plan: crate::lookup::CollectionPlan,
    /// The packages' parameters, each held by a global.
    pub params: Vec<params::ParamMeta>,
    pub debug: Debug,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageMeta {
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    pub platforms: Vec<Platform>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub package: u32,
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub doc: String,
    pub description: String,
    pub rationale: String,
    pub recommendation: String,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    /// Empty: the package's platforms.
    pub platforms: Vec<Platform>,
    /// The top-level telemetry sections the rule reads, directly or through
    /// functions (`sshd`, `vulnerabilities`), sorted: a rule reading a
    /// section that was not collected is skipped.
    pub reads: Vec<String>,
    /// The items the rule looks up by name, directly or through functions,
    /// sorted: a rule looking up an item the collection did not is skipped.
    pub lookups: Vec<crate::lookup::Lookup>,
    pub code: Code,
}

/// Off the hot path: where things came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Debug {
    /// Evidence labels (`host.sshd.permit_root_login`, `host.packages[].version`).
    pub evidence_paths: Vec<String>,
    /// Per evidence path that reads a field of a loop item (`...[].loaded`):
    /// the item's field that names it (a module's `name`), shown in the
    /// evidence as `host.kernel.modules["cramfs"].loaded`.
    pub evidence_keys: Vec<Option<u16>>,
    /// Per rule: the source file and line of the rule.
    pub rule_locations: Vec<String>,
    /// Per function: the source file and line of its declaration.
    pub function_locations: Vec<String>,
    /// Names of functions and globals, for error messages.
    pub function_names: Vec<String>,
    pub global_names: Vec<String>,
}

impl Debug {
    /// The naming field of the loop item evidence path `path` reads from,
    /// if any (see `evidence_keys`).
    pub fn evidence_key(&self, path: usize) -> Option<u16> {
        self.evidence_keys.get(path).copied().flatten()
    }
}

/// A bundle that cannot be loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    TooShort {
        len: usize,
    },
    TooLarge {
        len: usize,
    },
    BadMagic,
    UnsupportedVersion {
        found: u32,
    },
    /// Written by a build whose instruction set (the content's encoding) differs.
    InstructionSet {
        found: String,
        expected: String,
    },
    /// Compiled against another telemetry schema.
    Schema {
        found_version: u32,
        found: String,
    },
    /// Calls a native this build does not have, or has with another signature.
    Native {
        wanted: String,
        have: Option<String>,
    },
    LengthMismatch {
        declared: u64,
        actual: usize,
    },
    DigestMismatch,
    Malformed(String),
    Invalid(VerifyError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::TooShort { len } => write!(f, "truncated: {len} bytes is shorter than any bundle"),
            LoadError::TooLarge { len } => {
                write!(f, "{len} bytes is larger than the {} MiB a bundle may have", MAX_BUNDLE_LEN >> 20)
            }
            LoadError::BadMagic => f.write_str("not an Assay bundle (wrong magic number)"),
            LoadError::UnsupportedVersion { found } => write!(
                f,
                "bundle format version {found} is not supported by this build (it reads version {FORMAT_VERSION}); rebuild the bundle with this assay"
            ),
            LoadError::InstructionSet { found, expected } => write!(
                f,
                "bundle built for instruction set {found}, this assay runs {expected}; rebuild the bundle with this assay"
            ),
            LoadError::Schema { found_version, found } => write!(
                f,
                "bundle compiled for telemetry schema {found_version} ({found}), this assay reads schema {SCHEMA_VERSION} ({}); rebuild the bundle with this assay",
                fingerprint::schema()
            ),
            LoadError::Native { wanted, have: Some(have) } => write!(
                f,
                "bundle calls `{wanted}`, but this assay's is `{have}`; rebuild the bundle with this assay"
            ),
            LoadError::Native { wanted, have: None } => write!(
                f,
                "bundle calls `{wanted}`, which this assay's standard library does not have"
            ),
            LoadError::LengthMismatch { declared, actual } => write!(
                f,
                "truncated or padded: the header declares {declared} bytes of content, the file holds {actual}"
            ),
            LoadError::DigestMismatch => f.write_str("corrupted: the SHA-256 digest does not match the content"),
            LoadError::Malformed(why) => write!(f, "malformed content: {why}"),
            LoadError::Invalid(why) => write!(f, "rejected by the verifier: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A verified bundle, its digest and its natives linked.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub content: Content,
    /// Lowercase hex SHA-256 of the file.
    pub digest: String,
    /// For each entry of `content.natives`, its index in [`assay_stdlib::NATIVES`].
    pub natives: Vec<u16>,
}

/// The content could not be encoded (a bug in a `Serialize` impl; never
/// silently an empty bundle).
#[derive(Clone, Debug, PartialEq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode the bundle: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// Encodes `content` into bundle bytes. Deterministic: the same content
/// gives the same bytes.
pub fn encode(content: &Content) -> Result<Vec<u8>, EncodeError> {
    let body = postcard::to_allocvec(content).map_err(|e| EncodeError(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + DIGEST_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint::instruction_set_bytes());
    out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint::schema_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// The digest `encode` wrote into `bytes` (the last 32 bytes), as hex.
pub fn digest_hex(bytes: &[u8]) -> String {
    let tail = bytes.get(bytes.len().saturating_sub(DIGEST_LEN)..).unwrap_or(&[]);
    crate::hex::encode(tail)
}

/// Checks, decodes and verifies a bundle. Never panics, whatever `bytes` is.
pub fn load(bytes: &[u8]) -> Result<Bundle, LoadError> {
    if bytes.len() > MAX_BUNDLE_LEN {
        return Err(LoadError::TooLarge { len: bytes.len() });
    }
    if bytes.len() < HEADER_LEN + DIGEST_LEN {
        if bytes.len() >= 8 && &bytes[..8] != MAGIC {
            return Err(LoadError::BadMagic);
        }
        return Err(LoadError::TooShort { len: bytes.len() });
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    if &header[..8] != MAGIC {
        return Err(LoadError::BadMagic);
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion { found: version });
    }
    let isa = crate::hex::encode(&header[12..20]);
    if isa != fingerprint::instruction_set() {
        return Err(LoadError::InstructionSet {
            found: isa,
            expected: fingerprint::instruction_set().to_owned(),
        });
    }
    let schema_version = u32::from_le_bytes([header[20], header[21], header[22], header[23]]);
    let schema = crate::hex::encode(&header[24..32]);
    if schema_version != SCHEMA_VERSION || schema != fingerprint::schema() {
        return Err(LoadError::Schema { found_version: schema_version, found: schema });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&header[32..40]);
    let declared = u64::from_le_bytes(len);
    let actual = rest.len() - DIGEST_LEN;
    if declared != actual as u64 {
        return Err(LoadError::LengthMismatch { declared, actual });
    }
    let (body, digest) = rest.split_at(actual);
    let computed = Sha256::digest(&bytes[..HEADER_LEN + actual]);
    if computed.as_slice() != digest {
        return Err(LoadError::DigestMismatch);
    }
    let content: Content = match postcard::from_bytes(body) {
        Ok(c) => c,
        Err(e) => return Err(LoadError::Malformed(e.to_string())),
    };
    let natives = link(&content.natives)?;
    verify(&content, &natives).map_err(LoadError::Invalid)?;
    Ok(Bundle { content, digest: digest_hex(bytes), natives })
}

/// Finds each native the bundle calls in this build's table, by signature.
fn link(wanted: &[String]) -> Result<Vec<u16>, LoadError> {
    wanted
        .iter()
        .map(|w| {
            let name = w.split('(').next().unwrap_or(w);
            let mut have = None;
            for (i, n) in assay_stdlib::NATIVES.iter().enumerate() {
                let sig = n.signature();
                if &sig == w {
                    return u16::try_from(i).map_err(|_| LoadError::Native { wanted: w.clone(), have: None });
                }
                if sig.split('(').next() == Some(name) {
                    have = Some(sig);
                }
            }
            Err(LoadError::Native { wanted: w.clone(), have })
        })
        .collect()
}

#[cfg(test)]
mod tests;
