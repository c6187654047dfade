//! Running plans: the scan on shards, the merge's accumulators, the finish,
//! and raw-row queries.
//!
//! - `scan.rs`: what a shard computes from an actor's panes for a
//!   [`crate::query::Scan`]: partial aggregates per group.
//! - `accs.rs`: those partials, how two of them merge, and their values.
//! - `finish.rs`: merged groups → filtered, sorted, limited rows.
//! - `raw.rs`: candidate rows of a raw-row query → its result.
//!
//! The plans themselves are `plan.rs`; which shards run a scan, and the
//! merge across them, are the engine's (src/engine/fanout.rs).

mod accs;
mod finish;
mod raw;
mod scan;

pub use accs::{Accs, Groups, SketchAcc};
pub use finish::FinishedRow;
pub use raw::RawRow;
pub use scan::Scratch;
