//! Name resolution and type checking: the parsed modules of each package in,
//! a typed [`hir::Program`] and diagnostics out.
//!
//! The guarantee this stage gives (stated in `docs/language.md`): no check of
//! a compiled rule can be undecided because telemetry is missing. Reading an
//! optional value anywhere a value is needed is E0402 unless the value was
//! given a default, tested for presence on the way (`and`, `or`, `if`,
//! `where`), or guarded by `applies when`.

mod expr;
pub mod hir;
mod lints;
pub mod schema;
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
    };
    for unit in &units {
        checker.unit(unit);
    }
    checker.finish();
    Analysis { program: checker.program, diagnostics: checker.diagnostics }
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
                self.report(
                    Diagnostic::new(Code::E0306, format!("two files define the module `{}`", module.name))
                        .primary(Span::new(module.file, 0, 0), "this file")
                        .note(format!("{first_name} has the same name"))
                        .help("module names are file names without `.assay`; rename one of the files"),
                );
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
            let unused: Vec<(String, Span)> = self.modules[index]
                .imports
                .iter()
                .filter(|(_, i)| !i.used && i.target != Imported::Unresolved)
                .map(|(n, i)| (n.clone(), i.span))
                .collect();
            for (name, span) in unused {
                self.report(
                    Diagnostic::new(Code::W0102, format!("`{name}` is imported but never used"))
                        .primary(span, "unused import")
                        .help("remove it from the import"),
                );
            }
        }
    }

    fn declare_module(&mut self, module: &ModuleSource<'a>, unit: usize) {
        let index = self.modules.len();
        let mut env = ModuleEnv {
            name: module.name.clone(),
            unit,
            consts: HashMap::new(),
            fns: HashMap::new(),
            imports: BTreeMap::new(),
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        for item in &module.ast.items {
            let (name, span) = match item {
                ast::Item::Const(c) => (&c.name, c.name.span),
                ast::Item::Fn(f) => (&f.name, f.name.span),
                _ => continue,
            };
            if name.name == "host" {
                self.report(
                    Diagnostic::new(Code::E0306, "`host` is the telemetry document and cannot be redefined")
                        .primary(span, "redefines `host`")
                        .help("choose another name"),
                );
                continue;
            }
            if let Some(first) = seen.get(&name.name) {
                self.report(
                    Diagnostic::new(Code::E0306, format!("`{}` is defined twice in this module", name.name))
                        .primary(span, "defined again here")
                        .secondary(*first, "first defined here")
                        .help("rename or remove one of them"),
                );
                continue;
            }
            seen.insert(name.name.clone(), span);
            match item {
                ast::Item::Const(c) => {
                    let id = self.consts.len() as hir::ConstId;
                    self.consts.push(ConstSlot {
                        decl: c,
                        module: index,
                        state: ConstState::Pending,
                        used: false,
                    });
                    self.program.consts.push(hir::Const {
                        name: format!("{}.{}", module.name, c.name.name),
                        value: expr::error_expr(c.span),
                    });
                    env.consts.insert(c.name.name.clone(), id);
                }
                ast::Item::Fn(f) => {
                    let id = self.fns.len() as hir::FnId;
                    let params: Vec<Ty> = f.params.iter().map(|p| self.type_expr(&p.ty)).collect();
                    let ret = self.type_expr(&f.ret);
                    self.program.functions.push(hir::Function {
                        name: format!("{}.{}", module.name, f.name.name),
                        params: params.clone(),
                        ret: ret.clone(),
                        lets: Vec::new(),
                        value: expr::error_expr(f.span),
                        locals: 0,
                    });
                    self.fns.push(FnSlot { decl: f, module: index, params, ret, used: false });
                    env.fns.insert(f.name.name.clone(), id);
                }
                _ => {}
            }
        }
        self.modules.push(env);
    }

    /// A written type: `int`, `list<string>`, `Package?`.
    fn type_expr(&mut self, t: &ast::TypeExpr) -> Ty {
        let arity = match t.name.name.as_str() {
            "list" => 1,
            _ => 0,
        };
        if t.args.len() != arity {
            self.report(
                Diagnostic::new(
                    Code::E0407,
                    format!(
                        "`{}` takes {arity} type argument{}",
                        t.name.name,
                        if arity == 1 { "" } else { "s" }
                    ),
                )
                .primary(t.span, format!("given {}", t.args.len()))
                .help("write `list<T>` for a list; other types take no arguments"),
            );
            return Ty::Unknown;
        }
        let ty = match t.name.name.as_str() {
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "string" => Ty::Str,
            "version" => Ty::Version,
            "list" => match t.args.first() {
                Some(arg) => Ty::List(Box::new(self.type_expr(arg))),
                None => Ty::Unknown,
            },
            name => {
                if let Some(id) = self.schema.record_by_name(name) {
                    Ty::Record(id)
                } else if let Some(id) = self.schema.enum_by_name(name) {
                    Ty::Enum(id)
                } else {
                    let mut candidates: Vec<&str> = vec!["bool", "int", "string", "version", "list"];
                    candidates.extend(self.schema.records().map(|(_, r)| r.name.as_str()));
                    candidates.extend(self.schema.enums().map(|(_, e)| e.name.as_str()));
                    let mut d = Diagnostic::new(Code::E0407, format!("unknown type `{name}`"))
                        .primary(t.name.span, "not a type");
                    d = match did_you_mean(name, candidates) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(
                            "types are `bool`, `int`, `string`, `version`, `list<T>`, and the records and \
                             enumerations of docs/telemetry.md",
                        ),
                    };
                    self.report(d);
                    Ty::Unknown
                }
            }
        };
        if t.optional {
            ty.optional()
        } else {
            ty
        }
    }

    fn imports(&mut self, module: &ModuleSource<'a>, index: usize, unit_modules: &[usize]) {
        for item in &module.ast.items {
            let ast::Item::Import(import) = item else { continue };
            let Some(first) = import.path.first() else { continue };
            let path_text: Vec<&str> = import.path.iter().map(|i| i.name.as_str()).collect();
            // `std.strings` names a standard-library module; anything else a
            // module of this package.
            let target = if first.name == "std" {
                let name = import.path.get(1).map(|i| i.name.as_str()).unwrap_or("");
                match assay_stdlib::modules().into_iter().find(|m| *m == name) {
                    Some(m) if import.path.len() == 2 => Some(Imported::StdModule(m)),
                    _ => {
                        let mut d = Diagnostic::new(
                            Code::E0304,
                            format!("the standard library has no module `{}`", path_text[1..].join(".")),
                        )
                        .primary(import.span, "unknown module");
                        d = match did_you_mean(name, assay_stdlib::modules()) {
                            Some(s) => d.help(format!("did you mean `std.{s}`?")),
                            None => d.help(format!(
                                "standard-library modules: {}",
                                assay_stdlib::modules()
                                    .iter()
                                    .map(|m| format!("`std.{m}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                        };
                        self.report(d);
                        None
                    }
                }
            } else {
                let found = unit_modules.iter().copied().find(|m| self.modules[*m].name == first.name);
                match found {
                    Some(m) if import.path.len() == 1 && m != index => Some(Imported::Module(m)),
                    Some(m) if m == index => {
                        self.report(
                            Diagnostic::new(Code::E0307, format!("module `{}` imports itself", first.name))
                                .primary(import.span, "imports its own module")
                                .help("names of this module are in scope without an import"),
                        );
                        None
                    }
                    _ => {
                        let names: Vec<&str> =
                            unit_modules.iter().map(|m| self.modules[*m].name.as_str()).collect();
                        let mut d =
                            Diagnostic::new(Code::E0304, format!("no module `{}`", path_text.join(".")))
                                .primary(import.span, "unknown module");
                        d = match did_you_mean(&first.name, names.iter().copied()) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help(format!(
                                "a module is a `.assay` file of the same package; this package has {}; the \
                                 standard library's modules are imported as `std.NAME`",
                                if names.is_empty() {
                                    "no other module".to_owned()
                                } else {
                                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                                }
                            )),
                        };
                        self.report(d);
                        None
                    }
                }
            };
            let Some(target) = target else {
                let names: Vec<(String, Span)> = match &import.names {
                    Some(names) => names.iter().map(|n| (n.name.clone(), n.span)).collect(),
                    None => import.path.last().map(|i| (i.name.clone(), i.span)).into_iter().collect(),
                };
                for (name, span) in names {
                    self.add_import(index, name, Imported::Unresolved, span);
                }
                continue;
            };
            match &import.names {
                None => {
                    let alias = import.path.last().map(|i| i.name.clone()).unwrap_or_default();
                    self.add_import(index, alias, target, import.span);
                }
                Some(names) => {
                    for name in names {
                        if let Some(imported) = self.member(target, &name.name) {
                            self.add_import(index, name.name.clone(), imported, name.span);
                        } else {
                            let candidates = self.member_names(target);
                            let mut d = Diagnostic::new(
                                Code::E0304,
                                format!("`{}` has no `{}`", path_text.join("."), name.name),
                            )
                            .primary(name.span, "not found");
                            if let Some(s) = did_you_mean(&name.name, candidates.iter().map(String::as_str)) {
                                d = d.help(format!("did you mean `{s}`?"));
                            } else if !candidates.is_empty() {
                                d = d.help(format!("it defines {}", candidates.join(", ")));
                            }
                            self.report(d);
                            self.add_import(index, name.name.clone(), Imported::Unresolved, name.span);
                        }
                    }
                }
            }
        }
    }

    fn add_import(&mut self, module: usize, name: String, target: Imported, span: Span) {
        let env = &self.modules[module];
        if env.consts.contains_key(&name) || env.fns.contains_key(&name) || env.imports.contains_key(&name) {
            self.report(
                Diagnostic::new(Code::E0306, format!("`{name}` is already defined in this module"))
                    .primary(span, "imported again")
                    .help("remove the import, or rename the local definition"),
            );
            return;
        }
        self.modules[module].imports.insert(name, Import { target, span, used: false });
    }

    /// A name defined by an imported module.
    fn member(&self, target: Imported, name: &str) -> Option<Imported> {
        match target {
            Imported::Module(m) => {
                let env = &self.modules[m];
                env.consts
                    .get(name)
                    .map(|c| Imported::Const(*c))
                    .or(env.fns.get(name).map(|f| Imported::Fn(*f)))
            }
            Imported::StdModule(m) => assay_stdlib::lookup(m, name).map(|(i, _)| Imported::Native(i)),
            _ => None,
        }
    }

    fn member_names(&self, target: Imported) -> Vec<String> {
        match target {
            Imported::Module(m) => {
                let env = &self.modules[m];
                let mut names: Vec<String> = env.consts.keys().chain(env.fns.keys()).cloned().collect();
                names.sort();
                names
            }
            Imported::StdModule(m) => {
                assay_stdlib::NATIVES.iter().filter(|n| n.module == m).map(|n| n.name.to_owned()).collect()
            }
            _ => Vec::new(),
        }
    }

    fn import_cycles(&mut self, modules: &[usize]) {
        // Edges: module -> (imported module, import span).
        let mut edges: HashMap<usize, Vec<(usize, Span)>> = HashMap::new();
        for &m in modules {
            for import in self.modules[m].imports.values() {
                let target = match import.target {
                    Imported::Module(t) => Some(t),
                    Imported::Const(c) => Some(self.consts[c as usize].module),
                    Imported::Fn(f) => Some(self.fns[f as usize].module),
                    _ => None,
                };
                if let Some(t) = target {
                    let list = edges.entry(m).or_default();
                    if !list.iter().any(|(x, _)| *x == t) {
                        list.push((t, import.span));
                    }
                }
            }
        }
        for list in edges.values_mut() {
            list.sort_by_key(|(t, s)| (*t, s.start));
        }
        let mut reported: HashSet<Vec<usize>> = HashSet::new();
        for &start in modules {
            // Depth-first search for a path back to `start`.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            let mut on_path: Vec<usize> = vec![start];
            let mut visited: HashSet<usize> = HashSet::new();
            while let Some((node, next)) = stack.last_mut() {
                let out = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
                if let Some((target, span)) = out.get(*next).copied() {
                    *next += 1;
                    if target == start {
                        let mut cycle = on_path.clone();
                        let mut key = cycle.clone();
                        key.sort_unstable();
                        if reported.insert(key) {
                            cycle.push(start);
                            let names: Vec<&str> =
                                cycle.iter().map(|m| self.modules[*m].name.as_str()).collect();
                            let message = format!("modules import each other: {}", names.join(" → "));
                            let first_import = edges
                                .get(&start)
                                .and_then(|e| e.iter().find(|(t, _)| Some(t) == cycle.get(1)))
                                .map(|(_, s)| *s)
                                .unwrap_or(span);
                            self.report(
                                Diagnostic::new(Code::E0307, message)
                                    .primary(first_import, "this import starts the cycle")
                                    .secondary(span, "and this one closes it")
                                    .help("move what both modules need into a third module that imports neither"),
                            );
                        }
                    } else if visited.insert(target) {
                        on_path.push(target);
                        stack.push((target, 0));
                    }
                } else {
                    stack.pop();
                    on_path.pop();
                }
            }
        }
    }

    /// The type of a constant, checking its value on first use.
    fn const_type(&mut self, id: hir::ConstId) -> Ty {
        let slot = &mut self.consts[id as usize];
        match &slot.state {
            ConstState::Done(ty) => return ty.clone(),
            ConstState::InProgress => {
                let span = slot.decl.name.span;
                let name = slot.decl.name.name.clone();
                self.report(
                    Diagnostic::new(Code::E0308, format!("the constant `{name}` depends on itself"))
                        .primary(span, "its value refers back to it")
                        .help("a constant's value must be computable from literals and other constants"),
                );
                return Ty::Unknown;
            }
            ConstState::Pending => slot.state = ConstState::InProgress,
        }
        let decl = slot.decl;
        let module = slot.module;
        let mut scope = expr::Scope::new(module, expr::Context::Const);
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let value = self.expr(&decl.value, &mut scope, None);
        self.require_present(&value);
        let mut ty = value.ty.clone();
        if self.diagnostics.iter().filter(|d| d.is_error()).count() > errors_before {
            // Uses of a broken constant should not report its mistake again.
            ty = Ty::Unknown;
        }
        if let Some(annotation) = &decl.ty {
            let declared = self.type_expr(annotation);
            if !value.ty.fits(&declared) {
                self.mismatch(&value, &declared, "the constant's declared type");
            }
            if !ty.is_unknown() {
                ty = declared;
            }
        }
        self.program.consts[id as usize].value = value;
        self.consts[id as usize].state = ConstState::Done(ty.clone());
        ty
    }

    fn function_body(&mut self, id: hir::FnId) -> hir::Function {
        let slot = &self.fns[id as usize];
        let decl = slot.decl;
        let (params, ret) = (slot.params.clone(), slot.ret.clone());
        let mut scope = expr::Scope::new(slot.module, expr::Context::Function(id));
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (param, ty) in decl.params.iter().zip(&params) {
            if let Some(first) = seen.insert(&param.name.name, param.name.span) {
                self.report(
                    Diagnostic::new(
                        Code::E0306,
                        format!("the parameter `{}` is declared twice", param.name.name),
                    )
                    .primary(param.name.span, "declared again")
                    .secondary(first, "first declared here")
                    .help("give each parameter its own name"),
                );
            }
            scope.bind(&param.name, ty.clone(), expr::BindingKind::Param);
        }
        let lets = self.lets(&decl.body.lets, &mut scope);
        let value = self.expr(&decl.body.value, &mut scope, Some(&ret));
        if !ret.is_optional() {
            self.require_present(&value);
        }
        if !value.ty.fits(&ret) {
            self.mismatch(&value, &ret, "the function's declared return type");
        }
        self.unused_bindings(&mut scope, 0);
        hir::Function {
            name: self.program.functions[id as usize].name.clone(),
            params,
            ret,
            lets,
            value,
            locals: scope.slots(),
        }
    }

    fn lets(&mut self, lets: &[ast::Let], scope: &mut expr::Scope) -> Vec<(hir::LocalId, hir::Expr)> {
        lets.iter().map(|l| self.let_binding(l, scope)).collect()
    }

    fn let_binding(&mut self, l: &ast::Let, scope: &mut expr::Scope) -> (hir::LocalId, hir::Expr) {
        let value = self.expr(&l.value, scope, None);
        if let Some(previous) = scope.defined_in_frame(&l.name.name) {
            self.report(
                Diagnostic::new(Code::E0306, format!("`{}` is already bound here", l.name.name))
                    .primary(l.name.span, "bound again")
                    .secondary(previous, "first bound here")
                    .help("use a different name for the second value"),
            );
        }
        let id = scope.bind(&l.name, value.ty.clone(), expr::BindingKind::Let);
        (id, value)
    }

    /// Warns about `let` bindings of the innermost frames, down to `depth`.
    fn unused_bindings(&mut self, scope: &mut expr::Scope, depth: usize) {
        for (name, span) in scope.pop_frames(depth) {
            self.report(
                Diagnostic::new(Code::W0101, format!("`{name}` is bound but never used"))
                    .primary(span, "unused")
                    .help(format!("remove the `let`, or name it `_{name}` if it is there on purpose")),
            );
        }
    }

    fn rule(
        &mut self,
        r: &ast::RuleDecl,
        module: usize,
        package: u32,
        manifest: Option<&Manifest>,
    ) -> hir::Rule {
        let mut rule = hir::Rule {
            package,
            id: r.id.text.clone(),
            title: r.title.value(),
            severity: r.severity().unwrap_or(ast::Severity::Medium),
            doc: r
                .docs
                .iter()
                .map(|d| d.text.strip_prefix(' ').unwrap_or(&d.text))
                .collect::<Vec<_>>()
                .join("\n"),
            description: None,
            rationale: None,
            recommendation: None,
            references: Vec::new(),
            tags: Vec::new(),
            platforms: Vec::new(),
            steps: Vec::new(),
            locals: 0,
            span: r.span,
        };
        let mut scope = expr::Scope::new(module, expr::Context::Rule);
        for clause in &r.clauses {
            match &clause.kind {
                ast::ClauseKind::Severity(_) => {}
                ast::ClauseKind::Description(t) => rule.description = Some(t.value()),
                ast::ClauseKind::Rationale(t) => rule.rationale = Some(t.value()),
                ast::ClauseKind::Recommendation(t) => rule.recommendation = Some(t.value()),
                ast::ClauseKind::References(list) => {
                    rule.references = list.iter().map(ast::Text::value).collect()
                }
                ast::ClauseKind::Tags(list) => rule.tags = list.iter().map(ast::Text::value).collect(),
                ast::ClauseKind::Platform(names) => {
                    for name in names {
                        if let Some(platform) = Platform::parse(&name.name) {
                            rule.platforms.push(platform);
                            if let Some(m) = manifest {
                                let covered = m.platforms.iter().any(|p| p == "linux" || *p == name.name)
                                    || name.name == "linux";
                                if !covered {
                                    self.report(
                                        Diagnostic::new(
                                            Code::E0309,
                                            format!(
                                                "the package does not support the platform `{}`",
                                                name.name
                                            ),
                                        )
                                        .primary(name.span, "not in the manifest's platforms")
                                        .help(format!(
                                            "add `{}` to `platforms` in package.yaml, or remove it here",
                                            name.name
                                        )),
                                    );
                                }
                            }
                        } else {
                            let mut d =
                                Diagnostic::new(Code::E0309, format!("unknown platform `{}`", name.name))
                                    .primary(name.span, "not a platform");
                            d = match did_you_mean(&name.name, platform_names()) {
                                Some(s) => d.help(format!("did you mean `{s}`?")),
                                None => d.help(format!(
                                    "platforms: {}",
                                    platform_names().collect::<Vec<_>>().join(", ")
                                )),
                            };
                            self.report(d);
                        }
                    }
                }
                ast::ClauseKind::AppliesWhen(e) => {
                    let cond = self.condition(e, &mut scope);
                    self.constant_condition(&cond, "`applies when`");
                    scope.assume(&cond, true);
                    rule.steps.push(hir::Step::AppliesWhen(cond));
                }
                ast::ClauseKind::Let(l) => {
                    let (id, value) = self.let_binding(l, &mut scope);
                    rule.steps.push(hir::Step::Let(id, value));
                }
                ast::ClauseKind::Check(check) => {
                    let check = self.check(check, &mut scope);
                    rule.steps.push(hir::Step::Check(check));
                }
            }
        }
        self.unused_bindings(&mut scope, 0);
        rule.locals = scope.slots();
        let missing: Vec<&str> =
            [("description", rule.description.is_none()), ("recommendation", rule.recommendation.is_none())]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
        if !missing.is_empty() {
            self.report(
                Diagnostic::new(Code::W0105, format!("rule {} has no {}", rule.id, missing.join(" and no ")))
                    .primary(r.id.span, format!("no {}", missing.join(" or ")))
                    .help("findings show both: say what is wrong and what to do about it"),
            );
        }
        rule
    }

    fn check(&mut self, check: &ast::Check, scope: &mut expr::Scope) -> hir::Check {
        match check {
            ast::Check::Fail(fail) => {
                let condition = fail.condition.as_ref().map(|c| {
                    let cond = self.condition(c, scope);
                    self.constant_condition(&cond, "the failure condition");
                    cond
                });
                let depth = scope.push_frame();
                if let Some(c) = &condition {
                    scope.assume(c, true);
                }
                let message = self.message(&fail.message, scope);
                scope.pop_to(depth);
                hir::Check::Fail { condition, message, span: fail.span }
            }
            ast::Check::ForEach(each) => {
                let collection = self.expr(&each.collection, scope, None);
                let item = self.collection_item(&collection);
                let depth = scope.push_frame();
                let var = scope.bind(&each.var, item, expr::BindingKind::Loop);
                let filter = each.filter.as_ref().map(|f| {
                    let cond = self.condition(f, scope);
                    scope.assume(&cond, true);
                    cond
                });
                let lets = self.lets(&each.lets, scope);
                let body = self.check(&each.body, scope);
                self.unused_bindings(scope, depth);
                hir::Check::ForEach { var, collection, filter, lets, body: Box::new(body) }
            }
        }
    }

    fn message(&mut self, message: &ast::StringLit, scope: &mut expr::Scope) -> Vec<hir::Expr> {
        let mut parts = Vec::new();
        for part in &message.parts {
            match part {
                ast::StrPart::Lit(text) => parts.push(hir::Expr {
                    kind: hir::ExprKind::Str(text.clone()),
                    ty: Ty::Str,
                    span: message.span,
                }),
                ast::StrPart::Interp(e) => {
                    let value = self.expr(e, scope, None);
                    self.interpolated(&value);
                    parts.push(value);
                }
            }
        }
        parts
    }

    fn constant_condition(&mut self, cond: &hir::Expr, what: &str) {
        if cond.ty.is_unknown() || !lints::is_constant(cond) {
            return;
        }
        self.report(
            Diagnostic::new(Code::W0104, format!("{what} does not depend on the host"))
                .primary(cond.span, "always has the same value")
                .help(
                    "a condition should read telemetry (`host...`); otherwise the rule always or never fires",
                ),
        );
    }

    /// After every unit: recursion and unused definitions.
    fn finish(&mut self) {
        self.recursion();
        for i in 0..self.consts.len() {
            let slot = &self.consts[i];
            if !slot.used {
                let (name, span) = (slot.decl.name.name.clone(), slot.decl.name.span);
                self.report(
                    Diagnostic::new(Code::W0103, format!("the constant `{name}` is never used"))
                        .primary(span, "unused")
                        .help("remove it, or use it in a rule of this package"),
                );
            }
        }
        for i in 0..self.fns.len() {
            let slot = &self.fns[i];
            if !slot.used {
                let (name, span) = (slot.decl.name.name.clone(), slot.decl.name.span);
                self.report(
                    Diagnostic::new(Code::W0103, format!("the function `{name}` is never used"))
                        .primary(span, "unused")
                        .help("remove it, or call it from a rule of this package"),
                );
            }
        }
        let mut seen: HashMap<&str, (Span, u32)> = HashMap::new();
        let mut duplicates = Vec::new();
        for rule in &self.program.rules {
            if rule.id.is_empty() {
                continue;
            }
            match seen.get(rule.id.as_str()) {
                Some((first, package)) => {
                    duplicates.push((rule.id.clone(), rule.span, *first, *package != rule.package))
                }
                None => {
                    seen.insert(&rule.id, (rule.span, rule.package));
                }
            }
        }
        for (id, span, first, across) in duplicates {
            let span = self.rule_id_span(span, &id);
            let first = self.rule_id_span(first, &id);
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

    /// The span of the id inside a rule's span (rules keep the whole span).
    fn rule_id_span(&self, rule: Span, id: &str) -> Span {
        let text = self.text(rule);
        match text.find(id) {
            Some(offset) => {
                let start = rule.start + offset as u32;
                Span::new(rule.file, start, start + id.len() as u32)
            }
            None => rule,
        }
    }

    fn recursion(&mut self) {
        let mut edges: HashMap<hir::FnId, Vec<(hir::FnId, Span)>> = HashMap::new();
        for (from, to, span) in &self.calls {
            edges.entry(*from).or_default().push((*to, *span));
        }
        let mut reported: HashSet<hir::FnId> = HashSet::new();
        for start in 0..self.fns.len() as hir::FnId {
            // Is `start` reachable from itself?
            let mut stack: Vec<hir::FnId> = vec![start];
            let mut visited: HashSet<hir::FnId> = HashSet::new();
            let mut found = None;
            while let Some(node) = stack.pop() {
                for (to, span) in edges.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                    if *to == start {
                        found = Some(*span);
                        break;
                    }
                    if visited.insert(*to) {
                        stack.push(*to);
                    }
                }
                if found.is_some() {
                    break;
                }
            }
            if let Some(span) = found {
                if reported.insert(start) {
                    let name = self.fns[start as usize].decl.name.clone();
                    self.report(
                        Diagnostic::new(Code::E0308, format!("the function `{}` calls itself", name.name))
                            .primary(name.span, "recursive")
                            .secondary(span, "through this call")
                            .help("functions may not recurse, directly or through each other, so every evaluation ends; use a quantifier over a collection instead"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
