//! The event as the engine sees it after admission: compact and typed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use smallvec::SmallVec;

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

/// An event's actor keys, one per actor kind. Inline up to two (every
/// preset), so that building, cloning (one copy per extra shard) and
/// dropping an event costs no allocation for integer keys.
pub type Keys = SmallVec<[Key; 2]>;

/// An event's metrics, one per schema metric; NaN marks an absent one
/// (JSON cannot carry NaN, so it is free). Inline up to two (every preset).
pub type Metrics = SmallVec<[f64; 2]>;

/// Hashes of an event's attributes declared distinct; 0 marks an absent
/// value. Inline up to two (reels has one, the other presets none).
pub type AttrHashes = SmallVec<[u64; 2]>;

/// An admitted event, routed to shards. Fields of the schema are positional:
/// `keys[i]` belongs to actor kind `i`, `metrics[j]` to metric `j`. The
/// lists dereference to slices.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts_ms: Millis,
    pub cell: CellId,
    pub keys: Keys,
    /// NaN marks an absent metric: JSON cannot carry NaN, so it is free.
    pub metrics: Metrics,
    /// Hashes of the attributes declared distinct
    /// ([`crate::event::Schema::hashed_attributes`]), for their distinct
    /// sketches; 0 marks an absent value.
    pub attr_hashes: AttrHashes,
}

/// One event's dimension values, encoded as bytes: the key of the cell
/// dictionary. A `Box<[Value]>` cost an allocation for the slice and one
/// per string value on every event; this is built in place, without any
/// for up to 64 bytes of encoded values (a reels event needs 26).
///
/// The code is prefix-free, so equal keys mean equal values: NULL is `0`,
/// a boolean `1 b`, an integer `2` + 8 bytes, a float `3` + 8 bytes (not
/// used for dimensions, kept for completeness), a string `4` + its length
/// (4 bytes) + its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DimKey(SmallVec<[u8; 64]>);

impl DimKey {
    pub fn push(&mut self, v: &Value) {
        match v {
            Value::Null => self.0.push(0),
            Value::Bool(b) => self.0.extend_from_slice(&[1, u8::from(*b)]),
            Value::Int(i) => {
                self.0.push(2);
                self.0.extend_from_slice(&i.to_le_bytes());
            }
            Value::Float(f) => {
                self.0.push(3);
                self.0.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Value::Str(s) => self.push_str(s),
        }
    }

    /// Pushes a string value without making a [`Value`] of it.
    pub fn push_str(&mut self, s: &str) {
        self.0.push(4);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn from_values(values: &[Value]) -> DimKey {
        let mut key = DimKey::default();
        for v in values {
            key.push(v);
        }
        key
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The values back. Keys come from [`DimKey::push`], so they decode;
    /// a truncated one (a bug) ends the list early rather than panic.
    pub fn values(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut rest: &[u8] = &self.0;
        while let Some((&tag, tail)) = rest.split_first() {
            let (value, next) = match tag {
                0 => (Value::Null, tail),
                1 => match tail.split_first() {
                    Some((&b, next)) => (Value::Bool(b != 0), next),
                    None => break,
                },
                2 | 3 => match tail.split_first_chunk::<8>() {
                    Some((bytes, next)) => {
                        let bits = u64::from_le_bytes(*bytes);
                        let v = if tag == 2 {
                            Value::Int(bits as i64)
                        } else {
                            Value::Float(f64::from_bits(bits))
                        };
                        (v, next)
                    }
                    None => break,
                },
                _ => {
                    let Some((len, tail)) = tail.split_first_chunk::<4>() else {
                        break;
                    };
                    let len = u32::from_le_bytes(*len) as usize;
                    let Some(text) = tail.get(..len) else {
                        break;
                    };
                    (Value::str(&String::from_utf8_lossy(text)), &tail[len..])
                }
            };
            out.push(value);
            rest = next;
        }
        out
    }
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

impl DimKey {
    /// A key from its bytes (a checkpoint keeps cells so); `None` unless
    /// they decode to values that encode back to exactly these bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<DimKey> {
        let key = DimKey(SmallVec::from_slice(bytes));
        (DimKey::from_values(&key.values()) == key).then_some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dim_keys_decode_to_their_values() {
        let values = vec![
            Value::str("video_view"),
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::str(""),
            Value::Float(1.5),
            Value::str("é\u{0}x"),
        ];
        let key = DimKey::from_values(&values);
        assert_eq!(key.values(), values);
        let mut by_str = DimKey::default();
        by_str.push_str("video_view");
        assert_eq!(by_str, DimKey::from_values(&values[..1]));
    }

    #[test]
    fn dim_keys_of_different_values_differ() {
        let a = DimKey::from_values(&[Value::str("ab"), Value::str("c")]);
        let b = DimKey::from_values(&[Value::str("a"), Value::str("bc")]);
        let c = DimKey::from_values(&[Value::Int(0)]);
        let d = DimKey::from_values(&[Value::Null]);
        assert_ne!(a, b);
        assert_ne!(c, d);
        assert_ne!(
            DimKey::from_values(&[Value::str("1")]),
            DimKey::from_values(&[Value::Int(1)])
        );
    }
}
