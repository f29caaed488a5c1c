//! The checked program: names resolved to slots and ids, every expression
//! typed, telemetry fields resolved to their index in the record. Code
//! generation reads nothing else.

use super::types::{EnumId, Ty};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, QuantifierKind, Severity};

pub type ConstId = u32;
pub type FnId = u32;
pub type LocalId = u32;

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub packages: Vec<Package>,
    /// Every rule of every package, sorted by package name then rule id.
    pub rules: Vec<Rule>,
    pub consts: Vec<Const>,
    pub functions: Vec<Function>,
    /// Whether any rule or function reads a package's `licenses`, which the
    /// collector reads for dpkg only when the plan asks.
    pub reads_licenses: bool,
}

#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    pub platforms: Vec<assay_model::Platform>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub package: u32,
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// The `///` comment: the long description.
    pub doc: String,
    pub description: Option<String>,
    pub rationale: Option<String>,
    pub recommendation: Option<String>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub platforms: Vec<assay_model::Platform>,
    /// The clauses that run, in source order.
    pub steps: Vec<Step>,
    /// How many local slots the rule uses (lets, loop and quantifier variables).
    pub locals: u32,
    /// What the rule looks up by name itself (not through functions).
    pub lookups: Vec<assay_model::lookup::Lookup>,
    pub span: Span,
    /// The id in the declaration.
    pub id_span: Span,
}

#[derive(Clone, Debug)]
pub enum Step {
    /// When false, the rule is not applicable.
    AppliesWhen(Expr),
    Let(LocalId, Expr),
    Check(Check),
}

#[derive(Clone, Debug)]
pub enum Check {
    ForEach {
        var: LocalId,
        collection: Expr,
        filter: Option<Expr>,
        lets: Vec<(LocalId, Expr)>,
        body: Box<Check>,
    },
    Fail {
        condition: Option<Expr>,
        message: Vec<Expr>,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct Const {
    pub name: String,
    pub value: Expr,
    /// Set for a package parameter (`param NAME: TYPE = DEFAULT`).
    pub param: Option<Param>,
}

/// A package parameter: its value is the default unless a scan, a test
/// case or a template sets it.
#[derive(Clone, Debug)]
pub struct Param {
    /// Index of the package in [`Program::packages`].
    pub package: u32,
    /// The name as declared (`MAX_AUTH_TRIES`).
    pub name: String,
    pub ty: assay_model::bundle::params::ParamType,
    /// The `///` comment.
    pub doc: String,
    pub default: assay_model::bundle::params::ParamValue,
}

#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub params: Vec<Ty>,
    /// The parameters' names, for evidence labels (`module.f(p).field`).
    pub param_names: Vec<String>,
    pub span: Span,
    pub ret: Ty,
    pub lets: Vec<(LocalId, Expr)>,
    pub value: Expr,
    /// Parameters take the first slots, then lets and quantifier variables.
    pub locals: u32,
    /// What the function looks up by name itself.
    pub lookups: Vec<assay_model::lookup::Lookup>,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    Str(String),
    Version(String),
    List(Vec<Expr>),
    /// The telemetry document.
    Host,
    Local(LocalId),
    Const(ConstId),
    EnumValue(EnumId, u32),
    /// Field `index` of a record; absent when the base is absent.
    Field {
        base: Box<Expr>,
        index: u32,
        name: String,
        sourced: bool,
    },
    Call(FnId, Vec<Expr>),
    Native(u16, Vec<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x is present` (true) or `x is absent` (false).
    Presence(Box<Expr>, bool),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Quantifier {
        kind: QuantifierKind,
        var: LocalId,
        collection: Box<Expr>,
        filter: Option<Box<Expr>>,
    },
    /// Interpolated text: the parts' display forms, concatenated.
    Format(Vec<Expr>),
}

impl Expr {
    /// Calls `f` on this expression and then on every expression inside it.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Version(_)
            | ExprKind::Host
            | ExprKind::Local(_)
            | ExprKind::Const(_)
            | ExprKind::EnumValue(..) => {}
            ExprKind::Field { base, .. } => base.walk(f),
            ExprKind::List(items)
            | ExprKind::Format(items)
            | ExprKind::Call(_, items)
            | ExprKind::Native(_, items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::Presence(x, _) => x.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::If(c, a, b) => {
                c.walk(f);
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Quantifier { collection, filter, .. } => {
                collection.walk(f);
                if let Some(filter) = filter {
                    filter.walk(f);
                }
            }
        }
    }
}

impl Check {
    /// Calls `f` on every expression of this check, with `true` for the
    /// conditions that decide whether it fails.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr, bool)) {
        match self {
            Check::ForEach { collection, filter, lets, body, .. } => {
                f(collection, false);
                if let Some(filter) = filter {
                    f(filter, false);
                }
                lets.iter().for_each(|(_, e)| f(e, false));
                body.walk(f);
            }
            Check::Fail { condition, message, .. } => {
                if let Some(c) = condition {
                    f(c, true);
                }
                message.iter().for_each(|e| f(e, false));
            }
        }
    }
}

impl Rule {
    /// Calls `f` on every expression of the rule, sub-expressions included.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        for step in &self.steps {
            match step {
                Step::AppliesWhen(e) | Step::Let(_, e) => e.walk(f),
                Step::Check(check) => check.walk(&mut |e, _| e.walk(f)),
            }
        }
    }
}

impl Function {
    /// Calls `f` on every expression of the function, sub-expressions included.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        self.lets.iter().for_each(|(_, e)| e.walk(f));
        self.value.walk(f);
    }
}

impl Program {
    /// Calls `f` on every expression of every rule, function and constant,
    /// sub-expressions included.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        for rule in &self.rules {
            rule.walk(f);
        }
        for function in &self.functions {
            function.walk(f);
        }
        for constant in &self.consts {
            constant.value.walk(f);
        }
    }
}
