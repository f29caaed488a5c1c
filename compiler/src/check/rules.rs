//! Rules: clauses, `let` bindings, checks and messages, in the scope their
//! `applies when` facts establish.

use super::*;

/// Where a presence guard for a whole rule goes.
pub(super) enum GuardSite {
    /// The rule's `applies when` condition, which the guard joins with `and`.
    Join(Span),
    /// Before the rule's first `let` or check: a new `applies when` line,
    /// inserted at `at` (a line start) with the indentation `indent`.
    Insert { at: Span, indent: String },
}

impl<'a> Checker<'a> {
    fn guard_site_of(&self, r: &ast::RuleDecl) -> Option<GuardSite> {
        let applies = r.clauses.iter().find_map(|c| match &c.kind {
            ast::ClauseKind::AppliesWhen(e) => Some(e.span),
            _ => None,
        });
        if let Some(span) = applies {
            return Some(GuardSite::Join(span));
        }
        let first = r
            .clauses
            .iter()
            .find(|c| matches!(c.kind, ast::ClauseKind::Let(_) | ast::ClauseKind::Check(_)))?;
        let text = self.sources.get(first.span.file)?.text();
        let before = text.get(..first.span.start as usize)?;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let indent = &before[line_start..];
        if !indent.chars().all(|c| c == ' ' || c == '\t') {
            return None;
        }
        // After the metadata, before the blank line that sets the checks off.
        let at = if before[..line_start].ends_with("\n\n") { line_start - 1 } else { line_start };
        let at = Span::new(first.span.file, at as u32, at as u32);
        Some(GuardSite::Insert { at, indent: indent.to_owned() })
    }

    pub(super) fn lets(
        &mut self,
        lets: &[ast::Let],
        scope: &mut scope::Scope,
    ) -> Vec<(hir::LocalId, hir::Expr)> {
        lets.iter().map(|l| self.let_binding(l, scope)).collect()
    }

    pub(super) fn let_binding(
        &mut self,
        l: &ast::Let,
        scope: &mut scope::Scope,
    ) -> (hir::LocalId, hir::Expr) {
        let value = self.expr(&l.value, scope, None);
        if let Some(previous) = scope.defined_in_frame(&l.name.name) {
            let what = errors::Duplicate::Binding { name: &l.name.name, first: previous };
            self.report(errors::duplicate(l.name.span, what));
        }
        let id = scope.bind(&l.name, value.ty.clone(), scope::BindingKind::Let);
        (id, value)
    }

    pub(super) fn rule(
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
            lookups: Vec::new(),
            span: r.span,
            id_span: r.id.span,
        };
        let mut scope = scope::Scope::new(module, scope::Context::Rule);
        self.lookups.clear();
        self.guard_site = self.guard_site_of(r);
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
                                    let what = errors::BadPlatform::NotInManifest;
                                    self.report(errors::bad_platform(&name.name, name.span, what));
                                }
                            }
                        } else {
                            let known: Vec<&str> = platform_names().collect();
                            let what = errors::BadPlatform::Unknown { known: &known };
                            self.report(errors::bad_platform(&name.name, name.span, what));
                        }
                    }
                }
                ast::ClauseKind::AppliesWhen(e) => {
                    let cond = self.condition(e, &mut scope);
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
        self.guard_site = None;
        self.close_frames(&mut scope, 0);
        rule.locals = scope.slots();
        rule.lookups = std::mem::take(&mut self.lookups);
        rule
    }

    pub(super) fn check(&mut self, check: &ast::Check, scope: &mut scope::Scope) -> hir::Check {
        match check {
            ast::Check::Fail(fail) => {
                let condition = fail.condition.as_ref().map(|c| self.condition(c, scope));
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
                let item = self.collection_item(&collection, scope.context);
                let depth = scope.push_frame();
                let var = scope.bind(&each.var, item, scope::BindingKind::Loop);
                if let Some(kind) = super::paths::by_name_list(&collection) {
                    scope.set_origin(var, kind);
                }
                if super::paths::is_config_list(&collection) {
                    scope.walk_config(var);
                }
                let filter = each.filter.as_ref().map(|f| {
                    let cond = self.condition(f, scope);
                    scope.assume(&cond, true);
                    cond
                });
                let lets = self.lets(&each.lets, scope);
                let body = self.check(&each.body, scope);
                self.close_frames(scope, depth);
                hir::Check::ForEach { var, collection, filter, lets, body: Box::new(body) }
            }
        }
    }

    pub(super) fn message(&mut self, message: &ast::StringLit, scope: &mut scope::Scope) -> Vec<hir::Expr> {
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
                    self.interpolated(&value, scope.context);
                    parts.push(value);
                }
            }
        }
        parts
    }
}
