//! Declarations: a module's constants and functions entered before any
//! body is checked (so order does not matter), type annotations, and
//! constant and function bodies checked on first use.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn declare_module(&mut self, module: &ModuleSource<'a>, unit: usize) {
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
                self.report(errors::duplicate(span, errors::Duplicate::Host));
                continue;
            }
            if let Some(first) = seen.get(&name.name) {
                let what = errors::Duplicate::Definition { name: &name.name, first: *first };
                self.report(errors::duplicate(span, what));
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
                        param: None,
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
                        param_names: f.params.iter().map(|p| p.name.name.clone()).collect(),
                        span: f.span,
                        ret: ret.clone(),
                        lets: Vec::new(),
                        value: expr::error_expr(f.span),
                        locals: 0,
                        lookups: Vec::new(),
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
    pub(super) fn type_expr(&mut self, t: &ast::TypeExpr) -> Ty {
        let arity = match t.name.name.as_str() {
            "list" => 1,
            _ => 0,
        };
        if t.args.len() != arity {
            let what = errors::BadType::Arity { name: &t.name.name, arity, given: t.args.len() };
            self.report(errors::bad_type(t.span, what));
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
                    let what = errors::BadType::Unknown { name, suggestion: did_you_mean(name, candidates) };
                    self.report(errors::bad_type(t.name.span, what));
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

    /// The type of a constant, checking its value on first use.
    pub(super) fn const_type(&mut self, id: hir::ConstId) -> Ty {
        let slot = &mut self.consts[id as usize];
        match &slot.state {
            ConstState::Done(ty) => return ty.clone(),
            ConstState::InProgress => {
                let span = slot.decl.name.span;
                let name = slot.decl.name.name.clone();
                self.report(errors::recursive(&name, span, errors::Recursive::Constant));
                return Ty::Unknown;
            }
            ConstState::Pending => slot.state = ConstState::InProgress,
        }
        let decl = slot.decl;
        let module = slot.module;
        let mut scope = scope::Scope::new(module, scope::Context::Const);
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let value = self.expr(&decl.value, &mut scope, None);
        self.require_present(&value, scope.context);
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
        if decl.param {
            self.program.consts[id as usize].param = self.param(decl, module, &value);
        }
        self.program.consts[id as usize].value = value;
        self.consts[id as usize].state = ConstState::Done(ty.clone());
        ty
    }

    /// A parameter's declaration (E0315): a declared type a scan can set
    /// (`int`, `string`, `bool`, `list<string>`), a literal default of that
    /// type, one declaration of the name per package.
    fn param(&mut self, decl: &ast::ConstDecl, module: usize, value: &hir::Expr) -> Option<hir::Param> {
        use assay_model::bundle::params::{ParamType, ParamValue};
        let Some(annotation) = &decl.ty else {
            self.report(errors::bad_param(decl.name.span, errors::BadParam::NoType));
            return None;
        };
        let ty = match (annotation.name.name.as_str(), annotation.args.as_slice()) {
            ("int", []) => ParamType::Int,
            ("string", []) => ParamType::Str,
            ("bool", []) => ParamType::Bool,
            ("list", [arg]) if arg.name.name == "string" && arg.args.is_empty() => ParamType::StrList,
            _ => {
                self.report(errors::bad_param(annotation.span, errors::BadParam::Type));
                return None;
            }
        };
        let default = match (&value.kind, ty) {
            (hir::ExprKind::Int(i), ParamType::Int) => ParamValue::Int(*i),
            (hir::ExprKind::Str(s), ParamType::Str) => ParamValue::Str(s.clone()),
            (hir::ExprKind::Bool(b), ParamType::Bool) => ParamValue::Bool(*b),
            (hir::ExprKind::List(items), ParamType::StrList) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|i| match &i.kind {
                        hir::ExprKind::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                match strings {
                    Some(s) => ParamValue::StrList(s),
                    None => {
                        self.report(errors::bad_param(value.span, errors::BadParam::Default));
                        return None;
                    }
                }
            }
            _ if value.ty.is_unknown() => return None,
            _ => {
                self.report(errors::bad_param(value.span, errors::BadParam::Default));
                return None;
            }
        };
        let package = self.modules[module].unit as u32;
        let name = decl.name.name.clone();
        let first = self
            .program
            .consts
            .iter()
            .zip(&self.consts)
            .find(|(c, _)| c.param.as_ref().is_some_and(|p| p.package == package && p.name == name))
            .map(|(_, slot)| slot.decl.name.span);
        if let Some(first) = first {
            self.report(errors::bad_param(decl.name.span, errors::BadParam::Twice { first }));
            return None;
        }
        let doc = decl
            .docs
            .iter()
            .map(|d| d.text.strip_prefix(' ').unwrap_or(&d.text))
            .collect::<Vec<_>>()
            .join("\n");
        Some(hir::Param { package, name, ty, doc, default })
    }

    pub(super) fn function_body(&mut self, id: hir::FnId) -> hir::Function {
        let slot = &self.fns[id as usize];
        let decl = slot.decl;
        let (params, ret) = (slot.params.clone(), slot.ret.clone());
        let mut scope = scope::Scope::new(slot.module, scope::Context::Function(id));
        self.lookups.clear();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (param, ty) in decl.params.iter().zip(&params) {
            if let Some(first) = seen.insert(&param.name.name, param.name.span) {
                let what = errors::Duplicate::Parameter { name: &param.name.name, first };
                self.report(errors::duplicate(param.name.span, what));
            }
            scope.bind(&param.name, ty.clone(), scope::BindingKind::Param);
        }
        let lets = self.lets(&decl.body.lets, &mut scope);
        let value = self.expr(&decl.body.value, &mut scope, Some(&ret));
        if !ret.is_optional() {
            self.require_present(&value, scope.context);
        }
        if !value.ty.fits(&ret) {
            self.mismatch(&value, &ret, "the function's declared return type");
        }
        self.close_frames(&mut scope, 0);
        hir::Function {
            name: self.program.functions[id as usize].name.clone(),
            params,
            param_names: decl.params.iter().map(|p| p.name.name.clone()).collect(),
            span: decl.span,
            ret,
            lets,
            value,
            locals: scope.slots(),
            lookups: std::mem::take(&mut self.lookups),
        }
    }
}
