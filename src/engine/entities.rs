//! The entities of one actor kind on one shard: key → rolling state.
//!
//! An entity is one key's [`PaneStore`] (a user's, a video's...); its kind
//! and key are the map it lives in and its key there, so it stores
//! neither. Two choices keep the map small:
//!
//! - **typed keys**: an integer key is stored as an `i64` (8 bytes) and a
//!   string key as an `Arc<str>`, not as the 24-byte [`Key`] enum, so an
//!   integer entity costs a 32-byte slot (key, state, oldest minute);
//! - **integer keys in an [`IntTable`]**, whose slots a shard prefetches a
//!   few events ahead ([`Entities::prefetch_slot`], then
//!   [`Entities::prefetch_state`]): at a million entities each lookup is
//!   otherwise a wait on memory. String keys stay in std's map;
//! - **segments**: the map is 64 maps, picked by the top bits of the key's
//!   hash, so a growing map never holds its old and new tables at once for
//!   more than 1/64 of its entities (a single map of a million entities
//!   would double all at once, and the peak memory with it).
//!
//! Each entry also keeps two facts about its state, so that sweeps and
//! scans read the maps in order instead of chasing a pointer per entity:
//!
//! - the minute of the entity's oldest event: the hourly expiry sweep
//!   skips, without reading its state, every entity that has nothing old
//!   enough to drop;
//! - how many events it holds (at least: events past retention count
//!   until the sweep drops them): a fan-out whose HAVING needs a count of
//!   at least n skips every entity with fewer events without reading its
//!   state ([`Entities::for_each_holding`]).

use std::sync::Arc;

use super::int_table::IntTable;
use super::key_hash::KeyMap;
use crate::event::Key;
use crate::hash::{hash_bytes, mix64};
use crate::time::Millis;
use crate::window::PaneStore;

/// How far ahead of a full scan ([`Entities::for_each`]) entities' state is
/// prefetched: enough misses in flight to cover memory's latency with the
/// few hundred nanoseconds of work per entity of a fan-out.
const PREFETCH_AHEAD: usize = 4;

/// Maps per kind: a power of two, so a segment is a few top bits.
const SEGMENTS: usize = 64;

/// See the module docs.
#[derive(Debug)]
pub struct Entities {
    ints: Vec<IntTable<Entity>>,
    strs: Vec<KeyMap<Arc<str>, Entity>>,
    len: usize,
}

/// One entity: its state, the minute of its oldest event (a lower bound),
/// which the sweep reads instead of the state, and the number of events
/// the state holds (an upper bound, saturating), which scans read instead
/// of the state. The two fit the padding of a 32-byte slot.
#[derive(Debug, Default)]
struct Entity {
    store: PaneStore,
    oldest_minute: i32,
    events: u32,
}

impl Entity {
    fn new(minute: i32) -> Entity {
        Entity {
            store: PaneStore::default(),
            oldest_minute: minute,
            events: 0,
        }
    }

    /// An entity as a checkpoint restores it.
    fn restored(store: PaneStore, oldest_minute: i32) -> Entity {
        Entity {
            events: saturate(store.events()),
            store,
            oldest_minute,
        }
    }
}

/// A count of events as an entity keeps it.
fn saturate(events: u64) -> u32 {
    u32::try_from(events).unwrap_or(u32::MAX)
}

/// A map's entries holding at least `min_events` events, in order, each
/// prefetching the state of the one [`PREFETCH_AHEAD`] places further on.
fn prefetched<K>(map: &KeyMap<K, Entity>, min_events: u32) -> impl Iterator<Item = (&K, &Entity)> {
    let holds = move |e: &&Entity| e.events >= min_events;
    let mut ahead = map.values().filter(holds);
    ahead
        .by_ref()
        .take(PREFETCH_AHEAD)
        .for_each(|e| e.store.prefetch());
    map.iter().filter(move |(_, e)| holds(e)).inspect(move |_| {
        if let Some(next) = ahead.next() {
            next.store.prefetch();
        }
    })
}

/// The minute of a time, as the hint stores it (clamped into `i32`).
fn minute_of(ts_ms: Millis) -> i32 {
    ts_ms
        .div_euclid(60_000)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

impl Default for Entities {
    fn default() -> Self {
        Entities {
            ints: (0..SEGMENTS).map(|_| IntTable::default()).collect(),
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
            Key::Int(i) => self.ints[int_segment(*i)].get(*i),
            Key::Str(s) => self.strs[str_segment(s)].get(s),
        }
        .map(|e| &e.store)
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.get(key).is_some()
    }

    /// The entity of `key`, activated (empty) if it has none yet, for an
    /// event at `ts_ms` to be added to it.
    pub fn activate(&mut self, key: &Key, ts_ms: Millis) -> &mut PaneStore {
        let len = &mut self.len;
        let minute = minute_of(ts_ms);
        let entity = match key {
            Key::Int(i) => {
                let (entity, made) =
                    self.ints[int_segment(*i)].get_or_insert_with(*i, || Entity::new(minute));
                *len += usize::from(made);
                entity
            }
            Key::Str(s) => {
                let map = &mut self.strs[str_segment(s)];
                if !map.contains_key(s) {
                    *len += 1;
                    map.insert(s.clone(), Entity::new(minute));
                }
                map.get_mut(s).expect("inserted just above")
            }
        };
        entity.oldest_minute = entity.oldest_minute.min(minute);
        entity.events = entity.events.saturating_add(1);
        &mut entity.store
    }

    /// Asks the cache for where `key`'s entity would be found, ahead of
    /// [`Entities::activate`]; the first of two steps (see
    /// [`Entities::prefetch_state`]). Integer keys only: std's map, which
    /// string keys use, does not say where a key's slot is.
    pub fn prefetch_slot(&self, key: &Key) {
        if let Key::Int(i) = key {
            self.ints[int_segment(*i)].prefetch(*i);
        }
    }

    /// Asks the cache for the state of `key`'s entity, if it has one: the
    /// second step, once its slot is (most likely) in the cache.
    pub fn prefetch_state(&self, key: &Key) {
        if let Key::Int(i) = key {
            if let Some(e) = self.ints[int_segment(*i)].get(*i) {
                e.store.prefetch();
            }
        }
    }

    /// Expires every entity that may hold state at or before
    /// `horizon_minute` (`expire` drops it and says whether the entity is
    /// now empty), and drops the empty ones; returns how many it dropped.
    pub fn expire(
        &mut self,
        horizon_minute: i64,
        mut expire: impl FnMut(&mut PaneStore) -> bool,
    ) -> usize {
        let before = self.len;
        let mut keep = |e: &mut Entity| {
            if i64::from(e.oldest_minute) > horizon_minute {
                return true;
            }
            if expire(&mut e.store) {
                return false;
            }
            if let Some(m) = e.store.oldest_minute() {
                e.oldest_minute = m.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            }
            e.events = saturate(e.store.events());
            true
        };
        for table in &mut self.ints {
            table.retain(|_, e| keep(e));
        }
        for map in &mut self.strs {
            map.retain(|_, e| keep(e));
        }
        self.len = self.ints.iter().map(|m| m.len()).sum::<usize>()
            + self.strs.iter().map(|m| m.len()).sum::<usize>();
        before - self.len
    }

    /// Calls `f` with every entity and its key. The state of the entity
    /// [`PREFETCH_AHEAD`] places further on is prefetched meanwhile, so
    /// that its cache miss overlaps the work on the ones before it.
    pub fn for_each(&self, f: impl FnMut(&Key, &PaneStore)) {
        self.for_each_holding(0, f);
    }

    /// [`Self::for_each`] over the entities that hold at least
    /// `min_events` events; the others are skipped by their map entry,
    /// their state neither read nor prefetched.
    pub fn for_each_holding(&self, min_events: u32, mut f: impl FnMut(&Key, &PaneStore)) {
        for table in &self.ints {
            table.for_each_ahead(
                PREFETCH_AHEAD * 8 / 7,
                |e| {
                    if e.events >= min_events {
                        e.store.prefetch();
                    }
                },
                |i, e| {
                    if e.events >= min_events {
                        f(&Key::Int(i), &e.store);
                    }
                },
            );
        }
        for map in &self.strs {
            prefetched(map, min_events).for_each(|(s, e)| f(&Key::Str(s.clone()), &e.store));
        }
    }

    /// The stores, for counting their slots.
    pub fn stores(&self) -> impl Iterator<Item = &PaneStore> {
        self.ints
            .iter()
            .flat_map(|m| m.values())
            .chain(self.strs.iter().flat_map(|m| m.values()))
            .map(|e| &e.store)
    }
}

/// Entities as a checkpoint keeps them: `(key, oldest minute, state)`,
/// integer keys then string keys. Borrowed when written...
#[derive(serde::Serialize)]
struct SavedEntitiesRef<'a> {
    ints: Vec<(i64, i32, &'a PaneStore)>,
    strs: Vec<(&'a str, i32, &'a PaneStore)>,
}

/// ...owned when read.
#[derive(serde::Deserialize)]
struct SavedEntities {
    ints: Vec<(i64, i32, PaneStore)>,
    strs: Vec<(String, i32, PaneStore)>,
}

impl serde::Serialize for Entities {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let saved = SavedEntitiesRef {
            ints: (self.ints.iter().flat_map(IntTable::iter))
                .map(|(k, e)| (k, e.oldest_minute, &e.store))
                .collect(),
            strs: (self.strs.iter().flatten())
                .map(|(k, e)| (&**k, e.oldest_minute, &e.store))
                .collect(),
        };
        saved.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Entities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Entities, D::Error> {
        use serde::de::Error;
        let saved = SavedEntities::deserialize(d)?;
        let mut out = Entities::default();
        for (key, oldest_minute, store) in saved.ints {
            let entity = Entity::restored(store, oldest_minute);
            if out.ints[int_segment(key)].insert(key, entity).is_some() {
                return Err(D::Error::custom("an entity listed twice"));
            }
        }
        for (key, oldest_minute, store) in saved.strs {
            let entity = Entity::restored(store, oldest_minute);
            let key: Arc<str> = key.into();
            if out.strs[str_segment(&key)].insert(key, entity).is_some() {
                return Err(D::Error::custom("an entity listed twice"));
            }
        }
        out.len = out.ints.iter().map(|m| m.len()).sum::<usize>()
            + out.strs.iter().map(|m| m.len()).sum::<usize>();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_entity_is_a_32_byte_slot() {
        assert_eq!(std::mem::size_of::<(i64, Entity)>(), 32);
    }

    #[test]
    fn a_scan_by_events_held_skips_the_entities_holding_fewer() {
        let mut e = Entities::default();
        let t0 = 1_736_899_200_000;
        // Key k takes k events, one a minute from t0.
        for k in 0..20 {
            for i in 0..k {
                let ts = t0 + i * 60_000;
                e.activate(&Key::Int(k), ts).add(ts, 0, &[], ts);
            }
        }
        let keys = |e: &Entities, min| {
            let mut n = 0;
            e.for_each_holding(min, |_, _| n += 1);
            n
        };
        assert_eq!(
            (keys(&e, 0), keys(&e, 1), keys(&e, 15), keys(&e, 20)),
            (19, 19, 5, 0)
        );
        // Expiry recounts what is left: the first 10 minutes go, so key k
        // holds k - 10 events, and only keys 15..20 hold 5 or more.
        let horizon = t0 / 60_000 + 9;
        e.expire(horizon, |store| store.expire(t0 + 10 * 60_000, 60_000));
        assert_eq!((keys(&e, 1), keys(&e, 5), keys(&e, 6)), (9, 5, 4));
    }

    #[test]
    fn entities_are_found_counted_and_dropped_by_key() {
        let mut e = Entities::default();
        let t0 = 1_736_899_200_000;
        for i in 0..1000 {
            let ts = t0 + i * 60_000;
            e.activate(&Key::Int(i), ts).add(ts, 0, &[], ts);
        }
        e.activate(&Key::Str("a".into()), t0);
        e.activate(&Key::Int(5), t0);
        assert_eq!(e.len(), 1001);
        assert!(e.contains(&Key::Int(999)) && e.contains(&Key::Str("a".into())));
        assert!(!e.contains(&Key::Int(1000)) && !e.contains(&Key::Str("b".into())));
        // Entities whose oldest minute is after the horizon are not even
        // asked; the others are expired (keys 0..=499 lose their only
        // event, the string entity never had one) and dropped when empty.
        let mut asked = 0;
        let horizon = t0 / 60_000 + 499;
        let dropped = e.expire(horizon, |store| {
            asked += 1;
            store.expire(t0 + 500 * 60_000, 60_000)
        });
        assert_eq!((asked, dropped), (501, 501));
        let mut seen = 0;
        e.for_each(|key, _| {
            assert!(matches!(key, Key::Int(500..=999)));
            seen += 1;
        });
        assert_eq!((seen, e.len(), e.stores().count()), (500, 500, 500));
        let segments = e.ints.iter().filter(|m| m.len() > 0).count();
        assert!(segments > 50, "keys spread over the segments: {segments}");
    }
}
