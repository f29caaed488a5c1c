//! What the compiler and the runtime share, and nothing else: the bundle
//! format (instructions, container, verifier, disassembler), the telemetry
//! model with its schema description, and the vocabularies both sides speak
//! ([`Severity`], [`Platform`]), and what an evaluation produces
//! ([`findings`]: findings, rule outcomes, reports), which the runtime
//! writes and the service stores and serves. The crate does no IO and has
//! no platform-specific code, so the compiler builds anywhere.

pub mod bundle;
pub mod configs;
pub mod diff;
pub mod evidence;
pub mod findings;
pub mod fingerprint;
pub mod hex;
pub mod lookup;
pub mod platform;
pub mod severity;
pub mod syntax;
pub mod telemetry;

pub use platform::Platform;
pub use severity::Severity;
