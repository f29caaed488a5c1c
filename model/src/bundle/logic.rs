//! What a rule *does*, independent of the bundle it was compiled into:
//! `assay diff` compares rules by this, so reformatting, renaming a local,
//! moving a rule to another file or adding an unrelated rule (which shifts
//! every pool index) is not a change of logic.
//!
//! A rule's code is written out with every operand that indexes a pool
//! of its bundle replaced by what it names: constants by their value,
//! natives by their signature, regular expressions by their pattern,
//! evidence labels by their path, and globals and functions by the digest
//! of their own code, written out the same way (functions never recurse
//! and globals only read earlier ones, so this ends). Source lines and
//! names, which only label errors, are left out; local slots and jump
//! targets are positions within the block, which renaming a local does not
//! change. The rule's platforms and the sections and items it reads are
//! part of its logic too (they decide where it applies and when it is
//! skipped).

use super::bytecode::{Code, Constant, Instr, NO_EVIDENCE, NO_EVIDENCE_16};
use super::Content;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write;

/// The logic of every rule of `content`, by position: a SHA-256 (hex) each.
pub fn rule_digests(content: &Content) -> Vec<String> {
    let mut canon = Canon { content, functions: HashMap::new(), globals: HashMap::new(), depth: 0 };
    content
        .rules
        .iter()
        .map(|r| {
            let mut text = String::new();
            let platforms: Vec<&str> = r.platforms.iter().map(|p| p.as_str()).collect();
            let lookups: Vec<String> = r.lookups.iter().map(ToString::to_string).collect();
            let _ = writeln!(text, "platforms {platforms:?}\nreads {:?}\nlookups {lookups:?}", r.reads);
            text.push_str(&canon.block(&r.code));
            hex(text.as_bytes())
        })
        .collect()
}

struct Canon<'c> {
    content: &'c Content,
    functions: HashMap<u32, String>,
    globals: HashMap<u32, String>,
    /// Guards the recursion on a bundle the verifier did not see.
    depth: u32,
}

impl Canon<'_> {
    fn function(&mut self, n: u32) -> String {
        if let Some(d) = self.functions.get(&n) {
            return d.clone();
        }
        let digest = match self.content.functions.get(n as usize) {
            Some(code) if self.depth < 64 => {
                self.depth += 1;
                let text = format!("params {}\n{}", code.params, self.block(code));
                self.depth -= 1;
                hex(text.as_bytes())
            }
            _ => format!("missing function {n}"),
        };
        self.functions.insert(n, digest.clone());
        digest
    }

    fn global(&mut self, n: u32) -> String {
        if let Some(d) = self.globals.get(&n) {
            return d.clone();
        }
        let digest = match self.content.globals.get(n as usize) {
            Some(code) if self.depth < 64 => {
                self.depth += 1;
                let text = self.block(code);
                self.depth -= 1;
                hex(text.as_bytes())
            }
            _ => format!("missing global {n}"),
        };
        self.globals.insert(n, digest.clone());
        digest
    }

    fn constant(&self, n: u32) -> String {
        self.content
            .constants
            .get(n as usize)
            .map(constant)
            .unwrap_or_else(|| format!("missing constant {n}"))
    }

    fn evidence(&self, n: u32) -> String {
        self.content.debug.evidence_paths.get(n as usize).cloned().unwrap_or_default()
    }

    fn block(&mut self, code: &Code) -> String {
        let mut out = format!("locals {}\n", code.locals);
        for i in &code.instructions {
            let line = match *i {
                Instr::Const(n) => format!("const {}", self.constant(n)),
                Instr::InConst(n) => format!("in_const {}", self.constant(n)),
                Instr::NotApplicable(n) => format!("n/a {}", self.constant(n)),
                Instr::JumpUnlessIn { list, negate, target } => {
                    format!("jump_unless_in {} {negate} {target}", self.constant(u32::from(list)))
                }
                Instr::JumpUnlessConst { cmp, constant, target } => {
                    format!("jump_unless_const {cmp:?} {} {target}", self.constant(u32::from(constant)))
                }
                Instr::Global(n) => format!("global {}", self.global(n)),
                Instr::Call(n) => format!("call {}", self.function(n)),
                Instr::Native { native, argc } => {
                    let sig = self.content.natives.get(usize::from(native)).cloned().unwrap_or_default();
                    format!("native {sig} {argc}")
                }
                Instr::Matches(n) => {
                    format!("matches {:?}", self.content.regexes.get(n as usize).cloned().unwrap_or_default())
                }
                Instr::Field { index, evidence } => {
                    let label = if evidence == NO_EVIDENCE { String::new() } else { self.evidence(evidence) };
                    format!("field {index} {label}")
                }
                Instr::LoadField { slot, index, evidence } => {
                    let label = if evidence == NO_EVIDENCE_16 {
                        String::new()
                    } else {
                        self.evidence(u32::from(evidence))
                    };
                    format!("load_field {slot} {index} {label}")
                }
                // Every other instruction's operands are counts, slots
                // or positions in this block.
                other => format!("{other:?}"),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

fn constant(k: &Constant) -> String {
    match k {
        Constant::Int(i) => format!("int {i}"),
        Constant::Str(s) => format!("string {s:?}"),
        Constant::Version(v) => format!("version {v:?}"),
        Constant::Enum(e, v) => format!("enum {e} {v}"),
        Constant::List(items) => {
            format!("list [{}]", items.iter().map(constant).collect::<Vec<_>>().join(", "))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(bytes))
}

/// The content of every package of `content`, by position: a SHA-256
/// (hex) of its manifest's fields and, for each rule by id, every field
/// of its metadata and its logic digest. Two bundles holding the same
/// package compiled from the same rules give the same digest, however
/// the bundles were packed or the sources laid out; a changed rule,
/// severity or text gives another.
pub fn package_digests(content: &Content) -> Vec<String> {
    let logic = rule_digests(content);
    content
        .packages
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let mut text = String::new();
            let platforms: Vec<&str> = p.platforms.iter().map(|x| x.as_str()).collect();
            let _ = writeln!(
                text,
                "package {:?} {:?} {:?} {:?} {platforms:?}",
                p.name, p.version, p.title, p.description
            );
            let mut rules: Vec<(usize, &super::RuleMeta)> =
                content.rules.iter().enumerate().filter(|(_, r)| r.package as usize == pi).collect();
            rules.sort_by(|a, b| a.1.id.cmp(&b.1.id));
            for (ri, r) in rules {
                let _ = writeln!(
                    text,
                    "rule {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                    r.id,
                    r.severity.as_str(),
                    r.title,
                    r.doc,
                    r.description,
                    r.rationale,
                    r.recommendation,
                    r.references,
                    r.tags,
                    logic.get(ri).map(String::as_str).unwrap_or_default()
                );
            }
            hex(text.as_bytes())
        })
        .collect()
}
