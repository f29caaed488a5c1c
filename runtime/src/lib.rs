//! The Assay runtime: the VM that evaluates bundles over telemetry, the
//! findings and reports it produces, the collector that writes telemetry,
//! policy tests and the vulnerability feed. The formats it reads (bundles,
//! telemetry) are defined in `assay-model`.

pub mod collector;
pub mod diff;
pub mod feed;
pub mod files;
pub mod findings;
pub mod policytest;
pub mod reports;
pub mod sbom;
pub mod signing;
pub mod value;
pub mod vex;
pub mod vm;
pub mod waivers;
pub mod yaml_path;
