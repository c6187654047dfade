//! The ring of recent events: what raw-row queries (`SELECT` without
//! aggregates, planned by [`crate::query::plan_raw`]) read.
//!
//! Rolling state keeps aggregates, so `SELECT event_id, user_id FROM events
//! ...` needs the events themselves. The engine keeps the last accepted
//! lines in memory, as ingested, bounded both by count and by bytes:
//! whichever bound is reached first evicts the oldest. Once admission
//! accepts a line, its text is copied into large shared chunks, so
//! keeping it costs no allocation of its own.

use std::collections::VecDeque;

use crate::time::Millis;

/// Default bound on the events kept.
pub const DEFAULT_RECENT_EVENTS: usize = 100_000;
/// Bound on the bytes of line text kept, whatever the event bound.
pub const MAX_RECENT_BYTES: usize = 64 << 20;
/// Line text is copied into chunks of this size, so keeping a line costs a
/// copy, not an allocation, and eviction frees a whole chunk at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// One accepted event as ingested.
#[derive(Debug)]
pub struct RecentEvent<'a> {
    /// The admitted event time (arrival time for schemas without one).
    pub ts_ms: Millis,
    /// Position in acceptance order since the engine started.
    pub seq: u64,
    /// The line as read, without its line ending.
    pub text: &'a [u8],
}

/// Where one kept line's text is, and what raw-row queries need besides.
#[derive(Debug, Clone, Copy)]
struct Entry {
    ts_ms: Millis,
    seq: u64,
    /// The chunk, counted since the engine started (see `first_chunk`).
    chunk: u64,
    start: u32,
    len: u32,
}

/// See the module docs.
#[derive(Debug)]
pub struct RecentEvents {
    entries: VecDeque<Entry>,
    chunks: VecDeque<Vec<u8>>,
    /// The last chunk dropped, emptied, for the next one: a fresh MiB
    /// costs 256 page faults (with zeroing) where a reused one costs none.
    spare: Option<Vec<u8>>,
    /// The number of the front chunk.
    first_chunk: u64,
    /// Bytes the chunks hold (their capacity).
    bytes: usize,
    max_events: usize,
    next_seq: u64,
}

impl RecentEvents {
    pub fn new(max_events: usize) -> RecentEvents {
        RecentEvents {
            entries: VecDeque::new(),
            chunks: VecDeque::new(),
            spare: None,
            first_chunk: 0,
            bytes: 0,
            max_events,
            next_seq: 0,
        }
    }

    /// Whether the ring keeps anything (`--recent-events 0` turns it off).
    pub fn enabled(&self) -> bool {
        self.max_events > 0
    }

    pub fn capacity(&self) -> usize {
        self.max_events
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Keeps a copy of one accepted line, evicting the oldest beyond the
    /// bounds; returns its sequence number. The number advances for every
    /// accepted line, kept or not (the ring off): the events store numbers
    /// its events with it, and a checkpoint saves it.
    pub fn push(&mut self, ts_ms: Millis, text: &[u8]) -> u64 {
        let seq = self.next_seq;
        if !self.enabled() {
            self.next_seq += 1;
            return seq;
        }
        let text = trim_line_end(text);
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.capacity() - c.len() >= text.len());
        if !fits {
            let chunk = match self.spare.take() {
                Some(spare) if spare.capacity() >= text.len() => spare,
                _ => Vec::with_capacity(CHUNK_BYTES.max(text.len())),
            };
            self.bytes += chunk.capacity();
            self.chunks.push_back(chunk);
        }
        let chunk_no = self.first_chunk + self.chunks.len() as u64 - 1;
        let Some(chunk) = self.chunks.back_mut() else {
            self.next_seq += 1;
            return seq;
        };
        let start = chunk.len() as u32;
        chunk.extend_from_slice(text);
        self.entries.push_back(Entry {
            ts_ms,
            seq: self.next_seq,
            chunk: chunk_no,
            start,
            len: text.len() as u32,
        });
        self.next_seq += 1;
        while self.entries.len() > self.max_events {
            self.entries.pop_front();
        }
        // Drop whole chunks: those no entry points into any more, and the
        // oldest ones (with their entries) while over the byte bound.
        while self.chunks.len() > 1 {
            let front = self.first_chunk;
            let unused = self.entries.front().is_none_or(|e| e.chunk > front);
            if !unused && self.bytes <= MAX_RECENT_BYTES {
                break;
            }
            while self.entries.front().is_some_and(|e| e.chunk == front) {
                self.entries.pop_front();
            }
            if let Some(mut chunk) = self.chunks.pop_front() {
                self.bytes -= chunk.capacity();
                if chunk.capacity() == CHUNK_BYTES {
                    chunk.clear();
                    self.spare = Some(chunk);
                }
            }
            self.first_chunk += 1;
        }
        seq
    }

    /// The sequence number the next accepted line gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = RecentEvent<'_>> {
        self.entries.iter().map(|e| {
            let chunk = &self.chunks[(e.chunk - self.first_chunk) as usize];
            RecentEvent {
                ts_ms: e.ts_ms,
                seq: e.seq,
                text: &chunk[e.start as usize..(e.start + e.len) as usize],
            }
        })
    }
}

/// A line without its line ending, as the ring and the events store keep it.
pub fn trim_line_end(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    text
}

/// What a checkpoint keeps of the ring: each event's time, sequence number
/// and text, oldest first, and the next sequence number. Borrowed when
/// written, owned when read.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SavedRecent<'a> {
    next_seq: u64,
    events: Vec<(Millis, u64, crate::codec::Blob<'a>)>,
}

impl RecentEvents {
    pub fn save(&self) -> SavedRecent<'_> {
        SavedRecent {
            next_seq: self.next_seq,
            events: self
                .iter()
                .map(|e| {
                    let text = crate::codec::Blob(std::borrow::Cow::Borrowed(e.text));
                    (e.ts_ms, e.seq, text)
                })
                .collect(),
        }
    }

    /// Replaces the ring with a saved one, under this ring's bounds.
    pub fn restore(&mut self, saved: SavedRecent<'_>) {
        *self = RecentEvents::new(self.max_events);
        for (ts_ms, seq, text) in &saved.events {
            self.next_seq = *seq;
            let _ = self.push(*ts_ms, &text.0);
        }
        self.next_seq = saved.next_seq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_within_the_bound() {
        let mut r = RecentEvents::new(3);
        for i in 0..5 {
            r.push(i, format!("{{\"n\":{i}}}\n").as_bytes());
        }
        let kept: Vec<(Millis, u64, &[u8])> = r.iter().map(|e| (e.ts_ms, e.seq, e.text)).collect();
        assert_eq!(
            kept,
            vec![
                (2, 2, &b"{\"n\":2}"[..]),
                (3, 3, &b"{\"n\":3}"[..]),
                (4, 4, &b"{\"n\":4}"[..])
            ]
        );
    }

    #[test]
    fn zero_disables_it_but_the_seq_goes_on() {
        let mut r = RecentEvents::new(0);
        assert_eq!(r.push(1, b"{}"), 0);
        assert_eq!(r.push(2, b"{}"), 1);
        assert_eq!((r.len(), r.next_seq()), (0, 2));
    }

    #[test]
    fn the_byte_bound_evicts_too() {
        let mut r = RecentEvents::new(1000);
        r.push(1, &vec![b' '; MAX_RECENT_BYTES / 2 + 1]);
        r.push(2, &vec![b' '; MAX_RECENT_BYTES / 2 + 1]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.iter().next().map(|e| e.ts_ms), Some(2));
    }

    #[test]
    fn lines_span_many_chunks_and_old_chunks_are_freed() {
        let mut r = RecentEvents::new(10_000);
        let line = vec![b'x'; 1000];
        for i in 0..50_000 {
            r.push(i, &line);
        }
        assert_eq!(r.len(), 10_000);
        assert!(r.iter().all(|e| e.text == &line[..]));
        assert_eq!(r.iter().next().map(|e| e.seq), Some(40_000));
        // 10k lines of 1000 bytes need ~10 chunks, plus the partly used one.
        assert!(r.chunks.len() <= 12, "{} chunks", r.chunks.len());
    }
}
