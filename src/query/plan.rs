//! Plans: what the planner decided, as data.
//!
//! A [`Plan`] answers from rolling state. It has a [`Route`] (which state
//! answers), a [`Scan`] (what every actor computes from its panes: partial
//! aggregates per group) and a [`Finish`] (what is done with the merged
//! groups: final values, HAVING, ORDER BY, LIMIT). The engine's caller
//! thread sends the scan straight to the shards that hold the state and
//! merges their partials (`src/engine/fanout.rs` says why the router actor
//! is not in the way). When every group lives in exactly one actor — the
//! query groups by that actor's key — shards run the finish themselves and
//! the caller only merges sorted, limited rows.
//!
//! A [`RawPlan`] answers from rows instead: the ring of recent events or
//! the log of rule hits.
//!
//! This file owns the plan types only. Running them is `exec/`; printing
//! them for EXPLAIN is `explain.rs`; making them is the planner's.

use std::sync::Arc;

use super::ast::AggFunc;
use super::scalar::Scalar;
use crate::event::Key;
use crate::time::Millis;
use crate::value::Value;
use crate::window::WindowSpec;

/// Which state answers the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The shards' global partials (no entity is touched).
    Global,
    /// The named entities of one actor kind, each on its own shard.
    Point { kind: usize, keys: Vec<Key> },
    /// Every entity of one actor kind, on every shard.
    FanOut { kind: usize },
}

/// What one aggregate reads from a pane slot.
#[derive(Debug, Clone, PartialEq)]
pub enum AggInput {
    /// The number of events (COUNT(*), COUNT(key), COUNT(dimension)).
    Events,
    /// One metric's count/sum/min/max.
    Metric(usize),
    /// `PERCENTILE`/`MEDIAN` of metric `metric`: its count/min/max in the
    /// plain accumulator (the answer is clamped into the exact [min, max]),
    /// and the percentile sketch at position `sketch` of the store's
    /// layout, merged into sketch accumulator `acc`.
    Quantile {
        metric: usize,
        sketch: usize,
        acc: usize,
    },
    /// `COUNT(DISTINCT key or attribute)`: the HyperLogLog at position
    /// `sketch` of the store's layout, merged into sketch accumulator `acc`.
    Distinct { sketch: usize, acc: usize },
    /// `COUNT(DISTINCT dimension)`, exact: per cell, the id of its value
    /// (`NO_VALUE` for NULL), collected as a set in accumulator `acc`.
    DimValues { values: Vec<u32>, acc: usize },
    /// `COUNT(DISTINCT own key)` where every group is one actor: 1 if the
    /// group had events, else 0.
    Presence,
}

/// [`AggInput::DimValues`]: the cell's value is NULL.
pub const NO_VALUE: u32 = u32::MAX;

impl AggInput {
    /// The sketch accumulator this input fills, if any.
    pub fn sketch_acc(&self) -> Option<usize> {
        match self {
            AggInput::Quantile { acc, .. }
            | AggInput::Distinct { acc, .. }
            | AggInput::DimValues { acc, .. } => Some(*acc),
            _ => None,
        }
    }
}

/// One aggregate to accumulate, e.g. `SUM(price) FILTER (WHERE event = 'purchase')`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    pub func: AggFunc,
    pub input: AggInput,
    /// Per cell: whether this aggregate's own FILTER (and, for
    /// COUNT(dimension), non-NULL) admits the cell. `None` admits all.
    pub cells: Option<Vec<bool>>,
    /// Integer-typed result for SUM/MIN/MAX of an integer metric.
    pub integer: bool,
    /// How EXPLAIN shows it.
    pub label: String,
}

/// `GROUP BY TIME_BUCKET(width, time)`: the window cut into buckets of
/// `width_ms`, aligned to the epoch. A bucket behaves as one more grouped
/// dimension, computed per pane slot: group `g` of the scan is dimension
/// group `g / count`, bucket `first + g % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// A whole number of the window's panes, so a pane is in one bucket.
    pub width_ms: Millis,
    /// The bucket (start / width) holding the window's first pane.
    pub first: i64,
    /// Buckets from the window's first pane to now, partial ones included.
    pub count: u32,
    /// Whether buckets without events appear (with COUNT 0): when the
    /// bucket is the only group column.
    pub fill_empty: bool,
}

/// What every actor (or global partial) computes. Sent to shards.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub window: WindowSpec,
    pub route: Route,
    /// Per-entity condition on the key (e.g. `user_id > 100`).
    pub key_filter: Option<Scalar>,
    pub group_by_key: bool,
    /// Per cell id: the group of its dimension values, or `None` when WHERE
    /// excludes the cell. Cells interned after planning are excluded.
    pub cell_groups: Vec<Option<u32>>,
    /// Per dimension group: the values of the GROUP BY dimensions.
    pub dim_groups: Vec<Vec<Value>>,
    /// `GROUP BY TIME_BUCKET(...)`, if any.
    pub buckets: Option<Buckets>,
    pub aggs: Vec<AggSpec>,
    /// Set when groups are disjoint across shards: shards finish them.
    pub finish_at_shard: Option<Finish>,
}

/// From merged groups to result rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub columns: Vec<String>,
    pub outputs: Vec<Scalar>,
    pub having: Option<Scalar>,
    /// ORDER BY expressions and whether each is descending.
    pub order: Vec<(Scalar, bool)>,
    pub limit: Option<u64>,
    /// No GROUP BY: exactly one row, even over no events.
    pub single_row: bool,
    /// Output columns holding `CUMULATIVE(x)`: each row's value becomes the
    /// sum of `x` over itself and every row before it in the result order
    /// (before LIMIT).
    pub cumulative: Vec<usize>,
}

/// A planned aggregate query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Shared with every shard the query reaches, without a copy.
    pub scan: Arc<Scan>,
    pub finish: Finish,
    /// Names for EXPLAIN: actor kinds by index, and the shard count.
    pub kind_names: Vec<String>,
    pub shards: usize,
    /// GROUP BY and WHERE as written, for EXPLAIN.
    pub group_by: Vec<String>,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
}

/// Which rows a raw query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawSource {
    /// The ring of recently accepted events (`FROM events`).
    Events,
    /// The log of continuous-rule hits (`FROM rule_hits`).
    RuleHits,
}

impl RawSource {
    pub fn table(self) -> &'static str {
        match self {
            RawSource::Events => "events",
            RawSource::RuleHits => "rule_hits",
        }
    }
}

/// A planned raw-row query.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPlan {
    pub source: RawSource,
    /// Rows must fall in this window (events only; `None` for rule hits).
    pub window: Option<WindowSpec>,
    /// The field paths read from each row: `Scalar::Dim(i)` reads `paths[i]`.
    pub paths: Vec<String>,
    /// Which path is the schema's time field: its value is the admitted
    /// event time, normalized to RFC 3339 UTC so that it sorts as time.
    pub time_path: Option<usize>,
    pub columns: Vec<String>,
    pub outputs: Vec<Scalar>,
    pub filter: Option<Scalar>,
    /// ORDER BY, then the row's arrival sequence (so ties and unordered
    /// queries keep arrival order).
    pub order: Vec<(Scalar, bool)>,
    pub limit: Option<u64>,
    /// How many rows the source keeps (the ring of recent events, or the
    /// log of rule hits), for EXPLAIN.
    pub capacity: usize,
    /// Events are read from the events store (`--data`), not the ring.
    pub events_store: bool,
    /// WHERE and ORDER BY as written, for EXPLAIN.
    pub filter_text: Option<String>,
    pub order_text: Vec<String>,
}
