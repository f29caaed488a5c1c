//! The instruction set. One instruction is 8 bytes (a test pins it): an
//! opcode and at most one 32-bit operand, or a 16-bit and a 32-bit one.
//! `docs/bytecode.md` documents each instruction and its stack effect.

use serde::{Deserialize, Serialize};

/// Declares [`Instr`] with its derives, and [`INSTRUCTIONS`] from the same
/// declaration: `/// doc` lines, the variant, `=> "stack effect"`.
macro_rules! instructions {
    (
        $(#[doc = $edoc:literal])*
        pub enum Instr {
            $(
                $(#[doc = $doc:literal])*
                $name:ident $( ( $($tty:ty),* ) )? $( { $($field:ident : $fty:ty),* } )? => $stack:literal,
            )*
        }
    ) => {
        $(#[doc = $edoc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Instr {
            $(
                $(#[doc = $doc])*
                $name $( ( $($tty),* ) )? $( { $($field : $fty),* } )?,
            )*
        }

        /// Every instruction, in encoding order.
        pub const INSTRUCTIONS: &[InstrDoc] = &[
            $(InstrDoc {
                name: stringify!($name),
                operands: concat!(
                    $( "(", stringify!($($tty),*), ")", )?
                    $( "{ ", $( stringify!($field), ": ", stringify!($fty), ", ", )* "}", )?
                ),
                stack: $stack,
                doc: concat!($($doc, "\n",)* ""),
            },)*
        ];
    };
}

/// One row of the instruction reference.
#[derive(Clone, Copy, Debug)]
pub struct InstrDoc {
    pub name: &'static str,
    /// `(u32)`, `{ index: u16, evidence: u32, }` or empty.
    pub operands: &'static str,
    /// The stack effect, `a b → c` (empty when the stack is untouched).
    pub stack: &'static str,
    pub doc: &'static str,
}

instructions! {
    /// A stack machine instruction. Operands index tables of the bundle (the
    /// constant pool, globals, functions, natives, evidence paths, local slots)
    /// or the code block (jump targets); the verifier checks every one at load.
    ///
    /// Declared through `instructions!`, which also lists every instruction with
    /// its operands, stack effect and documentation in [`INSTRUCTIONS`], the
    /// source of the table in `docs/bytecode.md` (a test keeps it current).
    /// Variant order is the wire format: append, never insert or reorder (the
    /// fingerprint test in `fingerprint.rs` catches both).
    pub enum Instr {
        /// Push constant `n` of the pool.
        Const(u32) => "→ v",
        /// Push `true` or `false`.
        Bool(bool) => "→ bool",
        /// Push the absent value.
        Absent => "→ absent",
        /// Push the telemetry document.
        Host => "→ record",
        /// Push global `n` (a package constant, computed once per evaluation).
        Global(u32) => "→ v",
        /// Push local slot `n`.
        Load(u32) => "→ v",
        /// Pop into local slot `n`.
        Store(u32) => "v →",
        /// Drop the top value.
        Pop => "v →",
        /// Push the top value again.
        Dup => "v → v v",
        /// Pop a record (or absent) and push its field `index` (absent through
        /// an absent record). When `evidence` is not `NO_EVIDENCE`, the read is
        /// recorded as evidence under the path of that index.
        Field { index: u16, evidence: u32 } => "record → v",
        /// Boolean negation.
        Not => "bool → bool",
        /// Integer negation (checked).
        Neg => "int → int",
        /// Integer arithmetic, checked: overflow and division by zero are faults.
        Add => "a b → c",
        /// As `Add`.
        Sub => "a b → c",
        /// As `Add`.
        Mul => "a b → c",
        /// As `Add`.
        Div => "a b → c",
        /// As `Add`.
        Rem => "a b → c",
        /// Pop two strings, push them joined.
        Concat => "a b → c",
        /// Compare two values; versions compare with their scheme (a literal takes the other side's).
        Eq => "a b → bool",
        /// As `Eq`.
        Ne => "a b → bool",
        /// As `Eq`.
        Lt => "a b → bool",
        /// As `Eq`.
        Le => "a b → bool",
        /// As `Eq`.
        Gt => "a b → bool",
        /// As `Eq`.
        Ge => "a b → bool",
        /// Push field `index` of the record in local slot `slot` (`Load` then
        /// `Field`, fused: the commonest pair in loops). `evidence` as for
        /// `Field`, with `u16::MAX` for none.
        LoadField { slot: u16, index: u16, evidence: u16 } => "→ v",
        /// Pop a list, then an item: push whether the list holds the item.
        In => "item list → bool",
        /// Pop an item: push whether constant list `n` holds it.
        InConst(u32) => "item → bool",
        /// Add one to the int in local slot `n` (`count`).
        Incr(u32) => "",
        /// Pop a needle, then a string or list: push whether it contains it.
        Contains => "hay needle → bool",
        /// Pop a suffix or prefix, then a string: push whether the string starts (ends) with it.
        StartsWith => "a b → bool",
        /// As `StartsWith`.
        EndsWith => "a b → bool",
        /// Pop a string: push whether regex `n` of the bundle matches it.
        Matches(u32) => "s → bool",
        /// Pop a pattern, then a string: compile the pattern and match.
        MatchesDynamic => "s pattern → bool",
        /// Pop: push whether it is present.
        IsPresent => "v → bool",
        /// If the top is present, jump (keeping it); else pop it and continue.
        JumpIfPresent(u32) => "v → v, or v →",
        /// Jump to `n`.
        Jump(u32) => "",
        /// Pop a bool; jump when false.
        JumpIfFalse(u32) => "bool →",
        /// Pop two values; jump to `target` unless `a cmp b` holds (a comparison
        /// and `JumpIfFalse`, fused: the commonest pair in conditions).
        JumpUnless { cmp: Cmp, target: u32 } => "a b →",
        /// Pop an item; jump to `target` unless constant list `list` holds it
        /// (with `negate`: unless it does not). `x in [..]` as a condition.
        JumpUnlessIn { list: u16, negate: bool, target: u32 } => "item →",
        /// If the top is false jump (keeping it); else pop it (`and`).
        JumpIfFalseKeep(u32) => "bool → bool, or bool →",
        /// If the top is true jump (keeping it); else pop it (`or`).
        JumpIfTrueKeep(u32) => "bool → bool, or bool →",
        /// Pop `n` values: push them as a list.
        MakeList(u32) => "n values → list",
        /// Pop `n` values: push their display forms joined (message text).
        Format(u32) => "n values → string",
        /// Call function `n`: its parameters are popped into its first slots.
        Call(u32) => "args → v",
        /// Call native `native` (an entry of the bundle's natives table, linked
        /// by signature at load) with `argc` arguments from the stack.
        Native { native: u16, argc: u32 } => "args → v",
        /// Pop a list into an iterator: slots `n` (list), `n + 1` (position),
        /// `n + 2` (evidence mark), `n + 3` (item).
        IterInit(u32) => "list →",
        /// Forget the evidence recorded since the mark in `slot + 2` (when set),
        /// store the next item of the iterator in `slot` into `slot + 3`, or
        /// jump to `exit` when done.
        IterNext { slot: u16, exit: u32 } => "",
        /// Remember how much evidence there is in local slot `n`.
        EvidenceMark(u32) => "",
        /// Forget the evidence recorded since the mark in local slot `n`.
        EvidenceReset(u32) => "",
        /// Pop a message: record a finding with the evidence gathered so far.
        Fail => "message →",
        /// End the rule: not applicable, for the reason in constant `n`.
        NotApplicable(u32) => "",
        /// End the rule (its outcome follows from the findings recorded).
        Halt => "",
        /// End a function: pop its value and return it to the caller.
        Return => "v →",
        /// Pop a value; jump to `target` unless `a cmp constant` holds
        /// (`Const` and `JumpUnless`, fused: a comparison with a literal, the
        /// commonest condition in a loop's filter).
        JumpUnlessConst { cmp: Cmp, constant: u16, target: u32 } => "a →",
    }
}

/// The instruction table of `docs/bytecode.md`, from [`INSTRUCTIONS`].
pub fn reference_table() -> String {
    let mut out = String::from("| # | instruction | stack | meaning |\n| --- | --- | --- | --- |\n");
    for (i, d) in INSTRUCTIONS.iter().enumerate() {
        let operands = d.operands.replace(", }", " }");
        let operands = if operands.starts_with('{') { format!(" {operands}") } else { operands };
        let doc = d.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!("| {i} | `{}{operands}` | {} | {doc} |\n", d.name, d.stack));
    }
    out
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
    /// The source line table: `(first instruction, line)` wherever the line
    /// changes, instructions increasing (a fault or a listing shows the
    /// line of an instruction). Lines are of the file in the block's
    /// location (`Debug`).
    pub lines: Vec<(u32, u32)>,
}

impl Code {
    /// The source line of instruction `pc`, when the table has one.
    pub fn line_at(&self, pc: usize) -> Option<u32> {
        let at = self.lines.partition_point(|&(first, _)| first as usize <= pc);
        at.checked_sub(1).and_then(|i| self.lines.get(i)).map(|&(_, line)| line)
    }
}
