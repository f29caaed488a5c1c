//! The Assay runtime: bundle format and verifier, VM, telemetry model,
//! collector, findings and reports.
//!
//! Nothing is implemented yet; the stages and the types that will pass between
//! them are described in ARCHITECTURE.md, and the work is tracked in the open
//! issues (telemetry and type checker, bytecode and VM, collector, scan).
