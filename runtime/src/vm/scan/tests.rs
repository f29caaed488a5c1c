//! Which instruction sequences are fused. That a fused program reports
//! what the plain one does is tested end to end, over the VM's golden
//! rules and generated hosts (`tests/vm.rs`).

use super::*;
use assay_model::bundle::bytecode::NO_EVIDENCE_16;

fn code(instructions: Vec<Instr>) -> Code {
    Code { instructions, locals: 8, params: 0, lines: Vec::new() }
}

fn debug() -> Debug {
    Debug { evidence_keys: vec![Some(0), None], ..Debug::default() }
}

#[test]
fn a_filter_that_loops_back_is_fused_at_its_iter_next() {
    let code = code(vec![
        Instr::IterInit(1),
        Instr::IterNext { slot: 1, exit: 5 },
        Instr::LoadField { slot: 4, index: 2, evidence: 0 },
        Instr::JumpUnlessIn { list: 7, negate: true, target: 1 },
        Instr::Jump(1),
        Instr::Halt,
    ]);
    let scans = Scans::of(&code, &debug());
    let expected = Scan {
        slot: 1,
        exit: 5,
        field: 2,
        evidence: 0,
        key: Some(0),
        test: Test::In { list: 7, negate: true },
    };
    assert_eq!(scans.at(1), Some(&expected));
    assert_eq!((0..6).filter(|pc| scans.at(*pc).is_some()).count(), 1);
}

#[test]
fn a_comparison_with_a_constant_is_fused_and_a_read_that_is_no_evidence_has_no_key() {
    let code = code(vec![
        Instr::IterNext { slot: 0, exit: 4 },
        Instr::LoadField { slot: 3, index: 5, evidence: NO_EVIDENCE_16 },
        Instr::JumpUnlessConst { cmp: Cmp::Ge, constant: 2, target: 0 },
        Instr::Jump(0),
        Instr::Halt,
    ]);
    let scan = Scans::of(&code, &debug()).at(0).copied();
    assert_eq!(scan.map(|s| (s.test, s.key)), Some((Test::Const { cmp: Cmp::Ge, constant: 2 }, None)));
}

#[test]
fn other_shapes_are_left_to_the_plain_instructions() {
    let cases = [
        // The test jumps elsewhere (a second condition's failure path).
        vec![
            Instr::IterNext { slot: 0, exit: 3 },
            Instr::LoadField { slot: 3, index: 0, evidence: 0 },
            Instr::JumpUnlessConst { cmp: Cmp::Eq, constant: 0, target: 3 },
            Instr::Halt,
        ],
        // The field read is of another slot than the loop's item.
        vec![
            Instr::IterNext { slot: 0, exit: 3 },
            Instr::LoadField { slot: 4, index: 0, evidence: 0 },
            Instr::JumpUnlessConst { cmp: Cmp::Eq, constant: 0, target: 0 },
            Instr::Halt,
        ],
        // A comparison of two computed values.
        vec![
            Instr::IterNext { slot: 0, exit: 4 },
            Instr::LoadField { slot: 3, index: 0, evidence: 0 },
            Instr::Load(7),
            Instr::JumpUnless { cmp: Cmp::Eq, target: 0 },
            Instr::Halt,
        ],
        // Cut short by the end of the block.
        vec![Instr::IterNext { slot: 0, exit: 2 }, Instr::LoadField { slot: 3, index: 0, evidence: 0 }],
    ];
    for instructions in cases {
        let scans = Scans::of(&code(instructions.clone()), &debug());
        assert!((0..instructions.len()).all(|pc| scans.at(pc).is_none()), "{instructions:?}");
    }
}
