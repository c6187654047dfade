//! What a checkpoint keeps of rules, as serde types: the registry's part
//! ([`SavedRules`]: every rule's definition, id and hit count, and the
//! recent hits) and each shard's ([`SavedFiring`]: per rule, the actors
//! whose condition currently holds). With both, a restart neither forgets
//! a rule nor fires again for an actor the live run would not.
//!
//! The definition is the query layer's encoding ([`crate::query::encode_rule`]),
//! which its decoder reads as hostile input; the rest is plain data.

use std::collections::HashSet;
use std::sync::Arc;

use super::hit::Hit;
use crate::codec::Blob;
use crate::event::Key;
use crate::value::Value;

/// The registry's part of a checkpoint.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SavedRules {
    /// The id the next created rule gets: ids match edge state in the
    /// shards, so they must not be handed out twice.
    pub(super) next_id: u64,
    /// In creation order.
    pub(super) rules: Vec<SavedRule>,
    /// The recent hits, oldest first (those of dropped rules too).
    pub(super) recent: Vec<SavedHit>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct SavedRule {
    pub id: u64,
    pub hits: u64,
    /// [`crate::query::encode_rule`]'s bytes.
    pub definition: Blob<'static>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct SavedHit {
    rule: String,
    kind: String,
    key: SavedValue,
    window_end_ms: i64,
    columns: Vec<String>,
    values: Vec<SavedValue>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SavedValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl SavedValue {
    fn of(v: &Value) -> SavedValue {
        match v {
            Value::Null => SavedValue::Null,
            Value::Bool(b) => SavedValue::Bool(*b),
            Value::Int(i) => SavedValue::Int(*i),
            Value::Float(x) => SavedValue::Float(*x),
            Value::Str(s) => SavedValue::Str(s.to_string()),
        }
    }

    fn value(self) -> Value {
        match self {
            SavedValue::Null => Value::Null,
            SavedValue::Bool(b) => Value::Bool(b),
            SavedValue::Int(i) => Value::Int(i),
            SavedValue::Float(x) => Value::Float(x),
            SavedValue::Str(s) => Value::Str(s.into()),
        }
    }
}

impl SavedHit {
    pub(super) fn of(hit: &Hit) -> SavedHit {
        SavedHit {
            rule: hit.rule.to_string(),
            kind: hit.kind.to_string(),
            key: SavedValue::of(&hit.key),
            window_end_ms: hit.window_end_ms,
            columns: hit.columns.to_vec(),
            values: hit.values.iter().map(SavedValue::of).collect(),
        }
    }

    /// The hit again; `columns` shares one list among hits that have the
    /// same (the live hits of a rule share theirs).
    pub(super) fn hit(self, columns: &mut Vec<Arc<[String]>>) -> Hit {
        let shared = match columns.iter().find(|c| c[..] == self.columns[..]) {
            Some(c) => c.clone(),
            None => {
                let c: Arc<[String]> = self.columns.into();
                columns.push(c.clone());
                c
            }
        };
        Hit {
            rule: self.rule.into(),
            kind: self.kind.into(),
            key: self.key.value(),
            window_end_ms: self.window_end_ms,
            columns: shared,
            values: self.values.into_iter().map(SavedValue::value).collect(),
        }
    }
}

/// A shard's part: per rule id, the keys whose condition held at their
/// last evaluation (the edge state of [`super::Watcher`]).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SavedFiring(Vec<(u64, Vec<SavedKey>)>);

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum SavedKey {
    Int(i64),
    Str(String),
}

impl SavedFiring {
    pub(super) fn of<'a>(sets: impl Iterator<Item = (u64, &'a HashSet<Key>)>) -> SavedFiring {
        SavedFiring(
            sets.filter(|(_, set)| !set.is_empty())
                .map(|(id, set)| {
                    let keys = set
                        .iter()
                        .map(|k| match k {
                            Key::Int(i) => SavedKey::Int(*i),
                            Key::Str(s) => SavedKey::Str(s.to_string()),
                        })
                        .collect();
                    (id, keys)
                })
                .collect(),
        )
    }

    pub(super) fn sets(self) -> Vec<(u64, HashSet<Key>)> {
        self.0
            .into_iter()
            .map(|(id, keys)| {
                let set = keys
                    .into_iter()
                    .map(|k| match k {
                        SavedKey::Int(i) => Key::Int(i),
                        SavedKey::Str(s) => Key::Str(s.into()),
                    })
                    .collect();
                (id, set)
            })
            .collect()
    }
}
