//! The Assay runtime: the telemetry model, the bundle format and its
//! verifier, the VM, findings and reports. The collector and scan arrive
//! with their issues (see ARCHITECTURE.md).

pub mod bundle;
pub mod collector;
pub mod feed;
pub mod findings;
pub mod policytest;
pub mod reports;
pub mod telemetry;
pub mod value;
pub mod vm;
