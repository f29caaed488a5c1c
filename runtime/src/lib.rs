//! The Assay runtime: the telemetry model today; bundle format and verifier,
//! VM, collector, findings and reports as they land (see ARCHITECTURE.md).

pub mod telemetry;
