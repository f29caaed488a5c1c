//! Imports: `import` declarations resolved to modules, constants,
//! functions and standard-library modules; names imported but missing;
//! modules that import each other (E0307).

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn imports(&mut self, module: &ModuleSource<'a>, index: usize, unit_modules: &[usize]) {
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

    pub(super) fn add_import(&mut self, module: usize, name: String, target: Imported, span: Span) {
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
    pub(super) fn member(&self, target: Imported, name: &str) -> Option<Imported> {
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

    pub(super) fn member_names(&self, target: Imported) -> Vec<String> {
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

    pub(super) fn import_cycles(&mut self, modules: &[usize]) {
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
            for path in cycles::through(&edges, start) {
                let mut key: Vec<usize> = path.iter().map(|(m, _)| *m).collect();
                key.sort_unstable();
                if !reported.insert(key) {
                    continue;
                }
                let names: Vec<&str> = std::iter::once(start)
                    .chain(path.iter().map(|(m, _)| *m))
                    .map(|m| self.modules[m].name.as_str())
                    .collect();
                let (first_import, closing) = (path[0].1, path[path.len() - 1].1);
                self.report(
                    Diagnostic::new(Code::E0307, format!("modules import each other: {}", names.join(" → ")))
                        .primary(first_import, "this import starts the cycle")
                        .secondary(closing, "and this one closes it")
                        .help("move what both modules need into a third module that imports neither"),
                );
            }
        }
    }
}
