//! What the compiler and the runtime share, and nothing else: the bundle
//! format (instructions, container, verifier, disassembler), the telemetry
//! model with its schema description, and the vocabularies both sides speak
//! ([`Severity`], [`Platform`]). The crate does no IO and has no
//! platform-specific code, so the compiler builds anywhere.

pub mod bundle;
pub mod fingerprint;
pub mod lookup;
pub mod platform;
pub mod severity;
pub mod telemetry;

pub use platform::Platform;
pub use severity::Severity;
