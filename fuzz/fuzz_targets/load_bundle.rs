//! Fuzz the bundle loader: any bytes give a bundle or a typed error, never a
//! panic. Bytes that happen to load are also evaluated on an empty host.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = assay_model::bundle::load(data) {
        let telemetry = assay_model::telemetry::Telemetry::empty(Default::default());
        if let Ok(host) = assay_runtime::value::Host::new(telemetry) {
            let options = assay_runtime::vm::Options {
                limits: assay_runtime::vm::Limits { instructions: 100_000, ..Default::default() },
                attributes: vec![],
            };
            let _ = assay_runtime::vm::Program::new(&bundle).evaluate(&host, &options);
        }
    }
});
