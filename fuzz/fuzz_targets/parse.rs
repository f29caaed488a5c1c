//! Feeds arbitrary bytes to the parser and, when they parse, to the formatter.
//! Run with `cargo +nightly fuzz run parse` from the repository root.
#![no_main]

use assay_compiler::format::{format_source, FormatError};
use assay_compiler::syntax::parse_bytes;
use assay_compiler::FileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_bytes(FileId(0), data);
    if parsed.has_errors() {
        return;
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(FormatError::Unstable(why)) = format_source(FileId(0), text) {
            panic!("formatter unstable: {why}");
        }
    }
});
