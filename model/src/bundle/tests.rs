use super::bytecode::{Code, Constant, Instr};
use super::*;
use sha2::{Digest, Sha256};

fn tiny() -> Content {
    Content {
        compiler: "test".into(),
        natives: vec![assay_stdlib::NATIVES[0].signature()],
        packages: vec![PackageMeta { name: "p".into(), version: "1.0.0".into(), ..PackageMeta::default() }],
        rules: vec![RuleMeta {
            package: 0,
            id: "T-1".into(),
            title: String::new(),
            severity: crate::Severity::Low,
            doc: String::new(),
            description: String::new(),
            rationale: String::new(),
            recommendation: String::new(),
            references: vec![],
            tags: vec![],
            platforms: vec![],
            reads: vec![],
            lookups: vec![],
            code: Code {
                instructions: vec![Instr::Const(0), Instr::Fail, Instr::Halt],
                locals: 0,
                params: 0,
                lines: vec![(0, 3)],
            },
        }],
        constants: vec![Constant::Str("always".into())],
        ..Content::default()
    }
}

#[test]
fn an_instruction_is_eight_bytes() {
    assert_eq!(std::mem::size_of::<Instr>(), 8);
}

#[test]
fn encoding_is_deterministic_and_round_trips() {
    let a = encode(&tiny()).unwrap();
    assert_eq!(a, encode(&tiny()).unwrap());
    let loaded = load(&a).unwrap();
    assert_eq!(loaded.content, tiny());
    assert_eq!(loaded.digest, digest_hex(&a));
    assert_eq!(loaded.digest.len(), 64);
}

#[test]
fn every_flipped_byte_and_every_truncation_is_a_clear_error() {
    let bytes = encode(&tiny()).unwrap();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x40;
        assert!(load(&bad).is_err(), "flipping byte {i} was not detected");
        assert!(load(&bytes[..i]).is_err(), "cutting at {i} was not detected");
    }
}

#[test]
fn an_other_format_version_is_named() {
    let mut bytes = encode(&tiny()).unwrap();
    bytes[8] = 9;
    assert_eq!(load(&bytes).unwrap_err(), LoadError::UnsupportedVersion { found: 9 });
}

/// Rewrites a header field and reseals, as another build of assay would
/// have written it.
fn resealed_with(offset: usize, field: &[u8]) -> Vec<u8> {
    let mut bytes = encode(&tiny()).unwrap();
    bytes[offset..offset + field.len()].copy_from_slice(field);
    let end = bytes.len() - DIGEST_LEN;
    let digest = Sha256::digest(&bytes[..end]);
    bytes[end..].copy_from_slice(&digest);
    bytes
}

#[test]
fn a_bundle_of_another_instruction_set_is_named_with_both_fingerprints() {
    let e = load(&resealed_with(12, b"\x01\x23\x45\x67\x89\xab\xcd\xef")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "bundle built for instruction set 0123456789abcdef, this assay runs {}; rebuild the bundle with this assay",
            crate::fingerprint::instruction_set()
        )
    );
}

#[test]
fn a_bundle_of_another_telemetry_schema_is_named() {
    let e = load(&resealed_with(24, &[0xff; 8])).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("telemetry schema {} (ffffffffffffffff)", crate::telemetry::SCHEMA_VERSION)),
        "{e}"
    );
    assert!(e.to_string().contains(crate::fingerprint::schema()), "{e}");
    let e = load(&resealed_with(20, &1u32.to_le_bytes())).unwrap_err();
    assert!(matches!(e, LoadError::Schema { found_version: 1, .. }), "{e}");
}

#[test]
fn natives_are_linked_by_signature_not_position() {
    let mut c = tiny();
    let last = assay_stdlib::NATIVES.len() - 1;
    c.natives = vec![assay_stdlib::NATIVES[last].signature()];
    assert_eq!(sealed(&c).unwrap().natives, vec![last as u16]);
    c.natives = vec!["strings.nonesuch(s: string) -> string".into()];
    let e = sealed(&c).unwrap_err().to_string();
    assert!(e.contains("`strings.nonesuch(s: string) -> string`, which this assay"), "{e}");
    c.natives = vec!["strings.lower(s: int) -> string".into()];
    let e = sealed(&c).unwrap_err().to_string();
    assert!(e.contains("but this assay's is `strings.lower(s: string) -> string`"), "{e}");
}

/// Re-seals content with a valid digest, as a hostile producer would.
fn sealed(content: &Content) -> Result<Bundle, LoadError> {
    load(&encode(content).unwrap())
}

#[test]
fn the_verifier_rejects_hostile_code() {
    let cases: Vec<(&str, Vec<Instr>, u32)> = vec![
        ("constant out of range", vec![Instr::Const(7), Instr::Fail, Instr::Halt], 0),
        ("jump out of the block", vec![Instr::Jump(99), Instr::Halt], 0),
        ("stack underflow", vec![Instr::Add, Instr::Halt], 0),
        ("slot out of range", vec![Instr::Load(3), Instr::Pop, Instr::Halt], 1),
        ("falls off the end", vec![Instr::Bool(true), Instr::Pop], 0),
        ("unbalanced stack at the end", vec![Instr::Bool(true), Instr::Halt], 0),
        ("native with wrong arity", vec![Instr::Native { native: 0, argc: 2 }, Instr::Halt], 0),
        ("return from a rule", vec![Instr::Bool(true), Instr::Return], 0),
        (
            "inconsistent heights",
            vec![Instr::Bool(true), Instr::JumpIfFalse(3), Instr::Bool(true), Instr::Halt],
            0,
        ),
    ];
    for (what, instructions, locals) in cases {
        let mut c = tiny();
        c.rules[0].code = Code { instructions, locals, params: 0, lines: vec![] };
        assert!(matches!(sealed(&c), Err(LoadError::Invalid(_))), "{what} was accepted");
    }
    let mut c = tiny();
    c.constants.push(Constant::Enum(999, 0));
    assert!(sealed(&c).is_err(), "an enumeration that does not exist was accepted");
    let mut c = tiny();
    c.functions =
        vec![Code { instructions: vec![Instr::Call(0), Instr::Return], locals: 0, params: 0, lines: vec![] }];
    assert!(sealed(&c).is_err(), "a recursive function was accepted");
    let mut c = tiny();
    c.regexes = vec!["(".into()];
    assert!(sealed(&c).is_err(), "a broken pattern was accepted");
}

#[test]
fn the_bytecode_reference_table_is_generated_from_the_instructions() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bytecode.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- instructions:begin -->\n", "<!-- instructions:end -->");
    let a = doc.find(begin).expect("the begin marker") + begin.len();
    let b = doc.find(end).expect("the end marker");
    let fresh = format!("{}{}{}", &doc[..a], super::bytecode::reference_table(), &doc[b..]);
    if std::env::var_os("ASSAY_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert!(
        doc == fresh,
        "docs/bytecode.md is stale; run `ASSAY_UPDATE_DOCS=1 cargo test -p assay-model bytecode`"
    );
    assert_eq!(super::bytecode::INSTRUCTIONS.len(), 54);
}

#[test]
fn a_line_table_out_of_order_or_past_the_end_is_refused() {
    let with_lines = |lines: Vec<(u32, u32)>| {
        let mut c = tiny();
        c.rules[0].code.lines = lines;
        load(&encode(&c).unwrap())
    };
    let err = with_lines(vec![(1, 4), (0, 3)]).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("out of order"), "{err}");
    let err = with_lines(vec![(0, 3), (7, 4)]).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("past the end"), "{err}");
    let bundle = with_lines(vec![(0, 3), (2, 5)]).unwrap();
    let code = &bundle.content.rules[0].code;
    assert_eq!((code.line_at(1), code.line_at(2)), (Some(3), Some(5)));
}
