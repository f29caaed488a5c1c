//! The verifier: everything the VM's loop relies on is checked once, at
//! load. Every operand indexes an existing table entry, every jump lands
//! inside its block, the stack height at every instruction is the same on
//! every path and within [`MAX_STACK`], blocks end in the instruction their
//! kind requires, functions do not recurse, and constants name enumeration
//! values that exist.

use super::bytecode::{Code, Constant, Instr, ITER_SLOTS, NO_EVIDENCE, NO_EVIDENCE_16};
use super::Content;
use crate::telemetry::schema;
use std::fmt;

/// The deepest operand stack a block may use.
pub const MAX_STACK: u32 = 1024;
/// The most local slots a block may use.
pub const MAX_LOCALS: u32 = 65_535;

#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    /// `rule SSH-001`, `function common.is_weak`, `global 3`.
    pub block: String,
    pub pc: Option<usize>,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "{} at instruction {pc}: {}", self.block, self.message),
            None => write!(f, "{}: {}", self.block, self.message),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Rule,
    Function,
    Global(usize),
}

/// Checks `content` whose natives were linked to `natives` (indices into
/// [`assay_stdlib::NATIVES`], one per entry of `content.natives`).
pub fn verify(content: &Content, natives: &[u16]) -> Result<(), VerifyError> {
    let top = |message: String| VerifyError { block: "bundle".into(), pc: None, message };
    if natives.len() != content.natives.len() {
        return Err(top(format!(
            "{} natives are linked for the {} the bundle names",
            natives.len(),
            content.natives.len()
        )));
    }
    let debug = &content.debug;
    if debug.evidence_keys.len() != debug.evidence_paths.len() {
        return Err(top(format!(
            "{} evidence keys for {} evidence paths",
            debug.evidence_keys.len(),
            debug.evidence_paths.len()
        )));
    }
    let enums = &schema::catalog().enums;
    for (i, c) in content.constants.iter().enumerate() {
        if let Constant::Enum(e, v) = c {
            let ok = enums.get(*e as usize).is_some_and(|en| (*v as usize) < en.variants.len());
            if !ok {
                return Err(top(format!(
                    "constant {i} names enumeration value {e}.{v}, which does not exist"
                )));
            }
        }
    }
    for (i, pattern) in content.regexes.iter().enumerate() {
        if let Err(e) = regex::Regex::new(pattern) {
            return Err(top(format!("regular expression {i} does not compile: {e}")));
        }
    }
    for rule in &content.rules {
        let block = format!("rule {}", rule.id);
        if rule.package as usize >= content.packages.len() {
            return Err(VerifyError {
                block,
                pc: None,
                message: format!("package {} does not exist", rule.package),
            });
        }
        block_ok(content, natives, &rule.code, Kind::Rule, &block)?;
    }
    for (i, f) in content.functions.iter().enumerate() {
        let name = content.debug.function_names.get(i).cloned().unwrap_or_else(|| i.to_string());
        block_ok(content, natives, f, Kind::Function, &format!("function {name}"))?;
    }
    for (i, g) in content.globals.iter().enumerate() {
        let name = content.debug.global_names.get(i).cloned().unwrap_or_else(|| i.to_string());
        block_ok(content, natives, g, Kind::Global(i), &format!("constant {name}"))?;
    }
    no_recursion(content)
}

fn block_ok(
    content: &Content,
    natives: &[u16],
    code: &Code,
    kind: Kind,
    block: &str,
) -> Result<(), VerifyError> {
    let err = |pc: Option<usize>, message: String| VerifyError { block: block.to_owned(), pc, message };
    let n = code.instructions.len();
    if n == 0 {
        return Err(err(None, "empty code block".into()));
    }
    if code.locals > MAX_LOCALS {
        return Err(err(None, format!("{} local slots is more than {MAX_LOCALS}", code.locals)));
    }
    if code.params > code.locals || (kind != Kind::Function && code.params != 0) {
        return Err(err(None, format!("{} parameters do not fit {} local slots", code.params, code.locals)));
    }
    if let Some(w) = code.lines.windows(2).find(|w| w[0].0 >= w[1].0) {
        return Err(err(Some(w[1].0 as usize), "the line table is out of order".into()));
    }
    if let Some(&(pc, _)) = code.lines.last().filter(|(pc, _)| *pc as usize >= n) {
        return Err(err(Some(pc as usize), "the line table names an instruction past the end".into()));
    }
    let locals = code.locals;
    let slot = |pc, s: u32, width: u32| {
        if s.checked_add(width).is_some_and(|end| end <= locals) {
            Ok(())
        } else {
            Err(err(Some(pc), format!("local slot {s} is outside the block's {locals} slots")))
        }
    };
    let target = |pc, t: u32| {
        if (t as usize) < n {
            Ok(t as usize)
        } else {
            Err(err(Some(pc), format!("jump to {t} leaves the block of {n} instructions")))
        }
    };
    // Operands, and each instruction's stack effect.
    let mut effects: Vec<(u32, u32)> = Vec::with_capacity(n);
    for (pc, instr) in code.instructions.iter().enumerate() {
        use Instr::*;
        let effect = match *instr {
            Const(i) => {
                if i as usize >= content.constants.len() {
                    return Err(err(Some(pc), format!("constant {i} does not exist")));
                }
                (0, 1)
            }
            Bool(_) | Absent | Host => (0, 1),
            Global(g) => {
                let limit = match kind {
                    Kind::Global(own) => own,
                    _ => content.globals.len(),
                };
                if g as usize >= limit {
                    return Err(err(Some(pc), format!("global {g} does not exist or is not computed yet")));
                }
                (0, 1)
            }
            Load(s) => {
                slot(pc, s, 1)?;
                (0, 1)
            }
            Store(s) => {
                slot(pc, s, 1)?;
                (1, 0)
            }
            Pop => (1, 0),
            Dup => (1, 2),
            Field { evidence, .. } => {
                if evidence != NO_EVIDENCE && evidence as usize >= content.debug.evidence_paths.len() {
                    return Err(err(Some(pc), format!("evidence path {evidence} does not exist")));
                }
                (1, 1)
            }
            LoadField { slot: s, evidence, .. } => {
                slot(pc, u32::from(s), 1)?;
                if evidence != NO_EVIDENCE_16 && usize::from(evidence) >= content.debug.evidence_paths.len() {
                    return Err(err(Some(pc), format!("evidence path {evidence} does not exist")));
                }
                (0, 1)
            }
            InConst(c) => {
                if !matches!(content.constants.get(c as usize), Some(Constant::List(_))) {
                    return Err(err(Some(pc), format!("constant {c} is not a list")));
                }
                (1, 1)
            }
            Incr(s) => {
                slot(pc, s, 1)?;
                (0, 0)
            }
            Not | Neg | IsPresent => (1, 1),
            Matches(r) => {
                if r as usize >= content.regexes.len() {
                    return Err(err(Some(pc), format!("regular expression {r} does not exist")));
                }
                (1, 1)
            }
            Add | Sub | Mul | Div | Rem | Concat | Eq | Ne | Lt | Le | Gt | Ge | In | Contains
            | StartsWith | EndsWith | MatchesDynamic => (2, 1),
            JumpUnless { target: t, .. } => {
                target(pc, t)?;
                (2, 0)
            }
            JumpUnlessConst { constant, target: t, .. } => {
                target(pc, t)?;
                if usize::from(constant) >= content.constants.len() {
                    return Err(err(Some(pc), format!("constant {constant} does not exist")));
                }
                (1, 0)
            }
            JumpUnlessIn { list, target: t, .. } => {
                target(pc, t)?;
                if !matches!(content.constants.get(usize::from(list)), Some(Constant::List(_))) {
                    return Err(err(Some(pc), format!("constant {list} is not a list")));
                }
                (1, 0)
            }
            JumpIfPresent(t) | Jump(t) | JumpIfFalse(t) | JumpIfFalseKeep(t) | JumpIfTrueKeep(t) => {
                target(pc, t)?;
                match instr {
                    Jump(_) => (0, 0),
                    _ => (1, 0),
                }
            }
            MakeList(k) | Format(k) => {
                if k > MAX_STACK {
                    return Err(err(Some(pc), format!("{k} items is more than the stack holds")));
                }
                (k, 1)
            }
            Call(f) => match content.functions.get(f as usize) {
                Some(callee) => (callee.params, 1),
                None => return Err(err(Some(pc), format!("function {f} does not exist"))),
            },
            Native { native, argc } => match natives
                .get(usize::from(native))
                .and_then(|&i| assay_stdlib::NATIVES.get(usize::from(i)))
            {
                Some(nat) if nat.params.len() == argc as usize => (argc, 1),
                Some(nat) => {
                    return Err(err(
                        Some(pc),
                        format!("{} takes {} arguments, not {argc}", nat.signature(), nat.params.len()),
                    ))
                }
                None => return Err(err(Some(pc), format!("native {native} does not exist"))),
            },
            IterInit(s) => {
                slot(pc, s, ITER_SLOTS)?;
                (1, 0)
            }
            IterNext { slot: s, exit } => {
                slot(pc, u32::from(s), ITER_SLOTS)?;
                target(pc, exit)?;
                (0, 0)
            }
            EvidenceMark(s) | EvidenceReset(s) => {
                slot(pc, s, 1)?;
                (0, 0)
            }
            Fail | NotApplicable(_) | Halt if kind != Kind::Rule => {
                return Err(err(Some(pc), "only a rule can end with a finding or an outcome".into()))
            }
            Return if kind == Kind::Rule => return Err(err(Some(pc), "a rule cannot return a value".into())),
            Fail => (1, 0),
            NotApplicable(c) => {
                if !matches!(content.constants.get(c as usize), Some(Constant::Str(_))) {
                    return Err(err(Some(pc), format!("constant {c} is not a reason text")));
                }
                (0, 0)
            }
            Halt => (0, 0),
            Return => (1, 0),
        };
        effects.push(effect);
    }
    // Stack heights: one pass over the control-flow graph.
    let mut height: Vec<Option<u32>> = vec![None; n];
    let mut work = vec![(0usize, 0u32)];
    while let Some((pc, h)) = work.pop() {
        match height[pc] {
            Some(seen) if seen == h => continue,
            Some(seen) => {
                return Err(err(
                    Some(pc),
                    format!("the stack holds {seen} values on one path and {h} on another"),
                ))
            }
            None => height[pc] = Some(h),
        }
        let instr = code.instructions[pc];
        let (pops, pushes) = effects[pc];
        if h < pops {
            return Err(err(Some(pc), format!("needs {pops} values on the stack, has {h}")));
        }
        let after = h - pops + pushes;
        if after > MAX_STACK {
            return Err(err(Some(pc), format!("the stack would exceed {MAX_STACK} values")));
        }
        let next = |work: &mut Vec<(usize, u32)>, h: u32| {
            if pc + 1 < n {
                work.push((pc + 1, h));
                Ok(())
            } else {
                Err(err(Some(pc), "the block ends without a final instruction".into()))
            }
        };
        // Every instruction is listed, so a new one (a jump above all) must
        // say where control goes before the verifier compiles.
        use Instr::*;
        match instr {
            Halt | NotApplicable(_) => {
                if h != 0 {
                    return Err(err(Some(pc), format!("the rule ends with {h} values left on the stack")));
                }
            }
            Return => {
                if h != 1 {
                    return Err(err(Some(pc), format!("returns with {h} values on the stack instead of 1")));
                }
            }
            Jump(t) => work.push((t as usize, after)),
            JumpIfFalse(t)
            | JumpUnless { target: t, .. }
            | JumpUnlessIn { target: t, .. }
            | JumpUnlessConst { target: t, .. } => {
                work.push((t as usize, after));
                next(&mut work, after)?;
            }
            JumpIfPresent(t) | JumpIfFalseKeep(t) | JumpIfTrueKeep(t) => {
                work.push((t as usize, h));
                next(&mut work, after)?;
            }
            IterNext { exit, .. } => {
                work.push((exit as usize, h));
                next(&mut work, after)?;
            }
            Const(_)
            | Bool(_)
            | Absent
            | Host
            | Global(_)
            | Load(_)
            | Store(_)
            | Pop
            | Dup
            | Field { .. }
            | Not
            | Neg
            | Add
            | Sub
            | Mul
            | Div
            | Rem
            | Concat
            | Eq
            | Ne
            | Lt
            | Le
            | Gt
            | Ge
            | LoadField { .. }
            | In
            | InConst(_)
            | Incr(_)
            | Contains
            | StartsWith
            | EndsWith
            | Matches(_)
            | MatchesDynamic
            | IsPresent
            | MakeList(_)
            | Format(_)
            | Call(_)
            | Native { .. }
            | IterInit(_)
            | EvidenceMark(_)
            | EvidenceReset(_)
            | Fail => next(&mut work, after)?,
        }
    }
    Ok(())
}

/// Functions may not call themselves, directly or through others, so every
/// evaluation ends.
fn no_recursion(content: &Content) -> Result<(), VerifyError> {
    let n = content.functions.len();
    // 0 unvisited, 1 on the path, 2 done.
    let mut state = vec![0u8; n];
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((f, i)) = stack.last_mut() {
            let code = &content.functions[*f].instructions;
            let callee = code[*i..].iter().position(|x| matches!(x, Instr::Call(_))).map(|p| *i + p);
            match callee {
                Some(p) => {
                    *i = p + 1;
                    let Instr::Call(g) = code[p] else { continue };
                    let g = g as usize;
                    match state.get(g) {
                        Some(1) => {
                            return Err(VerifyError {
                                block: format!(
                                    "function {}",
                                    content
                                        .debug
                                        .function_names
                                        .get(g)
                                        .cloned()
                                        .unwrap_or_else(|| g.to_string())
                                ),
                                pc: None,
                                message: "calls itself, directly or through other functions".into(),
                            })
                        }
                        Some(0) => {
                            state[g] = 1;
                            stack.push((g, 0));
                        }
                        _ => {}
                    }
                }
                None => {
                    state[*f] = 2;
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}
