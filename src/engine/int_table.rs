//! The map from integer keys to entities: open addressing whose slots a
//! shard can prefetch.
//!
//! A shard applies a batch of events, each looking up one entity per
//! actor kind in maps far larger than the caches (a million users and a
//! hundred thousand videos: tens of MB). In std's map each lookup waits on
//! two cache misses, the control bytes and then the bucket, and std does
//! not say where either is, so nothing can fetch them early: profiled, the
//! lookup was the shard's largest cost (docs/performance.md). Here a key's
//! slot is `mix64(key)` masked to the table, so [`IntTable::prefetch`] can
//! ask for it while the events before it are applied.
//!
//! Linear probing over `(key, value)` slots, a power of two of them, at
//! most 7/8 full (std's own bound, so the table costs what std's did):
//! a hit is usually in the slot's cache line or the next. An empty slot
//! holds [`EMPTY`] as its key and `V::default()`; the one key equal to
//! `EMPTY` lives beside the table. Removal (only by [`IntTable::retain`],
//! the hourly sweep) rebuilds the table from what stays, so no probe
//! sequence ever has a hole in it.
//!
//! Owns: slots, probing, growth. Not: what a value is, or which table a
//! key belongs to (the entities' segments).

use crate::hash::mix64;

/// The key of an empty slot.
const EMPTY: i64 = i64::MIN;
/// The fewest slots of a table that holds anything.
const MIN_SLOTS: usize = 8;

/// See the module docs.
#[derive(Debug)]
pub(super) struct IntTable<V> {
    slots: Vec<(i64, V)>,
    /// Occupied slots (not counting `empty_key`).
    len: usize,
    /// The value of the key equal to [`EMPTY`], if it has one.
    empty_key: Option<V>,
}

impl<V> Default for IntTable<V> {
    fn default() -> Self {
        IntTable {
            slots: Vec::new(),
            len: 0,
            empty_key: None,
        }
    }
}

/// The slot a key's probe starts at, in a table of `slots` (a power of two).
fn home(key: i64, slots: usize) -> usize {
    mix64(key as u64) as usize & (slots - 1)
}

impl<V: Default> IntTable<V> {
    pub fn len(&self) -> usize {
        self.len + usize::from(self.empty_key.is_some())
    }

    /// The slot holding `key` (`Ok`), or the empty slot its probe ends at
    /// (`Err`). The table has slots, and at least one of them is empty.
    fn find(&self, key: i64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut i = home(key, self.slots.len());
        loop {
            match self.slots[i].0 {
                k if k == key => return Ok(i),
                EMPTY => return Err(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    pub fn get(&self, key: i64) -> Option<&V> {
        if key == EMPTY {
            return self.empty_key.as_ref();
        }
        if self.slots.is_empty() {
            return None;
        }
        self.find(key).ok().map(|i| &self.slots[i].1)
    }

    /// The value of `key`, made by `make` if it has none; and whether it
    /// was made.
    pub fn get_or_insert_with(&mut self, key: i64, make: impl FnOnce() -> V) -> (&mut V, bool) {
        if key == EMPTY {
            let made = self.empty_key.is_none();
            return (self.empty_key.get_or_insert_with(make), made);
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        match self.find(key) {
            Ok(i) => (&mut self.slots[i].1, false),
            Err(i) => {
                self.slots[i] = (key, make());
                self.len += 1;
                (&mut self.slots[i].1, true)
            }
        }
    }

    /// Sets the value of `key`, returning the one it replaced.
    pub fn insert(&mut self, key: i64, value: V) -> Option<V> {
        let mut value = Some(value);
        let (slot, made) = self.get_or_insert_with(key, || value.take().unwrap_or_default());
        value.map(|v| std::mem::replace(slot, v)).filter(|_| !made)
    }

    /// Keeps the entries `keep` says to (it may change them), drops the
    /// rest; the table is rebuilt when any went, smaller when few stay.
    pub fn retain(&mut self, mut keep: impl FnMut(i64, &mut V) -> bool) {
        if let Some(v) = &mut self.empty_key {
            if !keep(EMPTY, v) {
                self.empty_key = None;
            }
        }
        let mut dropped = 0;
        for slot in &mut self.slots {
            if slot.0 != EMPTY && !keep(slot.0, &mut slot.1) {
                *slot = (EMPTY, V::default());
                dropped += 1;
            }
        }
        if dropped == 0 {
            return;
        }
        self.len -= dropped;
        // Shrink only a table that is mostly empty, so that a sweep that
        // drops a few entities does not make the next events regrow it.
        let mut slots = self.slots.len();
        while slots > MIN_SLOTS && self.len * 4 < slots / 4 {
            slots /= 2;
        }
        if self.len == 0 {
            slots = 0;
        }
        self.resize(slots);
    }

    /// Moves every entry into a table of `slots` (a power of two, or 0
    /// when there are none).
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(
            &mut self.slots,
            std::iter::repeat_with(|| (EMPTY, V::default()))
                .take(slots)
                .collect(),
        );
        for (key, value) in old {
            if key != EMPTY {
                let Err(i) = self.find(key) else {
                    unreachable!("a key twice in one table");
                };
                self.slots[i] = (key, value);
            }
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        self.empty_key.iter().map(|v| (EMPTY, v)).chain(
            self.slots
                .iter()
                .filter(|(k, _)| *k != EMPTY)
                .map(|(k, v)| (*k, v)),
        )
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Calls `f` with every entry, in slot order, calling `ahead` on the
    /// entry `distance` slots further on first (to prefetch what it
    /// points to: the slots themselves are read in order, which the
    /// hardware prefetches on its own).
    pub fn for_each_ahead(&self, distance: usize, ahead: impl Fn(&V), mut f: impl FnMut(i64, &V)) {
        if let Some(v) = &self.empty_key {
            f(EMPTY, v);
        }
        for (k, v) in self.slots.iter().take(distance) {
            if *k != EMPTY {
                ahead(v);
            }
        }
        for (j, (k, v)) in self.slots.iter().enumerate() {
            if let Some((k2, v2)) = self.slots.get(j + distance) {
                if *k2 != EMPTY {
                    ahead(v2);
                }
            }
            if *k != EMPTY {
                f(*k, v);
            }
        }
    }

    /// Asks the cache for the slot `key`'s probe starts at (and the one
    /// after, in the next cache line when the slot is the last of its).
    pub fn prefetch(&self, key: i64) {
        if self.slots.is_empty() {
            return;
        }
        let i = home(key, self.slots.len());
        let slot: *const (i64, V) = &self.slots[i];
        crate::window::prefetch_read(slot.cast());
        if let Some(next) = self.slots.get(i + 1) {
            crate::window::prefetch_read(std::ptr::from_ref(next).cast());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Get(i64),
        Upsert(i64, u32),
        Insert(i64, u32),
        /// Drops the keys whose value is divisible by the number; adds it
        /// to the others.
        Retain(u32),
    }

    fn key() -> impl Strategy<Value = i64> {
        prop_oneof![-40i64..40, Just(i64::MIN), Just(i64::MAX), any::<i64>(),]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => key().prop_map(Op::Get),
            6 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Upsert(k, v)),
            2 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => (1u32..6).prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// The table answers as std's map does, whatever the operations.
        #[test]
        fn it_answers_as_a_hash_map_does(ops in proptest::collection::vec(op(), 0..400)) {
            let mut table: IntTable<u32> = IntTable::default();
            let mut model: HashMap<i64, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Get(k) => prop_assert_eq!(table.get(k), model.get(&k)),
                    Op::Upsert(k, v) => {
                        let (slot, made) = table.get_or_insert_with(k, || v);
                        prop_assert_eq!(made, !model.contains_key(&k));
                        *slot = slot.wrapping_add(1);
                        let m = model.entry(k).or_insert(v);
                        *m = m.wrapping_add(1);
                    }
                    Op::Insert(k, v) => prop_assert_eq!(table.insert(k, v), model.insert(k, v)),
                    Op::Retain(d) => {
                        let keep = |v: &mut u32| {
                            *v = v.wrapping_add(d);
                            (v.wrapping_sub(d)) % d != 0
                        };
                        table.retain(|_, v| keep(v));
                        model.retain(|_, v| keep(v));
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                let mut seen: Vec<(i64, u32)> = table.iter().map(|(k, v)| (k, *v)).collect();
                let mut want: Vec<(i64, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                seen.sort_unstable();
                want.sort_unstable();
                prop_assert_eq!(seen, want);
            }
        }
    }

    #[test]
    fn it_grows_to_stay_under_seven_eighths_and_shrinks_when_swept_empty() {
        let mut table: IntTable<u64> = IntTable::default();
        for k in 0..10_000 {
            table.get_or_insert_with(k, || 0);
            assert!(table.len * 8 <= table.slots.len() * 7);
        }
        assert_eq!(table.slots.len(), 16_384);
        for k in 0..10_000 {
            table.prefetch(k);
            assert!(table.get(k).is_some());
        }
        table.retain(|k, _| k < 100);
        assert_eq!(table.len(), 100);
        assert!(table.slots.len() <= 2048, "{}", table.slots.len());
        assert!((0..100).all(|k| table.get(k).is_some()));
        table.retain(|_, _| false);
        assert!(table.len() == 0 && table.slots.is_empty());
        table.prefetch(5);
        assert_eq!(table.get(5), None);
    }
}
