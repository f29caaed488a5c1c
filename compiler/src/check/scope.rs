//! Scopes: the bindings visible at a point (`let`, parameters, loop
//! variables) and the presence facts in force there. A fact is a key such as
//! `h.3.7` (`host`, field 3, field 7) that an `is present` test, an `and`,
//! `or`, `if`, `where` or `applies when` established; facts are pushed with
//! the scope that establishes them and popped with it.

use super::hir::{self, ExprKind, LocalId};
use super::types::Ty;
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp};

/// Where an expression is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Context {
    Rule,
    /// A constant's value: fixed, so it may not read telemetry or call functions.
    Const,
    Function(hir::FnId),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BindingKind {
    Let,
    Param,
    Loop,
}

pub(super) struct Binding {
    pub(super) name: String,
    pub(super) id: LocalId,
    pub(super) ty: Ty,
    pub(super) span: Span,
    pub(super) kind: BindingKind,
    pub(super) used: bool,
}

/// Local bindings and presence facts, in nested frames.
pub struct Scope {
    pub module: usize,
    pub context: Context,
    pub(super) bindings: Vec<Binding>,
    /// Keys (see [`key`]) of values known to be present here.
    pub(super) facts: Vec<String>,
    pub(super) frames: Vec<(usize, usize)>,
    pub(super) next_slot: u32,
    /// Name → positions in `bindings`, innermost last: lookups and the
    /// shadowing check stay O(1) however many bindings a rule has.
    by_name: std::collections::HashMap<String, Vec<usize>>,
    /// Loop variables walking a list the collector fills only with the
    /// items it looks up by name (`host.kernel.parameters`).
    origins: std::collections::HashMap<LocalId, assay_model::lookup::LookupKind>,
    /// Loop variables walking `host.config`, with the configurations each
    /// was compared with so far (its keys are checked against those).
    config_walkers: std::collections::HashMap<LocalId, Vec<&'static str>>,
}

impl Scope {
    pub fn new(module: usize, context: Context) -> Self {
        Scope {
            module,
            context,
            bindings: Vec::new(),
            facts: Vec::new(),
            frames: Vec::new(),
            next_slot: 0,
            by_name: std::collections::HashMap::new(),
            origins: std::collections::HashMap::new(),
            config_walkers: std::collections::HashMap::new(),
        }
    }

    pub fn set_origin(&mut self, id: LocalId, kind: assay_model::lookup::LookupKind) {
        self.origins.insert(id, kind);
    }

    /// The by-name list local `id` walks, if it walks one.
    pub fn origin(&self, id: LocalId) -> Option<assay_model::lookup::LookupKind> {
        self.origins.get(&id).copied()
    }

    /// Marks `id` as walking `host.config`.
    pub fn walk_config(&mut self, id: LocalId) {
        self.config_walkers.insert(id, Vec::new());
    }

    /// The configurations local `id` was compared with, if it walks
    /// `host.config`.
    pub fn config_walker(&mut self, id: LocalId) -> Option<&mut Vec<&'static str>> {
        self.config_walkers.get_mut(&id)
    }

    pub fn bind(&mut self, name: &ast::Ident, ty: Ty, kind: BindingKind) -> LocalId {
        let id = self.next_slot;
        self.next_slot += 1;
        self.by_name.entry(name.name.clone()).or_default().push(self.bindings.len());
        self.bindings.push(Binding { name: name.name.clone(), id, ty, span: name.span, kind, used: false });
        id
    }

    /// A slot for a value the checker introduces (a lookup's loop item).
    pub fn fresh_slot(&mut self) -> LocalId {
        let id = self.next_slot;
        self.next_slot += 1;
        id
    }

    pub fn slots(&self) -> u32 {
        self.next_slot
    }

    /// The span of a binding of `name` in the innermost frame.
    pub fn defined_in_frame(&self, name: &str) -> Option<Span> {
        let start = self.frames.last().map(|f| f.0).unwrap_or(0);
        let &at = self.by_name.get(name)?.last()?;
        (at >= start).then(|| self.bindings.get(at).map(|b| b.span)).flatten()
    }

    /// Opens a frame; returns the depth to pass to [`Scope::pop_to`].
    pub fn push_frame(&mut self) -> usize {
        self.frames.push((self.bindings.len(), self.facts.len()));
        self.frames.len() - 1
    }

    pub fn pop_to(&mut self, depth: usize) {
        let _ = self.pop_frames(depth);
    }

    /// Closes the frames from `depth` up (everything for depth 0 when no frame
    /// is open) and returns the `let` bindings in them, with whether anything
    /// read them.
    pub fn pop_frames(&mut self, depth: usize) -> Vec<(String, Span, bool)> {
        let (b, f) = match self.frames.get(depth) {
            Some(saved) => *saved,
            None if depth == 0 => (0, 0),
            None => return Vec::new(),
        };
        let lets = self
            .bindings
            .get(b..)
            .unwrap_or(&[])
            .iter()
            .filter(|x| x.kind == BindingKind::Let)
            .map(|x| (x.name.clone(), x.span, x.used))
            .collect();
        for gone in self.bindings.get(b..).unwrap_or(&[]) {
            if let Some(positions) = self.by_name.get_mut(&gone.name) {
                positions.pop();
            }
        }
        self.bindings.truncate(b);
        self.facts.truncate(f);
        self.frames.truncate(depth);
        lets
    }

    pub(super) fn lookup(&mut self, name: &str) -> Option<&mut Binding> {
        let &at = self.by_name.get(name)?.last()?;
        self.bindings.get_mut(at)
    }

    pub(super) fn has_binding(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|p| !p.is_empty())
    }

    pub(super) fn knows_present(&self, key: &str) -> bool {
        self.facts.iter().any(|f| f == key)
    }

    /// Records what `cond` evaluating to `truth` proves present.
    pub fn assume(&mut self, cond: &hir::Expr, truth: bool) {
        let mut facts = Vec::new();
        facts_when(cond, truth, &mut facts);
        self.facts.extend(facts);
    }
}

/// A stable key for a value that can be tested for presence: `host`, a local
/// or a constant, followed by field indices.
pub(super) fn key(e: &hir::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Host => Some("h".into()),
        ExprKind::Local(id) => Some(format!("l{id}")),
        ExprKind::Const(id) => Some(format!("c{id}")),
        ExprKind::Field { base, index, .. } => Some(format!("{}.{index}", key(base)?)),
        _ => None,
    }
}

/// The values proven present when `e` is `truth`.
pub(super) fn facts_when(e: &hir::Expr, truth: bool, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Presence(operand, present) if *present == truth => {
            // `a.b.c is present` also proves `a.b` and `a` present.
            let mut cur = operand.as_ref();
            loop {
                if let Some(k) = key(cur) {
                    out.push(k);
                }
                match &cur.kind {
                    ExprKind::Field { base, .. } => cur = base,
                    _ => break,
                }
            }
        }
        ExprKind::Not(inner) => facts_when(inner, !truth, out),
        ExprKind::Binary(BinaryOp::And, a, b) if truth => {
            facts_when(a, true, out);
            facts_when(b, true, out);
        }
        ExprKind::Binary(BinaryOp::Or, a, b) if !truth => {
            facts_when(a, false, out);
            facts_when(b, false, out);
        }
        _ => {}
    }
}
