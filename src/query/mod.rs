//! Queries: parse → plan → fan-out → merge.
mod ast;
mod parser;

pub use ast::*;
pub use parser::{param_value, parse, Params};
