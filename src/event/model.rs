//! The event as the engine sees it after admission: compact and typed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::time::Millis;
use crate::value::Value;

/// The key of one virtual actor (a user id, a video id, a customer name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Int(i64),
    Str(Arc<str>),
}

impl Key {
    pub fn to_value(&self) -> Value {
        match self {
            Key::Int(i) => Value::Int(*i),
            Key::Str(s) => Value::Str(s.clone()),
        }
    }

    /// The key a query literal names, if it has a key's type.
    pub fn from_value(v: &Value) -> Option<Key> {
        match v {
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Str(s) => Some(Key::Str(s.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => f.write_str(s),
        }
    }
}

/// Interned id of one combination of dimension values (event type, device,
/// ...). Rolling state is kept per cell, so WHERE and GROUP BY on dimensions
/// are evaluated once per distinct combination, never once per event.
pub type CellId = u32;

/// An admitted event, routed to shards. Fields of the schema are positional:
/// `keys[i]` belongs to actor kind `i`, `metrics[j]` to metric `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts_ms: Millis,
    pub cell: CellId,
    pub keys: Box<[Key]>,
    /// NaN marks an absent metric: JSON cannot carry NaN, so it is free.
    pub metrics: Box<[f64]>,
    /// Hashes of the attributes declared distinct
    /// ([`crate::event::Schema::hashed_attributes`]), for their distinct
    /// sketches; 0 marks an absent value. Empty (no allocation) when the
    /// schema declares none.
    pub attr_hashes: Box<[u64]>,
}

/// Dimension values are strings, integers, booleans or NULL (never floats),
/// so they hash and compare exactly. This wrapper makes that usable as a map
/// key.
#[derive(Debug, Clone, PartialEq)]
pub struct DimValues(pub Box<[Value]>);

impl Eq for DimValues {}

impl Hash for DimValues {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in self.0.iter() {
            match v {
                Value::Null => 0u8.hash(state),
                Value::Bool(b) => (1u8, b).hash(state),
                Value::Int(i) => (2u8, i).hash(state),
                Value::Float(f) => (3u8, f.to_bits()).hash(state),
                Value::Str(s) => (4u8, s).hash(state),
            }
        }
    }
}
