//! Fingerprints of the formats: what the bytes of a bundle and the field
//! numbers in its code mean. Each is derived from the definitions
//! themselves, never written by hand, so a reordered instruction or field
//! cannot slip past: the loader rejects a bundle of another fingerprint,
//! and the pins below fail a test until the matching version is bumped.
//!
//! - the **instruction set**: the serde layout of [`Content`] (every
//!   instruction, constant and metadata type, variants and fields in order),
//!   traced by `serde-reflection`. Postcard encodes enum variants by index
//!   and struct fields by position, so this layout *is* the wire format.
//! - the **telemetry schema**: [`schema::canonical_text`], records and
//!   fields in order, which compiled field indices refer to.
//! - the **natives**: the standard library's table of signatures. Bundles
//!   link natives by signature, so the table's order is not part of the
//!   format; the pin still makes every change to it a deliberate one.

use crate::bundle::bytecode::{Cmp, Constant, Instr};
use crate::bundle::Content;
use crate::telemetry::schema;
use crate::{Platform, Severity};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The first 8 bytes of a SHA-256, the form stored in bundle headers.
fn short_hash(text: &str) -> [u8; 8] {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The serde layout of a bundle's content, as canonical JSON. Tracing only
/// fails on a type serde-reflection cannot describe, which the unit test
/// below rules out for this build; the error text then stands in, so a
/// broken trace still changes the fingerprint rather than hiding.
pub fn instruction_set_layout() -> &'static str {
    static LAYOUT: OnceLock<String> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let mut tracer = serde_reflection::Tracer::new(serde_reflection::TracerConfig::default());
        // Enums nested below the root are explored only when traced on
        // their own; `registry` reports any enum still incomplete.
        let traced = (|| {
            tracer.trace_simple_type::<Content>()?;
            tracer.trace_simple_type::<Instr>()?;
            tracer.trace_simple_type::<Constant>()?;
            tracer.trace_simple_type::<Cmp>()?;
            tracer.trace_simple_type::<Severity>()?;
            tracer.trace_simple_type::<Platform>()?;
            tracer.trace_simple_type::<crate::lookup::LookupKind>()?;
            tracer.trace_simple_type::<crate::telemetry::ContentFormat>()?;
            tracer.trace_simple_type::<crate::bundle::params::ParamType>()?;
            tracer.trace_simple_type::<crate::bundle::params::ParamValue>()?;
            tracer.registry()
        })();
        match traced.map_err(|e| e.to_string()) {
            Ok(registry) => serde_json::to_string_pretty(&registry).unwrap_or_else(|e| format!("error: {e}")),
            Err(e) => format!("error: {e}"),
        }
    })
}

pub fn instruction_set_bytes() -> [u8; 8] {
    static BYTES: OnceLock<[u8; 8]> = OnceLock::new();
    *BYTES.get_or_init(|| short_hash(instruction_set_layout()))
}

/// The instruction-set fingerprint, 16 hex digits.
pub fn instruction_set() -> &'static str {
    static HEX: OnceLock<String> = OnceLock::new();
    HEX.get_or_init(|| crate::hex::encode(&instruction_set_bytes()))
}

pub fn schema_bytes() -> [u8; 8] {
    static BYTES: OnceLock<[u8; 8]> = OnceLock::new();
    *BYTES.get_or_init(|| short_hash(&schema::canonical_text()))
}

/// The telemetry schema fingerprint, 16 hex digits.
pub fn schema() -> &'static str {
    static HEX: OnceLock<String> = OnceLock::new();
    HEX.get_or_init(|| crate::hex::encode(&schema_bytes()))
}

/// The natives table in order, one signature a line.
pub fn natives_text() -> String {
    assay_stdlib::NATIVES.iter().map(|n| n.signature() + "\n").collect()
}

/// The natives fingerprint, 16 hex digits.
pub fn natives() -> &'static str {
    static HEX: OnceLock<String> = OnceLock::new();
    HEX.get_or_init(|| crate::hex::encode(&short_hash(&natives_text())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::FORMAT_VERSION;
    use crate::telemetry::SCHEMA_VERSION;

    /// (format version, instruction-set fingerprint) for every version
    /// released; the last one is this build's. A pin may be edited only
    /// while its version has not landed on main; after that, bump.
    const INSTRUCTION_SETS: &[(u32, &str)] = &[
        (2, "38f7692078cba29f"),
        (3, "212c75c84c287681"),
        (4, "b392b45b99811688"),
        (5, "0c0c617435c9ef8d"),
        (6, "db641d2c786bbcfb"),
    ];
    /// (schema version, telemetry schema fingerprint).
    const SCHEMAS: &[(u32, &str)] = &[
        (2, "9624e59e27629d67"),
        (3, "9837019c07219b06"),
        (4, "c0d60bfbfeb29a49"),
        (5, "2fc2419e85868175"),
        (6, "357e68df4dc5cbfd"),
        (7, "f6065ccf8157e5b7"),
    ];
    const NATIVES: &str = "7a7cd87eba18b395";

    /// The pin of `version` in `pins`, or a message that says what to do.
    fn check(
        what: &str,
        constant: &str,
        pins: &[(u32, &str)],
        version: u32,
        now: &str,
    ) -> Result<(), String> {
        let latest = pins.iter().map(|(v, _)| *v).max().unwrap_or(0);
        match pins.iter().find(|(v, _)| *v == version) {
            Some((_, pinned)) if *pinned == now => Ok(()),
            Some((_, pinned)) => Err(format!(
                "the {what} changed (fingerprint {pinned} -> {now}) but {constant} is still {version}: \
                 bump {constant} to {} and add ({}, \"{now}\") to the pins in model/src/fingerprint.rs",
                latest + 1,
                latest + 1
            )),
            None => Err(format!(
                "{constant} is {version} but has no pin: add ({version}, \"{now}\") to the pins in \
                 model/src/fingerprint.rs"
            )),
        }
    }

    #[test]
    fn the_instruction_set_is_pinned_to_the_format_version() {
        assert!(!instruction_set_layout().starts_with("error"), "{}", instruction_set_layout());
        let r = check(
            "instruction set",
            "bundle::FORMAT_VERSION",
            INSTRUCTION_SETS,
            FORMAT_VERSION,
            instruction_set(),
        );
        if let Err(message) = r {
            panic!("{message}");
        }
    }

    #[test]
    fn the_telemetry_schema_is_pinned_to_the_schema_version() {
        if let Err(message) =
            check("telemetry schema", "telemetry::SCHEMA_VERSION", SCHEMAS, SCHEMA_VERSION, schema())
        {
            panic!("{message}");
        }
    }

    #[test]
    fn the_natives_table_is_pinned() {
        assert_eq!(
            natives(),
            NATIVES,
            "the standard library's natives changed. Bundles link natives by signature, so a new native \
             or a new order needs only this pin updated to \"{}\"; a removed native or a changed signature \
             also breaks existing bundles: bump bundle::FORMAT_VERSION as well",
            natives()
        );
    }

    #[test]
    fn the_layout_sees_instructions_and_fields_in_order() {
        let layout = instruction_set_layout();
        let pos =
            |needle: &str| layout.find(needle).unwrap_or_else(|| panic!("{needle} missing in {layout}"));
        // Variant names and their positions are both in the traced layout.
        assert!(pos("\"Const\"") < pos("\"Bool\""));
        assert!(layout.contains("\"JumpUnlessIn\""));
        assert!(layout.contains("\"informational\""));
        assert!(schema::canonical_text().starts_with("record Telemetry\n  schema_version: int"));
    }
}
