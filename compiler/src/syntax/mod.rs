//! Source text to syntax tree: a lexical scan, the pest grammar, and the
//! builder that turns pest's pairs into [`ast`] nodes with spans.

pub mod ast;
mod errors;
mod lexical;
mod parser;

pub use lexical::MAX_NESTING;
pub use parser::{parse, parse_bytes, Parsed, MAX_EXPR_DEPTH};
