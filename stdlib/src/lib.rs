//! The standard library of the Assay policy language: the declarations the
//! type checker reads (`import std.strings`, ...) and the Rust natives behind
//! them.
//!
//! Nothing is implemented yet; it arrives with the type checker (see the open
//! issues and ARCHITECTURE.md).
