//! W0105: a rule without a description or a recommendation, which every
//! finding shows.

use super::super::{hir, Checker};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn undocumented_rule(id: &str, missing: &[&str], span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0105, format!("rule {id} has no {}", missing.join(" and no ")))
        .primary(span, format!("no {}", missing.join(" or ")))
        .help("findings show both: say what is wrong and what to do about it")
}

impl Checker<'_> {
    /// `id_span`: the rule's id in its declaration.
    pub(in crate::check) fn undocumented_rule(&mut self, rule: &hir::Rule, id_span: Span) {
        let missing: Vec<&str> =
            [("description", rule.description.is_none()), ("recommendation", rule.recommendation.is_none())]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
        if !missing.is_empty() {
            self.report(undocumented_rule(&rule.id, &missing, id_span));
        }
    }
}
