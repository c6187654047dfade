//! Windows: rolling state as time panes of partial aggregates.
//!
//! This module owns how state is laid out in time (two tiers of sparse
//! panes) and how partial aggregates merge. It knows nothing of actors or
//! queries: entities and shards own [`PaneStore`]s, queries read them
//! through [`PaneStore::fold`] with a [`WindowSpec`].
mod agg;
mod pane;

pub use agg::{Agg, MetricAgg};
pub use pane::{PaneStore, WindowSpec, FINE_SPAN_SECS};
