//! Admission: the clock, the guards and the id history.
//!
//! A parsed line is admitted when it is not a duplicate, not too late
//! (older than now − retention) and not too far in the future. Admission
//! owns "now" for the event clock: the largest event time accepted so far.
//! Duplicates are found in the [`IdHistory`] (8 bytes per id within
//! retention; see its docs for the false-duplicate bound).
//!
//! **The future guard.** A single absurd timestamp must not move the clock
//! and silently empty every window. So an event more than `max_jump` ahead
//! of now (or ahead of the system clock, whatever the clock mode) is *held*,
//! not admitted. If [`JUMP_CONFIRMATIONS`] held events arrive in a row, the
//! stream really did jump (a gap in the data): they are all admitted in
//! order. Held events must agree: one more than `max_jump` away from a
//! newer held event was an outlier, and is rejected as `too_far_in_future`
//! at once. If an ordinary event arrives first, the held ones were outliers
//! and are rejected the same way, as are held events at the end of input
//! (a followed file has no end: its appends keep what is held).
//!
//! **The start.** On the event clock the first event does not set the clock
//! alone, or one line dated months ahead would make every other event too
//! late. It is held as the candidate clock, with the events after it, until
//! one of them is consistent with it (neither too late for it nor more than
//! `max_jump` ahead): then all are admitted in arrival order, as if the
//! first had set the clock at once. But if [`JUMP_CONFIRMATIONS`] events in
//! a row are not consistent with it and agree with each other, the first
//! was an outlier: held events more than `max_jump` ahead of them are
//! rejected as `too_far_in_future`, and the others admitted in order.
//!
//! Too few events to tell are settled at the end of a *whole piece* of
//! input ([`Admission::end_piece`]: a file, stdin, one posted body), or
//! when [`START_HOLD`] are held: if the first is more than `max_jump` ahead
//! of the last held event, it is a jump nothing confirmed, and the events
//! at the end that agree with the last one set the clock as a row of
//! confirmations would; otherwise the first sets it. A followed file's
//! pause is not the end of a piece: its first line waits for the next.

use super::cells::CellInterner;
use super::history::IdHistory;
use crate::event::{Event, Parsed, Reason, Reject};
use crate::time::{wall_clock_ms, Clock, Millis};

/// Held far-future events in a row that confirm a jump of the clock.
pub const JUMP_CONFIRMATIONS: usize = 3;

/// The most events held before the clock starts: then they are settled as
/// at the end of a piece of input.
pub const START_HOLD: usize = 16;

/// The limits admission enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub clock: Clock,
    pub retention_ms: Millis,
    pub max_jump_ms: Millis,
}

/// Where a line came from, for the reject file.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub source: std::sync::Arc<str>,
    pub line: u64,
}

/// A rejected line: where it came from, why, and — when it is not the line
/// being offered (a held event found to be an outlier later) — its text.
#[derive(Debug)]
pub struct Rejected {
    pub origin: Origin,
    pub reject: Reject,
    pub text: Option<Box<[u8]>>,
}

/// Where admission puts its verdicts: admitted events in order, and
/// rejected lines.
#[derive(Debug, Default)]
pub struct Verdicts {
    pub admitted: Vec<Event>,
    /// Parallel to `admitted`: the line of an event admitted from the
    /// future guard's hold, `None` for the line being offered.
    pub admitted_text: Vec<Option<Box<[u8]>>>,
    pub rejected: Vec<Rejected>,
}

impl Verdicts {
    pub fn reject(&mut self, origin: Origin, reject: Reject) {
        self.rejected.push(Rejected {
            origin,
            reject,
            text: None,
        });
    }
}

/// An event held by the future guard, with its line for the reject file.
#[derive(Debug)]
struct Held {
    origin: Origin,
    parsed: Parsed,
    ts: Millis,
    text: Box<[u8]>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    /// The event clock; `None` before the first admitted event.
    now_ms: Option<Millis>,
    /// The ids admitted within retention, for de-duplication.
    ids: IdHistory,
    pub cells: CellInterner,
    /// Far-future events waiting for the stream to confirm the jump.
    held: Vec<Held>,
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            now_ms: None,
            ids: IdHistory::new(limits.retention_ms, limits.max_jump_ms),
            cells: CellInterner::default(),
            held: Vec::new(),
        }
    }

    /// Scrambles id hashes with `seed` from now on, instead of the random
    /// one: the history's answers then repeat exactly from run to run (a
    /// data directory keeps its seed, so replay remembers what the first
    /// run remembered). Called before the first line, it forgets nothing.
    pub fn seed_ids(&mut self, seed: u64) {
        self.ids = IdHistory::with_seed(self.limits.retention_ms, self.limits.max_jump_ms, seed);
    }

    /// Now, as queries see it.
    pub fn now_ms(&self) -> Option<Millis> {
        match self.limits.clock {
            Clock::Event => self.now_ms,
            Clock::Wall => Some(wall_clock_ms()),
        }
    }

    /// Ids remembered for de-duplication.
    pub fn remembered_ids(&self) -> usize {
        self.ids.len()
    }

    /// Bytes the id history takes.
    pub fn id_history_bytes(&self) -> usize {
        self.ids.bytes()
    }

    /// Offers one parsed line (`text` is the line as read, kept only if
    /// the event is held); verdicts go to `out`.
    pub fn offer(&mut self, origin: Origin, parsed: Parsed, text: &[u8], out: &mut Verdicts) {
        let wall = wall_clock_ms();
        let ts = parsed.ts_ms.unwrap_or(wall);
        if ts > wall + self.limits.max_jump_ms {
            let detail = format!(
                "{} is ahead of the system clock",
                crate::time::format_timestamp(ts)
            );
            out.reject(origin, Reject::new(Reason::TooFarInFuture, detail));
            return;
        }
        let now = match self.limits.clock {
            Clock::Event => self.now_ms,
            Clock::Wall => Some(wall),
        };
        if now.is_none() {
            self.hold_at_start(origin, parsed, ts, text, out);
            return;
        }
        self.guard(origin, parsed, ts, None, text, out);
    }

    /// The future guard, once the clock has started. `kept` is the line of
    /// an event held at the start and offered again; `text` the line being
    /// offered otherwise.
    fn guard(
        &mut self,
        origin: Origin,
        parsed: Parsed,
        ts: Millis,
        kept: Option<Box<[u8]>>,
        text: &[u8],
        out: &mut Verdicts,
    ) {
        let now = match self.limits.clock {
            Clock::Event => self.now_ms,
            Clock::Wall => Some(wall_clock_ms()),
        };
        if now.is_some_and(|now| ts > now + self.limits.max_jump_ms) {
            // Held events confirm a jump only if they agree with each other:
            // one more than `max_jump` away from this one was an outlier.
            let max_jump = self.limits.max_jump_ms;
            self.reject_held_where(out, |held| held.ts.abs_diff(ts) > max_jump.unsigned_abs());
            self.held.push(Held {
                origin,
                parsed,
                ts,
                text: kept.unwrap_or_else(|| text.into()),
            });
            if self.held.len() >= JUMP_CONFIRMATIONS {
                for held in std::mem::take(&mut self.held) {
                    self.admit(held.origin, held.parsed, held.ts, Some(held.text), out);
                }
            }
            return;
        }
        self.reject_held(out);
        self.admit(origin, parsed, ts, kept, out);
    }

    /// Whether events are held before the clock has started: the first
    /// events of the input, waiting for the end of a piece (or more events)
    /// to tell whether the first is an outlier.
    pub fn holds_start(&self) -> bool {
        self.now_ms().is_none() && !self.held.is_empty()
    }

    /// End of input: held events were never confirmed (or, before the
    /// clock started, were too few to tell an outlier).
    pub fn finish(&mut self, out: &mut Verdicts) {
        self.end_piece(out);
        self.reject_held(out);
    }

    /// The end of a whole piece of input that does not end the input (a
    /// posted body): events held before the clock started are settled, as
    /// at the end of input; events held for a jump wait for the next piece.
    pub fn end_piece(&mut self, out: &mut Verdicts) {
        if self.now_ms().is_none() {
            self.settle_start(out);
        }
    }

    /// Starts the clock from too few held events to tell (see the module
    /// docs): a first event more than `max_jump` ahead of the last one is
    /// refuted by the row that agrees with the last one.
    fn settle_start(&mut self, out: &mut Verdicts) {
        let max_jump = self.limits.max_jump_ms;
        let (Some(first), Some(last)) = (self.held.first(), self.held.last()) else {
            return;
        };
        let (first, last) = (first.ts, last.ts);
        if first <= last.saturating_add(max_jump) {
            return self.start_clock(None, out);
        }
        let agreed = self.held[1..]
            .iter()
            .rev()
            .take_while(|h| h.ts.abs_diff(last) <= max_jump.unsigned_abs())
            .map(|h| h.ts)
            .max();
        self.start_clock(agreed, out);
    }

    /// Before the event clock starts: holds the event. The first held event
    /// is the candidate clock. A later event consistent with it (neither
    /// too late for it nor more than `max_jump` ahead) confirms it;
    /// [`JUMP_CONFIRMATIONS`] events in a row that are not consistent with
    /// it but agree with each other refute it.
    fn hold_at_start(
        &mut self,
        origin: Origin,
        parsed: Parsed,
        ts: Millis,
        text: &[u8],
        out: &mut Verdicts,
    ) {
        let max_jump = self.limits.max_jump_ms;
        let consistent = self.held.first().is_some_and(|first| {
            ts > first.ts.saturating_sub(self.limits.retention_ms)
                && ts <= first.ts.saturating_add(max_jump)
        });
        self.held.push(Held {
            origin,
            parsed,
            ts,
            text: text.into(),
        });
        if consistent {
            return self.start_clock(None, out);
        }
        let row = self.held[1..]
            .iter()
            .rev()
            .take_while(|h| h.ts.abs_diff(ts) <= max_jump.unsigned_abs())
            .count();
        if row >= JUMP_CONFIRMATIONS {
            let newest = self.held[self.held.len() - row..]
                .iter()
                .map(|h| h.ts)
                .max();
            self.start_clock(newest, out);
        } else if self.held.len() >= START_HOLD {
            self.settle_start(out);
        }
    }

    /// Starts the clock from the events held at the start. With `agreed`
    /// (the newest of the events that refuted the first), rejects those
    /// more than `max_jump` ahead of it and admits the others in arrival
    /// order. Without, the first sets the clock and the others go through
    /// the future guard in arrival order, as if they had come after it.
    fn start_clock(&mut self, agreed: Option<Millis>, out: &mut Verdicts) {
        let Some(agreed) = agreed else {
            let mut held = std::mem::take(&mut self.held).into_iter();
            if let Some(first) = held.next() {
                self.admit(first.origin, first.parsed, first.ts, Some(first.text), out);
            }
            for h in held {
                self.guard(h.origin, h.parsed, h.ts, Some(h.text), &[], out);
            }
            return;
        };
        let max_jump = self.limits.max_jump_ms;
        self.reject_held_where(out, |held| held.ts > agreed.saturating_add(max_jump));
        for held in std::mem::take(&mut self.held) {
            self.admit(held.origin, held.parsed, held.ts, Some(held.text), out);
        }
    }

    fn reject_held(&mut self, out: &mut Verdicts) {
        self.reject_held_where(out, |_| true);
    }

    /// Rejects the held events `outlier` picks, in order; keeps the others.
    fn reject_held_where(&mut self, out: &mut Verdicts, outlier: impl Fn(&Held) -> bool) {
        let (rejected, kept) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| outlier(h));
        self.held = kept;
        for held in rejected {
            let detail = format!(
                "{} jumps more than the allowed {} ahead of the stream",
                crate::time::format_timestamp(held.ts),
                crate::time::format_duration(self.limits.max_jump_ms)
            );
            out.rejected.push(Rejected {
                origin: held.origin,
                reject: Reject::new(Reason::TooFarInFuture, detail),
                text: Some(held.text),
            });
        }
    }

    /// The checks against the past: too late, duplicate, cell limit.
    /// `text` is the line when it is not the one being offered.
    fn admit(
        &mut self,
        origin: Origin,
        parsed: Parsed,
        ts: Millis,
        text: Option<Box<[u8]>>,
        out: &mut Verdicts,
    ) {
        let reject = |out: &mut Verdicts, origin, reject, text| {
            out.rejected.push(Rejected {
                origin,
                reject,
                text,
            })
        };
        let now = self.now_ms().unwrap_or(ts).max(ts);
        if ts <= now - self.limits.retention_ms {
            let detail = format!(
                "{} is older than the retention of {}",
                crate::time::format_timestamp(ts),
                crate::time::format_duration(self.limits.retention_ms)
            );
            reject(out, origin, Reject::new(Reason::TooLate, detail), text);
            return;
        }
        if let Some(id) = parsed.id_hash {
            if self.ids.contains(id, now) {
                let r = Reject::new(Reason::Duplicate, "id seen before");
                reject(out, origin, r, text);
                return;
            }
        }
        let dead_before = now - self.limits.retention_ms - super::cells::WIDEST_SLOT_MS;
        let Some(cell) = self.cells.intern(&parsed.dims, ts, dead_before) else {
            let detail = format!(
                "a new combination of dimension values, past the {} this engine keeps \
                 (a combination is freed once its last event is older than the retention \
                 of {} plus an hour); dimensions are for low-cardinality fields: declare a \
                 high-cardinality one an attribute in a custom schema (--schema FILE)",
                crate::count::thousands(super::cells::MAX_CELLS as u64),
                crate::time::format_duration(self.limits.retention_ms)
            );
            reject(out, origin, Reject::new(Reason::InvalidField, detail), text);
            return;
        };
        if let Some(id) = parsed.id_hash {
            self.ids.insert(id, ts, now);
        }
        if self.limits.clock == Clock::Event {
            self.now_ms = Some(now);
        }
        out.admitted.push(Event {
            ts_ms: ts,
            cell,
            keys: parsed.keys,
            metrics: parsed.metrics,
            attr_hashes: parsed.attr_hashes,
        });
        out.admitted_text.push(text);
    }
}

/// What a checkpoint keeps of admission: the clock, the id history, the
/// cells in id order and the held events. Borrowed when written, owned
/// when read.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedAdmission<'a> {
    now_ms: Option<Millis>,
    ids: std::borrow::Cow<'a, IdHistory>,
    cells: super::cells::SavedCells<'a>,
    held: Vec<SavedHeld>,
}

/// A held event as a checkpoint keeps it: its line, parsed again on load.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SavedHeld {
    source: String,
    line: u64,
    ts: Millis,
    text: Vec<u8>,
}

impl SavedAdmission<'_> {
    /// How many cells it holds.
    pub fn cells(&self) -> usize {
        self.cells.len()
    }
}

impl Admission {
    pub fn save(&self) -> SavedAdmission<'_> {
        SavedAdmission {
            now_ms: self.now_ms,
            ids: std::borrow::Cow::Borrowed(&self.ids),
            cells: self.cells.save(),
            held: self
                .held
                .iter()
                .map(|h| SavedHeld {
                    source: h.origin.source.to_string(),
                    line: h.origin.line,
                    ts: h.ts,
                    text: h.text.to_vec(),
                })
                .collect(),
        }
    }

    /// Puts a saved state in place of this one. `parse` parses a held
    /// line again; a line it refuses (it parsed when it was held) means
    /// the checkpoint is not this engine's, and nothing is changed.
    pub fn restore(
        &mut self,
        saved: SavedAdmission<'_>,
        parse: impl Fn(&[u8]) -> Option<Parsed>,
    ) -> Result<(), String> {
        let mut held = Vec::with_capacity(saved.held.len());
        for h in saved.held {
            let parsed = parse(&h.text).ok_or("a held line that does not parse")?;
            held.push(Held {
                origin: Origin {
                    source: h.source.into(),
                    line: h.line,
                },
                parsed,
                ts: h.ts,
                text: h.text.into(),
            });
        }
        self.cells.restore(&saved.cells)?;
        self.now_ms = saved.now_ms;
        self.ids = saved.ids.into_owned();
        self.held = held;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DimKey, Key};
    use crate::value::Value;

    const T0: Millis = 1_736_899_200_000;
    const HOUR: Millis = 3_600_000;

    fn admission() -> Admission {
        Admission::new(Limits {
            clock: Clock::Event,
            retention_ms: 24 * HOUR,
            max_jump_ms: HOUR,
        })
    }

    fn event(ts: Millis, id: u64) -> Parsed {
        Parsed {
            ts_ms: Some(ts),
            id_hash: Some(id),
            keys: [Key::Int(1)].into_iter().collect(),
            dims: DimKey::from_values(&[Value::str("view")]),
            metrics: Default::default(),
            attr_hashes: Default::default(),
        }
    }

    fn offer(a: &mut Admission, ts: Millis, id: u64) -> Verdicts {
        let mut out = Verdicts::default();
        let origin = Origin {
            source: "t".into(),
            line: id,
        };
        a.offer(origin, event(ts, id), b"{}", &mut out);
        out
    }

    fn reasons(v: &Verdicts) -> Vec<Reason> {
        v.rejected.iter().map(|r| r.reject.reason).collect()
    }

    /// Starts the clock at `T0` with two agreeing events (ids 1 and 1000).
    fn start(a: &mut Admission) {
        assert!(offer(a, T0, 1).admitted.is_empty(), "the first is held");
        assert_eq!(offer(a, T0, 1000).admitted.len(), 2);
        assert_eq!(a.now_ms(), Some(T0));
    }

    /// Item 7 of the hostile-input issue: a first event months ahead of the
    /// rest is an outlier, not the clock; the rest are admitted.
    #[test]
    fn a_first_event_far_ahead_does_not_set_the_clock() {
        let mut a = admission();
        let day = 24 * HOUR;
        assert!(offer(&mut a, T0 + 150 * day, 1).admitted.is_empty());
        assert!(offer(&mut a, T0, 2).admitted.is_empty());
        assert!(offer(&mut a, T0 + 1000, 3).admitted.is_empty());
        let v = offer(&mut a, T0 + 2000, 4);
        assert_eq!(reasons(&v), [Reason::TooFarInFuture]);
        assert_eq!(v.rejected[0].origin.line, 1);
        assert_eq!(v.admitted.len(), 3);
        assert_eq!(a.now_ms(), Some(T0 + 2000));
        for id in 5..10 {
            assert_eq!(offer(&mut a, T0 + id as i64, id).admitted.len(), 1);
        }
    }

    /// A first event followed by late ones that disagree with each other
    /// is the clock: the late ones are too late, as they always were.
    #[test]
    fn a_first_event_confirmed_later_is_the_clock() {
        let mut a = admission();
        offer(&mut a, T0, 1);
        offer(&mut a, T0 - 30 * HOUR, 2);
        offer(&mut a, T0 - 40 * HOUR, 3);
        let v = offer(&mut a, T0 - HOUR, 4);
        assert_eq!(v.admitted.len(), 2);
        assert_eq!(reasons(&v), [Reason::TooLate, Reason::TooLate]);
        assert_eq!(a.now_ms(), Some(T0));
    }

    #[test]
    fn too_few_events_to_tell_are_admitted_at_the_end() {
        let mut a = admission();
        assert!(offer(&mut a, T0, 1).admitted.is_empty());
        let mut out = Verdicts::default();
        a.finish(&mut out);
        assert_eq!((out.admitted.len(), out.rejected.len()), (1, 0));
        assert_eq!(a.now_ms(), Some(T0));
        // Events that never agree are admitted as they came, past the hold.
        let mut a = admission();
        for i in 0..START_HOLD as u64 {
            let v = offer(&mut a, T0 + i as i64 * 2 * HOUR, i);
            // Then the first sets the clock, and the others meet the
            // future guard: each is an outlier of the next.
            let expected = if i + 1 == START_HOLD as u64 {
                (1, 14)
            } else {
                (0, 0)
            };
            assert_eq!((v.admitted.len(), v.rejected.len()), expected);
        }
    }

    #[test]
    fn duplicates_and_late_events_are_rejected() {
        let mut a = admission();
        start(&mut a);
        assert_eq!(reasons(&offer(&mut a, T0 + 5, 1)), [Reason::Duplicate]);
        assert_eq!(offer(&mut a, T0 - 23 * HOUR, 2).admitted.len(), 1);
        assert_eq!(
            reasons(&offer(&mut a, T0 - 24 * HOUR, 3)),
            [Reason::TooLate]
        );
        assert_eq!(a.now_ms(), Some(T0));
    }

    #[test]
    fn one_absurd_timestamp_does_not_move_the_clock() {
        let mut a = admission();
        start(&mut a);
        assert!(offer(&mut a, T0 + 400 * 24 * HOUR, 2).admitted.is_empty());
        let next = offer(&mut a, T0 + 1000, 3);
        assert_eq!(next.admitted.len(), 1);
        assert_eq!(reasons(&next), [Reason::TooFarInFuture]);
        assert_eq!(a.now_ms(), Some(T0 + 1000));
    }

    #[test]
    fn a_real_gap_is_confirmed_by_the_events_after_it() {
        let mut a = admission();
        start(&mut a);
        let later = T0 + 3 * HOUR;
        assert!(offer(&mut a, later, 2).admitted.is_empty());
        assert!(offer(&mut a, later + 1, 3).admitted.is_empty());
        let confirmed = offer(&mut a, later + 2, 4);
        assert_eq!(confirmed.admitted.len(), 3);
        assert_eq!(a.now_ms(), Some(later + 2));
    }

    /// Item 7 of the hostile-input issue: three far events that disagree
    /// with each other (+5 h, +10 months, +6 weeks) are not a jump.
    #[test]
    fn held_events_that_disagree_do_not_confirm_a_jump() {
        let mut a = admission();
        start(&mut a);
        let day = 24 * HOUR;
        assert!(offer(&mut a, T0 + 5 * HOUR, 2).admitted.is_empty());
        let v = offer(&mut a, T0 + 300 * day, 3);
        assert_eq!(reasons(&v), [Reason::TooFarInFuture]);
        let v = offer(&mut a, T0 + 42 * day, 4);
        assert!(v.admitted.is_empty());
        assert_eq!(reasons(&v), [Reason::TooFarInFuture]);
        assert_eq!(a.now_ms(), Some(T0));
        // Two that agree, and a third with them, are a jump.
        offer(&mut a, T0 + 42 * day + 1, 5);
        let v = offer(&mut a, T0 + 42 * day + 2, 6);
        assert_eq!(v.admitted.len(), 3);
        assert_eq!(a.now_ms(), Some(T0 + 42 * day + 2));
    }

    /// Item 8 of the hostile-input issue: past the cell cap, a line with a
    /// new combination is rejected, counted as `invalid_field`, and its
    /// detail says what to do.
    #[test]
    fn past_the_cell_cap_a_new_combination_says_what_to_do() {
        let mut a = admission();
        let mut out = Verdicts::default();
        let cap = super::super::cells::MAX_CELLS as u64;
        for i in 0..=cap {
            let mut e = event(T0, i);
            e.dims = DimKey::from_values(&[Value::str(&format!("t{i}"))]);
            let origin = Origin {
                source: "t".into(),
                line: i,
            };
            a.offer(origin, e, b"{}", &mut out);
        }
        a.finish(&mut out);
        assert_eq!(out.admitted.len() as u64, cap);
        assert_eq!(reasons(&out), [Reason::InvalidField]);
        let detail = &out.rejected[0].reject.detail;
        assert!(
            detail.contains("65,536") && detail.contains("an attribute"),
            "{detail}"
        );
    }

    #[test]
    fn ahead_of_the_system_clock_is_rejected_at_once() {
        let mut a = admission();
        let v = offer(&mut a, wall_clock_ms() + 2 * HOUR, 1);
        assert_eq!(reasons(&v), [Reason::TooFarInFuture]);
        assert_eq!(a.now_ms(), None);
    }

    #[test]
    fn held_events_at_the_end_are_rejected() {
        let mut a = admission();
        start(&mut a);
        offer(&mut a, T0 + 5 * HOUR, 2);
        let mut out = Verdicts::default();
        a.finish(&mut out);
        assert_eq!(reasons(&out), [Reason::TooFarInFuture]);
    }
}
