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
//! A slot's metric aggregates live in the slot ([`super::MetricAggs`] keeps up
//! to two inline), so a new slot allocates only for its sketches.
//!
//! **Packed form.** Most entities of a day-long stream see a handful of
//! events, and as slots each would cost far more than the event itself. So
//! a store starts *packed*: its events are kept as a log of varint-packed
//! records, newest first, in one allocation (see `log.rs`: about 14 bytes
//! for a reels view), and the store is promoted to the two tiers when the
//! log passes [`super::LOG_MAX_BYTES`], by replaying it. A packed store
//! answers through the same methods with the same answers: `fold` hands
//! over one aggregate per packed event where panes hand one per slot
//! (callers sum them), and a packed event an hour behind the store's clock
//! counts as folded into its minute, so 1 s windows, pane lists and bucket
//! starts match. A [`PaneStore`] is 16 bytes either way.

use super::agg::{Agg, Detail};
use super::log::Log;
use super::sketch::{SketchInput, SketchLayout};
use super::spec::WindowSpec;
use super::tiers::{Tiers, SPAN_ANY};
use crate::event::CellId;
use crate::time::Millis;

/// The rolling state of one entity or global partial; see the module docs.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct PaneStore {
    repr: Repr,
}

/// The two forms of a store. An entity is 16 bytes in its map either way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Repr {
    /// Packed events in one allocation, up to [`super::LOG_MAX_BYTES`].
    Packed(Log),
    /// Two-tier panes, once the store has taken more events.
    Panes(Box<Tiers>),
}

/// A hint to load the cache line at `p`; nothing on other architectures.
#[inline]
pub(crate) fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults and reads nothing
    // the program sees, whatever the address; SSE is part of every
    // x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Log::default())
    }
}

impl PaneStore {
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Packed(c) => c.is_empty(),
            Repr::Panes(t) => t.is_empty(),
        }
    }

    /// Number of slots held (packed events, for a packed store), for stats
    /// and memory accounting.
    pub fn slots(&self) -> usize {
        match &self.repr {
            Repr::Packed(c) => c.len(),
            Repr::Panes(t) => t.slots(),
        }
    }

    /// Events held (see [`Tiers::events`] for a summarised store). It
    /// reads the whole state: the sweep and restores call it, not queries.
    pub fn events(&self) -> u64 {
        match &self.repr {
            Repr::Packed(c) => c.len() as u64,
            Repr::Panes(t) => t.events(),
        }
    }

    /// Bytes of a packed store's log (0 once promoted), for tests and stats.
    pub fn bytes(&self) -> usize {
        match &self.repr {
            Repr::Packed(c) => c.bytes(),
            Repr::Panes(_) => 0,
        }
    }

    /// Asks the CPU to start loading the head of this store's state (a
    /// packed log's header and newest records), for a scan that will read
    /// it soon: a fan-out over many entities reads one separately
    /// allocated log after another, and without this each one waits for
    /// memory (docs/performance.md).
    pub fn prefetch(&self) {
        let head: *const u8 = match &self.repr {
            Repr::Packed(log) => log.head(),
            Repr::Panes(tiers) => std::ptr::from_ref::<Tiers>(tiers).cast(),
        };
        prefetch_read(head);
    }

    /// Whether the store still keeps packed events (not promoted to panes).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
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

    /// Adds one event, feeding the sketches its store keeps. A packed
    /// store that is full (or cannot record the event) is promoted first:
    /// its packed events are replayed into panes.
    pub fn add_sketched(
        &mut self,
        ts_ms: Millis,
        cell: CellId,
        metrics: &[f64],
        sketches: SketchInput,
        now_ms: Millis,
    ) {
        if let Repr::Packed(c) = &mut self.repr {
            if c.push(ts_ms, cell, metrics, &sketches, now_ms) {
                return;
            }
            let mut tiers = Tiers::for_layout(sketches.layout);
            c.replay(&sketches.layout.distinct, |ts, cell, metrics, hashes| {
                let input = SketchInput {
                    layout: sketches.layout,
                    hashes,
                };
                tiers.add_sketched(ts, cell, metrics, input, now_ms);
            });
            self.repr = Repr::Panes(Box::new(tiers));
        }
        if let Repr::Panes(t) = &mut self.repr {
            t.add_sketched(ts_ms, cell, metrics, sketches, now_ms);
        }
    }

    /// Drops everything at or before the retention horizon and folds old
    /// seconds. Returns whether the store is now empty (the entity can be
    /// passivated).
    pub fn expire(&mut self, now_ms: Millis, retention_ms: Millis) -> bool {
        match &mut self.repr {
            Repr::Packed(c) => {
                c.expire(now_ms, retention_ms);
                c.is_empty()
            }
            Repr::Panes(t) => t.expire(now_ms, retention_ms),
        }
    }

    /// The minute of the oldest event held, `None` when empty: the store
    /// has nothing to expire while it is after the retention horizon.
    pub fn oldest_minute(&self) -> Option<i64> {
        match &self.repr {
            Repr::Packed(c) => c.records().last().map(|r| r.sec.div_euclid(60)),
            Repr::Panes(t) => {
                let coarse = t.coarse.first().map(|s| s.pane);
                let fine = t.fine.first().map(|s| s.pane.div_euclid(60));
                coarse.into_iter().chain(fine).min()
            }
        }
    }

    /// Calls `f` for every slot inside the window. Slots after `now` (events
    /// admitted after the query was planned) are skipped. A packed store
    /// calls `f` once per packed event, with that event's aggregate, where
    /// panes would call it once per slot: callers sum what they are given
    /// (in any order), so the answer is the same.
    pub fn fold(&self, window: &WindowSpec, mut f: impl FnMut(CellId, &Agg)) {
        self.fold_spans(window, SPAN_ANY, Detail::Sketches, |_, cell, agg| {
            f(cell, agg)
        });
    }

    /// [`Self::fold`], also passing each slot's start in epoch milliseconds
    /// (for time buckets), with no slot longer than `span_ms` (a time
    /// bucket's width divides it, so no slot straddles a bucket edge). A
    /// coarse slot (or packed event in the coarse range) starts on its
    /// minute; a summarised store's hour slot on its hour. A packed store
    /// fills its one-event aggregates only as far as `detail` asks (a
    /// reader that needs no sketches spares building them per event).
    pub fn fold_spans(
        &self,
        window: &WindowSpec,
        span_ms: Millis,
        detail: Detail,
        f: impl FnMut(Millis, CellId, &Agg),
    ) {
        self.fold_spans_as(window, span_ms, detail, false, f)
    }

    /// [`Self::fold_spans`] for a reader that merges every cell into one
    /// group: a summarised store may hand each whole hour as one slot of
    /// cell [`super::ALL_CELLS`] instead of one slot per cell.
    pub fn fold_spans_merged(
        &self,
        window: &WindowSpec,
        span_ms: Millis,
        detail: Detail,
        f: impl FnMut(Millis, CellId, &Agg),
    ) {
        self.fold_spans_as(window, span_ms, detail, true, f)
    }

    fn fold_spans_as(
        &self,
        window: &WindowSpec,
        span_ms: Millis,
        detail: Detail,
        merged: bool,
        mut f: impl FnMut(Millis, CellId, &Agg),
    ) {
        match &self.repr {
            Repr::Packed(c) => c.fold_timed(window, detail, &mut f),
            Repr::Panes(t) => t.fold_spans(window, span_ms, merged, &mut f),
        }
    }

    /// Whether this store keeps hour summaries (a shard's share of the
    /// global state), so that [`Self::fold_spans_merged`] can save work.
    pub fn is_summarised(&self) -> bool {
        matches!(&self.repr, Repr::Panes(t) if t.is_summarised())
    }

    /// The newest pane holding a slot, in units of `pane_secs` (1 or 60).
    pub fn newest_pane(&self, pane_secs: i64) -> Option<i64> {
        match &self.repr {
            Repr::Packed(c) => c.newest_pane(pane_secs),
            Repr::Panes(t) => t.newest_pane(pane_secs),
        }
    }

    /// Calls `f` with every pane (seconds when `pane_secs` is 1, minutes
    /// when it is 60) in `first..=last` that holds at least one slot, in
    /// ascending order, each once. With 1 s panes only the fine tier is
    /// read: seconds older than the last hour live in their minutes.
    ///
    /// Continuous rules use it to find the windows an event changes.
    pub fn for_each_pane(&self, pane_secs: i64, first: i64, last: i64, f: impl FnMut(i64)) {
        match &self.repr {
            Repr::Packed(c) => c.for_each_pane(pane_secs, first, last, f),
            Repr::Panes(t) => t.for_each_pane(pane_secs, first, last, f),
        }
    }

    /// The fine tier (empty while packed), for tests of folding.
    #[cfg(test)]
    fn fine(&self) -> &[super::tiers::Slot] {
        match &self.repr {
            Repr::Packed(_) => &[],
            Repr::Panes(t) => &t.fine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::LOG_MAX_BYTES;

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
        let mut s = panes_only();
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
            s.fine().len() == 1,
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

    fn panes_only() -> PaneStore {
        PaneStore {
            repr: Repr::Panes(Box::default()),
        }
    }

    fn sketch_layout() -> SketchLayout {
        SketchLayout {
            percentiles: vec![1],
            distinct: vec![0, 2],
            ..SketchLayout::default()
        }
    }

    /// What a window reads, summed per (pane start, cell).
    fn read(
        s: &PaneStore,
        window: &WindowSpec,
    ) -> std::collections::BTreeMap<(Millis, CellId), Agg> {
        let mut out = std::collections::BTreeMap::new();
        s.fold_spans(window, 1000, Detail::Sketches, |start, cell, agg| {
            out.entry((start, cell))
                .or_insert_with(|| Agg::new(agg.metrics.len()))
                .merge(agg);
        });
        out
    }

    #[test]
    fn a_store_is_packed_until_its_log_is_full() {
        assert_eq!(std::mem::size_of::<PaneStore>(), 16);
        let layout = sketch_layout();
        let mut s = PaneStore::default();
        assert!(s.is_packed() && s.is_empty() && s.slots() == 0);
        let mut i = 0;
        while s.bytes() < LOG_MAX_BYTES {
            let hashes = [(i as u64 + 1) << 40, 0, 0];
            let input = SketchInput {
                layout: &layout,
                hashes: &hashes,
            };
            s.add_sketched(T0 + i * 1000, 1, &[1.0, i as f64], input, T0 + i * 1000);
            i += 1;
        }
        assert!(s.is_packed());
        assert_eq!(s.slots(), i as usize);
        let now = T0 + i * 1000;
        let window = WindowSpec {
            length_ms: 3_600_000,
            now_ms: now,
        };
        let before = read(&s, &window);
        let input = SketchInput {
            layout: &layout,
            hashes: &[7 << 40, 0, 0],
        };
        s.add_sketched(now, 2, &[1.0, 2.0], input, now);
        assert!(!s.is_packed(), "promoted to panes");
        let mut after = read(&s, &window);
        assert_eq!(after.remove(&(now, 2)).map(|a| a.count), Some(1));
        assert_eq!(before, after, "promotion keeps every slot");
    }

    #[test]
    fn events_a_packed_store_cannot_record_promote_it() {
        let mut s = PaneStore::default();
        s.add(-5_000, 0, &[1.0], 0); // before 1970: no u32 second
        assert!(!s.is_packed());
        let mut s = PaneStore::default();
        s.add(T0, 70_000, &[1.0], T0); // any cell fits a varint
        assert!(s.is_packed());
        assert_eq!(count(&s, 1000, T0), 1);
    }

    #[test]
    fn packed_expiry_frees_the_store() {
        let mut s = PaneStore::default();
        s.add(T0, 0, &[1.0], T0);
        s.add(T0 + 3 * 3_600_000, 0, &[1.0], T0 + 3 * 3_600_000);
        assert!(s.is_packed());
        // The first event's minute leaves a 2 h retention; the second stays.
        assert!(!s.expire(T0 + 3 * 3_600_000, 2 * 3_600_000));
        assert_eq!(s.slots(), 1);
        assert_eq!(count(&s, 86_400_000, T0 + 3 * 3_600_000), 1);
        assert!(s.expire(T0 + 6 * 3_600_000, 2 * 3_600_000));
        assert!(s.is_packed() && s.is_empty());
    }

    /// One step of a random history: an event `ms` after T0 (arriving in
    /// any order), or a sweep.
    #[derive(Debug, Clone)]
    enum Step {
        /// An event this far behind the clock (ahead when negative): the
        /// edges of the fine tier.
        Aged {
            age_ms: i64,
            cell: CellId,
        },
        Event {
            ms: i64,
            cell: CellId,
            metric: Option<i32>,
            hash: Option<u64>,
        },
        Expire,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            9 => (
                // Mostly within minutes of each other, sometimes hours apart.
                prop_oneof![0..180_000i64, 0..4 * 3_600_000i64],
                0..3u32,
                proptest::option::of(-1000..1000i32),
                proptest::option::of(any::<u64>()),
            )
                .prop_map(|(ms, cell, metric, hash)| Step::Event { ms, cell, metric, hash }),
            2 => (
                proptest::sample::select(vec![
                    -3_600_000, -1000, 0, 999, 1000, 3_599_000, 3_600_000, 3_600_999, 3_601_000,
                ]),
                0..3u32,
            )
                .prop_map(|(age_ms, cell)| Step::Aged { age_ms, cell }),
            1 => Just(Step::Expire),
        ]
    }

    /// Applies one step to two stores, as the engine would with admission
    /// in front: false (nothing applied) for an event admission rejects as
    /// too late. Both stores must give the same expiry verdict and agree on
    /// being empty.
    fn apply(
        step: &Step,
        start: Millis,
        now: &mut Millis,
        retention: Millis,
        stores: [&mut PaneStore; 2],
    ) -> Result<bool, proptest::test_runner::TestCaseError> {
        let layout = sketch_layout();
        let [a, b] = stores;
        let event = match *step {
            Step::Aged { age_ms, cell } => {
                Some((*now - age_ms, cell, Some(7), Some(age_ms as u64)))
            }
            Step::Event {
                ms,
                cell,
                metric,
                hash,
            } => Some((start + ms, cell, metric, hash)),
            Step::Expire => None,
        };
        match event {
            Some((ts, cell, metric, hash)) => {
                *now = (*now).max(ts);
                if ts <= *now - retention {
                    return Ok(false);
                }
                let metrics = [1.5, metric.map_or(f64::NAN, f64::from)];
                let hashes = [hash.unwrap_or(0), 0, hash.map_or(0, |h| h.rotate_left(7))];
                for s in [&mut *a, &mut *b] {
                    let input = SketchInput {
                        layout: &layout,
                        hashes: &hashes,
                    };
                    s.add_sketched(ts, cell, &metrics, input, *now);
                }
            }
            None => {
                let (x, y) = (a.expire(*now, retention), b.expire(*now, retention));
                proptest::prop_assert_eq!(x, y);
            }
        }
        proptest::prop_assert_eq!(a.is_empty(), b.is_empty());
        Ok(true)
    }

    /// Two stores list the same occupied panes, over all time and over
    /// windows at the edges of the fine tier.
    fn panes_agree(
        a: &PaneStore,
        b: &PaneStore,
        now: Millis,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let now_sec = now.div_euclid(1000);
        for (secs, first, last) in [
            (1, i64::MIN, i64::MAX),
            (1, now_sec - 3599, now_sec - 30),
            (60, i64::MIN, i64::MAX),
            (60, now_sec / 60 - 90, now_sec / 60 - 1),
        ] {
            let list = |s: &PaneStore| {
                let mut v = Vec::new();
                s.for_each_pane(secs, first, last, |p| v.push(p));
                v
            };
            proptest::prop_assert_eq!(list(a), list(b));
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn packed_stores_answer_as_panes_do(
            steps in proptest::collection::vec(step(), 1..14),
            shift in 0..4 * 3_600_000i64,
        ) {
            let retention = 3 * 3_600_000;
            let (mut packed, mut panes) = (PaneStore::default(), panes_only());
            let mut now = T0 + shift;
            for step in &steps {
                if !apply(step, T0 + shift, &mut now, retention, [&mut packed, &mut panes])? {
                    continue; // admission rejects it as too late
                }
                for secs in [1, 60] {
                    proptest::prop_assert_eq!(packed.newest_pane(secs), panes.newest_pane(secs));
                }
                panes_agree(&packed, &panes, now)?;
                for length_s in [1, 10, 60, 900, 3600, 7200, 3 * 3600] {
                    for now_ms in [now, now - 1500, now + 61_000] {
                        let window = WindowSpec { length_ms: length_s * 1000, now_ms };
                        proptest::prop_assert_eq!(read(&packed, &window), read(&panes, &window));
                    }
                }
            }
        }
    }

    fn summarised_only() -> PaneStore {
        let layout = SketchLayout {
            summarised: true,
            ..sketch_layout()
        };
        PaneStore {
            repr: Repr::Panes(Box::new(Tiers::for_layout(&layout))),
        }
    }

    /// [`read_by`]'s slots merged over cells, per slot start.
    fn all_cells(
        by_cell: std::collections::BTreeMap<(Millis, CellId), Agg>,
    ) -> std::collections::BTreeMap<Millis, Agg> {
        let mut out = std::collections::BTreeMap::new();
        for ((start, _), agg) in by_cell {
            out.entry(start)
                .or_insert_with(|| Agg::new(agg.metrics.len()))
                .merge(&agg);
        }
        out
    }

    /// What a reader that merges all cells gets, per slot start.
    fn read_merged(
        s: &PaneStore,
        window: &WindowSpec,
        span_ms: Millis,
        unit_ms: Millis,
    ) -> std::collections::BTreeMap<Millis, Agg> {
        let mut out = std::collections::BTreeMap::new();
        s.fold_spans_merged(window, span_ms, Detail::Sketches, |start, _, agg| {
            out.entry(start.div_euclid(unit_ms))
                .or_insert_with(|| Agg::new(agg.metrics.len()))
                .merge(agg);
        });
        out
    }

    /// What a window reads, summed per (slot start in units of `unit_ms`,
    /// cell), with slots no longer than `span_ms`.
    fn read_by(
        s: &PaneStore,
        window: &WindowSpec,
        span_ms: Millis,
        unit_ms: Millis,
    ) -> std::collections::BTreeMap<(Millis, CellId), Agg> {
        let mut out = std::collections::BTreeMap::new();
        s.fold_spans(window, span_ms, Detail::Sketches, |start, cell, agg| {
            out.entry((start.div_euclid(unit_ms), cell))
                .or_insert_with(|| Agg::new(agg.metrics.len()))
                .merge(agg);
        });
        out
    }

    #[test]
    fn a_summarised_store_reads_hours_and_minutes_for_long_windows() {
        let mut s = summarised_only();
        let now = T0 + 5 * 3_600_000 + 30_500;
        let layout = sketch_layout();
        for i in 0..5 * 3600 {
            let ts = T0 + 30_500 + i * 1000;
            let input = SketchInput {
                layout: &layout,
                hashes: &[i as u64 + 1, 0, 0],
            };
            s.add_sketched(ts, 0, &[1.0, 2.0], input, ts);
        }
        let mut slots = 0;
        let mut events = 0;
        s.fold(
            &WindowSpec {
                length_ms: 4 * 3_600_000,
                now_ms: now,
            },
            |_, a| {
                slots += 1;
                events += a.count;
            },
        );
        assert_eq!(events, 4 * 3600 - 30, "whole minutes of 4 h");
        // 3 whole hours, the 59 oldest edge minutes, and the newest hour
        // read whole though it has only begun: nothing lies after now.
        assert_eq!(slots, 4 + 59, "slots read");
    }

    #[test]
    fn a_merged_read_takes_each_whole_hour_of_all_cells_at_once() {
        let mut s = summarised_only();
        let layout = sketch_layout();
        for i in 0..5 * 3600 {
            let ts = T0 + 30_500 + i * 1000;
            let input = SketchInput {
                layout: &layout,
                hashes: &[i as u64 + 1, 0, 0],
            };
            s.add_sketched(ts, (i % 3) as CellId, &[1.0, 2.0], input, ts);
        }
        let window = WindowSpec {
            length_ms: 4 * 3_600_000,
            now_ms: T0 + 5 * 3_600_000 + 30_500,
        };
        let count = |merged: bool| {
            let (mut slots, mut events) = (0, 0);
            let mut f = |_, _, a: &Agg| {
                slots += 1;
                events += a.count;
            };
            match merged {
                true => s.fold_spans_merged(&window, SPAN_ANY, Detail::Sketches, &mut f),
                false => s.fold_spans(&window, SPAN_ANY, Detail::Sketches, &mut f),
            }
            (slots, events)
        };
        // 3 whole hours, per cell or once for all cells; the newest hour has
        // begun, but its one minute is open (in no hour slot yet), so it
        // is read per cell, as are the 59 edge minutes.
        assert_eq!(count(false), (3 * (3 + 1 + 59), 4 * 3600 - 30));
        assert_eq!(count(true), (3 + 3 * (1 + 59), 4 * 3600 - 30));
    }

    #[test]
    fn an_hour_with_an_expired_minute_is_not_read_whole() {
        // Expiry at T0 + 4 h drops minute 60 of the day, the first of hour
        // 1; a 3 h window read 1.5 s earlier starts on that minute, so hour
        // 1 lies inside it but lacks a minute.
        let (mut folded, mut summarised) = (panes_only(), summarised_only());
        for s in [&mut folded, &mut summarised] {
            for minute in 0..=240 {
                let ts = T0 + minute * 60_000;
                s.add(ts, 0, &[1.0], ts);
            }
            s.expire(T0 + 4 * 3_600_000 + 500, 3 * 3_600_000);
        }
        let window = WindowSpec {
            length_ms: 3 * 3_600_000,
            now_ms: T0 + 4 * 3_600_000 - 1000,
        };
        let read = |s| read_by(s, &window, SPAN_ANY, Millis::MAX);
        assert_eq!(read(&folded), read(&summarised));
        assert_eq!(read(&folded)[&(0, 0)].count, 179);
    }

    proptest::proptest! {
        #[test]
        fn summarised_stores_answer_as_folded_ones_do(
            steps in proptest::collection::vec(step(), 1..40),
            shift in 0..4 * 3_600_000i64,
        ) {
            let retention = 3 * 3_600_000;
            let (mut folded, mut summarised) = (panes_only(), summarised_only());
            let mut now = T0 + shift;
            for step in &steps {
                if !apply(step, T0 + shift, &mut now, retention, [&mut folded, &mut summarised])? {
                    continue; // admission rejects it as too late
                }
                proptest::prop_assert_eq!(folded.oldest_minute(), summarised.oldest_minute());
                for secs in [1, 60] {
                    proptest::prop_assert_eq!(folded.newest_pane(secs), summarised.newest_pane(secs));
                }
                panes_agree(&folded, &summarised, now)?;
                for length_s in [1, 10, 60, 120, 900, 3600, 7200, 3 * 3600] {
                    for now_ms in [now, now - 1500, now + 61_000, now + 3_600_000] {
                        let window = WindowSpec { length_ms: length_s * 1000, now_ms };
                        // Per cell, per bucket of each width a reader may ask.
                        // (A bucket is a whole number of the window's panes.)
                        for (span, unit) in [(SPAN_ANY, Millis::MAX), (3_600_000, 3_600_000), (60_000, 60_000), (1000, 1000)] {
                            if span < 1000 * window.pane_secs() {
                                continue;
                            }
                            proptest::prop_assert_eq!(
                                read_by(&folded, &window, span, unit),
                                read_by(&summarised, &window, span, unit),
                                "window {}s at {}, span {}", length_s, now_ms, span
                            );
                            // A reader merging all cells, served whole hours
                            // of all cells at once, gets what merging the
                            // cells of the per-cell read gives.
                            proptest::prop_assert_eq!(
                                all_cells(read_by(&folded, &window, span, unit)),
                                read_merged(&summarised, &window, span, unit),
                                "merged: window {}s at {}, span {}", length_s, now_ms, span
                            );
                        }
                    }
                }
            }
        }
    }
}
