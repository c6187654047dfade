//! The cell dictionary: interned combinations of dimension values.
//!
//! A cell lives as long as some window can still read one of its events.
//! Admission tells [`CellInterner::intern`] each event's time and the
//! horizon before which nothing is readable any more; when the dictionary
//! is full, cells whose latest event is older than that horizon are
//! *dead* and their ids go to a free list, for the next new combinations.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::event::{CellId, DimKey};
use crate::time::Millis;
use crate::value::Value;

/// Above this many live combinations the dimensions are not
/// low-cardinality, and new combinations are rejected as `invalid_field`
/// rather than growing every pane without bound.
pub const MAX_CELLS: usize = 1 << 16;

/// The widest slot any store keeps (an hour of the global tier): a slot
/// holding an event at `t` ends before `t` + this, so once `t` is older
/// than now − retention − this, no window reaches the slot.
pub const WIDEST_SLOT_MS: Millis = 3_600_000;

/// Written only by admission (one thread); read by the planner, which
/// evaluates WHERE and GROUP BY once per cell. New cells are rare, so the
/// shared list is behind a lock that ingest touches only when one appears.
#[derive(Debug, Default)]
pub struct CellInterner {
    /// Encoded dimension values ([`DimKey`]) → cell, for live cells only.
    /// Keyed by bytes so a lookup needs no allocation; SipHash (keyed per
    /// process) because the bytes come from input.
    ids: HashMap<Box<[u8]>, CellId>,
    /// Every id's encoded values, freed ones included (a checkpoint writes
    /// the list by position).
    keys: Vec<Box<[u8]>>,
    /// Every id's latest admitted event time: what decides that it is dead.
    last_ms: Vec<Millis>,
    /// Ids of dead cells, taken before the list grows.
    free: Vec<CellId>,
    /// No live cell's latest event is older than this (a lower bound: it is
    /// exact after a sweep, and events only raise it), so a sweep is
    /// worth it only once the horizon passes it.
    oldest_ms: Millis,
    shared: Arc<RwLock<Shared>>,
}

/// What the planner reads.
#[derive(Debug, Default)]
struct Shared {
    /// Dimension values by [`CellId`]; a freed id keeps its old values
    /// until reused (no data of it can be read any more).
    list: Vec<Arc<[Value]>>,
    /// Counts every change of the list (a new id, a reused one, a
    /// restore): whatever was planned against one generation (the rules)
    /// is planned again for the next, even when the length is the same.
    generation: u64,
    /// Ids in use, as `SHOW STATS` reports them.
    live: usize,
}

impl CellInterner {
    /// The id of a combination, interning it if new, and notes an event of
    /// it at `ts_ms`. No event before `dead_before_ms` can be read by any
    /// window; a full dictionary frees the cells with none after it.
    /// `None` when [`MAX_CELLS`] cells are still live.
    pub fn intern(
        &mut self,
        dims: &DimKey,
        ts_ms: Millis,
        dead_before_ms: Millis,
    ) -> Option<CellId> {
        if let Some(&id) = self.ids.get(dims.as_bytes()) {
            let last = &mut self.last_ms[id as usize];
            *last = (*last).max(ts_ms);
            return Some(id);
        }
        if self.free.is_empty() && self.keys.len() >= MAX_CELLS {
            self.sweep(dead_before_ms);
        }
        let values: Arc<[Value]> = dims.values().into();
        let key: Box<[u8]> = dims.as_bytes().into();
        let mut shared = match self.shared.write() {
            Ok(shared) => shared,
            Err(poisoned) => poisoned.into_inner(),
        };
        let id = if let Some(id) = self.free.pop() {
            self.keys[id as usize] = key.clone();
            self.last_ms[id as usize] = ts_ms;
            shared.list[id as usize] = values;
            id
        } else if self.keys.len() < MAX_CELLS {
            self.keys.push(key.clone());
            self.last_ms.push(ts_ms);
            shared.list.push(values);
            (self.keys.len() - 1) as CellId
        } else {
            return None;
        };
        if self.ids.is_empty() {
            self.oldest_ms = ts_ms;
        }
        self.oldest_ms = self.oldest_ms.min(ts_ms);
        self.ids.insert(key, id);
        shared.generation += 1;
        shared.live = self.ids.len();
        Some(id)
    }

    /// Frees every cell whose latest event is before `dead_before_ms`.
    /// Only called when the dictionary is full, and it scans only when
    /// the horizon has passed the oldest live cell.
    fn sweep(&mut self, dead_before_ms: Millis) {
        if dead_before_ms <= self.oldest_ms {
            return;
        }
        let (last_ms, free) = (&self.last_ms, &mut self.free);
        let mut oldest = Millis::MAX;
        self.ids.retain(|_, &mut id| {
            let last = last_ms[id as usize];
            if last < dead_before_ms {
                free.push(id);
                false
            } else {
                oldest = oldest.min(last);
                true
            }
        });
        self.oldest_ms = oldest;
        // Lowest ids first, so reuse is deterministic.
        self.free.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// A handle for readers (the planner).
    pub fn dictionary(&self) -> CellDictionary {
        CellDictionary(self.shared.clone())
    }
}

/// Read side of the cell dictionary.
#[derive(Debug, Clone, Default)]
pub struct CellDictionary(Arc<RwLock<Shared>>);

impl CellDictionary {
    fn read<T>(&self, f: impl FnOnce(&Shared) -> T) -> T {
        match self.0.read() {
            Ok(shared) => f(&shared),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// How many ids are in use (live cells).
    pub fn len(&self) -> usize {
        self.read(|s| s.live)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes with every new or reused id (see [`Shared::generation`]).
    pub fn generation(&self) -> u64 {
        self.read(|s| s.generation)
    }

    /// A snapshot of every cell's dimension values, indexed by [`CellId`].
    pub fn snapshot(&self) -> Vec<Arc<[Value]>> {
        self.read(|s| s.list.clone())
    }
}

/// What a checkpoint keeps of the dictionary. Borrowed when written, owned
/// when read.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedCells<'a> {
    /// Every id's encoded values, in id order, freed ids included.
    keys: Vec<std::borrow::Cow<'a, [u8]>>,
    /// Every id's latest event time.
    last_ms: Vec<Millis>,
    /// The freed ids, in the order they will be taken (last first).
    free: Vec<CellId>,
}

impl SavedCells<'_> {
    /// How many ids it holds (an event's cell must be below it).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CellInterner {
    /// The dictionary as a checkpoint keeps it.
    pub fn save(&self) -> SavedCells<'_> {
        SavedCells {
            keys: self
                .keys
                .iter()
                .map(|k| std::borrow::Cow::Borrowed(&k[..]))
                .collect(),
            last_ms: self.last_ms.clone(),
            free: self.free.clone(),
        }
    }

    /// Replaces every cell with a saved dictionary, so each gets its id
    /// back; readers see the new list. A saved state that does not hold
    /// together (from another engine or damaged) changes nothing.
    pub fn restore(&mut self, saved: &SavedCells<'_>) -> Result<(), String> {
        let n = saved.keys.len();
        if n > MAX_CELLS {
            return Err(format!("{n} cells, past the limit of {MAX_CELLS}"));
        }
        if saved.last_ms.len() != n {
            return Err("cell times that do not match the cells".into());
        }
        let mut is_free = vec![false; n];
        for &id in &saved.free {
            match is_free.get_mut(id as usize) {
                Some(f) if !*f => *f = true,
                _ => return Err("a freed cell out of range or listed twice".into()),
            }
        }
        let mut ids = HashMap::with_capacity(n);
        let mut list = Vec::with_capacity(n);
        for (id, key) in saved.keys.iter().enumerate() {
            let dims = DimKey::from_bytes(key).ok_or("a cell that does not decode")?;
            list.push(dims.values().into());
            if !is_free[id] && ids.insert(Box::from(&key[..]), id as CellId).is_some() {
                return Err("a cell listed twice".into());
            }
        }
        self.oldest_ms = (ids.values())
            .map(|&id| saved.last_ms[id as usize])
            .min()
            .unwrap_or(Millis::MAX);
        self.ids = ids;
        self.keys = saved.keys.iter().map(|k| Box::from(&k[..])).collect();
        self.last_ms = saved.last_ms.clone();
        self.free = saved.free.clone();
        let mut shared = match self.shared.write() {
            Ok(shared) => shared,
            Err(poisoned) => poisoned.into_inner(),
        };
        shared.list = list;
        shared.generation += 1;
        shared.live = self.ids.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(i: usize) -> DimKey {
        DimKey::from_values(&[Value::str(&format!("t{i}"))])
    }

    /// A full dictionary frees the cells with no event after the horizon,
    /// reuses their ids, bumps the generation, and a checkpoint brings
    /// back the same ids, times and free list.
    #[test]
    fn dead_cells_are_freed_reused_and_saved() {
        let mut cells = CellInterner::default();
        for i in 0..MAX_CELLS {
            let ts = if i < 3 { 100 } else { 5_000 };
            assert_eq!(cells.intern(&dims(i), ts, 0), Some(i as CellId));
        }
        let reader = cells.dictionary();
        assert_eq!(
            cells.intern(&dims(MAX_CELLS), 6_000, 100),
            None,
            "none dead yet"
        );
        let generation = reader.generation();
        assert_eq!(cells.intern(&dims(MAX_CELLS), 6_000, 101), Some(0));
        assert_ne!(reader.generation(), generation);
        assert_eq!(reader.snapshot()[0], dims(MAX_CELLS).values().into());
        assert_eq!(reader.len(), MAX_CELLS - 2);
        let mut restored = CellInterner::default();
        restored.restore(&cells.save()).unwrap();
        assert_eq!(restored.intern(&dims(MAX_CELLS), 6_000, 101), Some(0));
        assert_eq!(restored.intern(&dims(7), 6_000, 101), Some(7));
        assert_eq!(
            restored.intern(&dims(1), 6_000, 101),
            Some(1),
            "freed, taken again"
        );
        assert_eq!(restored.intern(&dims(MAX_CELLS + 1), 6_000, 101), Some(2));
        assert_eq!(restored.intern(&dims(MAX_CELLS + 2), 6_000, 101), None);
    }
}
