//! The compact form of a small store: its events, packed in one
//! allocation.
//!
//! Most entities see a handful of events in a day. As panes, each event
//! would cost a slot, a boxed metric array and boxed sketches (about 200
//! bytes and four allocations); here it costs one packed record of
//! `7 + 8·metrics + 4·distinct` bytes (27 for a reels user), all in one
//! `Box<[u8]>`: a reels user with 5 events fits a 144-byte malloc chunk. A store keeps this form for its first [`COMPACT_EVENTS`]
//! events and is promoted to panes when it takes more (see
//! [`super::PaneStore`]).
//!
//! Layout of the bytes (little-endian, unaligned):
//!
//! ```text
//! header   shape u8 = n_metrics (4 bits) | n_distinct (3 bits) | has percentiles (1 bit)
//!          [n_percentiles u8, percentile metric u8 × n_percentiles]   when it has them
//! record   second u32, cell u16, flags u8, metric f64 × n_metrics, distinct short u32 × n_distinct
//! ```
//!
//! Records are kept in arrival order, so promotion replays them exactly as
//! panes would have taken them. A distinct value is kept as the top 32 bits
//! of its hash ("short"), which is all a sparse [`super::Hll`] keeps of it
//! (a store this small never has a dense one); bit j of the flags says
//! whether distinct value j is present.
//!
//! Bit 7 of the flags says the event is in the **coarse** range: it is
//! set, as panes fold seconds into minutes, for events an hour behind the
//! clock of any later `push` or `expire`. So a compact store answers every
//! question exactly as its panes would: 1 s windows and panes see only the
//! fine range, and a coarse event starts on its minute. An empty store
//! holds no allocation at all.
//!
//! Events that do not fit (a second outside `u32`, a cell past `u16`, more
//! than 15 metrics or 7 distinct sketches) are refused, and the caller
//! promotes.

use std::cell::RefCell;

use super::agg::{Agg, MetricAgg};
use super::sketch::{SketchInput, Sketches};
use super::spec::{WindowSpec, FINE_SPAN_SECS};
use crate::event::CellId;
use crate::time::Millis;

/// Events a store keeps packed before it is promoted to panes. Chosen by
/// measurement (`tally bench memory` and `tally bench ingest`): past this, folding packed events costs
/// more than reading slots, and few entities of a day-long stream have
/// between this and the point where panes are smaller.
pub const COMPACT_EVENTS: usize = 8;

/// Bytes of a record before its metrics: second (u32), cell (u16), flags.
const RECORD_HEAD: usize = 7;
/// The flag bit of an event an hour behind the clock (in its minute).
const COARSE: u8 = 0x80;
/// Distinct values per record, one presence flag bit each.
const MAX_DISTINCT: usize = 7;
/// Metrics per record (4 bits of the shape byte).
const MAX_METRICS: usize = 15;

/// Packed events; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Compact {
    bytes: Box<[u8]>,
}

/// One packed event, read from its record.
pub(super) struct Record<'a> {
    pub sec: i64,
    pub cell: CellId,
    /// In the coarse range (see the module docs).
    pub coarse: bool,
    bytes: &'a [u8],
}

impl Record<'_> {
    /// Metric `i` (NaN when absent).
    pub fn metric(&self, i: usize) -> f64 {
        let at = RECORD_HEAD + 8 * i;
        f64::from_le_bytes(read(self.bytes, at))
    }

    /// Distinct value `i` (in the store's sketch layout order) as a hash
    /// with the same top 32 bits as the original (all a sparse HLL reads),
    /// or `None` when absent.
    pub fn hash(&self, metrics: usize, i: usize) -> Option<u64> {
        if self.bytes.get(6).is_none_or(|f| f & (1 << i) == 0) {
            return None;
        }
        let at = RECORD_HEAD + 8 * metrics + 4 * i;
        Some(u64::from(u32::from_le_bytes(read(self.bytes, at))) << 32 | 1)
    }
}

/// `N` bytes at `at`; zeros past the end (never reached: records are
/// written with the length they are read with).
fn read<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(b) = bytes.get(at..at + N) {
        out.copy_from_slice(b);
    }
    out
}

/// The shape of a store's records, from its header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    metrics: usize,
    distinct: usize,
    percentiles: usize,
}

impl Shape {
    fn header(&self) -> usize {
        match self.percentiles {
            0 => 1,
            n => 2 + n,
        }
    }

    fn record(&self) -> usize {
        RECORD_HEAD + 8 * self.metrics + 4 * self.distinct
    }
}

impl Compact {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn shape(&self) -> Shape {
        let b = |i: usize| usize::from(self.bytes.get(i).copied().unwrap_or(0));
        Shape {
            metrics: b(0) & 0xf,
            distinct: (b(0) >> 4) & 0x7,
            percentiles: if b(0) & 0x80 != 0 { b(1) } else { 0 },
        }
    }

    /// The metrics (by schema index) with a percentile sketch.
    fn percentile_metrics(&self) -> &[u8] {
        let s = self.shape();
        self.bytes.get(2..s.header()).unwrap_or(&[])
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        let s = self.shape();
        (self.bytes.len() - s.header()) / s.record()
    }

    /// The events, in arrival order.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let s = self.shape();
        let body = self.bytes.get(s.header()..).unwrap_or(&[]);
        body.chunks_exact(s.record()).map(|r| Record {
            sec: i64::from(u32::from_le_bytes(read(r, 0))),
            cell: CellId::from(u16::from_le_bytes(read(r, 4))),
            coarse: r.get(6).is_some_and(|f| f & COARSE != 0),
            bytes: r,
        })
    }

    /// Marks the events an hour behind `now_sec` coarse, as panes fold
    /// their seconds into minutes.
    fn fold_old_seconds(&mut self, now_sec: i64) {
        let s = self.shape();
        let (header, record) = (s.header(), s.record());
        let Some(body) = self.bytes.get_mut(header..) else {
            return;
        };
        for r in body.chunks_exact_mut(record) {
            let sec = i64::from(u32::from_le_bytes(read(r, 0)));
            if sec <= now_sec - FINE_SPAN_SECS {
                r[6] |= COARSE;
            }
        }
    }

    /// Appends an event, or returns false when the store is full or the
    /// event does not fit a record; the caller then promotes the store.
    pub fn push(
        &mut self,
        ts_ms: Millis,
        cell: CellId,
        metrics: &[f64],
        input: &SketchInput,
        now_ms: Millis,
    ) -> bool {
        let layout = input.layout;
        let shape = Shape {
            metrics: metrics.len(),
            distinct: layout.distinct.len(),
            percentiles: layout.percentiles.len(),
        };
        let (Ok(sec), Ok(cell)) = (u32::try_from(ts_ms.div_euclid(1000)), u16::try_from(cell))
        else {
            return false;
        };
        if shape.metrics > MAX_METRICS
            || shape.distinct > MAX_DISTINCT
            || shape.percentiles > 255
            || layout.percentiles.iter().any(|&m| m > 255)
        {
            return false;
        }
        if self.is_empty() {
            let mut header = Vec::with_capacity(shape.header() + shape.record());
            let has_percentiles = u8::from(shape.percentiles > 0) << 7;
            header.push(shape.metrics as u8 | (shape.distinct as u8) << 4 | has_percentiles);
            if shape.percentiles > 0 {
                header.push(shape.percentiles as u8);
                header.extend(layout.percentiles.iter().map(|&m| m as u8));
            }
            self.bytes = header.into_boxed_slice();
        } else if self.shape() != shape || self.len() >= COMPACT_EVENTS {
            return false;
        }
        let now_sec = now_ms.div_euclid(1000);
        let mut flags = if i64::from(sec) <= now_sec - FINE_SPAN_SECS {
            COARSE
        } else {
            0
        };
        let mut shorts = [0u32; MAX_DISTINCT];
        for (i, &d) in layout.distinct.iter().enumerate() {
            if let Some(&h) = input.hashes.get(d).filter(|&&h| h != 0) {
                flags |= 1 << i;
                shorts[i] = (h >> 32) as u32;
            }
        }
        // Grow by exactly one record: the allocation is the store's size.
        let mut bytes = Vec::from(std::mem::take(&mut self.bytes));
        bytes.reserve_exact(shape.record());
        bytes.extend(sec.to_le_bytes());
        bytes.extend(cell.to_le_bytes());
        bytes.push(flags);
        for &x in metrics {
            bytes.extend(x.to_le_bytes());
        }
        for short in &shorts[..shape.distinct] {
            bytes.extend(short.to_le_bytes());
        }
        self.bytes = bytes.into_boxed_slice();
        self.fold_old_seconds(now_sec);
        true
    }

    /// Drops what panes would drop at `now_ms` (see
    /// [`super::PaneStore::expire`]): after folding, a coarse event goes
    /// with its minute, a fine one with its second.
    pub fn expire(&mut self, now_ms: Millis, retention_ms: Millis) {
        let now_sec = now_ms.div_euclid(1000);
        self.fold_old_seconds(now_sec);
        let horizon_min = now_ms.div_euclid(60_000) - retention_ms / 60_000;
        let horizon_sec = now_sec - retention_ms / 1000;
        self.retain(|r| match r.coarse {
            true => r.sec.div_euclid(60) > horizon_min,
            false => r.sec > horizon_sec,
        });
    }

    /// Keeps the events `keep` says to, shrinking the allocation (or
    /// freeing it when none is left).
    fn retain(&mut self, mut keep: impl FnMut(&Record) -> bool) {
        let s = self.shape();
        if self.is_empty() || self.records().all(|r| keep(&r)) {
            return;
        }
        let mut bytes = Vec::with_capacity(self.bytes.len());
        bytes.extend_from_slice(&self.bytes[..s.header()]);
        for r in self.records() {
            if keep(&r) {
                bytes.extend_from_slice(r.bytes);
            }
        }
        self.bytes = if bytes.len() == s.header() {
            Box::default()
        } else {
            bytes.into_boxed_slice()
        };
    }

    /// The metric values and hashes of each event in arrival order, as
    /// [`SketchInput`] wants them (hashes per schema distinct source), for
    /// replaying into panes. `hashes` is scratch space.
    pub fn replay(
        &self,
        layout_distinct: &[usize],
        mut f: impl FnMut(Millis, CellId, &[f64], &[u64]),
    ) {
        let s = self.shape();
        let width = layout_distinct.iter().map(|&d| d + 1).max().unwrap_or(0);
        let mut hashes = vec![0u64; width];
        let mut metrics = vec![0.0; s.metrics];
        for r in self.records() {
            for (i, m) in metrics.iter_mut().enumerate() {
                *m = r.metric(i);
            }
            for (i, &d) in layout_distinct.iter().enumerate() {
                hashes[d] = r.hash(s.metrics, i).unwrap_or(0);
            }
            f(r.sec * 1000, r.cell, &metrics, &hashes);
        }
    }

    /// Calls `f` for every event a window of panes would read, with its
    /// pane's start and a one-event [`Agg`] equal to the slot panes would
    /// hold for it alone: 1 s windows read fine events from the first
    /// second to now; longer ones read coarse events by minute (starting
    /// on it) and fine ones up to now.
    pub fn fold_timed(&self, window: &WindowSpec, f: &mut impl FnMut(Millis, CellId, &Agg)) {
        if self.is_empty() {
            return;
        }
        let fine_only = window.pane_secs() == 1;
        let first = window.first_pane();
        let last_sec = window.now_ms.div_euclid(1000);
        let last_min = last_sec.div_euclid(60);
        let inside = |r: &Record| match (r.coarse, fine_only) {
            (true, true) => false,
            (true, false) => (first..=last_min).contains(&r.sec.div_euclid(60)),
            (false, true) => (first..=last_sec).contains(&r.sec),
            (false, false) => r.sec.div_euclid(60) >= first && r.sec <= last_sec,
        };
        if !self.records().any(|r| inside(&r)) {
            return;
        }
        with_scratch(|agg| {
            for r in self.records().filter(|r| inside(r)) {
                self.fill(&r, agg);
                let start = match r.coarse {
                    true => r.sec.div_euclid(60) * 60_000,
                    false => r.sec * 1000,
                };
                f(start, r.cell, agg);
            }
        });
    }

    /// Makes `agg` the aggregate of the one event `r`.
    fn fill(&self, r: &Record, agg: &mut Agg) {
        let s = self.shape();
        agg.count = 1;
        if agg.metrics.len() != s.metrics {
            *agg = Agg::new(s.metrics);
            agg.count = 1;
        }
        for (i, m) in agg.metrics.iter_mut().enumerate() {
            *m = MetricAgg::default();
            m.add(r.metric(i));
        }
        if s.distinct + s.percentiles == 0 {
            agg.sketches = None;
            return;
        }
        let sk = agg.sketches.get_or_insert_with(Box::default);
        if sk.quantiles.len() != s.percentiles || sk.distinct.len() != s.distinct {
            **sk = Sketches::with_sizes(s.percentiles, s.distinct);
        }
        for (q, &m) in sk.quantiles.iter_mut().zip(self.percentile_metrics()) {
            q.clear();
            q.add(r.metric(usize::from(m)));
        }
        for (i, h) in sk.distinct.iter_mut().enumerate() {
            h.clear();
            if let Some(hash) = r.hash(s.metrics, i) {
                h.add_hash(hash);
            }
        }
    }

    /// The panes (seconds or minutes) of the events in `first..=last`,
    /// ascending, each once; seconds of fine events only.
    pub fn for_each_pane(&self, pane_secs: i64, first: i64, last: i64, mut f: impl FnMut(i64)) {
        let mut panes = [0i64; COMPACT_EVENTS];
        let mut n = 0;
        for r in self.records() {
            if pane_secs == 1 && r.coarse {
                continue;
            }
            let pane = r.sec.div_euclid(pane_secs);
            if (first..=last).contains(&pane) && n < panes.len() {
                panes[n] = pane;
                n += 1;
            }
        }
        let panes = &mut panes[..n];
        panes.sort_unstable();
        let mut previous = None;
        for &pane in panes.iter() {
            if previous != Some(pane) {
                previous = Some(pane);
                f(pane);
            }
        }
    }

    /// The newest pane, in units of `pane_secs`: of the newest fine event,
    /// else of the newest coarse minute (its last second for 1 s panes).
    pub fn newest_pane(&self, pane_secs: i64) -> Option<i64> {
        let fine = self.records().filter(|r| !r.coarse).map(|r| r.sec).max();
        if let Some(sec) = fine {
            return Some(sec.div_euclid(pane_secs));
        }
        let minute = self.records().map(|r| r.sec.div_euclid(60)).max()?;
        Some(if pane_secs == 60 {
            minute
        } else {
            minute * 60 + 59
        })
    }
}

thread_local! {
    /// The one-event aggregate handed to fold callbacks, reused so that a
    /// fan-out over millions of compact entities allocates nothing.
    static SCRATCH: RefCell<Agg> = RefCell::new(Agg::new(0));
}

/// Runs `f` with the thread's scratch aggregate, or a fresh one if a fold
/// callback folds another compact store (never done today, but allowed).
fn with_scratch(f: impl FnOnce(&mut Agg)) {
    let mut f = Some(f);
    SCRATCH.with(|cell| {
        if let Ok(mut agg) = cell.try_borrow_mut() {
            if let Some(f) = f.take() {
                f(&mut agg);
            }
        }
    });
    if let Some(f) = f {
        f(&mut Agg::new(0));
    }
}
