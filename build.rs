//! Compiles the built-in rules packages (`policies/`) into one bundle that
//! `assay scan` embeds. A policy that does not compile fails the build with
//! the compiler's diagnostics.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=policies");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin.bundle");
    let loaded = match assay_compiler::package::load(&[PathBuf::from("policies")]) {
        Ok(l) => l,
        Err(e) => {
            println!("cargo:warning=cannot read policies/: {e}");
            std::process::exit(1);
        }
    };
    match assay_compiler::build(&loaded) {
        Ok(built) => {
            if let Err(e) = std::fs::write(&out, &built.bytes) {
                println!("cargo:warning=cannot write {}: {e}", out.display());
                std::process::exit(1);
            }
        }
        Err(diagnostics) => {
            let text = assay_compiler::diagnostics::render_human(
                &loaded.sources,
                &diagnostics,
                assay_compiler::diagnostics::ColorChoice::Never,
            );
            eprintln!("{text}");
            for line in text.lines().filter(|l| l.starts_with("error")) {
                println!("cargo:warning=built-in policy: {line}");
            }
            std::process::exit(1);
        }
    }
}
