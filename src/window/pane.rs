//! Panes: the rolling state of one entity (or of a shard's global share).
//!
//! State is kept in two tiers of time panes, each a sorted run of
//! `(pane, cell) → Agg` slots:
//!
//! - the **fine** tier holds 1-second panes for the last hour;
//! - the **coarse** tier holds 1-minute panes for the rest of retention.
//!
//! A fine slot that falls more than an hour behind "now" is folded into its
//! minute. Windows up to 1 h read only the fine tier with 1 s edges; longer
//! windows read both tiers with 1 min edges (a second belongs to exactly one
//! minute, so this is exact). Folding is a memory optimisation only: queries
//! give the same answer before and after it.
//!
//! Slots are sparse: an entity that saw five events holds at most five slots.

use super::agg::Agg;
use super::sketch::{SketchInput, SketchLayout};
use crate::event::CellId;
use crate::time::Millis;

/// Fine panes cover the last hour; windows longer than this use minutes.
pub const FINE_SPAN_SECS: i64 = 3600;

/// Which panes a window reads and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length in milliseconds (a whole number of panes).
    pub length_ms: Millis,
    /// The clock: the end of the window.
    pub now_ms: Millis,
}

impl WindowSpec {
    /// Pane size in seconds: 1 for windows up to an hour, 60 beyond.
    pub fn pane_secs(&self) -> i64 {
        if self.length_ms <= FINE_SPAN_SECS * 1000 {
            1
        } else {
            60
        }
    }

    /// The first pane (in units of [`Self::pane_secs`]) inside the window:
    /// a pane p counts when p > floor(now/P) − d/P.
    pub fn first_pane(&self) -> i64 {
        let p = self.pane_secs();
        self.now_ms.div_euclid(1000 * p) - self.length_ms / (1000 * p) + 1
    }

    /// Whether an event at `ts_ms` is inside the window (the rule of SPEC §4).
    pub fn contains(&self, ts_ms: Millis) -> bool {
        let p = self.pane_secs();
        ts_ms.div_euclid(1000 * p) >= self.first_pane() && ts_ms <= self.now_ms
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Slot {
    /// Seconds (fine tier) or minutes (coarse tier) since the epoch.
    pane: i64,
    cell: CellId,
    agg: Agg,
}

/// Two-tier sparse panes; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PaneStore {
    fine: Vec<Slot>,
    coarse: Vec<Slot>,
}

impl PaneStore {
    pub fn is_empty(&self) -> bool {
        self.fine.is_empty() && self.coarse.is_empty()
    }

    /// Number of slots held, for stats and memory accounting.
    pub fn slots(&self) -> usize {
        self.fine.len() + self.coarse.len()
    }

    /// Adds one event. `now_ms` is the clock after admitting it.
    pub fn add(&mut self, ts_ms: Millis, cell: CellId, metrics: &[f64], now_ms: Millis) {
        let none = SketchLayout::default();
        let input = SketchInput {
            layout: &none,
            hashes: &[],
        };
        self.add_sketched(ts_ms, cell, metrics, input, now_ms);
    }

    /// Adds one event, feeding the sketches its store keeps.
    pub fn add_sketched(
        &mut self,
        ts_ms: Millis,
        cell: CellId,
        metrics: &[f64],
        sketches: SketchInput,
        now_ms: Millis,
    ) {
        let sec = ts_ms.div_euclid(1000);
        let now_sec = now_ms.div_euclid(1000);
        let agg = if sec > now_sec - FINE_SPAN_SECS {
            upsert(&mut self.fine, sec, cell, metrics.len())
        } else {
            upsert(&mut self.coarse, sec.div_euclid(60), cell, metrics.len())
        };
        agg.add_sketched(metrics, sketches);
        self.fold_old_seconds(now_sec);
    }

    /// Moves fine slots that left the last hour into their minutes.
    fn fold_old_seconds(&mut self, now_sec: i64) {
        let horizon = now_sec - FINE_SPAN_SECS;
        // The common case, on every event: nothing is old yet.
        if self.fine.first().is_none_or(|s| s.pane > horizon) {
            return;
        }
        let old = self.fine.partition_point(|s| s.pane <= horizon);
        if old == 0 {
            return;
        }
        for slot in self.fine.drain(..old) {
            let n = slot.agg.metrics.len();
            let minute = upsert(&mut self.coarse, slot.pane.div_euclid(60), slot.cell, n);
            if minute.count == 0 {
                // The minute's first second: move it (sketches and all).
                *minute = slot.agg;
            } else {
                minute.merge(&slot.agg);
            }
        }
    }

    /// Drops everything at or before the retention horizon and folds old
    /// seconds. Returns whether the store is now empty (the entity can be
    /// passivated).
    pub fn expire(&mut self, now_ms: Millis, retention_ms: Millis) -> bool {
        let now_sec = now_ms.div_euclid(1000);
        self.fold_old_seconds(now_sec);
        let horizon_min = now_ms.div_euclid(60_000) - retention_ms / 60_000;
        let keep = self.coarse.partition_point(|s| s.pane <= horizon_min);
        self.coarse.drain(..keep);
        let horizon_sec = now_sec - retention_ms / 1000;
        let keep = self.fine.partition_point(|s| s.pane <= horizon_sec);
        self.fine.drain(..keep);
        self.is_empty()
    }

    /// Calls `f` for every slot inside the window. Slots after `now` (events
    /// admitted after the query was planned) are skipped.
    pub fn fold(&self, window: &WindowSpec, mut f: impl FnMut(CellId, &Agg)) {
        self.fold_timed(window, |_, cell, agg| f(cell, agg));
    }

    /// [`Self::fold`], also passing each slot's pane start in epoch
    /// milliseconds (for time buckets). A coarse slot starts on its minute.
    pub fn fold_timed(&self, window: &WindowSpec, mut f: impl FnMut(Millis, CellId, &Agg)) {
        let first = window.first_pane();
        let last_sec = window.now_ms.div_euclid(1000);
        if window.pane_secs() == 1 {
            let start = self.fine.partition_point(|s| s.pane < first);
            for s in self.fine[start..].iter().take_while(|s| s.pane <= last_sec) {
                f(s.pane * 1000, s.cell, &s.agg);
            }
        } else {
            let last_min = last_sec.div_euclid(60);
            let start = self.coarse.partition_point(|s| s.pane < first);
            for s in self.coarse[start..]
                .iter()
                .take_while(|s| s.pane <= last_min)
            {
                f(s.pane * 60_000, s.cell, &s.agg);
            }
            let start = self.fine.partition_point(|s| s.pane.div_euclid(60) < first);
            for s in self.fine[start..].iter().take_while(|s| s.pane <= last_sec) {
                f(s.pane * 1000, s.cell, &s.agg);
            }
        }
    }
}

impl PaneStore {
    /// The newest pane holding a slot, in units of `pane_secs` (1 or 60).
    pub fn newest_pane(&self, pane_secs: i64) -> Option<i64> {
        match (self.fine.last(), self.coarse.last()) {
            (Some(fine), _) => Some(fine.pane.div_euclid(pane_secs)),
            (None, Some(coarse)) => Some(if pane_secs == 60 {
                coarse.pane
            } else {
                coarse.pane * 60 + 59
            }),
            (None, None) => None,
        }
    }

    /// Calls `f` with every pane (seconds when `pane_secs` is 1, minutes
    /// when it is 60) in `first..=last` that holds at least one slot, in
    /// ascending order, each once. With 1 s panes only the fine tier is
    /// read: seconds older than the last hour live in their minutes.
    ///
    /// Continuous rules use it to find the windows an event changes.
    pub fn for_each_pane(&self, pane_secs: i64, first: i64, last: i64, mut f: impl FnMut(i64)) {
        let mut previous = None;
        let mut visit = |pane: i64| {
            if previous != Some(pane) {
                previous = Some(pane);
                f(pane);
            }
        };
        if pane_secs == 1 {
            let start = self.fine.partition_point(|s| s.pane < first);
            for s in self.fine[start..].iter().take_while(|s| s.pane <= last) {
                visit(s.pane);
            }
            return;
        }
        // Every coarse minute is at or before every fine second's minute
        // (seconds move to the coarse tier oldest first), so the two runs
        // concatenate in order.
        let start = self.coarse.partition_point(|s| s.pane < first);
        for s in self.coarse[start..].iter().take_while(|s| s.pane <= last) {
            visit(s.pane);
        }
        let start = self.fine.partition_point(|s| s.pane.div_euclid(60) < first);
        for s in self.fine[start..]
            .iter()
            .take_while(|s| s.pane.div_euclid(60) <= last)
        {
            visit(s.pane.div_euclid(60));
        }
    }
}

/// The slot for `(pane, cell)`, inserted in order if absent. Events mostly
/// arrive in time order, so the search starts from the end.
fn upsert(slots: &mut Vec<Slot>, pane: i64, cell: CellId, metrics: usize) -> &mut Agg {
    let at = match slots.last() {
        Some(last) if (last.pane, last.cell) < (pane, cell) => Err(slots.len()),
        _ => slots.binary_search_by(|s| (s.pane, s.cell).cmp(&(pane, cell))),
    };
    let i = match at {
        Ok(i) => i,
        Err(i) => {
            slots.insert(
                i,
                Slot {
                    pane,
                    cell,
                    agg: Agg::new(metrics),
                },
            );
            i
        }
    };
    &mut slots[i].agg
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_736_899_200_000; // 2025-01-15T00:00:00Z

    fn count(store: &PaneStore, length_ms: Millis, now_ms: Millis) -> u64 {
        let mut n = 0;
        store.fold(&WindowSpec { length_ms, now_ms }, |_, a| n += a.count);
        n
    }

    #[test]
    fn window_edges_are_exact_at_pane_resolution() {
        let mut s = PaneStore::default();
        let now = T0 + 10_000_500; // x.5 s
                                   // Second-resolution: a 10 s window holds seconds now-9 ..= now.
        s.add(now - 9_500, 0, &[], now); // second floor(now)-9 + 0.? → in
        s.add(now - 10_500, 0, &[], now); // second floor(now)-11 → out
        s.add(now - 10_000, 0, &[], now); // second floor(now)-10 → out
        assert_eq!(count(&s, 10_000, now), 1);
        assert!(WindowSpec {
            length_ms: 10_000,
            now_ms: now
        }
        .contains(now - 9_500));
        assert!(!WindowSpec {
            length_ms: 10_000,
            now_ms: now
        }
        .contains(now - 10_000));
    }

    #[test]
    fn long_windows_use_minutes_across_both_tiers() {
        let mut s = PaneStore::default();
        let now = T0 + 5 * 3_600_000;
        s.add(now - 90 * 60_000, 0, &[], now); // coarse tier
        s.add(now - 10_000, 0, &[], now); // fine tier
        s.add(now - 121 * 60_000, 0, &[], now); // outside 2 h
        assert_eq!(count(&s, 2 * 3_600_000, now), 2);
        assert_eq!(count(&s, 3_600_000, now), 1);
    }

    #[test]
    fn folding_old_seconds_keeps_answers() {
        let mut s = PaneStore::default();
        for i in 0..100 {
            let ts = T0 + i * 37_000;
            s.add(ts, (i % 3) as CellId, &[], ts);
        }
        let now = T0 + 99 * 37_000;
        let before = count(&s, 2 * 3_600_000, now);
        let later = now + 3_600_000;
        s.add(later, 0, &[], later);
        assert_eq!(count(&s, 3 * 3_600_000, later), before + 1);
        assert!(
            s.fine.len() == 1,
            "everything but the last event was folded"
        );
    }

    #[test]
    fn for_each_pane_lists_occupied_panes_once_in_order() {
        let mut s = PaneStore::default();
        let now = T0 + 3 * 3_600_000;
        for (ts, cell) in [
            (now - 2 * 3_600_000, 0), // coarse tier
            (now - 2 * 3_600_000 + 1_000, 1),
            (now - 10_000, 0),
            (now - 10_000, 1),
            (now - 9_000, 0),
            (now, 2),
        ] {
            s.add(ts, cell, &[], now);
        }
        let panes = |secs, first, last| {
            let mut v = Vec::new();
            s.for_each_pane(secs, first, last, |p| v.push(p));
            v
        };
        let now_sec = now / 1000;
        assert_eq!(
            panes(1, i64::MIN, i64::MAX),
            vec![now_sec - 10, now_sec - 9, now_sec]
        );
        assert_eq!(panes(1, now_sec - 9, now_sec - 1), vec![now_sec - 9]);
        let m = |ts: Millis| ts.div_euclid(60_000);
        assert_eq!(
            panes(60, i64::MIN, i64::MAX),
            vec![m(now - 2 * 3_600_000), m(now - 10_000), m(now)]
                .into_iter()
                .fold(Vec::new(), |mut v, p| {
                    if v.last() != Some(&p) {
                        v.push(p);
                    }
                    v
                })
        );
        assert_eq!(panes(60, m(now), m(now)), vec![m(now)]);
        assert_eq!(s.newest_pane(1), Some(now_sec));
        assert_eq!(s.newest_pane(60), Some(m(now)));
        assert_eq!(PaneStore::default().newest_pane(1), None);
    }

    #[test]
    fn expiry_empties_the_store() {
        let mut s = PaneStore::default();
        s.add(T0, 0, &[1.0], T0);
        assert!(!s.expire(T0 + 3_600_000, 86_400_000));
        assert!(s.expire(T0 + 86_400_000 + 60_000, 86_400_000));
    }
}
