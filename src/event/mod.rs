//! Events: schemas and the parsing of one JSON line into an event.
mod schema;

pub use schema::{lookup, ActorKind, Field, FieldType, Schema, TimeSource, PRESETS};
