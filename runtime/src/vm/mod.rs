//! The VM: runs each rule of a verified bundle against one host and gives
//! each rule one outcome. A fault inside a rule (a budget exceeded, a failing
//! native, a value of an unexpected type) is that rule's error; the others
//! still run.
//!
//! The verifier has checked every operand, jump and stack height, so the
//! loop indexes tables directly; it still never panics: a value of the wrong
//! type is a fault, not an assumption.

use crate::findings::{
    fingerprint, identity_items, AssetRef, Evidence, Finding, Identity, KeyValue, Outcome, Report,
    RuleResult, Severity, Summary,
};
use crate::value::{Display, Host, Value};
use assay_model::bundle::bytecode::{Cmp, Code, Constant, Instr, NO_EVIDENCE, NO_EVIDENCE_16};
use assay_model::bundle::params::{qualified, ParamValue, ParamValues};
use assay_model::bundle::{Bundle, RuleMeta};
use assay_model::evidence::{self as evidence_path, ItemName};
use assay_model::telemetry::Provenance;
use assay_stdlib::versions::{self, Scheme};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

mod fault;
mod membership;
mod scan;

pub use fault::{Fault, VmFault};

/// Per-rule budgets.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Instructions one rule may execute.
    pub instructions: u64,
    /// Bytes one rule may allocate for lists, text and findings.
    pub memory: u64,
    /// Nested function calls.
    pub call_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { instructions: 50_000_000, memory: 256 << 20, call_depth: 64 }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub limits: Limits,
    /// Key/value pairs copied onto every finding.
    pub attributes: Vec<(String, String)>,
    /// Values set for the bundle's parameters
    /// ([`assay_model::bundle::params::resolve`]); the others keep their
    /// default.
    pub params: ParamValues,
}

/// The most evidence entries kept per finding.
const MAX_EVIDENCE: usize = 64;

/// A bundle ready to run: its regular expressions compiled once.
pub struct Program<'b> {
    bundle: &'b Bundle,
    /// `None` for a pattern that does not compile (the verifier rejects
    /// those, so it matches nothing rather than failing).
    regexes: Vec<Option<regex::Regex>>,
    /// The constant pool as values, converted once.
    constants: Vec<Value>,
    /// By constant: a list of strings, ready for `in`.
    strings: Vec<Option<membership::Strings>>,
    /// Each block's loop filters run as one step ([`scan`]).
    scans: BlockScans,
}

/// The fused filters of every block, as the content lists the blocks.
#[derive(Default)]
struct BlockScans {
    globals: Vec<scan::Scans>,
    rules: Vec<scan::Scans>,
    functions: Vec<scan::Scans>,
}

impl<'b> Program<'b> {
    pub fn new(bundle: &'b Bundle) -> Program<'b> {
        let content = &bundle.content;
        let of = |code: &Code| scan::Scans::of(code, &content.debug);
        let scans = BlockScans {
            globals: content.globals.iter().map(of).collect(),
            rules: content.rules.iter().map(|r| of(&r.code)).collect(),
            functions: content.functions.iter().map(of).collect(),
        };
        Program { scans, ..Program::plain(bundle) }
    }

    /// The bundle run one instruction at a time, with no fused filters: the
    /// reference that [`Program::new`]'s results are tested and benchmarked
    /// against. Reports are the same, instruction counts included.
    pub fn plain(bundle: &'b Bundle) -> Program<'b> {
        let regexes = bundle.content.regexes.iter().map(|p| regex::Regex::new(p).ok()).collect();
        let constants: Vec<Value> = bundle.content.constants.iter().map(constant_value).collect();
        let strings = constants
            .iter()
            .map(|c| match c {
                Value::List(items) => membership::Strings::of(items),
                _ => None,
            })
            .collect();
        Program { bundle, regexes, constants, strings, scans: BlockScans::default() }
    }

    /// Whether the constant list `list` holds `item` (`in`).
    #[inline]
    fn member(&self, item: &Value, list: usize) -> Result<bool, VmFault> {
        if let (Value::Str(s), Some(Some(strings))) = (item, self.strings.get(list)) {
            return Ok(strings.contains(s));
        }
        match self.constants.get(list) {
            Some(Value::List(items)) => holds(item, items),
            _ => Err(VmFault::Invariant("the constant is not a list")),
        }
    }

    /// Evaluates every rule against `host`.
    pub fn evaluate(&self, host: &Host, options: &Options) -> Report {
        let content = &self.bundle.content;
        let asset = asset_ref(host);
        let attributes: Vec<KeyValue> =
            options.attributes.iter().map(|(k, v)| KeyValue { key: k.clone(), value: v.clone() }).collect();
        let mut globals: Vec<Result<Value, VmFault>> = Vec::with_capacity(content.globals.len());
        for (i, code) in content.globals.iter().enumerate() {
            if let Some((_, set)) = options.params.iter().find(|(g, _)| *g as usize == i) {
                globals.push(Ok(param_value(set)));
                continue;
            }
            let mut run = Run::new(self, host, &globals, options.limits);
            let scans = self.scans.globals.get(i);
            let value = match run.exec(code, scans, Vec::new(), 0, "") {
                Ok(Flow::Return(v)) => Ok(v),
                Ok(_) => Err(VmFault::Invariant("a constant's initialiser did not produce a value")),
                Err(fault) => Err(fault.kind),
            };
            let name = content.debug.global_names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
            globals.push(value.map_err(|e| VmFault::Global { name, fault: Box::new(e) }));
        }
        let mut findings = Vec::new();
        let mut rules = Vec::with_capacity(content.rules.len());
        let mut executed = 0u64;
        let skipped_sections =
            host.telemetry.collection.as_ref().map(|c| c.skipped_sections.as_slice()).unwrap_or(&[]);
        // What the collection looked up by name; a document of schema 2 did
        // not record it, and had the built-in lists. A hand-written document
        // (no collection record) says what it says.
        let looked_up =
            host.telemetry.collection.as_ref().map(|c| {
                c.looked_up.clone().unwrap_or_else(|| crate::collector::looked_up(&Default::default()))
            });
        for (rule_index, rule) in content.rules.iter().enumerate() {
            let package = content.packages.get(rule.package as usize);
            let severity = rule.severity;
            let location = content.debug.rule_locations.get(rule_index).cloned().unwrap_or_default();
            let result = |outcome| RuleResult {
                rule_id: rule.id.clone(),
                package: package.map(|p| p.name.clone()).unwrap_or_default(),
                title: rule.title.clone(),
                severity,
                asset_id: asset.id.clone(),
                location: location.clone(),
                outcome,
            };
            let platforms = if rule.platforms.is_empty() {
                package.map(|p| p.platforms.as_slice()).unwrap_or(&[])
            } else {
                rule.platforms.as_slice()
            };
            if let Err(reason) = assay_model::platform::applies(platforms, host.telemetry.asset.os.as_ref()) {
                rules.push(result(Outcome::NotApplicable { reason }));
                continue;
            }
            // An item the collection never looked up is absent to the rule
            // whatever the host has: neither a pass nor a finding would be
            // true, so the rule does not run.
            if let Some(l) = not_looked_up(rule, looked_up.as_ref()) {
                // A file that was read but could not be parsed says why.
                let (sensor, path) = match (&l.content, l.kind) {
                    (Some(c), _) => ("contents", c.path.as_str()),
                    (None, assay_model::lookup::LookupKind::Certificate) => ("certificates", l.name.as_str()),
                    _ => ("", ""),
                };
                let failed =
                    host.telemetry.errors.iter().find(|e| {
                        !sensor.is_empty() && e.sensor == sensor && e.path.as_deref() == Some(path)
                    });
                let reason = match failed {
                    Some(e) => format!("looks up {l}, which could not be read: {}", e.message),
                    None => format!(
                        "looks up {l}, which this collection did not: collect with the bundle \
                         (`assay collect --bundle FILE`, or scan with it)"
                    ),
                };
                rules.push(result(Outcome::Skipped { reason }));
                continue;
            }
            let mut run = Run::new(self, host, &globals, options.limits);
            let file = location.rsplit_once(':').map_or("", |(file, _)| file);
            let scans = self.scans.rules.get(rule_index);
            let result_of_run = run.exec(&rule.code, scans, Vec::new(), 0, file);
            executed += options.limits.instructions - run.instructions;
            let outcome = match result_of_run {
                Ok(Flow::NotApplicable(reason)) => Outcome::NotApplicable { reason },
                Ok(_) if run.findings.is_empty() => Outcome::Passed,
                Ok(_) => {
                    let n = run.findings.len();
                    for (message, evidence, pc, locals) in std::mem::take(&mut run.findings) {
                        let code = &rule.code.instructions;
                        // The clause: how many `Fail`s precede this one in the
                        // rule's code (a function cannot fail).
                        let clause = code.iter().take(pc).filter(|i| matches!(i, Instr::Fail)).count();
                        // The `for each` loops around it: an `IterNext` whose
                        // body (up to its exit) holds the `Fail`. Their items
                        // that are plain values (`for each kind in ["auth",
                        // ...]`) identify the finding; records do by their
                        // evidence paths.
                        let loop_items = code
                            .iter()
                            .enumerate()
                            .filter_map(|(at, i)| match i {
                                Instr::IterNext { slot, exit } if at < pc && pc < *exit as usize => {
                                    locals.get(usize::from(*slot) + 3)
                                }
                                _ => None,
                            })
                            .filter(|v| !matches!(v, Value::Record(_) | Value::List(_) | Value::Absent))
                            .map(|v| format!("each {}", Display(v)))
                            .collect();
                        let found = Found { message, evidence, clause, loop_items };
                        findings.push(self.finding(rule, severity, found, &asset, &attributes));
                    }
                    Outcome::Failed { findings: n }
                }
                Err(fault) => Outcome::Error { reason: fault.to_string() },
            };
            // A pass or a not-applicable over a section that was never
            // collected says nothing about the host: skipped, with why.
            let outcome = match outcome {
                Outcome::Passed | Outcome::NotApplicable { .. } => {
                    match skipped_sections.iter().find(|s| rule.reads.contains(&s.section)) {
                        Some(s) => {
                            Outcome::Skipped { reason: format!("needs `{}`: {}", s.section, s.reason) }
                        }
                        None => outcome,
                    }
                }
                other => other,
            };
            rules.push(result(outcome));
        }
        let mut summary = Summary::of(&findings, &rules);
        summary.instructions = executed;
        let params: Vec<(u32, KeyValue)> = content
            .params
            .iter()
            .map(|p| {
                let set = options.params.iter().find(|(g, _)| *g == p.global).map(|(_, v)| v);
                let value = set.unwrap_or(&p.default).to_string();
                (p.package, KeyValue { key: qualified(content, p), value })
            })
            .collect();
        for f in &mut findings {
            let package = content.packages.iter().position(|p| p.name == f.package);
            f.params = params
                .iter()
                .filter(|(p, _)| Some(*p as usize) == package)
                .map(|(_, kv)| kv.clone())
                .collect();
        }
        let params = params.into_iter().map(|(_, kv)| kv).collect();
        Report { bundle_digest: self.bundle.digest.clone(), asset, findings, rules, summary, params }
    }

    fn finding(
        &self,
        rule: &RuleMeta,
        severity: Severity,
        found: Found,
        asset: &AssetRef,
        attributes: &[KeyValue],
    ) -> Finding {
        let Found { message, evidence, clause, loop_items } = found;
        let content = &self.bundle.content;
        let package = content.packages.get(rule.package as usize);
        let mut seen = std::collections::HashSet::new();
        let named: Vec<(Evidence, bool, String)> = evidence
            .into_iter()
            .map(|(path, value, source, item)| {
                // The item's own name, read to pick it, is already in the
                // path (`host.sysctl("x").name = x` says nothing more):
                // kept for the finding's identity, not shown.
                let names_item = matches!((&value, &item), (Value::Str(v), Some(Value::Str(k))) if v == k);
                let recorded = content.debug.evidence_paths.get(path as usize).map_or("", String::as_str);
                let item = match &item {
                    Some(Value::Str(name)) => Some(ItemName::Str(name)),
                    Some(Value::Int(n)) => Some(ItemName::Int(*n)),
                    _ => None,
                };
                // The fingerprint's form (`host.packages["openssl"]`), and
                // the form shown, in the language's own syntax.
                let identity = evidence_path::bracketed(recorded, item);
                let path = evidence_path::printed(recorded, item);
                // Permission bits read as people write them: 0644, 04755.
                let value = match &value {
                    Value::Int(mode) if path.ends_with(".mode") && (0..=0o7777).contains(mode) => {
                        format!("{mode:04o}")
                    }
                    other => Display(other).to_string(),
                };
                (Evidence { path, value, source: source.map(|s| s.to_string()) }, names_item, identity)
            })
            .collect();
        let mut items = identity_items(named.iter().map(|(_, _, identity)| identity.as_str()));
        items.extend(loop_items);
        let evidence: Vec<Evidence> = named
            .into_iter()
            .filter(|(_, names_item, _)| !names_item)
            .map(|(e, _, _)| e)
            .filter(|e| seen.insert(e.clone()))
            .collect();
        let package_name = package.map(|p| p.name.clone()).unwrap_or_default();
        let identity = Identity {
            package: &package_name,
            rule_id: &rule.id,
            asset_id: &asset.id,
            clause,
            items: &items,
        };
        Finding {
            rule_id: rule.id.clone(),
            package: package_name.clone(),
            package_version: package.map(|p| p.version.clone()).unwrap_or_default(),
            title: rule.title.clone(),
            severity,
            severity_score: severity.score(),
            description: rule.description.clone(),
            recommendation: rule.recommendation.clone(),
            fingerprint: fingerprint(&identity),
            message,
            asset: asset.clone(),
            attributes: attributes.to_vec(),
            evidence,
            bundle_digest: self.bundle.digest.clone(),
            waived: None,
            suppressed: None,
            params: Vec::new(),
        }
    }
}

/// A parameter's value as the VM holds it.
fn param_value(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => Value::Int(*i),
        ParamValue::Str(s) => Value::str(s),
        ParamValue::Bool(b) => Value::Bool(*b),
        ParamValue::StrList(items) => {
            Value::List(items.iter().map(|s| Value::str(s)).collect::<Vec<_>>().into())
        }
    }
}

/// What a rule's `Fail` produced.
struct Found {
    message: String,
    evidence: Vec<Recorded>,
    /// Which `fail` clause of the rule, from 0.
    clause: usize,
    /// The plain values of the `for each` loops around the clause.
    loop_items: Vec<String>,
}

/// A constant of the pool as a value (lists recursively).
fn constant_value(c: &Constant) -> Value {
    match c {
        Constant::Int(i) => Value::Int(*i),
        Constant::Str(s) => Value::str(s),
        Constant::Version(v) => Value::Version(Rc::from(v.as_str()), None),
        Constant::Enum(e, v) => Value::Enum(*e, *v),
        Constant::List(items) => Value::List(items.iter().map(constant_value).collect::<Vec<_>>().into()),
    }
}

fn asset_ref(host: &Host) -> AssetRef {
    let a = &host.telemetry.asset;
    AssetRef {
        id: a.id.clone(),
        hostname: a.hostname.clone(),
        tags: a.tags.iter().map(|t| KeyValue { key: t.key.clone(), value: t.value.clone() }).collect(),
        addresses: Vec::new(),
    }
}

enum Flow {
    Halt,
    NotApplicable(String),
    Return(Value),
}

/// The operand stack: slots reused in place (a pop leaves `Absent` behind),
/// so pushing and popping in the loop never calls into the allocator.
#[derive(Default)]
struct Stack {
    slots: Vec<Value>,
    len: usize,
}

impl Stack {
    #[inline(always)]
    fn push(&mut self, v: Value) {
        match self.slots.get_mut(self.len) {
            Some(slot) => *slot = v,
            None => self.slots.push(v),
        }
        self.len += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Value> {
        let top = self.len.checked_sub(1)?;
        self.len = top;
        self.slots.get_mut(top).map(std::mem::take)
    }

    #[inline(always)]
    fn last(&self) -> Option<&Value> {
        self.len.checked_sub(1).and_then(|top| self.slots.get(top))
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    /// The values from `at` to the top, in order; the stack keeps the rest.
    fn split_off(&mut self, at: usize) -> Vec<Value> {
        let at = at.min(self.len);
        let out = self
            .slots
            .get_mut(at..self.len)
            .map(|s| s.iter_mut().map(std::mem::take).collect())
            .unwrap_or_default();
        self.len = at;
        out
    }
}

/// Evidence for a finding: an evidence path, the value read (rendered only
/// for findings) and its provenance.
type Recorded = (u32, Value, Option<Rc<Provenance>>, Option<Value>);

/// Evidence while a rule runs: a value read, or where a loop item's field
/// can be read again (so filters that reject an item cost no copies).
#[derive(Clone)]
enum EvidenceEntry {
    /// Path, value, provenance and the name of the loop item it was read from.
    Value(u32, Value, Option<Rc<Provenance>>, Option<Value>),
    /// `key`: the item's naming field (see `Debug::evidence_keys`).
    Slot { path: u32, slot: u16, index: u16, key: Option<u16> },
}

/// The field `key` of `record`, which names it.
fn item_name(record: &crate::value::Record, key: Option<u16>) -> Option<Value> {
    record.fields.get(usize::from(key?)).filter(|v| matches!(v, Value::Str(_) | Value::Int(_))).cloned()
}

fn materialize(e: &EvidenceEntry, locals: &[Value]) -> Option<Recorded> {
    match e {
        EvidenceEntry::Value(p, v, s, k) => Some((*p, v.clone(), s.clone(), k.clone())),
        EvidenceEntry::Slot { path, slot, index, key } => match locals.get(usize::from(*slot))? {
            Value::Record(r) => {
                let v = r.fields.get(usize::from(*index))?;
                evidence_worthy(v).then(|| {
                    let source = r.sources.get(usize::from(*index)).cloned().flatten();
                    (*path, v.clone(), source, item_name(r, *key))
                })
            }
            Value::Absent => Some((*path, Value::Absent, None, None)),
            _ => None,
        },
    }
}

struct Run<'p, 'b> {
    program: &'p Program<'b>,
    host: &'p Host,
    globals: &'p [Result<Value, VmFault>],
    limits: Limits,
    instructions: u64,
    memory: u64,
    call_depth: u32,
    evidence: Vec<EvidenceEntry>,
    /// Each finding: its message, its evidence, the `pc` of its `Fail` and
    /// the rule's locals then (the loop items it is about are among them).
    findings: Vec<(String, Vec<Recorded>, usize, Vec<Value>)>,
    dynamic_regexes: HashMap<String, Option<regex::Regex>>,
    /// How the block that just finished ended (set with `step`'s `true`).
    flow: Option<Flow>,
}

impl<'p, 'b> Run<'p, 'b> {
    fn new(
        program: &'p Program<'b>,
        host: &'p Host,
        globals: &'p [Result<Value, VmFault>],
        limits: Limits,
    ) -> Self {
        Run {
            program,
            host,
            globals,
            limits,
            instructions: limits.instructions,
            memory: limits.memory,
            call_depth: limits.call_depth,
            evidence: Vec::new(),
            findings: Vec::new(),
            dynamic_regexes: HashMap::new(),
            flow: None,
        }
    }

    fn fault(&self, kind: VmFault, code: &Code, pc: usize, block: &'static str, file: &str) -> Fault {
        let location = match code.line_at(pc) {
            Some(line) if !file.is_empty() => Some(format!("{file}:{line}")),
            _ => None,
        };
        Fault { kind, pc, block, executed: self.limits.instructions - self.instructions, location }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), VmFault> {
        let bytes = bytes as u64;
        if bytes > self.memory {
            return Err(VmFault::MemoryBudget { limit: self.limits.memory });
        }
        self.memory -= bytes;
        Ok(())
    }

    /// Notes that evidence path `path` is field `index` of the record in
    /// `slot` (named by its field `key`), to be read if a finding needs it.
    #[inline]
    fn note_slot(&mut self, path: u16, slot: u16, index: u16, key: Option<u16>) {
        if self.evidence.len() < MAX_EVIDENCE {
            self.evidence.push(EvidenceEntry::Slot { path: u32::from(path), slot, index, key });
        }
    }

    /// A function's locals go when it returns: the evidence it noted by slot
    /// (from `evidence_before` on) is read now, while they are there.
    fn keep_function_evidence(&mut self, evidence_before: usize, locals: &[Value]) {
        let noted = self.evidence.split_off(evidence_before.min(self.evidence.len()));
        for entry in noted {
            let kept = match entry {
                EvidenceEntry::Slot { .. } => {
                    materialize(&entry, locals).map(|(p, v, s, k)| EvidenceEntry::Value(p, v, s, k))
                }
                value => Some(value),
            };
            self.evidence.extend(kept);
        }
    }

    /// Runs a block (with its fused filters, if any); `file` is the source
    /// file of its line table.
    fn exec(
        &mut self,
        code: &Code,
        scans: Option<&scan::Scans>,
        mut locals: Vec<Value>,
        depth: u32,
        file: &str,
    ) -> Result<Flow, Fault> {
        let block = if depth == 0 { "rule" } else { "function" };
        let evidence_before = self.evidence.len();
        locals.resize(code.locals as usize, Value::Absent);
        let mut stack = Stack::default();
        let mut pc = 0usize;
        let instructions = &code.instructions;
        loop {
            let Some(&instr) = instructions.get(pc) else {
                return Err(self.fault(
                    VmFault::Invariant("ran past the end of the code"),
                    code,
                    pc,
                    block,
                    file,
                ));
            };
            if let Instr::IterNext { .. } = instr {
                if let Some(next) =
                    scans.and_then(|s| s.at(pc)).and_then(|scan| self.scan(scan, &mut locals, pc))
                {
                    pc = next;
                    continue;
                }
            }
            let Some(left) = self.instructions.checked_sub(1) else {
                return Err(self.fault(
                    VmFault::InstructionBudget { limit: self.limits.instructions },
                    code,
                    pc,
                    block,
                    file,
                ));
            };
            self.instructions = left;
            match self.step(instr, &mut stack, &mut locals, &mut pc, depth) {
                Ok(false) => {}
                Ok(true) => {
                    if depth > 0 {
                        self.keep_function_evidence(evidence_before, &locals);
                    }
                    return Ok(self.flow.take().unwrap_or(Flow::Halt));
                }
                Err(kind) => return Err(self.fault(kind, code, pc, block, file)),
            }
        }
    }

    /// Executes one instruction; advances `pc`.
    #[inline(always)]
    fn step(
        &mut self,
        instr: Instr,
        stack: &mut Stack,
        locals: &mut [Value],
        pc: &mut usize,
        depth: u32,
    ) -> Result<bool, VmFault> {
        #[inline(always)]
        fn pop(stack: &mut Stack) -> Result<Value, VmFault> {
            stack.pop().ok_or(VmFault::Invariant("the stack is empty"))
        }
        #[inline(always)]
        fn slot(locals: &mut [Value], n: u32) -> Result<&mut Value, VmFault> {
            locals.get_mut(n as usize).ok_or(VmFault::Invariant("no such local slot"))
        }
        let content = &self.program.bundle.content;
        let mut next = *pc + 1;
        match instr {
            Instr::Const(n) => match self.program.constants.get(n as usize) {
                Some(v) => stack.push(v.clone()),
                None => return Err(VmFault::Invariant("no such constant")),
            },
            Instr::Bool(b) => stack.push(Value::Bool(b)),
            Instr::Absent => stack.push(Value::Absent),
            Instr::Host => stack.push(self.host.root.clone()),
            Instr::Global(n) => match self.globals.get(n as usize) {
                Some(Ok(v)) => stack.push(v.clone()),
                Some(Err(e)) => return Err(e.clone()),
                None => return Err(VmFault::Invariant("no such global")),
            },
            Instr::Load(n) => {
                let v = slot(locals, n)?.clone();
                stack.push(v);
            }
            Instr::Store(n) => {
                let v = pop(stack)?;
                *slot(locals, n)? = v;
            }
            Instr::Pop => {
                pop(stack)?;
            }
            Instr::Dup => {
                let v = stack.last().cloned().ok_or(VmFault::Invariant("the stack is empty"))?;
                stack.push(v);
            }
            Instr::Field { index, evidence } => {
                let base = pop(stack)?;
                let (value, source) = match &base {
                    Value::Absent => (Value::Absent, None),
                    Value::Record(r) => match r.fields.get(usize::from(index)) {
                        Some(v) => (v.clone(), r.sources.get(usize::from(index)).cloned().flatten()),
                        None => return Err(VmFault::Invariant("the record has no such field")),
                    },
                    other => return Err(VmFault::ty("a field of", other.type_name())),
                };
                if evidence != NO_EVIDENCE && self.evidence.len() < MAX_EVIDENCE && evidence_worthy(&value) {
                    let key = content.debug.evidence_key(evidence as usize);
                    let name = match &base {
                        Value::Record(r) => item_name(r, key),
                        _ => None,
                    };
                    self.evidence.push(EvidenceEntry::Value(evidence, value.clone(), source, name));
                }
                stack.push(value);
            }
            Instr::LoadField { slot: s, index, evidence } => {
                let value = match &*slot(locals, u32::from(s))? {
                    Value::Absent => Value::Absent,
                    Value::Record(r) => match r.fields.get(usize::from(index)) {
                        Some(v) => v.clone(),
                        None => return Err(VmFault::Invariant("the record has no such field")),
                    },
                    other => return Err(VmFault::ty("a field of", other.type_name())),
                };
                // The slot keeps its record until the loop moves on, and the
                // evidence is forgotten then: note where the value is and
                // read it only if a finding needs it.
                if evidence != NO_EVIDENCE_16 {
                    self.note_slot(evidence, s, index, content.debug.evidence_key(usize::from(evidence)));
                }
                stack.push(value);
            }
            Instr::InConst(c) => {
                let item = pop(stack)?;
                let found = self.program.member(&item, c as usize)?;
                stack.push(Value::Bool(found));
            }
            Instr::Incr(n) => match slot(locals, n)? {
                Value::Int(i) => *i = i.checked_add(1).ok_or(VmFault::Overflow { operation: "count" })?,
                v => return Err(VmFault::ty("counting in", v.type_name())),
            },
            Instr::Not => match pop(stack)? {
                Value::Bool(b) => stack.push(Value::Bool(!b)),
                v => return Err(VmFault::ty("`not` of", v.type_name())),
            },
            Instr::Neg => match pop(stack)? {
                Value::Int(i) => {
                    stack.push(Value::Int(i.checked_neg().ok_or(VmFault::Overflow { operation: "-" })?))
                }
                v => return Err(VmFault::ty("`-` of", v.type_name())),
            },
            Instr::Add | Instr::Sub | Instr::Mul | Instr::Div | Instr::Rem => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                let (Value::Int(x), Value::Int(y)) = (&a, &b) else {
                    return Err(VmFault::ty2("arithmetic on", a.type_name(), b.type_name()));
                };
                let r = match instr {
                    Instr::Add => x.checked_add(*y),
                    Instr::Sub => x.checked_sub(*y),
                    Instr::Mul => x.checked_mul(*y),
                    Instr::Div if *y == 0 => return Err(VmFault::DivisionByZero),
                    Instr::Div => x.checked_div(*y),
                    _ if *y == 0 => return Err(VmFault::RemainderByZero),
                    _ => x.checked_rem(*y),
                };
                stack.push(Value::Int(r.ok_or(VmFault::Overflow { operation: arithmetic_name(instr) })?));
            }
            Instr::Concat => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                let (Value::Str(x), Value::Str(y)) = (&a, &b) else {
                    return Err(VmFault::ty2("`+` on", a.type_name(), b.type_name()));
                };
                self.charge(x.len() + y.len())?;
                stack.push(Value::Str(Rc::from(format!("{x}{y}"))));
            }
            Instr::Eq | Instr::Ne => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                let eq = equal(&a, &b)?;
                stack.push(Value::Bool(if instr == Instr::Eq { eq } else { !eq }));
            }
            Instr::Lt | Instr::Le | Instr::Gt | Instr::Ge => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                let ord = order(&a, &b)?;
                stack.push(Value::Bool(match instr {
                    Instr::Lt => ord == Ordering::Less,
                    Instr::Le => ord != Ordering::Greater,
                    Instr::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }));
            }
            Instr::In => {
                let (list, item) = (pop(stack)?, pop(stack)?);
                let Value::List(items) = &list else { return Err(VmFault::ty("`in`", list.type_name())) };
                let found = holds(&item, items)?;
                stack.push(Value::Bool(found));
            }
            Instr::Contains => {
                let (needle, hay) = (pop(stack)?, pop(stack)?);
                let found = match (&hay, &needle) {
                    (Value::Str(h), Value::Str(n)) => h.contains(&**n),
                    (Value::List(items), n) => holds(n, items)?,
                    _ => return Err(VmFault::ty2("`contains` on", hay.type_name(), needle.type_name())),
                };
                stack.push(Value::Bool(found));
            }
            Instr::StartsWith | Instr::EndsWith => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                let (Value::Str(x), Value::Str(y)) = (&a, &b) else {
                    return Err(VmFault::ty2("string test on", a.type_name(), b.type_name()));
                };
                let r = if instr == Instr::StartsWith { x.starts_with(&**y) } else { x.ends_with(&**y) };
                stack.push(Value::Bool(r));
            }
            Instr::Matches(n) => {
                let s = pop(stack)?;
                let Value::Str(s) = &s else { return Err(VmFault::ty("`matches` on", s.type_name())) };
                let re = self
                    .program
                    .regexes
                    .get(n as usize)
                    .ok_or(VmFault::Invariant("no such regular expression"))?;
                stack.push(Value::Bool(re.as_ref().is_some_and(|re| re.is_match(s))));
            }
            Instr::MatchesDynamic => {
                let (p, s) = (pop(stack)?, pop(stack)?);
                let (Value::Str(s), Value::Str(p)) = (&s, &p) else {
                    return Err(VmFault::ty2("`matches` on", s.type_name(), p.type_name()));
                };
                let re = self
                    .dynamic_regexes
                    .entry(p.to_string())
                    .or_insert_with(|| regex::RegexBuilder::new(p).size_limit(1 << 20).build().ok());
                match re {
                    Some(re) => stack.push(Value::Bool(re.is_match(s))),
                    None => return Err(VmFault::Pattern { pattern: p.to_string() }),
                }
            }
            Instr::IsPresent => {
                let v = pop(stack)?;
                stack.push(Value::Bool(!matches!(v, Value::Absent)));
            }
            Instr::JumpIfPresent(t) => {
                if matches!(stack.last(), Some(Value::Absent)) {
                    stack.pop();
                } else {
                    next = t as usize;
                }
            }
            Instr::Jump(t) => next = t as usize,
            Instr::JumpUnlessIn { list, negate, target } => {
                let item = pop(stack)?;
                let found = self.program.member(&item, usize::from(list))?;
                if found == negate {
                    next = target as usize;
                }
            }
            Instr::JumpUnless { cmp, target } => {
                let (b, a) = (pop(stack)?, pop(stack)?);
                if !compare(cmp, &a, &b)? {
                    next = target as usize;
                }
            }
            Instr::JumpUnlessConst { cmp, constant, target } => {
                let a = pop(stack)?;
                let Some(b) = self.program.constants.get(usize::from(constant)) else {
                    return Err(VmFault::Invariant("no such constant"));
                };
                if !compare(cmp, &a, b)? {
                    next = target as usize;
                }
            }
            Instr::JumpIfFalse(t) => match pop(stack)? {
                Value::Bool(false) => next = t as usize,
                Value::Bool(true) => {}
                v => return Err(VmFault::ty("a condition that is", v.type_name())),
            },
            Instr::JumpIfFalseKeep(t) | Instr::JumpIfTrueKeep(t) => {
                let jump_on = matches!(instr, Instr::JumpIfTrueKeep(_));
                match stack.last() {
                    Some(Value::Bool(b)) if *b == jump_on => next = t as usize,
                    Some(Value::Bool(_)) => {
                        stack.pop();
                    }
                    Some(v) => return Err(VmFault::ty("a condition that is", v.type_name())),
                    None => return Err(VmFault::Invariant("the stack is empty")),
                }
            }
            Instr::MakeList(n) => {
                let n = n as usize;
                if n > stack.len() {
                    return Err(VmFault::Invariant("the stack is too short"));
                }
                self.charge(n * std::mem::size_of::<Value>())?;
                let items: Vec<Value> = stack.split_off(stack.len() - n);
                stack.push(Value::List(items.into()));
            }
            Instr::Format(n) => {
                let n = n as usize;
                if n > stack.len() {
                    return Err(VmFault::Invariant("the stack is too short"));
                }
                let parts = stack.split_off(stack.len() - n);
                let mut text = String::new();
                for p in &parts {
                    use std::fmt::Write;
                    let _ = write!(text, "{}", Display(p));
                }
                self.charge(text.len())?;
                stack.push(Value::Str(Rc::from(text)));
            }
            Instr::Call(f) => {
                let callee =
                    content.functions.get(f as usize).ok_or(VmFault::Invariant("no such function"))?;
                if depth >= self.call_depth {
                    return Err(VmFault::CallDepth { limit: self.limits.call_depth });
                }
                let params = callee.params as usize;
                if params > stack.len() {
                    return Err(VmFault::Invariant("the stack is too short"));
                }
                let args = stack.split_off(stack.len() - params);
                let location = content.debug.function_locations.get(f as usize).map_or("", String::as_str);
                let file = location.rsplit_once(':').map_or("", |(file, _)| file);
                let scans = self.program.scans.functions.get(f as usize);
                match self.exec(callee, scans, args, depth + 1, file) {
                    Ok(Flow::Return(v)) => stack.push(v),
                    Ok(_) => return Err(VmFault::Invariant("a function ended without a value")),
                    Err(fault) => {
                        let name = content.debug.function_names.get(f as usize).cloned().unwrap_or_default();
                        return Err(VmFault::InFunction { name, fault: Box::new(fault) });
                    }
                }
            }
            Instr::Native { native, argc } => {
                let argc = argc as usize;
                if argc > stack.len() {
                    return Err(VmFault::Invariant("the stack is too short"));
                }
                let args: Vec<assay_stdlib::Value> =
                    stack.split_off(stack.len() - argc).iter().map(to_native).collect();
                let index = self
                    .program
                    .bundle
                    .natives
                    .get(usize::from(native))
                    .ok_or(VmFault::Invariant("no such native"))?;
                let result = assay_stdlib::call(*index, &args)
                    .map_err(|e| VmFault::Native { message: e.to_string() })?;
                let value = from_native(result);
                if let Value::Str(s) = &value {
                    self.charge(s.len())?;
                }
                stack.push(value);
            }
            Instr::IterInit(n) => {
                let list = pop(stack)?;
                if !matches!(list, Value::List(_)) {
                    return Err(VmFault::ty("iterating over", list.type_name()));
                }
                *slot(locals, n)? = list;
                *slot(locals, n + 1)? = Value::Int(0);
                *slot(locals, n + 2)? = Value::Absent;
            }
            Instr::IterNext { slot: s, exit } => {
                let s = usize::from(s);
                let Some([list, pos, mark, var]) = locals.get_mut(s..s + 4) else {
                    return Err(VmFault::Invariant("iterator slots lost"));
                };
                if let Value::Int(m) = mark {
                    self.evidence.truncate(*m as usize);
                }
                let (Value::List(items), Value::Int(i)) = (&*list, pos) else {
                    return Err(VmFault::Invariant("iterator lost"));
                };
                match items.get(*i as usize) {
                    Some(v) => {
                        *var = v.clone();
                        *i += 1;
                    }
                    None => next = exit as usize,
                }
            }
            Instr::EvidenceMark(n) => *slot(locals, n)? = Value::Int(self.evidence.len() as i64),
            Instr::EvidenceReset(n) => {
                if let Value::Int(len) = *slot(locals, n)? {
                    self.evidence.truncate(len as usize);
                }
            }
            Instr::Fail => {
                let message = match pop(stack)? {
                    Value::Str(s) => s.to_string(),
                    v => Display(&v).to_string(),
                };
                self.charge(message.len() + 64 * self.evidence.len())?;
                let evidence = self.evidence.iter().filter_map(|e| materialize(e, locals)).collect();
                self.charge(16 * locals.len())?;
                self.findings.push((message, evidence, *pc, locals.to_vec()));
            }
            Instr::NotApplicable(c) => {
                let reason = match content.constants.get(c as usize) {
                    Some(Constant::Str(s)) => s.clone(),
                    _ => "not applicable".into(),
                };
                self.flow = Some(Flow::NotApplicable(reason));
                return Ok(true);
            }
            Instr::Halt => {
                self.flow = Some(Flow::Halt);
                return Ok(true);
            }
            Instr::Return => {
                self.flow = Some(Flow::Return(pop(stack)?));
                return Ok(true);
            }
        }
        *pc = next;
        Ok(false)
    }
}

fn arithmetic_name(instr: Instr) -> &'static str {
    match instr {
        Instr::Add => "+",
        Instr::Sub => "-",
        Instr::Mul => "*",
        Instr::Div => "/",
        _ => "%",
    }
}

/// Scalars, and lists of scalars (a `Ciphers` line), are evidence; records
/// are too big to be.
fn evidence_worthy(v: &Value) -> bool {
    match v {
        Value::Record(_) => false,
        Value::List(items) => {
            items.len() <= 64 && items.iter().all(|i| !matches!(i, Value::Record(_) | Value::List(_)))
        }
        _ => true,
    }
}

fn scheme(a: Option<Scheme>, b: Option<Scheme>) -> Result<Scheme, VmFault> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(VmFault::VersionSchemes { left: x, right: y }),
        (Some(x), _) | (_, Some(x)) => Ok(x),
        (None, None) => Ok(Scheme::Dpkg),
    }
}

/// Whether `items` holds `item` (`in`, `contains`).
fn holds(item: &Value, items: &[Value]) -> Result<bool, VmFault> {
    for i in items {
        if equal(item, i)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `a cmp b` holds, as the comparison instructions decide it.
#[inline(always)]
fn compare(cmp: Cmp, a: &Value, b: &Value) -> Result<bool, VmFault> {
    Ok(match cmp {
        Cmp::Eq => equal(a, b)?,
        Cmp::Ne => !equal(a, b)?,
        Cmp::Lt => order(a, b)? == Ordering::Less,
        Cmp::Le => order(a, b)? != Ordering::Greater,
        Cmp::Gt => order(a, b)? == Ordering::Greater,
        Cmp::Ge => order(a, b)? != Ordering::Less,
    })
}

#[inline]
fn equal(a: &Value, b: &Value) -> Result<bool, VmFault> {
    Ok(match (a, b) {
        (Value::Enum(e1, v1), Value::Enum(e2, v2)) => e1 == e2 && v1 == v2,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Version(x, sx), Value::Version(y, sy)) => {
            versions::compare(scheme(*sx, *sy)?, x, y) == Ordering::Equal
        }
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (p, q) in x.iter().zip(y.iter()) {
                if !equal(p, q)? {
                    return Ok(false);
                }
            }
            true
        }
        (Value::Record(x), Value::Record(y)) => Rc::ptr_eq(x, y) || x == y,
        (x, y) if std::mem::discriminant(x) == std::mem::discriminant(y) => x == y,
        (Value::Absent, _) | (_, Value::Absent) => false,
        (x, y) => return Err(VmFault::ty2("comparing", x.type_name(), y.type_name())),
    })
}

fn order(a: &Value, b: &Value) -> Result<Ordering, VmFault> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Version(x, sx), Value::Version(y, sy)) => versions::compare(scheme(*sx, *sy)?, x, y),
        (x, y) => return Err(VmFault::ty2("ordering", x.type_name(), y.type_name())),
    })
}

fn to_native(v: &Value) -> assay_stdlib::Value {
    use assay_stdlib::Value as N;
    match v {
        Value::Absent | Value::Record(_) => N::Absent,
        Value::Bool(b) => N::Bool(*b),
        Value::Int(i) => N::Int(*i),
        Value::Str(s) | Value::Version(s, _) => N::Str(s.to_string()),
        Value::Enum(..) => N::Str(Display(v).to_string()),
        Value::List(items) => N::List(items.iter().map(to_native).collect()),
    }
}

fn from_native(v: assay_stdlib::Value) -> Value {
    use assay_stdlib::Value as N;
    match v {
        N::Absent => Value::Absent,
        N::Bool(b) => Value::Bool(b),
        N::Int(i) => Value::Int(i),
        N::Str(s) => Value::Str(Rc::from(s)),
        N::List(items) => Value::List(items.into_iter().map(from_native).collect::<Vec<_>>().into()),
    }
}

/// The first of `rule`'s lookups by name that `looked_up` does not cover.
fn not_looked_up<'r>(
    rule: &'r RuleMeta,
    looked_up: Option<&assay_model::telemetry::LookedUp>,
) -> Option<&'r assay_model::lookup::Lookup> {
    let looked_up = looked_up?;
    rule.lookups.iter().find(|l| !looked_up.covers(l))
}
