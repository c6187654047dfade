//! Queries: parse → plan → fan-out → merge.
//!
//! - [`parse`] turns text into [`Statement`]s (sqlparser stays inside
//!   `parser/`).
//! - [`plan()`] resolves columns against the schema and the interned cells,
//!   picks the route and lowers expressions to positional [`Scalar`]s;
//!   [`plan_raw`] does the same for selects without aggregates, which read
//!   rows ([`is_raw`] tells them apart).
//! - A [`Plan`]'s [`Scan`] runs on every actor's panes; its [`Finish`]
//!   turns merged groups into rows (`exec/` holds both). The engine does
//!   the fan-out and the merge, on the caller's thread.
//! - `explain.rs` prints every kind of plan as the EXPLAIN tree.
//! - `rule_codec.rs` writes a rule's definition as bytes for the log and
//!   checkpoints, and reads them back as hostile input.
//!
//! Plan types (`plan.rs`) are apart from the code that makes them
//! (`planner/`), runs them (`exec/`) and prints them (`explain.rs`).
mod ast;
mod exec;
mod explain;
mod parser;
mod plan;
mod planner;
mod rule_codec;
mod scalar;

pub use ast::*;
pub use exec::{Accs, FinishedRow, Groups, RawRow, Scratch, SketchAcc};
pub use parser::{param_value, parse, parse_located, Located, Params};
pub use plan::{Finish, Plan, RawPlan, RawSource, Route, Scan};
pub use planner::{is_raw, plan, plan_raw, Catalog, HitLog};
pub use rule_codec::{decode_rule, encode_rule};
pub use scalar::Scalar;
