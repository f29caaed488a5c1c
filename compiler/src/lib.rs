//! The Assay policy compiler.
//!
//! Pipeline (see ARCHITECTURE.md): source text → [`syntax::parse`] → AST
//! ([`syntax::ast::Module`]) → [`format`] for canonical layout. Name
//! resolution, type checking and code generation are planned stages.
//!
//! The crate does no IO except in [`package`], which reads a package folder
//! from disk into a [`source::SourceMap`].

pub mod diagnostics;
pub mod format;
pub mod package;
pub mod source;
pub mod syntax;

pub use diagnostics::{Code, Diagnostic};
pub use source::{FileId, SourceMap, Span};
