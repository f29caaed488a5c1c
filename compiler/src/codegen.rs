//! Code generation: the typed program ([`hir::Program`]) to bundle content
//! ([`assay_model::bundle::Content`]). Telemetry fields are already
//! indices; constants, regular expressions and evidence paths are interned in
//! first-use order, so the output depends only on the program.

use crate::check::hir::{self, Check, Expr, ExprKind, LocalId, Step};
use crate::check::types::Ty;
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{BinaryOp, QuantifierKind};
use assay_model::bundle::bytecode::{Cmp, Code, Constant, Instr, ITER_SLOTS, NO_EVIDENCE, NO_EVIDENCE_16};
use assay_model::bundle::params::ParamMeta;
use assay_model::bundle::{Content, Debug, PackageMeta, RuleMeta};
use assay_model::lookup::{CollectionPlan, Lookup};
use std::collections::{BTreeSet, HashMap};

/// The compiler's name and version, recorded in every bundle.
pub const COMPILER: &str = concat!("assay-compiler ", env!("CARGO_PKG_VERSION"));

/// Generates the bundle content. `location` names a span's file and line
/// independently of the machine (`ssh-hardening/rules.assay:12`).
pub fn generate(program: &hir::Program, sources: &SourceMap, location: &dyn Fn(Span) -> String) -> Content {
    let mut tables = Tables::default();
    let globals: Vec<Code> = program
        .consts
        .iter()
        .map(|c| {
            let mut b = Builder::new(&mut tables, sources, 0, false);
            b.expr(&c.value);
            b.emit(Instr::Return);
            b.finish(0)
        })
        .collect();
    let functions: Vec<Code> = program
        .functions
        .iter()
        .map(|f| {
            // A function's reads are evidence of the finding it leads to,
            // labelled through its parameters: `rules.weak(h).ciphers`.
            let mut b = Builder::new(&mut tables, sources, f.locals, true);
            for (slot, name) in f.param_names.iter().enumerate() {
                b.local_paths.insert(slot as LocalId, format!("{}({name})", f.name));
            }
            for (id, value) in &f.lets {
                b.expr(value);
                b.emit(Instr::Store(*id));
            }
            b.expr(&f.value);
            b.emit(Instr::Return);
            b.finish(f.params.len() as u32)
        })
        .collect();
    let mut function_reads: Vec<Option<BTreeSet<String>>> = vec![None; functions.len()];
    let mut function_lookups: Vec<Option<BTreeSet<Lookup>>> = vec![None; program.functions.len()];
    let mut rules = Vec::with_capacity(program.rules.len());
    let mut rule_locations = Vec::with_capacity(program.rules.len());
    for rule in &program.rules {
        let mut b = Builder::new(&mut tables, sources, rule.locals, true);
        let mut not_applicable: Vec<(Vec<usize>, String)> = Vec::new();
        for step in &rule.steps {
            match step {
                Step::AppliesWhen(cond) => {
                    b.at(cond.span);
                    let jumps = b.branch_unless(cond, 0);
                    let condition: Vec<&str> = sources.slice(cond.span).split_whitespace().collect();
                    let reason = format!("`applies when {}` is false on this host", condition.join(" "));
                    not_applicable.push((jumps, reason));
                }
                Step::Let(id, value) => {
                    b.at(value.span);
                    b.bind_path(*id, value);
                    b.expr(value);
                    b.emit(Instr::Store(*id));
                }
                Step::Check(check) => b.check(check),
            }
        }
        b.emit(Instr::Halt);
        for (jumps, reason) in not_applicable {
            let target = b.here();
            b.patch_all(&jumps, target);
            let c = b.tables.constant(Constant::Str(reason));
            b.emit(Instr::NotApplicable(c));
        }
        let code = b.finish(0);
        rule_locations.push(location(rule.span));
        rules.push(RuleMeta {
            package: rule.package,
            id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            doc: rule.doc.clone(),
            description: rule.description.clone().unwrap_or_default(),
            rationale: rule.rationale.clone().unwrap_or_default(),
            recommendation: rule.recommendation.clone().unwrap_or_default(),
            references: rule.references.clone(),
            tags: rule.tags.clone(),
            platforms: rule.platforms.clone(),
            reads: sections_read(&code, &functions, &mut function_reads).into_iter().collect(),
            lookups: rule_lookups(program, rule, &mut function_lookups).into_iter().collect(),
            code,
        });
    }
    Content {
        compiler: COMPILER.to_owned(),
        natives: tables.natives.iter().map(|&n| assay_stdlib::NATIVES[usize::from(n)].signature()).collect(),
        packages: program
            .packages
            .iter()
            .map(|p| PackageMeta {
                name: p.name.clone(),
                title: p.title.clone(),
                version: p.version.clone(),
                description: p.description.clone(),
                platforms: p.platforms.clone(),
            })
            .collect(),
        rules,
        constants: tables.constants,
        regexes: tables.regexes,
        globals,
        functions,
        plan: CollectionPlan {
            licenses: program.reads_licenses,
            ..CollectionPlan::of(
                program
                    .rules
                    .iter()
                    .flat_map(|r| &r.lookups)
                    .chain(program.functions.iter().flat_map(|f| &f.lookups)),
            )
        },
        params: program
            .consts
            .iter()
            .enumerate()
            .filter_map(|(global, c)| {
                let p = c.param.as_ref()?;
                Some(ParamMeta {
                    package: p.package,
                    name: p.name.clone(),
                    global: global as u32,
                    ty: p.ty,
                    doc: p.doc.clone(),
                    default: p.default.clone(),
                })
            })
            .collect(),
        debug: Debug {
            evidence_paths: tables.paths,
            evidence_keys: tables.keys,
            rule_locations,
            function_locations: program.functions.iter().map(|f| location(f.span)).collect(),
            function_names: program.functions.iter().map(|f| f.name.clone()).collect(),
            global_names: program.consts.iter().map(|c| c.name.clone()).collect(),
        },
    }
}

/// The top-level telemetry sections a block reads: `Host` then `Field`,
/// and through the functions it calls (which cannot recurse, so the walk
/// ends). `host` used whole (passed to a function) reads every section.
fn sections_read(
    code: &Code,
    functions: &[Code],
    memo: &mut Vec<Option<BTreeSet<String>>>,
) -> BTreeSet<String> {
    let root = &assay_model::telemetry::schema::catalog().records[0];
    let mut out = BTreeSet::new();
    for (i, instr) in code.instructions.iter().enumerate() {
        match instr {
            Instr::Host => match code.instructions.get(i + 1) {
                Some(Instr::Field { index, .. }) => {
                    if let Some(f) = root.fields.get(usize::from(*index)) {
                        out.insert(f.name.to_owned());
                    }
                }
                _ => out.extend(root.fields.iter().map(|f| f.name.to_owned())),
            },
            Instr::Call(f) => {
                let f = *f as usize;
                if memo.get(f).is_some_and(Option::is_none) {
                    let callee = functions.get(f).cloned().unwrap_or_default();
                    let reads = sections_read(&callee, functions, memo);
                    memo[f] = Some(reads);
                }
                if let Some(Some(reads)) = memo.get(f) {
                    out.extend(reads.iter().cloned());
                }
            }
            _ => {}
        }
    }
    out
}

#[derive(Hash, PartialEq, Eq)]
enum PoolKey {
    Int(i64),
    Str(String),
    Version(String),
    Enum(u32, u32),
    List(Vec<PoolKey>),
}

fn pool_key(c: &Constant) -> PoolKey {
    match c {
        Constant::Int(i) => PoolKey::Int(*i),
        Constant::Str(s) => PoolKey::Str(s.clone()),
        Constant::Version(v) => PoolKey::Version(v.clone()),
        Constant::Enum(e, v) => PoolKey::Enum(*e, *v),
        Constant::List(items) => PoolKey::List(items.iter().map(pool_key).collect()),
    }
}

/// The constant an expression is, when it is a literal (or a list of them).
fn literal(e: &Expr) -> Option<Constant> {
    Some(match &e.kind {
        ExprKind::Int(i) => Constant::Int(*i),
        ExprKind::Str(s) => Constant::Str(s.clone()),
        ExprKind::Version(v) => Constant::Version(v.clone()),
        ExprKind::EnumValue(en, v) => Constant::Enum(*en, *v),
        ExprKind::List(items) => Constant::List(items.iter().map(literal).collect::<Option<Vec<_>>>()?),
        _ => return None,
    })
}

#[derive(Default)]
struct Tables {
    constants: Vec<Constant>,
    constant_index: HashMap<PoolKey, u32>,
    regexes: Vec<String>,
    paths: Vec<String>,
    /// Per path: the field naming the loop item it reads (see `Debug`).
    keys: Vec<Option<u16>>,
    /// Natives called, by their index in the standard library, in the
    /// order first called; `Native { native }` indexes this list.
    natives: Vec<u16>,
}

fn intern(list: &mut Vec<String>, s: &str) -> u32 {
    match list.iter().position(|x| x == s) {
        Some(i) => i as u32,
        None => {
            list.push(s.to_owned());
            list.len() as u32 - 1
        }
    }
}

impl Tables {
    /// An evidence path's index; `key` is fixed by the path (the path
    /// names the record type it reads).
    fn path(&mut self, path: &str, key: Option<u16>) -> u32 {
        let i = intern(&mut self.paths, path);
        if self.keys.len() < self.paths.len() {
            self.keys.push(key);
        }
        i
    }

    fn constant(&mut self, c: Constant) -> u32 {
        let key = pool_key(&c);
        if let Some(i) = self.constant_index.get(&key) {
            return *i;
        }
        let i = self.constants.len() as u32;
        self.constants.push(c);
        self.constant_index.insert(key, i);
        i
    }

    fn native(&mut self, index: u16) -> u16 {
        match self.natives.iter().position(|&n| n == index) {
            // The standard library has far fewer than 65,536 natives.
            Some(i) => i as u16,
            None => {
                self.natives.push(index);
                (self.natives.len() - 1) as u16
            }
        }
    }
}

struct Builder<'t> {
    tables: &'t mut Tables,
    sources: &'t SourceMap,
    code: Vec<Instr>,
    /// The source line the instructions emitted now come from (0: unknown).
    line: u32,
    lines: Vec<(u32, u32)>,
    /// Slots above the program's own locals, for iterators and counters.
    next_temp: u32,
    max_slots: u32,
    /// Whether field reads are recorded as evidence here (rule bodies, not
    /// quantifier conditions or functions).
    evidence: bool,
    /// The telemetry path each local stands for, for evidence labels.
    local_paths: HashMap<LocalId, String>,
    /// Loop variables live in their iterator's item slot.
    slots: HashMap<LocalId, u32>,
}

impl<'t> Builder<'t> {
    fn new(tables: &'t mut Tables, sources: &'t SourceMap, locals: u32, evidence: bool) -> Self {
        Builder {
            tables,
            sources,
            code: Vec::new(),
            line: 0,
            lines: Vec::new(),
            next_temp: locals,
            max_slots: locals,
            evidence,
            local_paths: HashMap::new(),
            slots: HashMap::new(),
        }
    }

    fn finish(self, params: u32) -> Code {
        Code { instructions: self.code, locals: self.max_slots, params, lines: self.lines }
    }

    fn emit(&mut self, i: Instr) -> usize {
        if self.line != 0 && self.lines.last().is_none_or(|&(_, line)| line != self.line) {
            self.lines.push((self.code.len() as u32, self.line));
        }
        self.code.push(i);
        self.code.len() - 1
    }

    /// Makes `span`'s line the current one; returns the previous, to restore.
    fn at(&mut self, span: Span) -> u32 {
        let line = self.sources.get(span.file).map_or(0, |f| f.line_col(span.start).0 as u32);
        std::mem::replace(&mut self.line, line)
    }

    fn here(&self) -> u32 {
        self.code.len() as u32
    }

    fn patch(&mut self, at: usize, target: u32) {
        if let Some(i) = self.code.get_mut(at) {
            *i = match *i {
                Instr::Jump(_) => Instr::Jump(target),
                Instr::JumpIfFalse(_) => Instr::JumpIfFalse(target),
                Instr::JumpIfFalseKeep(_) => Instr::JumpIfFalseKeep(target),
                Instr::JumpIfTrueKeep(_) => Instr::JumpIfTrueKeep(target),
                Instr::JumpIfPresent(_) => Instr::JumpIfPresent(target),
                Instr::JumpUnless { cmp, .. } => Instr::JumpUnless { cmp, target },
                Instr::JumpUnlessConst { cmp, constant, .. } => {
                    Instr::JumpUnlessConst { cmp, constant, target }
                }
                Instr::JumpUnlessIn { list, negate, .. } => Instr::JumpUnlessIn { list, negate, target },
                Instr::IterNext { slot, .. } => Instr::IterNext { slot, exit: target },
                other => other,
            };
        }
    }

    fn temps(&mut self, n: u32) -> u32 {
        let first = self.next_temp;
        self.next_temp += n;
        self.max_slots = self.max_slots.max(self.next_temp);
        first
    }

    /// The slot holding local `id`.
    fn slot(&self, id: LocalId) -> u32 {
        self.slots.get(&id).copied().unwrap_or(id)
    }

    fn release(&mut self, first: u32) {
        self.next_temp = first;
    }

    /// The static telemetry path of `e`, for evidence labels.
    fn path(&self, e: &Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Host => Some("host".into()),
            ExprKind::Local(id) => self.local_paths.get(id).cloned(),
            ExprKind::Field { base, name, .. } => Some(format!("{}.{name}", self.path(base)?)),
            ExprKind::Quantifier { kind: QuantifierKind::Find, collection, .. } => {
                Some(format!("{}[]", self.path(collection)?))
            }
            // `list ?? []` is still that list (a lookup's collection).
            ExprKind::Binary(BinaryOp::Default, value, _) => self.path(value),
            _ => None,
        }
    }

    fn bind_path(&mut self, id: LocalId, value: &Expr) {
        if let Some(p) = self.path(value) {
            self.local_paths.insert(id, p);
        }
    }

    /// Patches every jump of `jumps` to `target`.
    fn patch_all(&mut self, jumps: &[usize], target: u32) {
        for at in jumps {
            self.patch(*at, target);
        }
    }

    /// Evaluates `cond` and jumps to `target` when it is false; returns the
    /// jumps' positions for patching. `a and b` is a branch on `a`, then one
    /// on `b` (what `and` computes, without its boolean on the stack). A
    /// comparison becomes one compare-and-branch instruction (with a literal
    /// on the right, one that reads the constant itself), in the place the
    /// comparison would have had, so jumps that land there stay right.
    fn branch_unless(&mut self, cond: &Expr, target: u32) -> Vec<usize> {
        if let ExprKind::Binary(BinaryOp::And, l, r) = &cond.kind {
            let mut jumps = self.branch_unless(l, target);
            jumps.extend(self.branch_unless(r, target));
            return jumps;
        }
        vec![self.branch_unless_one(cond, target)]
    }

    fn branch_unless_one(&mut self, cond: &Expr, target: u32) -> usize {
        if let ExprKind::Binary(op, l, r) = &cond.kind {
            let cmp = match op {
                BinaryOp::Eq => Some(Cmp::Eq),
                BinaryOp::Ne => Some(Cmp::Ne),
                BinaryOp::Lt => Some(Cmp::Lt),
                BinaryOp::Le => Some(Cmp::Le),
                BinaryOp::Gt => Some(Cmp::Gt),
                BinaryOp::Ge => Some(Cmp::Ge),
                _ => None,
            };
            if let Some(cmp) = cmp {
                self.expr(l);
                let constant = match literal(r) {
                    Some(
                        c @ (Constant::Int(_) | Constant::Str(_) | Constant::Version(_) | Constant::Enum(..)),
                    ) => u16::try_from(self.tables.constant(c)).ok(),
                    _ => None,
                };
                if let Some(constant) = constant {
                    return self.emit(Instr::JumpUnlessConst { cmp, constant, target });
                }
                self.expr(r);
                return self.emit(Instr::JumpUnless { cmp, target });
            }
            if let (BinaryOp::In | BinaryOp::NotIn, ExprKind::List(items), Some(list)) =
                (op, &r.kind, literal(r))
            {
                let index = self.tables.constant(list);
                if let (false, Ok(list)) = (items.is_empty(), u16::try_from(index)) {
                    self.expr(l);
                    let negate = *op == BinaryOp::NotIn;
                    return self.emit(Instr::JumpUnlessIn { list, negate, target });
                }
            }
        }
        self.expr(cond);
        self.emit(Instr::JumpIfFalse(target))
    }

    fn check(&mut self, check: &Check) {
        match check {
            Check::Fail { condition, message, span } => {
                self.at(*span);
                let skip = condition.as_ref().map(|c| {
                    let outer = self.at(c.span);
                    let jumps = self.branch_unless(c, 0);
                    self.line = outer;
                    jumps
                });
                for part in message {
                    self.expr(part);
                }
                self.emit(Instr::Format(message.len() as u32));
                self.emit(Instr::Fail);
                if let Some(jumps) = skip {
                    let end = self.here();
                    self.patch_all(&jumps, end);
                }
            }
            Check::ForEach { var, collection, filter, lets, body } => {
                if let Some(p) = self.path(collection) {
                    self.local_paths.insert(*var, format!("{p}[]"));
                }
                let iter = self.temps(ITER_SLOTS);
                let mark = iter + 2;
                // The loop's own instructions belong to the line of its collection.
                self.at(collection.span);
                self.expr(collection);
                self.emit(Instr::IterInit(iter));
                self.emit(Instr::EvidenceMark(mark));
                self.slots.insert(*var, iter + 3);
                let top = self.here();
                let next =
                    self.emit(Instr::IterNext { slot: u16::try_from(iter).unwrap_or(u16::MAX), exit: 0 });
                if let Some(f) = filter {
                    self.branch_unless(f, top);
                }
                for (id, value) in lets {
                    self.bind_path(*id, value);
                    self.expr(value);
                    self.emit(Instr::Store(*id));
                }
                self.check(body);
                self.emit(Instr::Jump(top));
                let exit = self.here();
                self.patch(next, exit);
                self.emit(Instr::EvidenceReset(mark));
                self.release(iter);
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        let outer = self.at(e.span);
        self.expr_kind(e);
        self.line = outer;
    }

    fn expr_kind(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Bool(b) => {
                self.emit(Instr::Bool(*b));
            }
            ExprKind::Int(i) => {
                let c = self.tables.constant(Constant::Int(*i));
                self.emit(Instr::Const(c));
            }
            ExprKind::Str(s) => {
                let c = self.tables.constant(Constant::Str(s.clone()));
                self.emit(Instr::Const(c));
            }
            ExprKind::Version(v) => {
                let c = self.tables.constant(Constant::Version(v.clone()));
                self.emit(Instr::Const(c));
            }
            ExprKind::EnumValue(en, v) => {
                let c = self.tables.constant(Constant::Enum(*en, *v));
                self.emit(Instr::Const(c));
            }
            ExprKind::List(items) if !items.is_empty() && literal(e).is_some() => {
                if let Some(c) = literal(e) {
                    let c = self.tables.constant(c);
                    self.emit(Instr::Const(c));
                }
            }
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i);
                }
                self.emit(Instr::MakeList(items.len() as u32));
            }
            ExprKind::Host => {
                self.emit(Instr::Host);
            }
            ExprKind::Local(id) => {
                let slot = self.slot(*id);
                self.emit(Instr::Load(slot));
            }
            ExprKind::Const(id) => {
                self.emit(Instr::Global(*id));
            }
            ExprKind::Field { base, index, .. } => {
                let evidence = match (self.evidence, self.path(e)) {
                    (true, Some(p)) => {
                        let key = if p.ends_with(&format!("[].{}", field_name(e))) {
                            item_key(&base.ty)
                        } else {
                            None
                        };
                        self.tables.path(&p, key)
                    }
                    _ => NO_EVIDENCE,
                };
                let index = *index as u16;
                // `x.f` of a local: one fused instruction.
                if let ExprKind::Local(id) = &base.kind {
                    let slot = self.slot(*id);
                    let short = if evidence == NO_EVIDENCE {
                        Some(NO_EVIDENCE_16)
                    } else {
                        u16::try_from(evidence).ok().filter(|e| *e != NO_EVIDENCE_16)
                    };
                    if let (Ok(slot), Some(evidence)) = (u16::try_from(slot), short) {
                        self.emit(Instr::LoadField { slot, index, evidence });
                        return;
                    }
                }
                self.expr(base);
                self.emit(Instr::Field { index, evidence });
            }
            ExprKind::Call(f, args) => {
                for a in args {
                    self.expr(a);
                }
                self.emit(Instr::Call(*f));
            }
            ExprKind::Native(n, args) => {
                for a in args {
                    self.expr(a);
                }
                let native = self.tables.native(*n);
                self.emit(Instr::Native { native, argc: args.len() as u32 });
            }
            ExprKind::Not(x) => {
                self.expr(x);
                self.emit(Instr::Not);
            }
            ExprKind::Neg(x) => {
                self.expr(x);
                self.emit(Instr::Neg);
            }
            ExprKind::Presence(x, present) => {
                self.expr(x);
                self.emit(Instr::IsPresent);
                if !present {
                    self.emit(Instr::Not);
                }
            }
            ExprKind::If(c, a, b) => {
                let to_else = self.branch_unless(c, 0);
                self.expr(a);
                let to_end = self.emit(Instr::Jump(0));
                let else_at = self.here();
                self.patch_all(&to_else, else_at);
                self.expr(b);
                let end = self.here();
                self.patch(to_end, end);
            }
            ExprKind::Format(parts) => {
                for p in parts {
                    self.expr(p);
                }
                self.emit(Instr::Format(parts.len() as u32));
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, &e.ty),
            ExprKind::Quantifier { kind, var, collection, filter } => {
                self.quantifier(*kind, *var, collection, filter.as_deref())
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, ty: &Ty) {
        let short = |b: &mut Self, jump: Instr| {
            b.expr(l);
            let at = b.emit(jump);
            b.expr(r);
            let end = b.here();
            b.patch(at, end);
        };
        match op {
            BinaryOp::And => return short(self, Instr::JumpIfFalseKeep(0)),
            BinaryOp::Or => return short(self, Instr::JumpIfTrueKeep(0)),
            BinaryOp::Default => return short(self, Instr::JumpIfPresent(0)),
            _ => {}
        }
        self.expr(l);
        if matches!(op, BinaryOp::In | BinaryOp::NotIn) {
            if let (ExprKind::List(items), Some(list)) = (&r.kind, literal(r)) {
                if !items.is_empty() {
                    let c = self.tables.constant(list);
                    self.emit(Instr::InConst(c));
                    if op == BinaryOp::NotIn {
                        self.emit(Instr::Not);
                    }
                    return;
                }
            }
        }
        if op == BinaryOp::Matches {
            if let ExprKind::Str(pattern) = &r.kind {
                let n = intern(&mut self.tables.regexes, pattern);
                self.emit(Instr::Matches(n));
                return;
            }
        }
        self.expr(r);
        let instr = match op {
            BinaryOp::Eq => Instr::Eq,
            BinaryOp::Ne => Instr::Ne,
            BinaryOp::Lt => Instr::Lt,
            BinaryOp::Le => Instr::Le,
            BinaryOp::Gt => Instr::Gt,
            BinaryOp::Ge => Instr::Ge,
            BinaryOp::In | BinaryOp::NotIn => Instr::In,
            BinaryOp::Contains => Instr::Contains,
            BinaryOp::StartsWith => Instr::StartsWith,
            BinaryOp::EndsWith => Instr::EndsWith,
            BinaryOp::Matches => Instr::MatchesDynamic,
            BinaryOp::Add if *ty == Ty::Str => Instr::Concat,
            BinaryOp::Add => Instr::Add,
            BinaryOp::Sub => Instr::Sub,
            BinaryOp::Mul => Instr::Mul,
            BinaryOp::Div => Instr::Div,
            BinaryOp::Rem => Instr::Rem,
            BinaryOp::And | BinaryOp::Or | BinaryOp::Default => Instr::Halt,
        };
        self.emit(instr);
        if op == BinaryOp::NotIn {
            self.emit(Instr::Not);
        }
    }

    fn quantifier(&mut self, kind: QuantifierKind, var: LocalId, collection: &Expr, filter: Option<&Expr>) {
        // Conditions inside a quantifier read many items; they are not
        // evidence, and what functions called there record is forgotten
        // (from one item to the next, and at the end).
        let evidence = std::mem::replace(&mut self.evidence, false);
        let first = self.temps(ITER_SLOTS + 1);
        let (iter, acc) = (first, first + ITER_SLOTS);
        self.expr(collection);
        self.emit(Instr::IterInit(iter));
        let calls = filter.is_some_and(calls_a_function);
        if calls {
            self.emit(Instr::EvidenceMark(iter + 2));
        }
        self.slots.insert(var, iter + 3);
        if kind == QuantifierKind::Count {
            let zero = self.tables.constant(Constant::Int(0));
            self.emit(Instr::Const(zero));
            self.emit(Instr::Store(acc));
        }
        let top = self.here();
        let next = self.emit(Instr::IterNext { slot: u16::try_from(iter).unwrap_or(u16::MAX), exit: 0 });
        let mut on_false = None;
        if let Some(f) = filter {
            on_false = Some(self.branch_unless(f, 0));
        }
        match kind {
            QuantifierKind::Any | QuantifierKind::None => {
                // An item satisfied the condition.
                self.emit(Instr::Bool(kind == QuantifierKind::Any));
                let to_end = self.emit(Instr::Jump(0));
                if let Some(jumps) = &on_false {
                    self.patch_all(jumps, top);
                }
                let exhausted = self.here();
                self.patch(next, exhausted);
                self.emit(Instr::Bool(kind == QuantifierKind::None));
                let end = self.here();
                self.patch(to_end, end);
            }
            QuantifierKind::All => {
                self.emit(Instr::Jump(top));
                let failed = self.here();
                if let Some(jumps) = &on_false {
                    self.patch_all(jumps, failed);
                }
                self.emit(Instr::Bool(false));
                let to_end = self.emit(Instr::Jump(0));
                let exhausted = self.here();
                self.patch(next, exhausted);
                self.emit(Instr::Bool(true));
                let end = self.here();
                self.patch(to_end, end);
            }
            QuantifierKind::Count => {
                self.emit(Instr::Incr(acc));
                self.emit(Instr::Jump(top));
                if let Some(jumps) = &on_false {
                    self.patch_all(jumps, top);
                }
                let exhausted = self.here();
                self.patch(next, exhausted);
                self.emit(Instr::Load(acc));
            }
            QuantifierKind::Find => {
                self.emit(Instr::Load(iter + 3));
                let to_end = self.emit(Instr::Jump(0));
                if let Some(jumps) = &on_false {
                    self.patch_all(jumps, top);
                }
                let exhausted = self.here();
                self.patch(next, exhausted);
                self.emit(Instr::Absent);
                let end = self.here();
                self.patch(to_end, end);
            }
        }
        if calls {
            self.emit(Instr::EvidenceReset(iter + 2));
        }
        self.release(first);
        self.evidence = evidence;
    }
}

/// Whether `e` calls a function of the package (whose reads are evidence).
fn calls_a_function(e: &Expr) -> bool {
    !called(|note| e.walk(note)).is_empty()
}

fn field_name(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Field { name, .. } => name,
        _ => "",
    }
}

/// The field that names an item of a record type, for evidence
/// ([`ITEM_KEYS`](assay_model::evidence::ITEM_KEYS)).
fn item_key(ty: &Ty) -> Option<u16> {
    let Ty::Record(r) = ty.strip() else { return None };
    let record = crate::check::schema::Schema::get().record(*r);
    assay_model::evidence::ITEM_KEYS
        .iter()
        .find_map(|key| record.fields.iter().position(|f| f.name == *key && *f.ty.strip() == Ty::Str))
        .and_then(|i| u16::try_from(i).ok())
}

/// What a rule looks up, itself and through the functions it calls (which
/// cannot recurse, so the walk ends).
fn rule_lookups(
    program: &hir::Program,
    rule: &hir::Rule,
    memo: &mut Vec<Option<BTreeSet<Lookup>>>,
) -> BTreeSet<Lookup> {
    let mut out: BTreeSet<Lookup> = rule.lookups.iter().cloned().collect();
    for f in called(|note| rule.walk(note)) {
        out.extend(function_lookups(program, f, memo));
    }
    out
}

fn function_lookups(
    program: &hir::Program,
    f: hir::FnId,
    memo: &mut Vec<Option<BTreeSet<Lookup>>>,
) -> BTreeSet<Lookup> {
    if let Some(Some(done)) = memo.get(f as usize) {
        return done.clone();
    }
    let Some(function) = program.functions.get(f as usize) else { return BTreeSet::new() };
    let mut out: BTreeSet<Lookup> = function.lookups.iter().cloned().collect();
    for g in called(|note| function.walk(note)) {
        out.extend(function_lookups(program, g, memo));
    }
    if let Some(slot) = memo.get_mut(f as usize) {
        *slot = Some(out.clone());
    }
    out
}

/// The functions the expressions a walk visits call.
fn called(walk: impl FnOnce(&mut dyn FnMut(&Expr))) -> Vec<hir::FnId> {
    let mut calls = Vec::new();
    walk(&mut |e| {
        if let ExprKind::Call(f, _) = &e.kind {
            calls.push(*f);
        }
    });
    calls
}
