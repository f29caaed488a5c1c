//! `host.config` holds a closed set of configurations and, of each, the
//! keys the collector keeps (`assay_model::configs`). A loop variable over
//! it compared with a literal outside those sets (`c.config == "jornald"`,
//! `c.key == "storage"`) would never match and the rule would pass on every
//! host: E0314, with the nearest name.

use super::hir;
use super::paths::field_literals;
use super::scope::Scope;
use super::{errors, Checker};
use assay_model::configs::{configuration, CONFIGURATIONS};

impl Checker<'_> {
    /// Checks `c.config == "..."` and `c.key == "..."` (or `in [...]`) where
    /// `c` walks `host.config`. A key is checked against the configurations
    /// the variable was compared with before (`c.config == "journald" and
    /// c.key == "Storage"`), or against all of them.
    pub(super) fn config_literals(&mut self, l: &hir::Expr, r: &hir::Expr, scope: &mut Scope) {
        let Some((id, field, literals)) = field_literals(l, r) else { return };
        let Some(named) = scope.config_walker(id) else { return };
        match field {
            "config" => {
                for (literal, span) in literals {
                    match configuration(literal) {
                        Some(c) => {
                            if !named.contains(&c.name) {
                                named.push(c.name);
                            }
                        }
                        None => self
                            .report(errors::not_in_config(span, errors::NotInConfig::Configuration(literal))),
                    }
                }
            }
            "key" => {
                let candidates: Vec<_> = if named.is_empty() {
                    CONFIGURATIONS.iter().collect()
                } else {
                    named.iter().filter_map(|n| configuration(n)).collect()
                };
                for (literal, span) in literals {
                    if !candidates.iter().any(|c| c.keeps(literal)) {
                        self.report(errors::not_in_config(
                            span,
                            errors::NotInConfig::Key { key: literal, configs: &candidates },
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}
