//! The untyped syntax tree. Every node carries a [`Span`]; the formatter and
//! later stages read nothing but this tree (and, for the formatter, the
//! comments that the lexical scan keeps beside it).

use crate::source::Span;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Module {
    /// `//!` lines at the top of the file, without the marker.
    pub docs: Vec<Doc>,
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Doc {
    /// The text after `///` or `//!`, including any leading space.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Item {
    Import(Import),
    Const(ConstDecl),
    Fn(FnDecl),
    Rule(RuleDecl),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Const(c) => c.span,
            Item::Fn(f) => f.span,
            Item::Rule(r) => r.span,
        }
    }
}

/// `import std.strings` or `import common.{weak_ciphers, is_login_port}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Import {
    pub path: Vec<Ident>,
    pub names: Option<Vec<Ident>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConstDecl {
    pub docs: Vec<Doc>,
    /// `param NAME: TYPE = DEFAULT`: a value a scan, a test case or a fleet
    /// template may set.
    pub param: bool,
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FnDecl {
    pub docs: Vec<Doc>,
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `{ let a = ...  a + 1 }`: bindings, then the value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    pub lets: Vec<Let>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Let {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `int`, `list<string>`, `Package?`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeExpr {
    pub name: Ident,
    pub args: Vec<TypeExpr>,
    pub optional: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleDecl {
    pub docs: Vec<Doc>,
    pub id: RuleId,
    pub title: Text,
    pub clauses: Vec<Clause>,
    pub span: Span,
}

impl RuleDecl {
    pub fn severity(&self) -> Option<Severity> {
        self.clauses.iter().find_map(|c| match c.kind {
            ClauseKind::Severity(s) => Some(s),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleId {
    pub text: String,
    pub span: Span,
}

/// The one severity scale (shared with bundles and findings).
pub use assay_model::Severity;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clause {
    pub kind: ClauseKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ClauseKind {
    Severity(Severity),
    Description(Text),
    Rationale(Text),
    Recommendation(Text),
    References(Vec<Text>),
    Tags(Vec<Text>),
    Platform(Vec<Ident>),
    AppliesWhen(Expr),
    Let(Box<Let>),
    Check(Box<Check>),
}

impl ClauseKind {
    /// The clause's leading word, as written in source.
    pub fn keyword(&self) -> &'static str {
        match self {
            ClauseKind::Severity(_) => "severity",
            ClauseKind::Description(_) => "description",
            ClauseKind::Rationale(_) => "rationale",
            ClauseKind::Recommendation(_) => "recommendation",
            ClauseKind::References(_) => "references",
            ClauseKind::Tags(_) => "tags",
            ClauseKind::Platform(_) => "platform",
            ClauseKind::AppliesWhen(_) => "applies when",
            ClauseKind::Let(_) => "let",
            ClauseKind::Check(_) => "check",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Check {
    ForEach(ForEach),
    Fail(Fail),
}

impl Check {
    pub fn span(&self) -> Span {
        match self {
            Check::ForEach(f) => f.span,
            Check::Fail(f) => f.span,
        }
    }
}

/// `for each l in host.listeners where l.port < 1024` then lets and a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForEach {
    pub var: Ident,
    pub collection: Expr,
    pub filter: Option<Expr>,
    pub lets: Vec<Let>,
    pub body: Box<Check>,
    pub span: Span,
}

/// `fail when cond message "..."`; without `when` it always fails (useful
/// inside `for each`, where the filter already chose the offending items).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fail {
    pub condition: Option<Expr>,
    pub message: StringLit,
    pub span: Span,
}

/// Fixed text: one or more adjacent string literals, joined.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Text {
    pub parts: Vec<StringLit>,
    pub span: Span,
}

impl Text {
    /// The joined text. Interpolations were rejected by the parser, so only
    /// literal parts remain.
    pub fn value(&self) -> String {
        let mut out = String::new();
        for part in self.parts.iter().flat_map(|p| &p.parts) {
            if let StrPart::Lit(text) = part {
                out.push_str(text);
            }
        }
        out
    }
}

/// A string literal: literal text (escapes already decoded) and interpolations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StringLit {
    pub parts: Vec<StrPart>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StrPart {
    Lit(String),
    Interp(Expr),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    Bool(bool),
    /// The value and the literal as written (`0o755` stays octal when formatted).
    Int {
        value: i64,
        raw: String,
    },
    Str(StringLit),
    /// `r"..."`: the text between the quotes.
    RawStr(String),
    /// `v"..."`: the text between the quotes.
    Version(String),
    List(Vec<Expr>),
    Name(Ident),
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    Call {
        callee: Vec<Ident>,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x is present` (`present: true`) or `x is absent`.
    Presence {
        operand: Box<Expr>,
        present: bool,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Quantifier {
        kind: QuantifierKind,
        var: Ident,
        collection: Box<Expr>,
        filter: Option<Box<Expr>>,
    },
    Paren(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    Default,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::StartsWith => "starts with",
            BinaryOp::EndsWith => "ends with",
            BinaryOp::Contains => "contains",
            BinaryOp::Matches => "matches",
            BinaryOp::Default => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Binding strength, higher binds tighter. Must agree with the Pratt
    /// table in `parser.rs` (a test checks the formatter round-trips).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            // 3 is prefix `not`.
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In
            | BinaryOp::NotIn
            | BinaryOp::StartsWith
            | BinaryOp::EndsWith
            | BinaryOp::Contains
            | BinaryOp::Matches => 4,
            BinaryOp::Default => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 7,
        }
    }

    pub fn is_comparison(self) -> bool {
        self.precedence() == 4
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum QuantifierKind {
    Any,
    All,
    None,
    Count,
    /// The first item for which the condition holds, or absent.
    Find,
}

impl QuantifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuantifierKind::Any => "any",
            QuantifierKind::All => "all",
            QuantifierKind::None => "none",
            QuantifierKind::Count => "count",
            QuantifierKind::Find => "find",
        }
    }
}
