//! The promoted form of a [`super::PaneStore`]: sparse time panes in tiers.
//!
//! - the **fine** tier holds 1-second panes for the last hour;
//! - the **coarse** tier holds 1-minute panes for the rest of retention.
//!
//! Each tier is a sorted run of `(pane, cell) → Agg` slots. In an entity's
//! store a fine slot that falls more than an hour behind "now" is *folded*
//! into its minute (merged, sketches and all), so every event lives in
//! exactly one slot.
//!
//! **Summarised stores.** A shard's share of the global state takes every
//! event of the stream, and its windows are read by every global query: a
//! 24 h distinct count over folded tiers merges 1,440 minutes plus 3,600
//! seconds of sketches per cell. So a store whose [`SketchLayout`] asks for
//! it keeps *summaries*: each event is added to its second and its minute
//! at once (two slots instead of one, and no folding: a second that leaves
//! the last hour is dropped, its minute already holds it), and each minute
//! the clock leaves is *closed*: merged into its hour's slots, one per cell
//! and one for all cells, which a late event for it then joins directly.
//! (Adding every event to its two hour slots as well cost 7 % of ingest's
//! instructions; merging a minute's slots costs a fraction of that.) A
//! window then reads its whole hours from the hour tier, its whole minutes
//! from the minute tier and only its partial edge minutes from seconds: a
//! 24 h window reads about 24 + 2 × 59 panes per cell instead of 5,040, and
//! a 1 h window about 60 + 2 × 59 instead of 3,600. The answer is the same
//! slot for slot, as the property test in `pane.rs` checks against an
//! unsummarised store: a minute or an hour is read only when the window
//! covers it whole and its every second is still held at the finer tier's
//! resolution (not yet expired, not yet dropped from the fine tier). The
//! newest minute and hour, not whole yet, are read whole too when no slot
//! lies after now: they then hold just the window's events of their span,
//! the hour as its slot (its closed minutes) and its open minute. So a
//! 24 h window reads only its oldest edge, and the open minute, from
//! minutes. Each hour is also kept with all cells in one slot, for readers
//! that merge every cell into one group: they read one slot per whole hour,
//! not one per cell.

use super::agg::Agg;
use super::sketch::{SketchInput, SketchLayout};
use super::spec::{WindowSpec, FINE_SPAN_SECS};
use crate::event::CellId;
use crate::time::Millis;

/// The coarsest slot a reader accepts, in milliseconds: time buckets need
/// slots that do not straddle a bucket edge.
pub const SPAN_ANY: Millis = Millis::MAX;

/// The cell of a summarised store's all-cells hour slot, handed only to a
/// reader that merges every cell into one group ([`Tiers::fold_spans`]
/// with `merged`). No dimension combination has it: the dictionary holds
/// at most 2¹⁶ cells.
pub const ALL_CELLS: CellId = CellId::MAX;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Slot {
    /// Seconds (fine tier), minutes (coarse tier) or hours since the epoch.
    pub(super) pane: i64,
    pub(super) cell: CellId,
    pub(super) agg: Agg,
}

/// Sparse panes in tiers; see the module docs.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Tiers {
    pub(super) fine: Vec<Slot>,
    pub(super) coarse: Vec<Slot>,
    /// Present in summarised stores only (8 bytes in the others).
    summary: Option<Box<Summary>>,
}

/// What a summarised store keeps beside its seconds and minutes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Summary {
    /// Hour slots per cell: every event of the hour's closed minutes
    /// ([`Summary::open_minute`]), as long as one of its minutes is within
    /// retention.
    hours: Vec<Slot>,
    /// The same hours with every cell in one slot (cell [`ALL_CELLS`]): a
    /// query that merges all cells (a global COUNT(DISTINCT user_id) over
    /// 24 h) merges one sketch an hour instead of one per cell and hour.
    all_hours: Vec<Slot>,
    /// Seconds at or before this have been dropped from the fine tier.
    dropped_sec: i64,
    /// Minutes at or before this have expired from the coarse tier (an
    /// hour holding one of them is no longer read whole).
    expired_min: i64,
}

impl Summary {
    /// The clock's minute (`dropped_sec` is the clock's second an hour
    /// back). Every minute before it is *closed*: merged into its hour's
    /// slots, per cell and for all cells, which a late event for it then
    /// joins directly. The minutes from this one on are in no hour slot
    /// yet.
    fn open_minute(&self) -> i64 {
        self.dropped_sec
            .saturating_add(FINE_SPAN_SECS)
            .div_euclid(60)
    }

    /// Closes the minutes `from..to`: each one's slots are merged into its
    /// hour's, per cell and for all cells.
    fn close_minutes(&mut self, coarse: &[Slot], from: i64, to: i64) {
        let lo = coarse.partition_point(|s| s.pane < from);
        let hi = coarse.partition_point(|s| s.pane < to);
        for minute in &coarse[lo..hi] {
            let hour = minute.pane.div_euclid(60);
            let n = minute.agg.metrics.len();
            upsert(&mut self.hours, hour, minute.cell, n).merge(&minute.agg);
            upsert(&mut self.all_hours, hour, ALL_CELLS, n).merge(&minute.agg);
        }
    }
}

impl Tiers {
    /// Empty tiers; summarised when `layout` asks for it.
    pub(super) fn for_layout(layout: &SketchLayout) -> Tiers {
        Tiers {
            summary: layout.summarised.then(|| {
                Box::new(Summary {
                    hours: Vec::new(),
                    all_hours: Vec::new(),
                    dropped_sec: i64::MIN,
                    expired_min: i64::MIN,
                })
            }),
            ..Tiers::default()
        }
    }

    pub(super) fn is_summarised(&self) -> bool {
        self.summary.is_some()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.fine.is_empty() && self.coarse.is_empty()
    }

    /// Slots of the seconds and minutes (hour summaries are not counted:
    /// they hold no event the other two do not).
    pub(super) fn slots(&self) -> usize {
        self.fine.len() + self.coarse.len()
    }

    /// Events held: an entity's store keeps each in one second or one
    /// minute. (A summarised store keeps each in its minute as well as its
    /// second, so this counts its recent events twice: a bound there.)
    pub(super) fn events(&self) -> u64 {
        let sum = |slots: &[Slot]| slots.iter().map(|s| s.agg.count).sum::<u64>();
        sum(&self.fine) + sum(&self.coarse)
    }

    /// Adds one event, feeding the sketches its store keeps.
    pub(super) fn add_sketched(
        &mut self,
        ts_ms: Millis,
        cell: CellId,
        metrics: &[f64],
        sketches: SketchInput,
        now_ms: Millis,
    ) {
        let sec = ts_ms.div_euclid(1000);
        let now_sec = now_ms.div_euclid(1000);
        let recent = sec > now_sec - FINE_SPAN_SECS;
        if self.summary.is_some() {
            // First the minutes the clock has left are closed (merged into
            // their hours), then the event goes to its second, its minute
            // and, if that minute is closed already (a late event), its
            // hours.
            self.drop_old_seconds(now_sec);
            let n = metrics.len();
            if recent {
                upsert(&mut self.fine, sec, cell, n).add_sketched(metrics, sketches);
            }
            let minute = sec.div_euclid(60);
            upsert(&mut self.coarse, minute, cell, n).add_sketched(metrics, sketches);
            let hour = minute.div_euclid(60);
            if let Some(summary) = self.summary.as_mut().filter(|s| minute < s.open_minute()) {
                upsert(&mut summary.hours, hour, cell, n).add_sketched(metrics, sketches);
                upsert(&mut summary.all_hours, hour, ALL_CELLS, n).add_sketched(metrics, sketches);
            }
            return;
        }
        let agg = if recent {
            upsert(&mut self.fine, sec, cell, metrics.len())
        } else {
            upsert(&mut self.coarse, sec.div_euclid(60), cell, metrics.len())
        };
        agg.add_sketched(metrics, sketches);
        self.fold_old_seconds(now_sec);
    }

    /// Seconds that left the last hour: folded into their minutes, or
    /// dropped in a summarised store (their minutes hold them already).
    fn drop_old_seconds(&mut self, now_sec: i64) {
        let horizon = now_sec - FINE_SPAN_SECS;
        let Some(summary) = &mut self.summary else {
            return self.fold_old_seconds(now_sec);
        };
        let was_open = summary.open_minute();
        summary.dropped_sec = summary.dropped_sec.max(horizon);
        let open = summary.open_minute();
        if open > was_open {
            summary.close_minutes(&self.coarse, was_open, open);
        }
        if self.fine.first().is_some_and(|s| s.pane <= horizon) {
            let old = self.fine.partition_point(|s| s.pane <= horizon);
            self.fine.drain(..old);
        }
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

    /// Drops everything at or before the retention horizon and folds (or
    /// drops) old seconds. Returns whether the store is now empty (the
    /// entity can be passivated).
    pub(super) fn expire(&mut self, now_ms: Millis, retention_ms: Millis) -> bool {
        let now_sec = now_ms.div_euclid(1000);
        self.drop_old_seconds(now_sec);
        let horizon_min = now_ms.div_euclid(60_000) - retention_ms / 60_000;
        let keep = self.coarse.partition_point(|s| s.pane <= horizon_min);
        self.coarse.drain(..keep);
        let horizon_sec = now_sec - retention_ms / 1000;
        let keep = self.fine.partition_point(|s| s.pane <= horizon_sec);
        self.fine.drain(..keep);
        if let Some(summary) = &mut self.summary {
            summary.expired_min = summary.expired_min.max(horizon_min);
            // An hour goes with its last minute; with no minute left, so
            // does every hour.
            let no_minutes = self.coarse.is_empty();
            for hours in [&mut summary.hours, &mut summary.all_hours] {
                let gone = match no_minutes {
                    true => hours.len(),
                    false => hours.partition_point(|s| s.pane * 60 + 59 <= horizon_min),
                };
                hours.drain(..gone);
            }
        }
        self.is_empty()
    }

    /// [`super::PaneStore::fold_spans`] over the tiers: every slot inside
    /// the window, each with its start, none longer than `span_ms`.
    /// `merged`: the reader merges every cell into one group, so the whole
    /// hours of a summarised store may come as one slot each, of cell
    /// [`ALL_CELLS`].
    pub(super) fn fold_spans(
        &self,
        window: &WindowSpec,
        span_ms: Millis,
        merged: bool,
        f: &mut impl FnMut(Millis, CellId, &Agg),
    ) {
        let first = window.first_pane();
        let last_sec = window.now_ms.div_euclid(1000);
        if let Some(summary) = &self.summary {
            return self.fold_summarised(summary, window, span_ms, merged, f);
        }
        if window.pane_secs() == 1 {
            seconds(&self.fine, first, last_sec, f);
        } else {
            let last_min = last_sec.div_euclid(60);
            run(&self.coarse, first, last_min, 60_000, f);
            let start = self.fine.partition_point(|s| s.pane.div_euclid(60) < first);
            for s in self.fine[start..].iter().take_while(|s| s.pane <= last_sec) {
                f(s.pane * 1000, s.cell, &s.agg);
            }
        }
    }

    /// [`Self::fold_spans`] of a summarised store: whole hours from hours,
    /// whole minutes from minutes, the rest from seconds (module docs).
    fn fold_summarised(
        &self,
        summary: &Summary,
        window: &WindowSpec,
        span_ms: Millis,
        merged: bool,
        f: &mut impl FnMut(Millis, CellId, &Agg),
    ) {
        let ceil_div = |a: i64, b: i64| a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0);
        let ceil_min = |sec: i64| ceil_div(sec, 60);
        let last_sec = window.now_ms.div_euclid(1000);
        let last_min = last_sec.div_euclid(60);
        // Seconds after `dropped_sec` are all in the fine tier: a minute
        // from there on may stand for its seconds.
        let fine_from = summary.dropped_sec.saturating_add(1);
        // With no slot after now (under the event clock now is the newest
        // event; a wall clock may trail events admitted ahead of it), the
        // newest minute and hour hold, partial as they are, exactly the
        // window's events of their span: they may be read whole instead of
        // their seconds and minutes.
        let none_ahead = self.fine.last().is_none_or(|s| s.pane <= last_sec)
            && self.coarse.last().is_none_or(|s| s.pane <= last_min);
        // The minutes read whole, `lo..=hi`, and the seconds read around
        // them.
        let (lo, hi, first_sec) = if window.pane_secs() == 1 {
            let first_sec = window.first_pane();
            let hi = match none_ahead {
                true => last_min,
                false => (last_sec + 1).div_euclid(60) - 1,
            };
            let lo = ceil_min(first_sec).max(ceil_min(fine_from));
            match span_ms < 60_000 {
                true => (hi + 1, hi, first_sec),
                false => (lo, hi, first_sec),
            }
        } else {
            // Minute windows read their first minute whole, and their last
            // one from its seconds up to now while it has them all.
            let whole_last =
                none_ahead || last_sec.rem_euclid(60) == 59 || last_min * 60 < fine_from;
            let hi = last_min - i64::from(!whole_last);
            (window.first_pane(), hi, window.first_pane() * 60)
        };
        if lo > hi {
            return seconds(&self.fine, first_sec, last_sec, f);
        }
        seconds(&self.fine, first_sec, lo * 60 - 1, f);
        seconds(&self.fine, hi * 60 + 60, last_sec, f);
        // Whole hours inside lo..=hi none of whose minutes has expired,
        // and the minutes around them.
        let h_lo = ceil_div(lo.max(summary.expired_min.saturating_add(1)), 60);
        let h_hi = match none_ahead && hi == last_min {
            true => hi.div_euclid(60),
            false => (hi + 1).div_euclid(60) - 1,
        };
        // The clock's hour holds its closed minutes only: it is read from
        // its slot and its minutes from the open one on, as long as its
        // closed minutes are all inside the window.
        let open = summary.open_minute();
        let clock_hour = open.div_euclid(60);
        let h_hi = if h_hi < clock_hour {
            h_hi
        } else if open <= hi + 1 {
            clock_hour
        } else {
            clock_hour - 1
        };
        if span_ms < 3_600_000 || h_lo > h_hi {
            return run(&self.coarse, lo, hi, 60_000, f);
        }
        run(&self.coarse, lo, h_lo * 60 - 1, 60_000, f);
        let hours = match merged {
            true => &summary.all_hours,
            false => &summary.hours,
        };
        run(hours, h_lo, h_hi, 3_600_000, f);
        let after = match h_hi == clock_hour {
            true => open,
            false => h_hi * 60 + 60,
        };
        run(&self.coarse, after, hi, 60_000, f);
    }

    /// The newest pane holding a slot, in units of `pane_secs` (1 or 60).
    pub(super) fn newest_pane(&self, pane_secs: i64) -> Option<i64> {
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

    /// [`super::PaneStore::for_each_pane`] over the tiers.
    pub(super) fn for_each_pane(
        &self,
        pane_secs: i64,
        first: i64,
        last: i64,
        mut f: impl FnMut(i64),
    ) {
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
        // concatenate in order. A summarised store's minutes hold its
        // seconds already.
        let start = self.coarse.partition_point(|s| s.pane < first);
        for s in self.coarse[start..].iter().take_while(|s| s.pane <= last) {
            visit(s.pane);
        }
        if self.summary.is_some() {
            return;
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

/// Calls `f` with every slot of `slots` whose pane is in `first..=last`,
/// each starting at `pane × unit_ms`.
fn run(
    slots: &[Slot],
    first: i64,
    last: i64,
    unit_ms: Millis,
    f: &mut impl FnMut(Millis, CellId, &Agg),
) {
    if first > last {
        return;
    }
    let start = slots.partition_point(|s| s.pane < first);
    for s in slots[start..].iter().take_while(|s| s.pane <= last) {
        f(s.pane * unit_ms, s.cell, &s.agg);
    }
}

/// [`run`] over seconds.
fn seconds(slots: &[Slot], first: i64, last: i64, f: &mut impl FnMut(Millis, CellId, &Agg)) {
    run(slots, first, last, 1000, f)
}

/// Slots at the end of a run searched before the whole run: where a
/// slightly late event, or a second folded into the newest minute, lands.
const TAIL: usize = 64;

/// The slot for `(pane, cell)`, inserted in order if absent. Events mostly
/// arrive in time order, and seconds fold into the newest minutes, so the
/// search starts from the end: the last slot, then the last [`TAIL`], then
/// the whole run.
fn upsert(slots: &mut Vec<Slot>, pane: i64, cell: CellId, metrics: usize) -> &mut Agg {
    let key = |s: &Slot| (s.pane, s.cell);
    let tail = slots.len().saturating_sub(TAIL);
    let at = match (slots.last(), slots.get(tail)) {
        (Some(last), _) if key(last) < (pane, cell) => Err(slots.len()),
        (_, Some(t)) if key(t) <= (pane, cell) => slots[tail..]
            .binary_search_by(|s| key(s).cmp(&(pane, cell)))
            .map(|i| i + tail)
            .map_err(|i| i + tail),
        _ => slots.binary_search_by(|s| key(s).cmp(&(pane, cell))),
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
