//! Snapshot corpora: `tests/diagnostics/` (invalid programs and the
//! diagnostics they produce) and `tests/format/` (formatter input and output).
//! Each file is its own case with its own snapshot; see the folders' READMEs.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::diagnostics::{render_human, ColorChoice, ALL_CODES};
use assay_compiler::format::{format_source, strip_spans};
use assay_compiler::package;
use assay_compiler::syntax::parse;
use assay_compiler::FileId;
use std::path::{Path, PathBuf};

/// The path relative to this crate, so snapshots are the same everywhere.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).to_path_buf()
}

fn case_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn diagnostics() {
    insta::glob!("diagnostics/[EWm]*", |path| {
        let rel = relative(path);
        let loaded = package::load(std::slice::from_ref(&rel)).unwrap();
        let diagnostics = assay_compiler::check(&loaded);
        let rendered = render_human(&loaded.sources, &diagnostics, ColorChoice::Never);
        let mut source = String::new();
        for (_, file) in loaded.sources.files() {
            source.push_str(&format!("--- {}\n{}", file.name(), file.text()));
        }
        let name = case_name(path);
        if let Some(code) = name.split('-').next().filter(|c| c.starts_with(['E', 'W'])) {
            assert!(
                diagnostics.iter().any(|d| d.code.as_str() == code),
                "{name} does not produce {code}:\n{rendered}"
            );
        } else {
            assert!(!diagnostics.is_empty(), "{name} produces no diagnostic");
        }
        insta::assert_snapshot!(format!("----- SOURCE\n{source}\n----- DIAGNOSTICS\n{rendered}"));
    });
}

/// Codes whose case cannot be a file, with the reason and the test that covers it.
const NO_CORPUS_CASE: &[(&str, &str)] = [
    ("E0002", "needs a 4 GiB file; covered by `syntax::parser::tests::files_over_4_gib_are_rejected`"),
    ("E0901", "an internal error: no policy source can reach it"),
]
.as_slice();

#[test]
fn every_code_has_an_explanation_and_a_corpus_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for code in ALL_CODES {
        assert!(!code.explanation().trim().is_empty(), "{code} has no explanation");
        assert!(!code.title().is_empty(), "{code} has no title");
        let covered = cases.iter().any(|c| c.starts_with(&format!("{code}-")))
            || NO_CORPUS_CASE.iter().any(|(c, _)| *c == code.as_str());
        assert!(covered, "{code} has no case in tests/diagnostics/");
    }
}

/// Every `Diagnostic::new(Code::X` in the compiler's sources, as the code
/// and the function (file and name) that builds it.
fn constructions(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            constructions(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("Diagnostic::new(") {
                let rest = text[at + "Diagnostic::new(".len()..].trim_start();
                let Some(code) = rest.strip_prefix("Code::") else { continue };
                let code: String = code.chars().take_while(char::is_ascii_alphanumeric).collect();
                // The innermost `fn` above the call.
                let function = text[..at]
                    .lines()
                    .rev()
                    .map(str::trim_start)
                    .map(|l| {
                        l.trim_start_matches("pub(crate) ")
                            .trim_start_matches("pub(super) ")
                            .trim_start_matches("pub ")
                    })
                    .find_map(|l| l.strip_prefix("fn "))
                    .map(|l| l.split(['(', '<']).next().unwrap_or(l).to_owned())
                    .unwrap_or_default();
                out.push((code, format!("{}::{function}", relative(&path).display())));
            }
        }
    }
}

/// Each code's wording lives in one constructor function: two places
/// building the same code drift apart (check/errors.rs and syntax/errors.rs
/// hold the shared ones).
#[test]
fn each_code_is_built_by_one_constructor() {
    let mut found = Vec::new();
    constructions(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.len() > 40, "the scan found too few constructors: {found:?}");
    for code in ALL_CODES {
        let mut places: Vec<&String> =
            found.iter().filter(|(c, _)| c == code.as_str()).map(|(_, p)| p).collect();
        places.dedup();
        assert!(
            places.len() <= 1,
            "{code} is built in {} places: {places:?}; give it one constructor",
            places.len()
        );
    }
}

#[test]
fn formatter() {
    insta::glob!("format/*.assay", |path| {
        let input = std::fs::read_to_string(path).unwrap();
        let output = format_source(FileId(0), &input).unwrap_or_else(|e| panic!("{e:?}"));
        let again = format_source(FileId(0), &output).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again, output, "formatting is not idempotent");
        // Loading drops a byte-order mark and CR line endings first.
        let before = parse(FileId(0), &assay_compiler::source::normalise(input.clone()));
        let after = parse(FileId(0), &output);
        assert_eq!(strip_spans(&before.module), strip_spans(&after.module), "the syntax tree changed");
        insta::assert_snapshot!(output);
    });
}

#[test]
fn examples_are_clean_and_canonically_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let loaded = package::load(&[root]).unwrap();
    assert!(loaded.packages.len() >= 3, "the examples hold at least three packages");
    let diagnostics = assay_compiler::check(&loaded);
    assert!(diagnostics.is_empty(), "{}", render_human(&loaded.sources, &diagnostics, ColorChoice::Never));
    for file in loaded.source_files() {
        let text = loaded.sources.get(file).unwrap().text();
        assert_eq!(format_source(file, text).unwrap(), text, "{:?} is not formatted", loaded.path(file));
    }
}

/// The reference's code blocks that are whole declarations must parse, and
/// the limits it states must be the code's.
#[test]
fn language_reference_examples_parse_and_its_numbers_are_current() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md")).unwrap();
    // Untagged fenced blocks are policy source; tagged ones (yaml) are not.
    let mut sources: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut in_other = false;
    for line in doc.lines() {
        match (line.starts_with("```"), &mut current, in_other) {
            (true, Some(_), _) => sources.extend(current.take()),
            (true, None, true) => in_other = false,
            (true, None, false) if line == "```" => current = Some(String::new()),
            (true, None, false) => in_other = true,
            (false, Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    let mut blocks = 0;
    for block in &sources {
        let first = block.split_whitespace().next().unwrap_or("");
        if !["rule", "const", "fn", "import", "///", "//!"].contains(&first) {
            continue;
        }
        let parsed = parse(FileId(0), block);
        assert!(parsed.diagnostics.is_empty(), "{block}\n{:?}", parsed.diagnostics);
        blocks += 1;
    }
    assert!(blocks >= 5, "found only {blocks} declaration blocks");
    assert!(doc.contains(&format!("within {} columns", assay_compiler::format::WIDTH)));
    let arch =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md")).unwrap();
    assert!(arch.contains(&format!("`if` chains: {})", assay_compiler::syntax::MAX_NESTING)));
    assert!(arch.contains(&format!("bounded to {} levels", assay_compiler::syntax::MAX_EXPR_DEPTH)));
}

/// docs/diagnostics.md is the code table's explanations, which editors link
/// a diagnostic's code to (`ASSAY_UPDATE_DOCS=1` rewrites it).
#[test]
fn the_diagnostics_reference_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let want = assay_compiler::diagnostics::reference();
    if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/diagnostics.md is stale: run `ASSAY_UPDATE_DOCS=1 cargo test -p assay-compiler --test corpus`"
    );
    for code in assay_compiler::diagnostics::ALL_CODES {
        assert!(have.contains(&format!("<a id=\"{}\"></a>", code.anchor())), "{code}");
    }
}
