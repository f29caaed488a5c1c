//! The lints (`W01xx`): one file per code, holding the one constructor of
//! its diagnostic and the check that decides it. Each code has its case in
//! `compiler/tests/diagnostics/W01xx-*.assay`.
//!
//! They run inside the checker's walk, at the point where the fact they
//! need is known (a binding leaving its scope, a condition typed), and only
//! on code that type-checked: a lint never repeats an error.

mod w0101_unused_binding;
mod w0102_unused_import;
mod w0103_unused_definition;
mod w0104_constant_condition;
mod w0105_undocumented_rule;
mod w0106_never_holds;
mod w0107_never_absent;

pub use w0106_never_holds::never_holds;
pub use w0107_never_absent::NeverAbsent;
