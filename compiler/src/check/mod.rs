//! Name resolution and type checking: the parsed modules of each package in,
//! a typed [`hir::Program`] and diagnostics out.
//!
//! The guarantee this stage gives (stated in `docs/language.md`): no check of
//! a compiled rule can be undecided because telemetry is missing. Reading an
//! optional value anywhere a value is needed is E0402 unless the value was
//! given a default, tested for presence on the way (`and`, `or`, `if`,
//! `where`), or guarded by `applies when`.

mod configs;
mod cycles;
mod declare;
mod errors;
mod expr;
pub mod hir;
mod imports;
mod lints;
mod lookups;
mod names;
mod operators;
mod paths;
mod rules;
pub mod schema;
mod scope;
pub mod types;

use crate::diagnostics::suggest::did_you_mean;
use crate::diagnostics::{Code, Diagnostic};
use crate::package::{platform_names, Manifest};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;
use assay_model::Platform;
use schema::Schema;
use std::collections::{BTreeMap, HashMap, HashSet};
use types::Ty;

/// One package (or one loose file) to check.
pub struct Unit<'a> {
    /// The package name (the file stem for a loose file).
    pub name: String,
    pub manifest: Option<&'a Manifest>,
    pub modules: Vec<ModuleSource<'a>>,
}

pub struct ModuleSource<'a> {
    /// The module name: the file stem.
    pub name: String,
    pub file: FileId,
    pub ast: &'a ast::Module,
}

pub struct Analysis {
    pub program: hir::Program,
    pub diagnostics: Vec<Diagnostic>,
}

/// Resolves and type-checks `units`. The result does not depend on the order
/// of `units` or of their modules.
pub fn analyze(sources: &SourceMap, mut units: Vec<Unit<'_>>) -> Analysis {
    units.sort_by(|a, b| a.name.cmp(&b.name));
    for unit in &mut units {
        unit.modules.sort_by(|a, b| a.name.cmp(&b.name).then(a.file.cmp(&b.file)));
    }
    let mut checker = Checker {
        schema: Schema::get(),
        sources,
        modules: Vec::new(),
        consts: Vec::new(),
        fns: Vec::new(),
        diagnostics: Vec::new(),
        program: hir::Program::default(),
        calls: Vec::new(),
        uses: lints::Uses::default(),
        lookups: Vec::new(),
        guard_site: None,
    };
    for unit in &units {
        checker.unit(unit);
    }
    checker.finish();
    let Checker { program, mut diagnostics, uses, schema, .. } = checker;
    diagnostics.extend(lints::run(&lints::Input { program: &program, uses: &uses, schema, sources }));
    Analysis { program, diagnostics }
}

/// What an imported name stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Imported {
    Const(hir::ConstId),
    Fn(hir::FnId),
    Module(usize),
    StdModule(&'static str),
    Native(u16),
    /// An import that failed (and was reported): uses stay silent.
    Unresolved,
}

struct Import {
    target: Imported,
    span: Span,
    used: bool,
}

struct ModuleEnv {
    name: String,
    /// Index of the unit (package) holding it.
    unit: usize,
    consts: HashMap<String, hir::ConstId>,
    fns: HashMap<String, hir::FnId>,
    imports: BTreeMap<String, Import>,
}

enum ConstState {
    Pending,
    InProgress,
    Done(Ty),
}

struct ConstSlot<'a> {
    decl: &'a ast::ConstDecl,
    module: usize,
    state: ConstState,
    used: bool,
}

struct FnSlot<'a> {
    decl: &'a ast::FnDecl,
    module: usize,
    params: Vec<Ty>,
    ret: Ty,
    used: bool,
}

struct Checker<'a> {
    schema: &'static Schema,
    sources: &'a SourceMap,
    modules: Vec<ModuleEnv>,
    consts: Vec<ConstSlot<'a>>,
    fns: Vec<FnSlot<'a>>,
    diagnostics: Vec<Diagnostic>,
    program: hir::Program,
    /// Caller, callee and the call's span, for the recursion check.
    calls: Vec<(hir::FnId, hir::FnId, Span)>,
    /// What name resolution found used, for the lints.
    uses: lints::Uses,
    /// The lookups by name of the rule or function being checked.
    lookups: Vec<assay_model::lookup::Lookup>,
    /// Where a presence guard for the rule being checked would go, for
    /// E0402's quick fix.
    guard_site: Option<rules::GuardSite>,
}

impl<'a> Checker<'a> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn text(&self, span: Span) -> &str {
        self.sources.slice(span)
    }

    fn unit(&mut self, unit: &Unit<'a>) {
        let unit_index = self.program.packages.len();
        self.program.packages.push(match unit.manifest {
            Some(m) => hir::Package {
                name: m.name.clone(),
                title: m.title.clone(),
                version: m.version.clone(),
                description: m.description.clone(),
                // The manifest's names were validated when it was read.
                platforms: m.platforms.iter().filter_map(|p| Platform::parse(p)).collect(),
            },
            None => hir::Package {
                name: unit.name.clone(),
                title: unit.name.clone(),
                version: "0.0.0".into(),
                description: String::new(),
                platforms: vec![Platform::Linux],
            },
        });
        let first_module = self.modules.len();
        // Declarations first, so every name resolves whatever the order.
        let mut module_names: HashMap<&str, FileId> = HashMap::new();
        for module in &unit.modules {
            if let Some(first) = module_names.insert(&module.name, module.file) {
                let first_name = self.sources.get(first).map(|f| f.name().to_owned()).unwrap_or_default();
                let what = errors::Duplicate::Module { name: &module.name, first_file: &first_name };
                self.report(errors::duplicate(Span::new(module.file, 0, 0), what));
            }
            self.declare_module(module, unit_index);
        }
        let modules: Vec<usize> = (first_module..self.modules.len()).collect();
        for (module, index) in unit.modules.iter().zip(&modules) {
            self.imports(module, *index, &modules);
        }
        self.import_cycles(&modules);
        for (module, index) in unit.modules.iter().zip(&modules) {
            for item in &module.ast.items {
                match item {
                    ast::Item::Const(c) => {
                        if let Some(&id) = self.modules[*index].consts.get(&c.name.name) {
                            self.const_type(id);
                        }
                    }
                    ast::Item::Fn(f) => {
                        if let Some(&id) = self.modules[*index].fns.get(&f.name.name) {
                            if self.fns[id as usize].decl.span == f.span {
                                let function = self.function_body(id);
                                self.program.functions[id as usize] = function;
                            }
                        }
                    }
                    ast::Item::Rule(r) => {
                        let rule = self.rule(r, *index, unit_index as u32, unit.manifest);
                        self.program.rules.push(rule);
                    }
                    ast::Item::Import(_) => {}
                }
            }
        }
        for index in modules {
            let imports =
                self.modules[index].imports.iter().filter(|(_, i)| i.target != Imported::Unresolved);
            self.uses.imports.extend(imports.map(|(name, i)| lints::Use {
                name: name.clone(),
                span: i.span,
                used: i.used,
            }));
        }
    }

    /// Closes the scope's frames from `depth` up, recording whether their
    /// `let` bindings were read.
    fn close_frames(&mut self, scope: &mut scope::Scope, depth: usize) {
        let lets = scope.pop_frames(depth);
        self.uses.bindings.extend(lets.into_iter().map(|(name, span, used)| lints::Use { name, span, used }));
    }

    /// After every unit: recursion, duplicate rule ids, the order of rules.
    fn finish(&mut self) {
        self.recursion();
        let names = |d: &ast::Ident, used| lints::Use { name: d.name.clone(), span: d.span, used };
        self.uses.constants = self.consts.iter().map(|c| names(&c.decl.name, c.used)).collect();
        self.uses.functions = self.fns.iter().map(|f| names(&f.decl.name, f.used)).collect();
        let mut seen: HashMap<&str, (Span, u32)> = HashMap::new();
        let mut duplicates = Vec::new();
        for rule in &self.program.rules {
            if rule.id.is_empty() {
                continue;
            }
            match seen.get(rule.id.as_str()) {
                Some((first, package)) => {
                    duplicates.push((rule.id.clone(), rule.id_span, *first, *package != rule.package))
                }
                None => {
                    seen.insert(&rule.id, (rule.id_span, rule.package));
                }
            }
        }
        for (id, span, first, across) in duplicates {
            self.report(
                Diagnostic::new(Code::E0305, format!("the rule id `{id}` is used twice"))
                    .primary(span, "defined again here")
                    .secondary(
                        first,
                        if across { "first defined here, in another package" } else { "first defined here" },
                    )
                    .help("rule ids identify findings and must be unique across every package of a bundle"),
            );
        }
        self.program.rules.sort_by(|a, b| {
            let (pa, pb) = (
                &self.program.packages[a.package as usize].name,
                &self.program.packages[b.package as usize].name,
            );
            pa.cmp(pb).then(a.id.cmp(&b.id))
        });
    }
}

#[cfg(test)]
mod tests;

/// The kernel parameters the compiler knows (W0108's table), with `*` for
/// a segment of any name (an interface): for an editor's completion.
pub fn sysctl_names() -> Vec<String> {
    lints::sysctl_names()
}
