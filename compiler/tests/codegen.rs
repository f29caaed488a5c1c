//! Golden tests of code generation: each `tests/codegen/*.assay` compiled
//! alone, its disassembly a snapshot (see `tests/codegen/README.md`).

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::diagnostics::{render_human, ColorChoice};
use assay_compiler::package;
use assay_model::bundle::{disasm, load};

#[test]
fn disassembly() {
    insta::glob!("codegen/*.assay", |path| {
        let loaded = package::load(&[path.to_path_buf()]).unwrap();
        let built = assay_compiler::build(&loaded).unwrap_or_else(|d| {
            panic!("{}", render_human(&loaded.sources, &d, ColorChoice::Never));
        });
        assert!(
            built.diagnostics.is_empty(),
            "{}",
            render_human(&loaded.sources, &built.diagnostics, ColorChoice::Never)
        );
        let bundle = load(&built.bytes).unwrap();
        // The digest and fingerprints have their own tests; the code is what
        // these snapshots are about.
        let listing: String = disasm::disassemble(&bundle)
            .lines()
            .filter(|l| !l.starts_with("bundle ") && !l.starts_with("format "))
            .map(|l| format!("{l}\n"))
            .collect();
        insta::assert_snapshot!(listing);
    });
}
