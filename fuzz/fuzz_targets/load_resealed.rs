//! Fuzz the bundle decoder, verifier and VM: the input is a bundle's
//! content, sealed with this build's header and a correct digest, so every
//! input reaches postcard decoding (the plain `load_bundle` target stops at
//! the digest). Decoded bundles that verify are evaluated on a small host
//! under a tight budget.
#![no_main]

use assay_model::bundle::{digest_hex, load, FORMAT_VERSION, MAGIC};
use assay_model::fingerprint;
use assay_model::telemetry::SCHEMA_VERSION;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn seal(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 72);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint::instruction_set_bytes());
    out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    out.extend_from_slice(&fingerprint::schema_bytes());
    out.extend_from_slice(&(content.len() as u64).to_le_bytes());
    out.extend_from_slice(content);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

fuzz_target!(|data: &[u8]| {
    let sealed = seal(data);
    let Ok(bundle) = load(&sealed) else { return };
    assert_eq!(bundle.digest, digest_hex(&sealed));
    let telemetry = assay_model::telemetry::Telemetry::empty(Default::default());
    if let Ok(host) = assay_runtime::value::Host::new(telemetry) {
        let options = assay_runtime::vm::Options {
            limits: assay_runtime::vm::Limits { instructions: 100_000, memory: 16 << 20, call_depth: 16 },
            attributes: vec![],
        };
        let _ = assay_runtime::vm::Program::new(&bundle).evaluate(&host, &options);
    }
});
