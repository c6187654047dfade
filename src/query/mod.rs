//! Queries: parse → plan → fan-out → merge.
mod ast;
mod parser;

pub use ast::*;
pub use parser::{parse, Params};
