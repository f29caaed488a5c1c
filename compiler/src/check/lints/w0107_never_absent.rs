//! W0107: a presence test or a `??` default on a value that is never
//! absent.

use super::super::{hir, Checker};
use crate::diagnostics::{Code, Diagnostic};

/// Which construct assumed the value could be absent.
pub enum NeverAbsent {
    /// `x is present` (true) or `x is absent` (false).
    PresenceTest(bool),
    /// `x ?? default`.
    Default,
}

impl Checker<'_> {
    pub(in crate::check) fn never_absent(&mut self, value: &hir::Expr, construct: NeverAbsent) {
        if value.ty.is_optional() || value.ty.is_unknown() {
            return;
        }
        let text = self.text(value.span).to_owned();
        let (message, help) = match construct {
            NeverAbsent::PresenceTest(present) => {
                (format!("`{text}` is never absent, so this test is always {present}"), "remove the test")
            }
            NeverAbsent::Default => {
                (format!("`{text}` is never absent, so the default is never used"), "remove `?? ...`")
            }
        };
        let label = format!("`{}` is always present", value.ty.display(self.schema));
        self.report(Diagnostic::new(Code::W0107, message).primary(value.span, label).help(help));
    }
}
