//! The fine tier of a pane store: 1-second slots for the last hour.
//!
//! Two layouts, chosen by how full the hour is:
//!
//! - **sparse**, a sorted `Vec` of `(second, cell)` slots: right for an
//!   entity with an event now and then, which pays only for its slots;
//! - **dense**, one entry per second from the oldest held (a `VecDeque`
//!   indexed by `second − base`), each a small vector of cells sorted by
//!   id: right for the global partials and busy entities, which have a slot
//!   in most seconds. Finding a slot is an index and a search among a
//!   second's few cells, so an out-of-order event costs no binary search
//!   of thousands of slots and no memmove of everything after it, and old
//!   seconds leave from the front in O(1).
//!
//! A sparse tier turns dense once it holds [`DENSE_MIN_SLOTS`] slots and at
//! least one slot per [`DENSE_SECS_PER_SLOT`] seconds of its span (where the
//! dense index, 24 bytes a second, costs less than a third of the slots it
//! indexes). It never turns back: a store that quietens empties out of the
//! hour, and an empty dense tier holds only its (empty) deque.

use std::collections::VecDeque;

use super::agg::Agg;
use super::pane::{upsert, Slot};
use crate::event::CellId;

/// Slots before a sparse tier is considered for the dense layout.
const DENSE_MIN_SLOTS: usize = 512;
/// The sparsest a tier may be (seconds of span per slot) to turn dense.
const DENSE_SECS_PER_SLOT: usize = 2;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fine {
    Sparse(Vec<Slot>),
    Dense(DenseSeconds),
}

impl Default for Fine {
    fn default() -> Self {
        Fine::Sparse(Vec::new())
    }
}

/// One entry per second from `base`; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct DenseSeconds {
    /// The second of `panes[0]`. When not empty, the first and last
    /// entries hold at least one cell, so they are the oldest and newest
    /// seconds held.
    base: i64,
    panes: VecDeque<Vec<(CellId, Agg)>>,
    /// Slots held, across every second.
    slots: usize,
}

impl Fine {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots held.
    pub fn len(&self) -> usize {
        match self {
            Fine::Sparse(v) => v.len(),
            Fine::Dense(d) => d.slots,
        }
    }

    /// Whether the tier uses the dense layout.
    #[cfg(test)]
    pub fn is_dense(&self) -> bool {
        matches!(self, Fine::Dense(_))
    }

    /// The oldest second holding a slot.
    pub fn first_sec(&self) -> Option<i64> {
        match self {
            Fine::Sparse(v) => v.first().map(|s| s.pane),
            Fine::Dense(d) => (!d.panes.is_empty()).then_some(d.base),
        }
    }

    /// The newest second holding a slot.
    pub fn last_sec(&self) -> Option<i64> {
        match self {
            Fine::Sparse(v) => v.last().map(|s| s.pane),
            Fine::Dense(d) => d.panes.len().checked_sub(1).map(|i| d.base + i as i64),
        }
    }

    /// The slot for `(sec, cell)`, created empty if absent.
    pub fn upsert(&mut self, sec: i64, cell: CellId, metrics: usize) -> &mut Agg {
        if let Fine::Sparse(v) = self {
            if v.len() >= DENSE_MIN_SLOTS && v.len().is_multiple_of(DENSE_MIN_SLOTS / 4) {
                let span = v.last().map_or(0, |l| l.pane) - v.first().map_or(0, |f| f.pane) + 1;
                if span <= (v.len() * DENSE_SECS_PER_SLOT) as i64 {
                    *self = Fine::Dense(DenseSeconds::from_sorted(std::mem::take(v)));
                }
            }
        }
        match self {
            Fine::Sparse(v) => upsert(v, sec, cell, metrics),
            Fine::Dense(d) => d.upsert(sec, cell, metrics),
        }
    }

    /// Removes every slot at or before second `horizon`, oldest first,
    /// handing each to `f`.
    pub fn drain_through(&mut self, horizon: i64, mut f: impl FnMut(i64, CellId, Agg)) {
        match self {
            Fine::Sparse(v) => {
                let old = v.partition_point(|s| s.pane <= horizon);
                for s in v.drain(..old) {
                    f(s.pane, s.cell, s.agg);
                }
            }
            Fine::Dense(d) => {
                while !d.panes.is_empty() && d.base <= horizon {
                    if let Some(cells) = d.panes.pop_front() {
                        d.slots -= cells.len();
                        for (cell, agg) in cells {
                            f(d.base, cell, agg);
                        }
                    }
                    d.base += 1;
                }
                d.trim_front();
            }
        }
    }

    /// Calls `f` for every slot of the seconds `from..=to`, in order.
    pub fn for_range(&self, from: i64, to: i64, mut f: impl FnMut(i64, CellId, &Agg)) {
        match self {
            Fine::Sparse(v) => {
                let start = v.partition_point(|s| s.pane < from);
                for s in v[start..].iter().take_while(|s| s.pane <= to) {
                    f(s.pane, s.cell, &s.agg);
                }
            }
            Fine::Dense(d) => {
                let Some(last) = self.last_sec() else {
                    return;
                };
                let (from, to) = (from.max(d.base), to.min(last));
                for sec in from..=to {
                    if let Some(cells) = d.panes.get((sec - d.base) as usize) {
                        for (cell, agg) in cells {
                            f(sec, *cell, agg);
                        }
                    }
                }
            }
        }
    }
}

impl DenseSeconds {
    /// The dense form of sorted sparse slots.
    fn from_sorted(slots: Vec<Slot>) -> DenseSeconds {
        let mut d = DenseSeconds {
            base: slots.first().map_or(0, |s| s.pane),
            ..DenseSeconds::default()
        };
        for s in slots {
            let i = (s.pane - d.base) as usize;
            while d.panes.len() <= i {
                d.panes.push_back(Vec::new());
            }
            d.panes[i].push((s.cell, s.agg));
            d.slots += 1;
        }
        d
    }

    /// The slot for `(sec, cell)`. The caller keeps every second held
    /// within the last hour, so the deque never spans more than an hour.
    fn upsert(&mut self, sec: i64, cell: CellId, metrics: usize) -> &mut Agg {
        if self.panes.is_empty() {
            self.base = sec;
        }
        while sec < self.base {
            self.panes.push_front(Vec::new());
            self.base -= 1;
        }
        let i = (sec - self.base) as usize;
        while self.panes.len() <= i {
            self.panes.push_back(Vec::new());
        }
        let cells = &mut self.panes[i];
        let j = match cells.binary_search_by_key(&cell, |c| c.0) {
            Ok(j) => j,
            Err(j) => {
                cells.insert(j, (cell, Agg::new(metrics)));
                self.slots += 1;
                j
            }
        };
        &mut cells[j].1
    }

    /// Drops empty seconds at the front, so `base` is the oldest held.
    fn trim_front(&mut self) {
        while self.panes.front().is_some_and(|c| c.is_empty()) {
            self.panes.pop_front();
            self.base += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Everything a tier holds, in order, as (second, cell, count, sum).
    fn contents(f: &Fine, from: i64, to: i64) -> Vec<(i64, CellId, u64, f64)> {
        let mut v = Vec::new();
        f.for_range(from, to, |sec, cell, agg| {
            v.push((sec, cell, agg.count, agg.metrics[0].sum))
        });
        v
    }

    proptest! {
        /// The dense layout holds and drains exactly what the sparse one
        /// does, under events in any order within a moving window.
        #[test]
        fn dense_seconds_match_sparse_slots(
            events in proptest::collection::vec(
                (prop_oneof![20 => 0..40i64, 1 => 0..400i64], 0..6u32, 1..100i32),
                200..2500,
            ),
            drain_every in 50..400usize,
        ) {
            let (mut fine, mut sparse) = (Fine::default(), Vec::new());
            let (mut clock, mut drained) = (1_000_000i64, i64::MIN);
            for (i, &(back, cell, x)) in events.iter().enumerate() {
                clock += i64::from(i % 3 == 0); // about 3 events a second
                let sec = clock - back; // mostly up to 40 s late, at times older than all
                if sec > drained {
                    let mut a = fine.upsert(sec, cell, 1);
                    a.add(&[f64::from(x)]);
                    a = upsert(&mut sparse, sec, cell, 1);
                    a.add(&[f64::from(x)]);
                }
                if i % drain_every == 0 {
                    drained = clock - 300;
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    fine.drain_through(drained, |s, c, a| got.push((s, c, a.count)));
                    let old = sparse.partition_point(|s| s.pane <= drained);
                    want.extend(sparse.drain(..old).map(|s| (s.pane, s.cell, s.agg.count)));
                    prop_assert_eq!(got, want);
                }
                prop_assert_eq!(fine.len(), sparse.len());
                prop_assert_eq!(fine.first_sec(), sparse.first().map(|s| s.pane));
                prop_assert_eq!(fine.last_sec(), sparse.last().map(|s| s.pane));
            }
            let whole = Fine::Sparse(sparse);
            for (from, to) in [(i64::MIN, i64::MAX), (clock - 100, clock - 20), (clock, clock)] {
                prop_assert_eq!(contents(&fine, from, to), contents(&whole, from, to));
            }
            if events.len() > 1500 && drain_every > 300 {
                prop_assert!(fine.is_dense(), "a full tier turns dense");
            }
        }
    }
}
