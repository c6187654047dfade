//! Queries: parse → plan → fan-out → merge.
//!
//! - [`parse`] turns text into [`Statement`]s (sqlparser stays inside).
//! - [`plan()`] resolves columns against the schema and the interned cells,
//!   picks the route and lowers expressions to positional [`Scalar`]s.
//! - A [`Plan`]'s [`Scan`] runs on every actor's panes; its [`Finish`]
//!   turns merged groups into rows. The engine does the fan-out and merge.
mod ast;
mod parser;
mod plan;
mod planner;
mod raw;
mod scalar;

pub use ast::*;
pub use parser::{param_value, parse, Params};
pub use plan::{Accs, Finish, FinishedRow, Groups, Plan, Route, Scan, Scratch, SketchAcc};
pub use planner::{plan, Catalog, HitLog};
pub use raw::{is_raw, plan_raw, RawPlan, RawRow, RawSource};
pub use scalar::Scalar;
