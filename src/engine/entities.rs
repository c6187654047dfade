//! The entities of one actor kind on one shard: key → rolling state.
//!
//! An entity is one key's [`PaneStore`] (a user's, a video's...); its kind
//! and key are the map it lives in and its key there, so it stores
//! neither. Two choices keep the map small:
//!
//! - **typed keys**: an integer key is stored as an `i64` (8 bytes) and a
//!   string key as an `Arc<str>`, not as the 24-byte [`Key`] enum, so an
//!   integer entity costs 24 bytes of map slot, not 40;
//! - **segments**: the map is 64 maps, picked by the top bits of the key's
//!   hash, so a growing map never holds its old and new tables at once for
//!   more than 1/64 of its entities (a single map of a million entities
//!   would double all at once, and the peak memory with it).

use std::sync::Arc;

use super::key_hash::KeyMap;
use crate::event::Key;
use crate::hash::{hash_bytes, mix64};
use crate::window::PaneStore;

/// Maps per kind: a power of two, so a segment is a few top bits.
const SEGMENTS: usize = 64;

/// See the module docs.
#[derive(Debug)]
pub struct Entities {
    ints: Vec<KeyMap<i64, PaneStore>>,
    strs: Vec<KeyMap<Arc<str>, PaneStore>>,
    len: usize,
}

impl Default for Entities {
    fn default() -> Self {
        Entities {
            ints: (0..SEGMENTS).map(|_| KeyMap::default()).collect(),
            strs: (0..SEGMENTS).map(|_| KeyMap::default()).collect(),
            len: 0,
        }
    }
}

/// The segment of an integer key.
fn int_segment(i: i64) -> usize {
    (mix64(i as u64) >> (64 - SEGMENTS.trailing_zeros())) as usize
}

/// The segment of a string key.
fn str_segment(s: &str) -> usize {
    (hash_bytes(s.as_bytes()) >> (64 - SEGMENTS.trailing_zeros())) as usize
}

impl Entities {
    /// Number of entities.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, key: &Key) -> Option<&PaneStore> {
        match key {
            Key::Int(i) => self.ints[int_segment(*i)].get(i),
            Key::Str(s) => self.strs[str_segment(s)].get(s),
        }
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.get(key).is_some()
    }

    /// The entity of `key`, activated (empty) if it has none yet.
    pub fn activate(&mut self, key: &Key) -> &mut PaneStore {
        let len = &mut self.len;
        match key {
            Key::Int(i) => self.ints[int_segment(*i)].entry(*i).or_insert_with(|| {
                *len += 1;
                PaneStore::default()
            }),
            Key::Str(s) => {
                let map = &mut self.strs[str_segment(s)];
                if !map.contains_key(s) {
                    *len += 1;
                    map.insert(s.clone(), PaneStore::default());
                }
                map.get_mut(s).expect("inserted just above")
            }
        }
    }

    /// Keeps the entities `keep` says to (it may change them, as expiry
    /// does); returns how many were dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut PaneStore) -> bool) -> usize {
        let before = self.len;
        for map in &mut self.ints {
            map.retain(|_, store| keep(store));
        }
        for map in &mut self.strs {
            map.retain(|_, store| keep(store));
        }
        self.len = self.ints.iter().map(|m| m.len()).sum::<usize>()
            + self.strs.iter().map(|m| m.len()).sum::<usize>();
        before - self.len
    }

    /// Calls `f` with every entity and its key.
    pub fn for_each(&self, mut f: impl FnMut(&Key, &PaneStore)) {
        for map in &self.ints {
            for (&i, store) in map {
                f(&Key::Int(i), store);
            }
        }
        for map in &self.strs {
            for (s, store) in map {
                f(&Key::Str(s.clone()), store);
            }
        }
    }

    /// The stores, for counting their slots.
    pub fn stores(&self) -> impl Iterator<Item = &PaneStore> {
        self.ints
            .iter()
            .flat_map(|m| m.values())
            .chain(self.strs.iter().flat_map(|m| m.values()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_found_counted_and_dropped_by_key() {
        let mut e = Entities::default();
        for i in 0..1000 {
            e.activate(&Key::Int(i))
                .add(1_736_899_200_000, 0, &[], 1_736_899_200_000);
        }
        e.activate(&Key::Str("a".into()));
        e.activate(&Key::Int(5));
        assert_eq!(e.len(), 1001);
        assert!(e.contains(&Key::Int(999)) && e.contains(&Key::Str("a".into())));
        assert!(!e.contains(&Key::Int(1000)) && !e.contains(&Key::Str("b".into())));
        let dropped = e.retain(|store| !store.is_empty());
        assert_eq!(dropped, 1, "the string entity never took an event");
        let mut seen = 0;
        e.for_each(|key, _| {
            assert!(matches!(key, Key::Int(0..=999)));
            seen += 1;
        });
        assert_eq!((seen, e.len(), e.stores().count()), (1000, 1000, 1000));
        let segments = e.ints.iter().filter(|m| !m.is_empty()).count();
        assert!(segments > 50, "keys spread over the segments: {segments}");
    }
}
