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
                        let path = path_text[1..].join(".");
                        let modules = assay_stdlib::modules();
                        let what = errors::UnknownModule::Std { path: &path, name, modules: &modules };
                        self.report(errors::unknown_import(import.span, what));
                        None
                    }
                }
            } else {
                let found = unit_modules.iter().copied().find(|m| self.modules[*m].name == first.name);
                match found {
                    Some(m) if import.path.len() == 1 && m != index => Some(Imported::Module(m)),
                    Some(m) if m == index => {
                        let what = errors::Cycle::Itself { module: &first.name };
                        self.report(errors::import_cycle(import.span, what));
                        None
                    }
                    _ => {
                        let names: Vec<&str> =
                            unit_modules.iter().map(|m| self.modules[*m].name.as_str()).collect();
                        let path = path_text.join(".");
                        let what = errors::UnknownModule::Package {
                            path: &path,
                            name: &first.name,
                            modules: &names,
                        };
                        self.report(errors::unknown_import(import.span, what));
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
                            let path = path_text.join(".");
                            let what = errors::UnknownModule::Member {
                                path: &path,
                                name: &name.name,
                                candidates: &candidates,
                            };
                            self.report(errors::unknown_import(name.span, what));
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
            self.report(errors::duplicate(span, errors::Duplicate::Import { name: &name }));
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
                let what = errors::Cycle::Through { modules: &names, closing };
                self.report(errors::import_cycle(first_import, what));
            }
        }
    }
}
