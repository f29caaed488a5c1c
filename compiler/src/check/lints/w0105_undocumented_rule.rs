//! W0105: a rule without a description or a recommendation, which every
//! finding shows.

use super::Input;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;

fn undocumented_rule(id: &str, missing: &[&str], span: Span) -> Diagnostic {
    Diagnostic::new(Code::W0105, format!("rule {id} has no {}", missing.join(" and no ")))
        .primary(span, format!("no {}", missing.join(" or ")))
        .help("findings show both: say what is wrong and what to do about it")
}

pub(super) fn check(input: &Input<'_>, out: &mut Vec<Diagnostic>) {
    for rule in &input.program.rules {
        let missing: Vec<&str> =
            [("description", rule.description.is_none()), ("recommendation", rule.recommendation.is_none())]
                .into_iter()
                .filter_map(|(n, m)| m.then_some(n))
                .collect();
        if !missing.is_empty() {
            out.push(undocumented_rule(&rule.id, &missing, rule.id_span));
        }
    }
}
