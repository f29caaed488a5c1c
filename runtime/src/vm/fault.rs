//! Why a rule's evaluation stopped: faults as data, rendered in one place.

use assay_stdlib::versions::Scheme;
use std::fmt;

/// What went wrong inside a rule, a function or a constant's initialiser.
#[derive(Clone, Debug, PartialEq)]
pub enum VmFault {
    /// The rule executed `limit` instructions without finishing.
    InstructionBudget {
        limit: u64,
    },
    /// Lists, text and findings of the rule would take more than `limit` bytes.
    MemoryBudget {
        limit: u64,
    },
    /// Function calls nested deeper than `limit`.
    CallDepth {
        limit: u32,
    },
    DivisionByZero,
    RemainderByZero,
    /// Integer arithmetic overflowed.
    Overflow {
        operation: &'static str,
    },
    /// An operation met values of types it does not take (`+` on a bool).
    Type {
        operation: &'static str,
        found: &'static str,
        other: Option<&'static str>,
    },
    /// Two versions of different schemes were compared.
    VersionSchemes {
        left: Scheme,
        right: Scheme,
    },
    /// A dynamic `matches` pattern does not compile.
    Pattern {
        pattern: String,
    },
    /// A standard-library function refused its arguments.
    Native {
        message: String,
    },
    /// A package constant the code reads failed to compute.
    Global {
        name: String,
        fault: Box<VmFault>,
    },
    /// A called function faulted.
    InFunction {
        name: String,
        fault: Box<Fault>,
    },
    /// Something the verifier guarantees did not hold (a bug, never input).
    Invariant(&'static str),
}

impl VmFault {
    pub(crate) fn ty(operation: &'static str, found: &'static str) -> VmFault {
        VmFault::Type { operation, found, other: None }
    }

    pub(crate) fn ty2(operation: &'static str, found: &'static str, other: &'static str) -> VmFault {
        VmFault::Type { operation, found, other: Some(other) }
    }
}

impl fmt::Display for VmFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmFault::InstructionBudget { limit } => {
                write!(f, "instruction budget exceeded ({limit} instructions executed)")
            }
            VmFault::MemoryBudget { limit } => write!(f, "memory budget exceeded (limit {limit} bytes)"),
            VmFault::CallDepth { limit } => write!(f, "calls nested deeper than {limit}"),
            VmFault::DivisionByZero => f.write_str("division by zero"),
            VmFault::RemainderByZero => f.write_str("remainder by zero"),
            VmFault::Overflow { operation } => write!(f, "integer overflow in `{operation}`"),
            VmFault::Type { operation, found, other: None } => write!(f, "{operation} a {found}"),
            VmFault::Type { operation, found, other: Some(other) } => {
                write!(f, "{operation} a {found} and a {other}")
            }
            VmFault::VersionSchemes { left, right } => {
                write!(f, "cannot compare a {} version with a {} version", left.name(), right.name())
            }
            VmFault::Pattern { pattern } => {
                write!(f, "the pattern `{pattern}` is not a valid regular expression")
            }
            VmFault::Native { message } => f.write_str(message),
            VmFault::Global { name, fault } => write!(f, "constant {name} failed: {fault}"),
            VmFault::InFunction { name, fault } => write!(f, "in function {name}: {fault}"),
            VmFault::Invariant(what) => {
                write!(f, "internal error: {what} (a verified bundle cannot do this)")
            }
        }
    }
}

/// A fault and where it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: VmFault,
    /// The instruction that faulted, in its block.
    pub pc: usize,
    pub block: &'static str,
    /// Instructions the rule had executed when it faulted.
    pub executed: u64,
    /// The source line of the instruction (`ssh-hardening/rules.assay:14`),
    /// from the bundle's line table.
    pub location: Option<String>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{} (at {at}, instruction {} of the {})", self.kind, self.pc, self.block),
            None => write!(f, "{} (at instruction {} of the {})", self.kind, self.pc, self.block),
        }
    }
}
