//! The ring of recent events: what raw-row queries read (SPEC §5.4).
//!
//! Rolling state keeps aggregates, so `SELECT event_id, user_id FROM events
//! ...` needs the events themselves. Until the durable log exists, the
//! engine keeps the last accepted lines in memory, as ingested, bounded
//! both by count and by bytes: whichever bound is reached first evicts the
//! oldest. A line is moved here, not copied, once admission accepts it.

use std::collections::VecDeque;

use crate::time::Millis;

/// Default bound on the events kept.
pub const DEFAULT_RECENT_EVENTS: usize = 100_000;
/// Bound on the bytes of line text kept, whatever the event bound.
pub const MAX_RECENT_BYTES: usize = 64 << 20;

/// One accepted event as ingested.
#[derive(Debug)]
pub struct RecentEvent {
    /// The admitted event time (arrival time for schemas without one).
    pub ts_ms: Millis,
    /// Position in acceptance order since the engine started.
    pub seq: u64,
    pub text: Vec<u8>,
}

/// See the module docs.
#[derive(Debug)]
pub struct RecentEvents {
    events: VecDeque<RecentEvent>,
    max_events: usize,
    /// Bytes of text held (by capacity: what the allocator holds).
    bytes: usize,
    next_seq: u64,
}

impl RecentEvents {
    pub fn new(max_events: usize) -> RecentEvents {
        RecentEvents {
            events: VecDeque::new(),
            max_events,
            bytes: 0,
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
        self.events.len()
    }

    /// Keeps one accepted line, evicting the oldest beyond the bounds.
    pub fn push(&mut self, ts_ms: Millis, mut text: Vec<u8>) {
        if !self.enabled() {
            return;
        }
        while text.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            text.pop();
        }
        self.bytes += text.capacity();
        self.events.push_back(RecentEvent {
            ts_ms,
            seq: self.next_seq,
            text,
        });
        self.next_seq += 1;
        while self.events.len() > self.max_events || self.bytes > MAX_RECENT_BYTES {
            match self.events.pop_front() {
                Some(old) => self.bytes -= old.text.capacity(),
                None => break,
            }
        }
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &RecentEvent> {
        self.events.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_within_the_bound() {
        let mut r = RecentEvents::new(3);
        for i in 0..5 {
            r.push(i, format!("{{\"n\":{i}}}\n").into_bytes());
        }
        let kept: Vec<(Millis, u64, &[u8])> =
            r.iter().map(|e| (e.ts_ms, e.seq, &e.text[..])).collect();
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
    fn zero_disables_it() {
        let mut r = RecentEvents::new(0);
        r.push(1, b"{}".to_vec());
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn the_byte_bound_evicts_too() {
        let mut r = RecentEvents::new(1000);
        r.push(1, vec![b' '; MAX_RECENT_BYTES / 2 + 1]);
        r.push(2, vec![b' '; MAX_RECENT_BYTES / 2 + 1]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.iter().next().map(|e| e.ts_ms), Some(2));
    }
}
