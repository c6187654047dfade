//! The reference's admission: which lines are accepted, and why the others
//! are rejected (docs/events.md; the guard documented in `src/ingest`).
//!
//! A line is read in field order — time, id, actor keys, dimensions,
//! metrics, attributes — and the first fault decides its reason. A line
//! that reads cleanly then meets the clock:
//!
//! 1. ahead of the system clock by more than `max_jump`: too far in future;
//! 2. ahead of *now* (the largest accepted time) by more than `max_jump`:
//!    held; a held line more than `max_jump` away from a newer held one is
//!    rejected as too far in the future (held lines must agree); three held
//!    lines in a row (lines that fail to read do not break
//!    the row) are all admitted in order, and any other readable line first
//!    rejects the held ones as too far in the future, as does the end of each
//!    input (each `ingest_lines` call);
//! 3. at or before now − retention (now counting this event): too late;
//! 4. an id accepted before: duplicate.
//!
//! Before the clock has started (no line accepted yet), readable lines are
//! held. The first is the candidate clock: a later line neither too late
//! for it nor more than `max_jump` ahead admits the first through 3 and 4,
//! then runs the other held lines through 1–4 in arrival order; three
//! lines in a row that are not consistent with the first and agree with
//! each other (within `max_jump` of the newest) instead *refute* it: the
//! held lines more than `max_jump` ahead of the newest of the row are
//! rejected as too far in the future, and the others admitted in order
//! through 3 and 4. A sixteenth held line, or the end of the input, settles
//! them: a first line more than `max_jump` ahead of the last held line is
//! refuted by the lines at the end that agree with the last (within
//! `max_jump` of it); otherwise the first is admitted as above.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::{lookup, Kind, Preset};

/// Held lines in a row that confirm a jump of the stream's clock.
pub const CONFIRMATIONS: usize = 3;

/// The most lines held before the clock starts.
const START_HOLD: usize = 16;

/// The rejection reasons, named as `SHOW STATS` names them.
pub const REASONS: [&str; 6] = [
    "malformed_json",
    "missing_field",
    "invalid_field",
    "duplicate",
    "too_late",
    "too_far_in_future",
];

/// An accepted event, with only what queries read.
#[derive(Debug, Clone)]
pub struct Event {
    pub ts: i64,
    pub keys: [i64; 2],
    /// Per preset dimension; `None` is NULL.
    pub dims: Vec<Option<String>>,
    /// Per preset metric; `None` is absent.
    pub metrics: Vec<Option<f64>>,
}

/// A line that read cleanly, before the clock checks.
#[derive(Debug, Clone)]
struct Candidate {
    id: Option<String>,
    event: Event,
}

/// The limits of one engine configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub retention_ms: i64,
    pub max_jump_ms: i64,
    /// The system clock, read once.
    pub wall_ms: i64,
}

/// The state after ingesting some input: what queries see.
#[derive(Debug, Default)]
pub struct Admitted {
    pub lines: u64,
    pub events: Vec<Event>,
    /// Counts by reason, indexed like [`REASONS`].
    pub rejected: [u64; 6],
    /// The largest accepted event time.
    pub now: Option<i64>,
    /// Ids of accepted events.
    seen: HashSet<String>,
}

impl Admitted {
    /// Runs one input (one `ingest_lines` call) through the rules of the
    /// module docs. Lines still held at its end are rejected.
    pub fn ingest(&mut self, preset: &Preset, limits: Limits, lines: &[String]) {
        let mut held: Vec<Candidate> = Vec::new();
        // Lines held before the clock starts.
        let mut start: Vec<Candidate> = Vec::new();
        for line in lines {
            self.lines += 1;
            let candidate = match read_line(preset, line) {
                Ok(c) => c,
                Err(reason) => {
                    self.reject(reason);
                    continue;
                }
            };
            let ts = candidate.event.ts;
            if ts > limits.wall_ms + limits.max_jump_ms {
                self.reject("too_far_in_future");
                continue;
            }
            if self.now.is_none() {
                let consistent = start.first().is_some_and(|first| {
                    ts > first.event.ts - limits.retention_ms
                        && ts <= first.event.ts + limits.max_jump_ms
                });
                start.push(candidate);
                let row = start[1..]
                    .iter()
                    .rev()
                    .take_while(|h| (h.event.ts - ts).abs() <= limits.max_jump_ms)
                    .count();
                if consistent {
                    self.start_from_first(std::mem::take(&mut start), &mut held, limits);
                } else if row >= CONFIRMATIONS {
                    let agreed = start[start.len() - row..].iter().map(|h| h.event.ts).max();
                    self.refute_first(std::mem::take(&mut start), agreed, limits);
                } else if start.len() >= START_HOLD {
                    self.settle_start(std::mem::take(&mut start), &mut held, limits);
                }
                continue;
            }
            self.guard(candidate, &mut held, limits);
        }
        self.settle_start(start, &mut held, limits);
        for _ in held.drain(..) {
            self.reject("too_far_in_future");
        }
    }

    /// Too few lines to tell: a first line more than `max_jump` ahead of
    /// the last is refuted by the lines at the end that agree with the last.
    fn settle_start(&mut self, start: Vec<Candidate>, held: &mut Vec<Candidate>, limits: Limits) {
        let (Some(first), Some(last)) = (start.first(), start.last()) else {
            return;
        };
        let (first, last) = (first.event.ts, last.event.ts);
        if first <= last + limits.max_jump_ms {
            return self.start_from_first(start, held, limits);
        }
        let agreed = start[1..]
            .iter()
            .rev()
            .take_while(|h| (h.event.ts - last).abs() <= limits.max_jump_ms)
            .map(|h| h.event.ts)
            .max();
        self.refute_first(start, agreed, limits);
    }

    /// Rejects the lines more than `max_jump` ahead of `agreed` (the newest
    /// of the lines that refuted the first) and admits the others in order.
    fn refute_first(&mut self, start: Vec<Candidate>, agreed: Option<i64>, limits: Limits) {
        let agreed = agreed.expect("a row");
        for c in start {
            if c.event.ts > agreed + limits.max_jump_ms {
                self.reject("too_far_in_future");
            } else {
                self.admit(c, limits);
            }
        }
    }

    /// The first held line sets the clock; the others meet the guard.
    fn start_from_first(
        &mut self,
        start: Vec<Candidate>,
        held: &mut Vec<Candidate>,
        limits: Limits,
    ) {
        let mut start = start.into_iter();
        if let Some(first) = start.next() {
            self.admit(first, limits);
        }
        for c in start {
            self.guard(c, held, limits);
        }
    }

    /// Rule 2, then 3 and 4, for a line once the clock has started.
    fn guard(&mut self, candidate: Candidate, held: &mut Vec<Candidate>, limits: Limits) {
        let ts = candidate.event.ts;
        if self.now.is_some_and(|now| ts > now + limits.max_jump_ms) {
            // Held lines more than max_jump away from this one were
            // outliers: rejected.
            let before = held.len();
            held.retain(|h| (h.event.ts - ts).abs() <= limits.max_jump_ms);
            for _ in held.len()..before {
                self.reject("too_far_in_future");
            }
            held.push(candidate);
            if held.len() >= CONFIRMATIONS {
                for c in std::mem::take(held) {
                    self.admit(c, limits);
                }
            }
            return;
        }
        for _ in held.drain(..) {
            self.reject("too_far_in_future");
        }
        self.admit(candidate, limits);
    }

    pub fn accepted(&self) -> u64 {
        self.events.len() as u64
    }

    fn reject(&mut self, reason: &str) {
        let i = REASONS.iter().position(|r| *r == reason).expect("a reason");
        self.rejected[i] += 1;
    }

    fn admit(&mut self, c: Candidate, limits: Limits) {
        let ts = c.event.ts;
        let now = self.now.map_or(ts, |now| now.max(ts));
        if ts <= now - limits.retention_ms {
            self.reject("too_late");
            return;
        }
        if let Some(id) = c.id {
            if !self.seen.insert(id) {
                self.reject("duplicate");
                return;
            }
        }
        self.now = Some(now);
        self.events.push(c.event);
    }
}

/// Reads one line under a preset, or names the reason it is rejected.
fn read_line(p: &Preset, line: &str) -> Result<Candidate, &'static str> {
    let text = line.trim();
    if text.is_empty() {
        return Err("malformed_json");
    }
    let json: Json = serde_json::from_str(text).map_err(|_| "malformed_json")?;
    if !json.is_object() {
        return Err("malformed_json");
    }
    let ts = match required(&json, p.time)? {
        Json::String(s) => tally::time::parse_timestamp_str(s),
        Json::Number(n) => n.as_f64().and_then(tally::time::parse_timestamp_number),
        _ => None,
    }
    .ok_or("invalid_field")?;
    let id = match p.id {
        None => None,
        Some(field) => Some(match required(&json, field)? {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            _ => return Err("invalid_field"),
        }),
    };
    let mut keys = [0i64; 2];
    for (key, field) in keys.iter_mut().zip(p.keys) {
        *key = required(&json, field)?.as_i64().ok_or("invalid_field")?;
    }
    let mut dims = Vec::new();
    for &(field, is_required) in p.dims {
        let value = if is_required {
            Some(required(&json, field)?)
        } else {
            present(&json, field)
        };
        dims.push(match value {
            None => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => return Err("invalid_field"),
        });
    }
    let mut metrics = Vec::new();
    for &(field, kind) in p.metrics {
        metrics.push(match present(&json, field) {
            None => None,
            Some(v) if typed(v, kind) => v.as_f64(),
            Some(_) => return Err("invalid_field"),
        });
    }
    for &(field, kind) in p.attrs {
        if present(&json, field).is_some_and(|v| !typed(v, kind)) {
            return Err("invalid_field");
        }
    }
    Ok(Candidate {
        id,
        event: Event {
            ts,
            keys,
            dims,
            metrics,
        },
    })
}

/// A field that is there and not null.
fn present<'j>(json: &'j Json, field: &str) -> Option<&'j Json> {
    lookup(json, field).filter(|v| !v.is_null())
}

fn required<'j>(json: &'j Json, field: &str) -> Result<&'j Json, &'static str> {
    present(json, field).ok_or("missing_field")
}

fn typed(v: &Json, kind: Kind) -> bool {
    match kind {
        Kind::Int => v.is_i64(),
        Kind::Float => v.is_number(),
        Kind::Str => v.is_string(),
    }
}
