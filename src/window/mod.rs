//! Windows: rolling state as time panes of partial aggregates.
//!
//! This module owns how state is laid out in time (two tiers of sparse
//! panes, and a packed form for stores with few events: their events
//! packed in one allocation) and how partial aggregates merge. It knows nothing of actors or
//! queries: entities and shards own [`PaneStore`]s, queries read them
//! through [`PaneStore::fold`] with a [`WindowSpec`].
//!
//! Percentiles and distinct counts are mergeable sketches kept per slot
//! ([`QuantileSketch`], [`Hll`]), only in the stores whose
//! [`SketchLayout`] asks for them.
mod agg;
mod distinct;
mod log;
mod pane;
mod quantile;
mod sketch;
mod spec;
mod tiers;

pub use agg::{Agg, Detail, MetricAgg, MetricAggs};
pub use distinct::Hll;
pub use log::LOG_MAX_BYTES;
pub(crate) use pane::prefetch_read;
pub use pane::PaneStore;
pub use quantile::{nearest_rank, QuantileSketch, ALPHA};
pub use sketch::{hash_key, SketchInput, SketchLayout, Sketches};
pub use spec::{WindowSpec, FINE_SPAN_SECS};
pub use tiers::ALL_CELLS;
