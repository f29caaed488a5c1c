//! Loop filters run as one step.
//!
//! A `for each x in list where x.f <test>` (and a `count`'s or `find`'s
//! filter) compiles to three instructions the VM runs once per item:
//!
//! ```text
//!  pc    iter_next   slot S else -> exit
//!  pc+1  load_field  slot S+3 field F
//!  pc+2  jump_unless <test against a constant> -> pc
//! ```
//!
//! Most items fail the test (15 package rules over 1,500 packages find a
//! handful), so most of a rule's time went to dispatching, cloning and
//! dropping for items that are thrown away. [`Scans::of`] finds the
//! pattern once per block when a [`super::Program`] is made; the VM then
//! walks the items itself, reading each field in place, and stops at the
//! first item that passes (continuing at `pc+3` exactly as the three
//! instructions would have left it) or at the end of the list.
//!
//! The bytecode is unchanged and observably so: every item is charged the
//! three instructions it would have executed, and the last one the exit's
//! `iter_next`, so budgets and `summary.instructions` are the same; the
//! loop variable, the position and the evidence noted are the same. Anything
//! out of the ordinary (an item that is not a record, a test that would
//! fault, a budget too small for the next item) hands the item back to the
//! plain instructions, which fault or go on exactly as before.

use super::{compare, Run, Value};
use assay_model::bundle::bytecode::{Cmp, Code, Instr, NO_EVIDENCE_16};
use assay_model::bundle::Debug;

/// The instructions one item costs when the three run one by one.
const PER_ITEM: u64 = 3;

/// One fused filter: the `iter_next` at its `pc` and the two instructions
/// after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Scan {
    /// The iterator's first slot (list, position, evidence mark, item).
    slot: u16,
    exit: u32,
    /// The field the test reads, its evidence path and the item's naming
    /// field (as `load_field` notes them).
    field: u16,
    evidence: u16,
    key: Option<u16>,
    test: Test,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Test {
    /// `jump_unless in #list` (`negate`: `not in`).
    In { list: u16, negate: bool },
    /// `jump_unless <cmp> #constant`.
    Const { cmp: Cmp, constant: u16 },
}

/// The fused filters of one block, by the `pc` of their `iter_next`.
#[derive(Debug, Default)]
pub(super) struct Scans(Box<[Option<Scan>]>);

impl Scans {
    pub(super) fn of(code: &Code, debug: &Debug) -> Scans {
        let found: Vec<Option<Scan>> =
            (0..code.instructions.len()).map(|pc| fused(&code.instructions, pc, debug)).collect();
        if found.iter().all(Option::is_none) {
            return Scans::default();
        }
        Scans(found.into())
    }

    #[inline(always)]
    pub(super) fn at(&self, pc: usize) -> Option<&Scan> {
        self.0.get(pc).and_then(Option::as_ref)
    }
}

/// The filter starting at `pc`, if the three instructions there are one.
fn fused(code: &[Instr], pc: usize, debug: &Debug) -> Option<Scan> {
    let [Instr::IterNext { slot, exit }, Instr::LoadField { slot: item, index, evidence }, test] =
        *code.get(pc..pc + 3)?
    else {
        return None;
    };
    if u32::from(item) != u32::from(slot) + 3 {
        return None;
    }
    let test = match test {
        Instr::JumpUnlessIn { list, negate, target } if target as usize == pc => Test::In { list, negate },
        Instr::JumpUnlessConst { cmp, constant, target } if target as usize == pc => {
            Test::Const { cmp, constant }
        }
        _ => return None,
    };
    let key = match evidence {
        NO_EVIDENCE_16 => None,
        e => debug.evidence_key(usize::from(e)),
    };
    Some(Scan { slot, exit, field: index, evidence, key, test })
}

impl Run<'_, '_> {
    /// Runs the filter at `pc` over the items left: the `pc` to go on at
    /// (after the test for an item that passed, the exit at the end), or
    /// `None` to run the instruction at `pc` one by one (for an item out of
    /// the ordinary; the items before it are done).
    pub(super) fn scan(&mut self, scan: &Scan, locals: &mut [Value], pc: usize) -> Option<usize> {
        let s = usize::from(scan.slot);
        let Some([list, pos, mark, var]) = locals.get_mut(s..s + 4) else {
            return None;
        };
        let (Value::List(items), Value::Int(i)) = (&*list, pos) else {
            return None;
        };
        if let Value::Int(m) = mark {
            self.evidence.truncate(*m as usize);
        }
        let constants = &self.program.constants;
        let start = *i;
        loop {
            let Some(item) = usize::try_from(*i).ok().and_then(|at| items.get(at)) else {
                // The exit's `iter_next`; the item slot keeps the last item.
                let left = self.instructions.checked_sub(1)?;
                if *i > start {
                    *var = items.get(*i as usize - 1).cloned().unwrap_or(Value::Absent);
                }
                self.instructions = left;
                return Some(scan.exit as usize);
            };
            let left = self.instructions.checked_sub(PER_ITEM)?;
            let value = match item {
                Value::Absent => &Value::Absent,
                Value::Record(r) => r.fields.get(usize::from(scan.field))?,
                _ => return None,
            };
            let passes = match scan.test {
                Test::In { list, negate } => self.program.member(value, usize::from(list)).ok()? != negate,
                Test::Const { cmp, constant } => {
                    compare(cmp, value, constants.get(usize::from(constant))?).ok()?
                }
            };
            *i += 1;
            self.instructions = left;
            if passes {
                *var = item.clone();
                if scan.evidence != NO_EVIDENCE_16 {
                    self.note_slot(scan.evidence, scan.slot + 3, scan.field, scan.key);
                }
                return Some(pc + 3);
            }
        }
    }
}

#[cfg(test)]
mod tests;
