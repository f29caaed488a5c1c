//! What an evaluation produces: the model's findings, outcomes and
//! reports (`assay_model::findings`), under the runtime's own path so that
//! the VM, the reports and the waivers name them where they always did.

pub use assay_model::findings::*;
