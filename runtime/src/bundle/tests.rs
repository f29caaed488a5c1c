use super::bytecode::{Code, Constant, Instr};
use super::*;

fn tiny() -> Content {
    Content {
        compiler: "test".into(),
        schema_version: crate::telemetry::SCHEMA_VERSION,
        packages: vec![PackageMeta { name: "p".into(), version: "1.0.0".into(), ..PackageMeta::default() }],
        rules: vec![RuleMeta {
            id: "T-1".into(),
            severity: "low".into(),
            code: Code {
                instructions: vec![Instr::Const(0), Instr::Fail, Instr::Halt],
                locals: 0,
                params: 0,
            },
            ..RuleMeta::default()
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
    let a = encode(&tiny());
    assert_eq!(a, encode(&tiny()));
    let loaded = load(&a).unwrap();
    assert_eq!(loaded.content, tiny());
    assert_eq!(loaded.digest, digest_hex(&a));
    assert_eq!(loaded.digest.len(), 64);
}

#[test]
fn every_flipped_byte_and_every_truncation_is_a_clear_error() {
    let bytes = encode(&tiny());
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x40;
        assert!(load(&bad).is_err(), "flipping byte {i} was not detected");
        assert!(load(&bytes[..i]).is_err(), "cutting at {i} was not detected");
    }
}

#[test]
fn an_other_format_version_is_named() {
    let mut bytes = encode(&tiny());
    bytes[8] = 9;
    assert_eq!(load(&bytes).unwrap_err(), LoadError::UnsupportedVersion { found: 9 });
}

/// Re-seals content with a valid digest, as a hostile producer would.
fn sealed(content: &Content) -> Result<Bundle, LoadError> {
    load(&encode(content))
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
        c.rules[0].code = Code { instructions, locals, params: 0 };
        assert!(matches!(sealed(&c), Err(LoadError::Invalid(_))), "{what} was accepted");
    }
    let mut c = tiny();
    c.constants.push(Constant::Enum(999, 0));
    assert!(sealed(&c).is_err(), "an enumeration that does not exist was accepted");
    let mut c = tiny();
    c.functions = vec![Code { instructions: vec![Instr::Call(0), Instr::Return], locals: 0, params: 0 }];
    assert!(sealed(&c).is_err(), "a recursive function was accepted");
    let mut c = tiny();
    c.regexes = vec!["(".into()];
    assert!(sealed(&c).is_err(), "a broken pattern was accepted");
}
