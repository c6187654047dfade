//! Events: what a line of JSON means (schemas), and turning one line into a
//! typed event or a counted rejection (parse). Admission against the clock
//! and the id history is [`crate::ingest`]'s job, not this module's.
mod extract;
mod model;
mod parse;
mod schema;

pub use model::{AttrHashes, CellId, DimKey, DimValues, Event, Key, Keys, Metrics};
pub use parse::{LineParser, Parsed, Reason, Reject};
pub use schema::{
    lookup, ActorKind, DistinctSource, Field, FieldType, Schema, TimeSource, DETECT_LINES,
    MAX_DISTINCT_SKETCHES, PRESETS,
};
