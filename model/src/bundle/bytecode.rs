//! The instruction set. One instruction is 8 bytes (a test pins it): an
//! opcode and at most one 32-bit operand, or a 16-bit and a 32-bit one.
//! `docs/bytecode.md` documents each instruction and its stack effect.

use serde::{Deserialize, Serialize};

/// A stack machine instruction. Operands index tables of the bundle (the
/// constant pool, globals, functions, natives, evidence paths, local slots)
/// or the code block (jump targets); the verifier checks every one at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instr {
    /// Push constant `n` of the pool.
    Const(u32),
    /// Push `true` or `false`.
    Bool(bool),
    /// Push the absent value.
    Absent,
    /// Push the telemetry document.
    Host,
    /// Push global `n` (a package constant, computed once per evaluation).
    Global(u32),
    /// Push local slot `n`.
    Load(u32),
    /// Pop into local slot `n`.
    Store(u32),
    Pop,
    Dup,
    /// Pop a record (or absent) and push its field `index` (absent through
    /// an absent record). When `evidence` is not `NO_EVIDENCE`, the read is
    /// recorded as evidence under the path of that index.
    Field {
        index: u16,
        evidence: u32,
    },
    Not,
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    /// Pop two strings, push them joined.
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Push field `index` of the record in local slot `slot` (`Load` then
    /// `Field`, fused: the commonest pair in loops). `evidence` as for
    /// `Field`, with `u16::MAX` for none.
    LoadField {
        slot: u16,
        index: u16,
        evidence: u16,
    },
    /// Pop a list, then an item: push whether the list holds the item.
    In,
    /// Pop an item: push whether constant list `n` holds it.
    InConst(u32),
    /// Add one to the int in local slot `n` (`count`).
    Incr(u32),
    /// Pop a needle, then a string or list: push whether it contains it.
    Contains,
    StartsWith,
    EndsWith,
    /// Pop a string: push whether regex `n` of the bundle matches it.
    Matches(u32),
    /// Pop a pattern, then a string: compile the pattern and match.
    MatchesDynamic,
    /// Pop: push whether it is present.
    IsPresent,
    /// If the top is present, jump (keeping it); else pop it and continue.
    JumpIfPresent(u32),
    Jump(u32),
    /// Pop a bool; jump when false.
    JumpIfFalse(u32),
    /// Pop two values; jump to `target` unless `a cmp b` holds (a comparison
    /// and `JumpIfFalse`, fused: the commonest pair in conditions).
    JumpUnless {
        cmp: Cmp,
        target: u32,
    },
    /// Pop an item; jump to `target` unless constant list `list` holds it
    /// (with `negate`: unless it does not). `x in [..]` as a condition.
    JumpUnlessIn {
        list: u16,
        negate: bool,
        target: u32,
    },
    /// If the top is false jump (keeping it); else pop it (`and`).
    JumpIfFalseKeep(u32),
    /// If the top is true jump (keeping it); else pop it (`or`).
    JumpIfTrueKeep(u32),
    /// Pop `n` values: push them as a list.
    MakeList(u32),
    /// Pop `n` values: push their display forms joined (message text).
    Format(u32),
    /// Call function `n`: its parameters are popped into its first slots.
    Call(u32),
    /// Call native `native` with `argc` arguments from the stack.
    Native {
        native: u16,
        argc: u32,
    },
    /// Pop a list into an iterator in local slot `n` (and `n + 1` for the position).
    IterInit(u32),
    /// Push the next item of the iterator in `slot`, or jump to `exit` when done.
    IterNext {
        slot: u16,
        exit: u32,
    },
    /// Remember how much evidence there is in local slot `n`.
    EvidenceMark(u32),
    /// Forget the evidence recorded since the mark in local slot `n`.
    EvidenceReset(u32),
    /// Pop a message: record a finding with the evidence gathered so far.
    Fail,
    /// End the rule: not applicable, for the reason in constant `n`.
    NotApplicable(u32),
    /// End the rule (its outcome follows from the findings recorded).
    Halt,
    /// End a function: pop its value and return it to the caller.
    Return,
}

/// The comparison of `JumpUnless`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `Field { evidence }` when the read is not evidence.
pub const NO_EVIDENCE: u32 = u32::MAX;
/// `LoadField { evidence }` when the read is not evidence.
pub const NO_EVIDENCE_16: u16 = u16::MAX;
/// Local slots an iterator takes: list, position, evidence mark, item.
pub const ITER_SLOTS: u32 = 4;

/// A constant of the pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Constant {
    Int(i64),
    Str(String),
    /// A version literal: it takes the scheme of what it is compared with.
    Version(String),
    /// An enumeration value: the enumeration's index in the schema, and the value's.
    Enum(u32, u32),
    /// A list literal whose items are all constants (`[21, 23, 80]`), built once.
    List(Vec<Constant>),
}

/// A block of code: a rule's body, a function or a global's initialiser.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Code {
    pub instructions: Vec<Instr>,
    /// Local slots the block uses.
    pub locals: u32,
    /// Parameters (functions only), the first `params` slots.
    pub params: u32,
}
