//! Property tests: the front end never panics, whatever it is given, and the
//! formatter is idempotent and meaning-preserving on every program it accepts.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assay_compiler::format::{format_source, strip_spans, FormatError};
use assay_compiler::syntax::{parse, parse_bytes};
use assay_compiler::FileId;
use proptest::prelude::*;

/// Fragments of the language, so that random programs get deep into the
/// grammar instead of failing on the first byte.
const TOKENS: &[&str] = &[
    "rule",
    "BP-1",
    "\"t\"",
    "{",
    "}",
    "severity",
    "high",
    "low",
    "fail",
    "when",
    "message",
    "\"m {x}\"",
    "for",
    "each",
    "x",
    "in",
    "where",
    "let",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "is",
    "present",
    "absent",
    "??",
    "+",
    "-",
    "*",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "host",
    "sshd",
    "1",
    "0o755",
    "v\"1.2\"",
    "r\"^a$\"",
    "any",
    "all",
    "count",
    "if",
    "then",
    "else",
    "const",
    "fn",
    "->",
    "int",
    "import",
    "std",
    "// c\n",
    "/// d\n",
    "//! m\n",
    "\n",
    " ",
    "starts",
    "with",
    "contains",
    "matches",
    "applies",
    "references",
    "tags",
    "platform",
    "\"",
    "\\",
    "{x}",
    "é",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let parsed = parse_bytes(FileId(0), &bytes);
        if std::str::from_utf8(&bytes).is_err() {
            prop_assert_eq!(parsed.diagnostics[0].code.as_str(), "E0001");
        }
    }

    #[test]
    fn parsing_token_soup_never_panics_and_spans_fit(src in token_soup()) {
        let parsed = parse(FileId(0), &src);
        for d in &parsed.diagnostics {
            for label in &d.labels {
                prop_assert!(label.span.start <= label.span.end);
                prop_assert!(label.span.end as usize <= src.len());
                prop_assert!(src.is_char_boundary(label.span.start as usize));
            }
        }
    }

    #[test]
    fn formatting_what_parses_is_stable(src in token_soup()) {
        match format_source(FileId(0), &src) {
            Err(FormatError::Syntax(_)) => {}
            Err(FormatError::Unstable(why)) => prop_assert!(false, "unstable on {:?}: {}", src, why),
            Ok(out) => {
                prop_assert_eq!(format_source(FileId(0), &out).ok(), Some(out.clone()));
                let a = parse(FileId(0), &src);
                let b = parse(FileId(0), &out);
                prop_assert_eq!(strip_spans(&a.module), strip_spans(&b.module));
            }
        }
    }
}

/// Random token soup rarely forms whole rules; these programs do, and vary
/// the layout around them.
#[test]
fn formatting_is_stable_under_layout_changes() {
    let base = "rule X \"t\" {\n  severity low\n  let a = [1, 2] // c\n\n  fail when a contains 1 and not (b ?? false)\n    message \"m {a}\"\n}\n";
    let layouts =
        [base.replace('\n', "\n\n"), base.replace("  ", "\t"), base.replace(' ', "  "), base.to_string()];
    for layout in layouts {
        let out = format_source(FileId(0), &layout).unwrap();
        assert_eq!(out, format_source(FileId(0), &out).unwrap());
    }
}

/// Expressions that parse, built from telemetry paths, bindings, literals and
/// operators, so the resolver and type checker see every shape of mistake.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "host.sshd.max_auth_tries",
        "host.sshd",
        "host.sshd.permit_root_logn",
        "host.packages",
        "host.listeners",
        "l.port",
        "l.process.user",
        "x",
        "1",
        "\"a\"",
        "v\"1.0\"",
        "tcp",
        "true",
        "[1, 2]",
        "[]",
        "LIMIT",
        "f(1)",
        "strings.lower(\"A\")",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |inner| {
        let op = prop::sample::select(vec![
            "==",
            "!=",
            "<",
            ">=",
            "and",
            "or",
            "??",
            "+",
            "in",
            "contains",
            "matches",
            "starts with",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("({a} is present)")),
            inner.clone().prop_map(|a| format!("(not {a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("(if {c} then {a} else {b})")),
            (inner.clone(), inner.clone()).prop_map(|(c, f)| format!("any(l in {c} where {f})")),
            (inner.clone(), inner).prop_map(|(c, f)| format!("find(l in {c} where {f})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn checking_well_formed_programs_never_panics(cond in expression(), guard in expression(), value in expression()) {
        let src = format!(
            "import std.strings\n\nconst LIMIT = 4\n\nfn f(a: int) -> int {{\n  a + LIMIT\n}}\n\n\
             rule T-1 \"t\" {{\n  severity low\n  applies when {guard}\n  let x = {value}\n  fail when {cond}\n    message \"{{x}}\"\n}}\n"
        );
        let loaded = assay_compiler::package::Loaded::from_memory(None, &[("t.assay", &src)]);
        let compiled = assay_compiler::compile(&loaded);
        for d in &compiled.diagnostics {
            for label in &d.labels {
                prop_assert!(label.span.end as usize <= src.len(), "{:?}", d);
            }
        }
        // A program is produced exactly when there is no error.
        prop_assert_eq!(compiled.program.is_some(), !compiled.diagnostics.iter().any(|d| d.is_error()));
    }
}
