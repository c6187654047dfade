//! The packed log: how a store with few events keeps them, one packed
//! record per event, newest first, in one allocation.
//!
//! Most entities of a day-long stream see a handful of events: as pane
//! slots each would cost a slot and a boxed sketch set, far more than the
//! event itself. Here an event costs one varint-packed record (about 14
//! bytes for a reels view, 9 for a like), and nothing else. A store keeps
//! this form until its log passes [`LOG_MAX_BYTES`] and is then promoted
//! to panes (see [`super::PaneStore`]).
//!
//! Layout of the bytes:
//!
//! ```text
//! header  shape u8 = n_metrics (4 bits) | n_distinct (3 bits) | has percentiles (1 bit)
//!         [n_percentiles u8, percentile metric u8 × n_percentiles]   when it has them
//!         used   u16   bytes in use, header included (the rest is room to grow)
//!         newest u32   the second of the first (newest) record
//!         clock  u32   the latest clock second the store was given
//! record  [delta]      zigzag varint, seconds from the record before it
//!                      (the newer one); absent in the first record
//!         cell         varint
//!         present      varint: bit i = metric i present, then one bit per distinct value
//!         metrics      per present metric: see `write_metric`
//!         shorts       u32 × present distinct values: the top 32 bits of the hash
//! ```
//!
//! Records are sorted newest first (an out-of-order event is spliced in at
//! its place, usually near the head), so a window reads the head of the
//! log and stops at the first record before it. A distinct value is kept
//! as the top 32 bits of its hash ("short"), which is all a sparse
//! [`super::Hll`] keeps of it; a metric value is kept exactly.
//!
//! The allocation grows by size classes of about 1.25×, each exactly a
//! malloc chunk (16·k − 8 bytes with glibc), so most events are written in
//! place without allocating, and freed blocks are the sizes other logs grow
//! into.
//!
//! A record is **coarse** when its second is an hour or more behind the
//! store's clock: those are the events panes would have folded into their
//! minutes. So a packed store answers every question exactly as its panes
//! would: 1 s windows and pane lists see only fine records, and a coarse
//! record starts on its minute. An empty store holds no allocation.
//!
//! Events that do not fit (a second outside `u32`, more than 15 metrics or
//! 7 distinct sketches, more than 255 percentile metrics) are refused, and
//! the caller promotes.

use std::cell::RefCell;

use smallvec::SmallVec;

use super::agg::{Agg, Detail, MetricAgg, MetricAggs};
use super::sketch::{SketchInput, Sketches};
use super::spec::{WindowSpec, FINE_SPAN_SECS};
use crate::event::CellId;
use crate::time::Millis;

/// A log past this many bytes is promoted to panes: past it a store with
/// many events is cheaper, and faster to read, as pane slots. Chosen by
/// measurement (`tally bench memory`, `tally bench ingest` on a realistic
/// stream); a 50-event reels video is about 650 bytes.
pub const LOG_MAX_BYTES: usize = 1536;

/// Distinct values per record (the shape's 3 bits).
const MAX_DISTINCT: usize = 7;
/// Metrics per record (the shape's 4 bits).
const MAX_METRICS: usize = 15;

/// Packed events, newest first; see the module docs.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SavedLog")]
pub(super) struct Log {
    #[serde(with = "crate::codec::bytes")]
    bytes: Box<[u8]>,
}

/// The shape of a store's records, from its header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    metrics: usize,
    distinct: usize,
    percentiles: usize,
}

impl Shape {
    /// Bytes before `newest` and `clock`.
    fn prefix(&self) -> usize {
        match self.percentiles {
            0 => 1,
            n => 2 + n,
        }
    }

    fn header(&self) -> usize {
        self.prefix() + 10
    }
}

/// Where one record is in the log's bytes, and its second.
#[derive(Debug, Clone, Copy)]
struct Span {
    sec: i64,
    start: usize,
    /// Where its fields start (after the delta).
    body: usize,
    end: usize,
}

/// One event, decoded from its record.
#[derive(Debug, Clone, Default)]
pub(super) struct Record {
    pub sec: i64,
    pub cell: CellId,
    /// In the coarse range (see the module docs).
    pub coarse: bool,
    /// Per metric of the shape; NaN when absent.
    pub metrics: [f64; MAX_METRICS],
    /// Per distinct value of the shape: the short, or `None` when absent.
    pub shorts: [Option<u32>; MAX_DISTINCT],
}

impl Record {
    /// Distinct value `i` as a hash with the same top 32 bits as the
    /// original (all a sparse HLL reads).
    pub fn hash(&self, i: usize) -> Option<u64> {
        self.shorts[i].map(|s| u64::from(s) << 32 | 1)
    }
}

impl Log {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where the log's bytes start (its header, then the newest record).
    pub fn head(&self) -> *const u8 {
        self.bytes.as_ptr()
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
        self.bytes.get(2..s.prefix()).unwrap_or(&[])
    }

    fn u32_at(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        if let Some(s) = self.bytes.get(at..at + 4) {
            b.copy_from_slice(s);
        }
        u32::from_le_bytes(b)
    }

    fn set_u32(&mut self, at: usize, v: u32) {
        self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Bytes in use, header included (0 when empty).
    fn used(&self) -> usize {
        let at = self.shape().prefix();
        match self.bytes.get(at..at + 2) {
            Some(b) => usize::from(u16::from_le_bytes([b[0], b[1]])),
            None => 0,
        }
    }

    fn set_used(&mut self, n: usize) {
        let at = self.shape().prefix();
        self.bytes[at..at + 2].copy_from_slice(&(n as u16).to_le_bytes());
    }

    fn newest(&self) -> i64 {
        i64::from(self.u32_at(self.shape().prefix() + 2))
    }

    fn clock(&self) -> i64 {
        i64::from(self.u32_at(self.shape().prefix() + 6))
    }

    /// Bytes in use, header included.
    pub fn bytes(&self) -> usize {
        self.used()
    }

    /// Bytes allocated.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }

    /// Replaces `range` of the log's bytes by `insert`, in place when the
    /// allocation has room, else in one of the next size class.
    fn splice(&mut self, range: std::ops::Range<usize>, insert: &[u8]) {
        let used = self.used();
        let new_used = used - range.len() + insert.len();
        if new_used <= self.bytes.len() {
            self.bytes
                .copy_within(range.end..used, range.start + insert.len());
            self.bytes[range.start..range.start + insert.len()].copy_from_slice(insert);
        } else {
            let mut bytes = Vec::with_capacity(size_class(new_used));
            bytes.extend_from_slice(&self.bytes[..range.start]);
            bytes.extend_from_slice(insert);
            bytes.extend_from_slice(&self.bytes[range.end..used]);
            bytes.resize(bytes.capacity(), 0);
            self.bytes = bytes.into_boxed_slice();
        }
        self.set_used(new_used);
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.records().count()
    }

    /// Where each record is, newest first, without decoding its fields.
    fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let shape = self.shape();
        let bytes = &self.bytes[..self.used()];
        let mut at = if self.is_empty() { 0 } else { shape.header() };
        let mut sec = self.newest();
        let mut first = true;
        std::iter::from_fn(move || {
            if at >= bytes.len() {
                return None;
            }
            let start = at;
            if !first {
                sec -= unzigzag(read_varint(bytes, &mut at));
            }
            first = false;
            let body = at;
            skip_body(bytes, &mut at, shape);
            Some(Span {
                sec,
                start,
                body,
                end: at.min(bytes.len()),
            })
        })
    }

    /// The events, newest first.
    pub fn records(&self) -> Records<'_> {
        let shape = self.shape();
        let empty = self.is_empty();
        Records {
            log: self,
            shape,
            end: self.used(),
            at: if empty { 0 } else { shape.header() },
            sec: self.newest(),
            fine_from: self.clock() - FINE_SPAN_SECS + 1,
            first: true,
        }
    }

    /// Adds an event, or returns false when the event does not fit a
    /// record or the log is full; the caller then promotes the store.
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
        let Ok(sec) = u32::try_from(ts_ms.div_euclid(1000)) else {
            return false;
        };
        let now_sec = now_ms.div_euclid(1000);
        if shape.metrics > MAX_METRICS
            || shape.distinct > MAX_DISTINCT
            || shape.percentiles > 255
            || layout.percentiles.iter().any(|&m| m > 255)
        {
            return false;
        }
        if !self.is_empty() && (self.shape() != shape || self.used() >= LOG_MAX_BYTES) {
            return false;
        }
        let sec = i64::from(sec);
        let mut shorts = [None; MAX_DISTINCT];
        for (i, &d) in layout.distinct.iter().enumerate() {
            if let Some(&h) = input.hashes.get(d).filter(|&&h| h != 0) {
                shorts[i] = Some((h >> 32) as u32);
            }
        }
        let clock = if self.is_empty() {
            now_sec
        } else {
            now_sec.max(self.clock())
        };
        let clock = u32::try_from(clock.max(0)).unwrap_or(u32::MAX);
        if self.is_empty() {
            let mut bytes = vec![
                shape.metrics as u8
                    | (shape.distinct as u8) << 4
                    | u8::from(shape.percentiles > 0) << 7,
            ];
            if shape.percentiles > 0 {
                bytes.push(shape.percentiles as u8);
                bytes.extend(layout.percentiles.iter().map(|&m| m as u8));
            }
            bytes.extend([0, 0]);
            bytes.extend((sec as u32).to_le_bytes());
            bytes.extend(clock.to_le_bytes());
            write_body(&mut bytes, cell, metrics, &shorts[..shape.distinct]);
            let used = bytes.len();
            bytes.reserve_exact(size_class(used) - used);
            bytes.resize(bytes.capacity(), 0);
            self.bytes = bytes.into_boxed_slice();
            self.set_used(used);
            return true;
        }
        // Where the new record goes: before the first record not newer.
        let mut at = None;
        let mut before: Option<Span> = None;
        for r in self.spans() {
            if r.sec <= sec {
                at = Some(r);
                break;
            }
            before = Some(r);
        }
        // The event, with a delta from the record before it unless it is
        // first; then the delta of the record it displaced, now from it.
        let mut insert: SmallVec<[u8; 96]> = SmallVec::new();
        if let Some(b) = &before {
            write_varint(&mut insert, zigzag(b.sec - sec));
        }
        write_body(&mut insert, cell, metrics, &shorts[..shape.distinct]);
        if let Some(next) = &at {
            write_varint(&mut insert, zigzag(sec - next.sec));
        }
        let start = before.as_ref().map_or(shape.header(), |b| b.end);
        let end = at.as_ref().map_or(self.used(), |next| next.body);
        self.splice(start..end, &insert);
        let prefix = shape.prefix();
        if before.is_none() {
            self.set_u32(prefix + 2, sec as u32);
        }
        self.set_u32(prefix + 6, clock);
        true
    }

    /// Drops what panes would drop at `now_ms` (see
    /// [`super::PaneStore::expire`]): a coarse event goes with its minute,
    /// a fine one with its second.
    pub fn expire(&mut self, now_ms: Millis, retention_ms: Millis) {
        if self.is_empty() {
            return;
        }
        let now_sec = now_ms.div_euclid(1000);
        let clock = now_sec.max(self.clock());
        let fine_from = clock - FINE_SPAN_SECS + 1;
        let horizon_min = now_ms.div_euclid(60_000) - retention_ms / 60_000;
        let horizon_sec = now_sec - retention_ms / 1000;
        let keep = |r: &Span| match r.sec < fine_from {
            true => r.sec.div_euclid(60) > horizon_min,
            false => r.sec > horizon_sec,
        };
        // Records are newest first, so those to drop are a tail.
        let cut = self.spans().find(|r| !keep(r)).map(|r| r.start);
        let clock = u32::try_from(clock.max(0)).unwrap_or(u32::MAX);
        let shape = self.shape();
        match cut {
            Some(at) if at == shape.header() => self.bytes = Box::default(),
            Some(at) => {
                self.set_used(at);
                self.set_u32(shape.prefix() + 6, clock);
                if at <= self.bytes.len() / 2 {
                    let mut bytes = Vec::with_capacity(size_class(at));
                    bytes.extend_from_slice(&self.bytes[..at]);
                    bytes.resize(bytes.capacity(), 0);
                    self.bytes = bytes.into_boxed_slice();
                }
            }
            None => self.set_u32(shape.prefix() + 6, clock),
        }
    }

    /// The metric values and hashes of each event, oldest first, as
    /// [`SketchInput`] wants them (hashes per schema distinct source), for
    /// replaying into panes.
    pub fn replay(
        &self,
        layout_distinct: &[usize],
        mut f: impl FnMut(Millis, CellId, &[f64], &[u64]),
    ) {
        let s = self.shape();
        let width = layout_distinct.iter().map(|&d| d + 1).max().unwrap_or(0);
        let mut hashes = vec![0u64; width];
        let records: Vec<Record> = self.records().collect();
        for r in records.iter().rev() {
            for (i, &d) in layout_distinct.iter().enumerate() {
                hashes[d] = r.hash(i).unwrap_or(0);
            }
            f(r.sec * 1000, r.cell, &r.metrics[..s.metrics], &hashes);
        }
    }

    /// Calls `f` for every event a window of panes would read, with its
    /// pane's start and a one-event [`Agg`] equal to the slot panes would
    /// hold for it alone: 1 s windows read fine events from the first
    /// second to now; longer ones read coarse events by minute (starting
    /// on it) and fine ones up to now. Reads the head of the log only.
    /// The aggregates carry as much as `detail` asks.
    pub fn fold_timed(
        &self,
        window: &WindowSpec,
        detail: Detail,
        f: &mut impl FnMut(Millis, CellId, &Agg),
    ) {
        if self.is_empty() {
            return;
        }
        let fine_only = window.pane_secs() == 1;
        let first = window.first_pane();
        let last_sec = window.now_ms.div_euclid(1000);
        let last_min = last_sec.div_euclid(60);
        let inside = |sec: i64, coarse: bool| match (coarse, fine_only) {
            (true, true) => false,
            (true, false) => (first..=last_min).contains(&sec.div_euclid(60)),
            (false, true) => (first..=last_sec).contains(&sec),
            (false, false) => sec.div_euclid(60) >= first && sec <= last_sec,
        };
        // Newest first: past the window's first pane, nothing is inside.
        let before_window = |sec: i64, coarse: bool| match fine_only {
            true => coarse || sec < first,
            false => sec.div_euclid(60) < first,
        };
        // One record, decoded into in place: a `Record` is about 200 bytes,
        // and handing one out per event was a fifth of a fan-out's time
        // (copies); the values of records outside the window are skipped,
        // not decoded.
        let mut r = Record {
            sec: 0,
            cell: 0,
            coarse: false,
            metrics: [f64::NAN; MAX_METRICS],
            shorts: [None; MAX_DISTINCT],
        };
        let mut records = self.records();
        with_scratch(|agg| {
            while let Some((sec, cell, coarse)) = records.next_head() {
                if before_window(sec, coarse) {
                    break;
                }
                if !inside(sec, coarse) {
                    records.skip_body();
                    continue;
                }
                match detail {
                    Detail::Count => {
                        records.skip_body();
                        count_only(agg);
                    }
                    _ => {
                        (r.sec, r.cell, r.coarse) = (sec, cell, coarse);
                        records.read_body(&mut r);
                        self.fill(&r, agg, detail == Detail::Sketches);
                    }
                }
                let start = match coarse {
                    true => sec.div_euclid(60) * 60_000,
                    false => sec * 1000,
                };
                f(start, cell, agg);
            }
        });
    }

    /// Makes `agg` the aggregate of the one event `r` (with its sketches
    /// when `sketches`).
    fn fill(&self, r: &Record, agg: &mut Agg, sketches: bool) {
        let s = self.shape();
        agg.count = 1;
        if agg.metrics.len() != s.metrics {
            *agg = Agg::new(s.metrics);
            agg.count = 1;
        }
        for (i, m) in agg.metrics.iter_mut().enumerate() {
            *m = MetricAgg::default();
            m.add(r.metrics[i]);
        }
        if !sketches || s.distinct + s.percentiles == 0 {
            agg.sketches = None;
            return;
        }
        let sk = agg.sketches.get_or_insert_with(Box::default);
        if sk.quantiles.len() != s.percentiles || sk.distinct.len() != s.distinct {
            **sk = Sketches::with_sizes(s.percentiles, s.distinct);
        }
        for (q, &m) in sk.quantiles.iter_mut().zip(self.percentile_metrics()) {
            q.clear();
            q.add(r.metrics[usize::from(m)]);
        }
        for (i, h) in sk.distinct.iter_mut().enumerate() {
            h.clear();
            if let Some(hash) = r.hash(i) {
                h.add_hash(hash);
            }
        }
    }

    /// The panes (seconds or minutes) of the events in `first..=last`,
    /// ascending, each once; seconds of fine events only.
    pub fn for_each_pane(&self, pane_secs: i64, first: i64, last: i64, mut f: impl FnMut(i64)) {
        let mut panes: Vec<i64> = self
            .records()
            .filter(|r| !(pane_secs == 1 && r.coarse))
            .map(|r| r.sec.div_euclid(pane_secs))
            .filter(|p| (first..=last).contains(p))
            .collect();
        panes.reverse();
        panes.dedup();
        for pane in panes {
            f(pane);
        }
    }

    /// The newest pane, in units of `pane_secs`: of the newest fine event,
    /// else of the newest coarse minute (its last second for 1 s panes).
    pub fn newest_pane(&self, pane_secs: i64) -> Option<i64> {
        let newest = self.records().next()?;
        if !newest.coarse {
            return Some(newest.sec.div_euclid(pane_secs));
        }
        let minute = newest.sec.div_euclid(60);
        Some(if pane_secs == 60 {
            minute
        } else {
            minute * 60 + 59
        })
    }
}

/// Makes `agg` the aggregate of one event, as [`Detail::Count`] says:
/// a count of 1, no metrics, no sketches.
fn count_only(agg: &mut Agg) {
    agg.count = 1;
    if !agg.metrics.is_empty() {
        agg.metrics = MetricAggs::new(0);
    }
    agg.sketches = None;
}

/// The records of a log, newest first.
pub(super) struct Records<'a> {
    log: &'a Log,
    shape: Shape,
    /// Where the records end: the bytes in use.
    end: usize,
    at: usize,
    /// The second of the record before (the newer one).
    sec: i64,
    fine_from: i64,
    first: bool,
}

impl Records<'_> {
    /// Reads the next record's second and cell (and whether it is coarse),
    /// leaving its body for [`Records::read_body`] or
    /// [`Records::skip_body`]: a reader that wants only some records
    /// decodes the values of those alone, into a record it reuses.
    fn next_head(&mut self) -> Option<(i64, CellId, bool)> {
        let bytes = &self.log.bytes[..self.end];
        if self.at >= bytes.len() {
            return None;
        }
        if !self.first {
            self.sec -= unzigzag(read_varint(bytes, &mut self.at));
        }
        self.first = false;
        let cell = read_varint(bytes, &mut self.at) as CellId;
        Some((self.sec, cell, self.sec < self.fine_from))
    }

    /// Decodes the body of the record whose head was just read into `r`
    /// (every value; absent ones NaN and `None`).
    fn read_body(&mut self, r: &mut Record) {
        let bytes = &self.log.bytes[..self.end];
        let at = &mut self.at;
        let present = read_varint(bytes, at);
        for (i, m) in r.metrics[..self.shape.metrics].iter_mut().enumerate() {
            *m = match present & (1 << i) != 0 {
                true => read_metric(bytes, at),
                false => f64::NAN,
            };
        }
        for (i, short) in r.shorts[..self.shape.distinct].iter_mut().enumerate() {
            *short = (present & (1 << (self.shape.metrics + i)) != 0).then(|| {
                let mut b = [0u8; 4];
                if let Some(s) = bytes.get(*at..*at + 4) {
                    b.copy_from_slice(s);
                }
                *at += 4;
                u32::from_le_bytes(b)
            });
        }
    }

    /// Moves past the body of the record whose head was just read.
    fn skip_body(&mut self) {
        let bytes = &self.log.bytes[..self.end];
        let present = read_varint(bytes, &mut self.at);
        skip_values(bytes, &mut self.at, present, self.shape);
    }
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let (sec, cell, coarse) = self.next_head()?;
        let mut r = Record {
            sec,
            cell,
            coarse,
            metrics: [f64::NAN; MAX_METRICS],
            shorts: [None; MAX_DISTINCT],
        };
        self.read_body(&mut r);
        Some(r)
    }
}

/// The allocation size for `n` bytes in use: the smallest of about
/// 1.25× steps, each 16·k − 8 bytes (a whole glibc malloc chunk).
fn size_class(n: usize) -> usize {
    let mut c = 24;
    while c < n {
        c = (c + c / 4 + 8) / 16 * 16 + 8;
    }
    c
}

/// Moves `at` past a record's fields (after its delta).
fn skip_body(bytes: &[u8], at: &mut usize, shape: Shape) {
    read_varint(bytes, at);
    let present = read_varint(bytes, at);
    skip_values(bytes, at, present, shape);
}

/// Moves `at` past a record's values, given its presence bits.
fn skip_values(bytes: &[u8], at: &mut usize, present: u64, shape: Shape) {
    for i in 0..shape.metrics {
        if present & (1 << i) != 0 && read_varint(bytes, at) & 3 == 2 {
            *at += 8;
        }
    }
    let shorts = (present >> shape.metrics).count_ones() as usize;
    *at += 4 * shorts;
}

/// A record's fields after its delta.
fn write_body(out: &mut impl Extend<u8>, cell: CellId, metrics: &[f64], shorts: &[Option<u32>]) {
    write_varint(out, u64::from(cell));
    let mut present = 0u64;
    for (i, m) in metrics.iter().enumerate() {
        if !m.is_nan() {
            present |= 1 << i;
        }
    }
    for (i, s) in shorts.iter().enumerate() {
        if s.is_some() {
            present |= 1 << (metrics.len() + i);
        }
    }
    write_varint(out, present);
    for &m in metrics.iter().filter(|m| !m.is_nan()) {
        write_metric(out, m);
    }
    for s in shorts.iter().flatten() {
        out.extend(s.to_le_bytes());
    }
}

/// Powers of ten a short decimal may use.
const TENS: [f64; 4] = [10.0, 100.0, 1000.0, 10000.0];

/// A metric value, exactly: a varint whose low two bits say how to read it.
/// `0`: an integer, `v >> 2` zigzagged; `1`: a short decimal, mantissa
/// `v >> 4` zigzagged over 10^(1 + (v >> 2 & 3)); `2`: the 8 raw bytes
/// of the f64 follow. Integers and short decimals are the values that read
/// back to the same f64 (checked on write), so nothing is rounded.
fn write_metric(out: &mut impl Extend<u8>, x: f64) {
    const LIMIT: f64 = (1u64 << 52) as f64;
    if x.fract() == 0.0 && x.abs() < LIMIT && !(x == 0.0 && x.is_sign_negative()) {
        write_varint(out, zigzag(x as i64) << 2);
        return;
    }
    for (k, &ten) in TENS.iter().enumerate() {
        let m = (x * ten).round();
        if m.abs() < LIMIT && (m / ten).to_bits() == x.to_bits() && m != 0.0 {
            write_varint(out, zigzag(m as i64) << 4 | (k as u64) << 2 | 1);
            return;
        }
    }
    write_varint(out, 2);
    out.extend(x.to_le_bytes());
}

fn read_metric(bytes: &[u8], at: &mut usize) -> f64 {
    let v = read_varint(bytes, at);
    match v & 3 {
        0 => unzigzag(v >> 2) as f64,
        1 => unzigzag(v >> 4) as f64 / TENS[(v >> 2 & 3) as usize],
        _ => {
            let mut b = [0u8; 8];
            if let Some(s) = bytes.get(*at..*at + 8) {
                b.copy_from_slice(s);
            }
            *at += 8;
            f64::from_le_bytes(b)
        }
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

fn write_varint(out: &mut impl Extend<u8>, mut v: u64) {
    while v >= 0x80 {
        out.extend([v as u8 | 0x80]);
        v >>= 7;
    }
    out.extend([v as u8]);
}

/// A varint at `at`, moving `at` past it; bytes past the end read as 0
/// (never reached: records are read with the shape they were written with).
fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

thread_local! {
    /// The one-event aggregate handed to fold callbacks, reused so that a
    /// fan-out over millions of logs allocates nothing.
    static SCRATCH: RefCell<Agg> = RefCell::new(Agg::new(0));
}

/// Runs `f` with the thread's scratch aggregate, or a fresh one if a fold
/// callback folds another log (never done today, but allowed).
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

/// A log as a checkpoint keeps it (its bytes, room to grow included),
/// checked on load: a header that fits, and bytes in use within it.
#[derive(serde::Deserialize)]
struct SavedLog {
    #[serde(with = "crate::codec::bytes")]
    bytes: Box<[u8]>,
}

impl TryFrom<SavedLog> for Log {
    type Error = String;

    fn try_from(saved: SavedLog) -> Result<Log, String> {
        let log = Log { bytes: saved.bytes };
        if log.is_empty() {
            return Ok(log);
        }
        let shape = log.shape();
        let (header, used) = (shape.header(), log.used());
        if log.bytes.len() < header || used < header || used > log.bytes.len() {
            return Err("a packed log with a damaged header".into());
        }
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::SketchLayout;

    #[test]
    fn metric_values_read_back_exactly_and_small() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            15000.0,
            0.75,
            0.07,
            1e-9,
            123456789012.34,
            1e300,
            -2.5,
            f64::MIN_POSITIVE,
            0.1 + 0.2,
            4503599627370496.0,
            9007199254740993.0,
        ] {
            let mut out = Vec::new();
            write_metric(&mut out, x);
            let mut at = 0;
            let back = read_metric(&out, &mut at);
            assert_eq!(back.to_bits(), x.to_bits(), "{x}");
            assert_eq!(at, out.len());
        }
        let size = |x: f64| {
            let mut out = Vec::new();
            write_metric(&mut out, x);
            out.len()
        };
        assert_eq!(size(15000.0), 3);
        assert_eq!(size(0.75), 2);
        assert_eq!(size(0.1 + 0.2), 9, "not a short decimal: raw");
    }

    #[test]
    fn a_reels_view_costs_thirteen_bytes() {
        let layout = SketchLayout {
            percentiles: vec![],
            distinct: vec![1],
            ..SketchLayout::default()
        };
        let hashes = [0, 0xdead_beef_0000_0001];
        let input = SketchInput {
            layout: &layout,
            hashes: &hashes,
        };
        let mut log = Log::default();
        let t0 = 1_736_899_200_000;
        assert!(log.push(t0, 3, &[15000.0, 0.75], &input, t0));
        let one = log.bytes();
        assert!(log.push(t0 + 7_200_000, 3, &[15000.0, 0.75], &input, t0 + 7_200_000));
        // 2 (two hours' delta) + 1 cell + 1 present + 3 + 2 + 4.
        assert_eq!(log.bytes() - one, 13);
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn allocations_are_whole_malloc_chunks_in_small_steps() {
        let mut previous = 0;
        for n in 1..4000 {
            let c = size_class(n);
            assert!(c >= n && (c + 8).is_multiple_of(16), "{n} -> {c}");
            if c != previous && previous > 0 {
                assert!(
                    c as f64 <= previous as f64 * 1.3 + 16.0,
                    "{previous} -> {c}"
                );
            }
            previous = c;
        }
        let layout = SketchLayout::default();
        let input = SketchInput {
            layout: &layout,
            hashes: &[],
        };
        let mut log = Log::default();
        let (mut grew, t0) = (0, 1_736_899_200_000);
        for i in 0..200 {
            let before = log.capacity();
            log.push(t0 + i * 1000, 0, &[i as f64], &input, t0 + i * 1000);
            grew += usize::from(log.capacity() != before);
            assert!(log.capacity() >= log.bytes());
        }
        assert!(
            grew < 20,
            "most events are written in place: {grew} reallocations"
        );
    }

    #[test]
    fn records_stay_newest_first_whatever_the_arrival_order() {
        let none = SketchLayout::default();
        let input = SketchInput {
            layout: &none,
            hashes: &[],
        };
        let mut log = Log::default();
        let t0 = 1_736_899_200_000;
        for s in [5, 9, 1, 9, 7, 0, 12] {
            log.push(t0 + s * 1000, s as CellId, &[s as f64], &input, t0 + 12_000);
        }
        let secs: Vec<i64> = log.records().map(|r| r.sec - t0 / 1000).collect();
        assert_eq!(secs, [12, 9, 9, 7, 5, 1, 0]);
        let cells: Vec<CellId> = log.records().map(|r| r.cell).collect();
        assert_eq!(cells, [12, 9, 9, 7, 5, 1, 0]);
        let metrics: Vec<f64> = log.records().map(|r| r.metrics[0]).collect();
        assert_eq!(metrics, [12.0, 9.0, 9.0, 7.0, 5.0, 1.0, 0.0]);
    }
}
