//! The events store's block format: what one block's payload holds and
//! how it is read back. A payload is a header — format version (u8),
//! event count (u32), smallest and largest event time (i64 ms each), the
//! sequence number of its first event (u64), all little-endian — then per
//! event its time (i64), its text's length (u32) and the text. A block is
//! framed as a record of the log's framing (`record.rs`).
//!
//! The decoders treat every byte as hostile: every length is checked
//! against what is left, and a block that does not add up is an error with
//! what did not, never a panic and never rows from a part of it. The store
//! that writes and indexes blocks is `events.rs`.

use super::record::{Next, RecordReader, HEADER, MAX_RECORD};
use crate::time::Millis;

/// The version byte every block starts with.
pub(super) const BLOCK_VERSION: u8 = 1;
/// Bytes of a block's header: version, count, min ts, max ts, first seq.
pub(super) const BLOCK_HEADER: usize = 1 + 4 + 8 + 8 + 8;
/// Bytes of an event's header inside a block: time and text length.
pub(super) const EVENT_HEADER: usize = 8 + 4;

/// The block being filled, in memory until it is full or flushed.
#[derive(Debug)]
pub(super) struct Pending {
    /// The payload so far: a header left blank, then the events.
    pub(super) payload: Vec<u8>,
    pub(super) count: u64,
    pub(super) min_ts: Millis,
    pub(super) max_ts: Millis,
    pub(super) first_seq: u64,
}

impl Pending {
    pub(super) fn new() -> Pending {
        Pending {
            payload: vec![0; BLOCK_HEADER],
            count: 0,
            min_ts: Millis::MAX,
            max_ts: Millis::MIN,
            first_seq: 0,
        }
    }

    pub(super) fn end_seq(&self) -> u64 {
        self.first_seq + self.count
    }

    pub(super) fn push(&mut self, seq: u64, ts_ms: Millis, text: &[u8]) {
        if self.count == 0 {
            self.first_seq = seq;
        }
        self.count += 1;
        self.min_ts = self.min_ts.min(ts_ms);
        self.max_ts = self.max_ts.max(ts_ms);
        self.payload.extend_from_slice(&ts_ms.to_le_bytes());
        self.payload
            .extend_from_slice(&(text.len() as u32).to_le_bytes());
        self.payload.extend_from_slice(text);
    }

    /// The finished payload, header filled in.
    pub(super) fn seal(&mut self) -> &[u8] {
        let mut header = Vec::with_capacity(BLOCK_HEADER);
        header.push(BLOCK_VERSION);
        header.extend_from_slice(&(self.count as u32).to_le_bytes());
        header.extend_from_slice(&self.min_ts.to_le_bytes());
        header.extend_from_slice(&self.max_ts.to_le_bytes());
        header.extend_from_slice(&self.first_seq.to_le_bytes());
        self.payload[..BLOCK_HEADER].copy_from_slice(&header);
        &self.payload
    }
}

/// A block's header, decoded from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BlockHeader {
    pub(super) count: u64,
    pub(super) min_ts: Millis,
    pub(super) max_ts: Millis,
    pub(super) first_seq: u64,
}

pub(super) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

pub(super) fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// The header at the start of a block payload of `len` bytes, checked as
/// far as it can be without the rest: a version we write, at least one
/// event, room for every event's header, times in order, no seq overflow.
pub(super) fn decode_header(
    head: &[u8],
    len: usize,
) -> std::result::Result<BlockHeader, &'static str> {
    if head.len() < BLOCK_HEADER || len < BLOCK_HEADER {
        return Err("a block shorter than its header");
    }
    if head[0] != BLOCK_VERSION {
        return Err("a block of an unknown version");
    }
    let h = BlockHeader {
        count: le_u32(&head[1..]) as u64,
        min_ts: le_u64(&head[5..]) as Millis,
        max_ts: le_u64(&head[13..]) as Millis,
        first_seq: le_u64(&head[21..]),
    };
    let room = ((len - BLOCK_HEADER) / EVENT_HEADER) as u64;
    if h.count == 0 || h.count > room || h.min_ts > h.max_ts {
        return Err("a block header that does not add up");
    }
    if h.first_seq.checked_add(h.count).is_none() {
        return Err("a block header that does not add up");
    }
    Ok(h)
}

/// Decodes a whole block payload, handing each event (seq, time, text) to
/// `visit` until it answers false. Every length is checked against what is
/// left; an error says what did not add up (nothing is visited then).
pub(super) fn decode_block(
    payload: &[u8],
    visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool,
) -> std::result::Result<BlockHeader, &'static str> {
    let h = decode_header(payload, payload.len())?;
    // Checked in full first, so that a bad block yields no rows at all.
    let mut events = Vec::with_capacity(h.count as usize);
    let mut at = BLOCK_HEADER;
    for _ in 0..h.count {
        let Some(head) = payload.get(at..at + EVENT_HEADER) else {
            return Err("a block cut inside an event");
        };
        let ts = le_u64(head) as Millis;
        let len = le_u32(&head[8..]) as usize;
        at += EVENT_HEADER;
        let Some(text) = payload.get(at..at.saturating_add(len)) else {
            return Err("an event longer than its block");
        };
        if ts < h.min_ts || ts > h.max_ts {
            return Err("an event time outside its block's range");
        }
        at += len;
        events.push((ts, text));
    }
    if at != payload.len() {
        return Err("bytes after a block's last event");
    }
    for (i, (ts, text)) in events.into_iter().enumerate() {
        if !visit(h.first_seq + i as u64, ts, text) {
            break;
        }
    }
    Ok(h)
}

/// Checks a whole framed block (`[len][crc][payload]`) and decodes it.
pub(super) fn decode_framed(
    framed: &[u8],
    visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool,
) -> std::result::Result<BlockHeader, &'static str> {
    match RecordReader::new(framed).read_next() {
        Ok(Next::Record(payload)) => decode_block(&payload, visit),
        Ok(Next::Damaged { why }) => Err(why),
        Ok(Next::Torn { .. }) | Ok(Next::End) => Err("a block whose checksum does not match"),
        Err(_) => Err("a block that cannot be read"),
    }
}

/// Walks a segment's bytes as [`EventStore::open`] walks a file, decoding
/// every block: the events it holds, or where and why it stops. For the
/// fuzz target; errors, never panics.
pub fn read_events_segment(bytes: &[u8]) -> std::result::Result<u64, String> {
    let mut at = 0usize;
    let mut events = 0;
    let mut previous_end = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let len = rest.get(..4).map(le_u32).ok_or("a torn record header")? as usize;
        if len > MAX_RECORD {
            return Err(format!("offset {at}: a record length past the limit"));
        }
        let framed = rest
            .get(..HEADER + len)
            .ok_or_else(|| format!("offset {at}: a torn block"))?;
        let h = decode_framed(framed, &mut |_, _, _| true)
            .map_err(|why| format!("offset {at}: {why}"))?;
        if h.first_seq < previous_end {
            return Err(format!("offset {at}: a block out of sequence"));
        }
        previous_end = h.first_seq + h.count;
        events += h.count;
        at += HEADER + len;
    }
    Ok(events)
}

/// Decodes `payload` as a block's payload, past the framing (whose CRC
/// random bytes almost never pass): the events it holds, or why not. For
/// the fuzz target; errors, never panics.
pub fn decode_events_block(payload: &[u8]) -> std::result::Result<u64, String> {
    decode_block(payload, &mut |_, _, _| true)
        .map(|h| h.count)
        .map_err(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record;

    fn text(seq: u64) -> Vec<u8> {
        format!("{{\"n\":{seq}}}").into_bytes()
    }

    #[test]
    fn a_block_round_trips_and_any_cut_or_flip_is_refused() {
        let mut p = Pending::new();
        for seq in 7..20 {
            p.push(seq, 100 - seq as Millis, &text(seq));
        }
        let payload = p.seal().to_vec();
        let mut seen = Vec::new();
        let h = decode_block(&payload, &mut |s, ts, t| {
            seen.push((s, ts, t.to_vec()));
            true
        })
        .unwrap();
        assert_eq!((h.first_seq, h.count, h.min_ts, h.max_ts), (7, 13, 81, 93));
        let want: Vec<_> = (7..20).map(|s| (s, 100 - s as Millis, text(s))).collect();
        assert_eq!(seen, want);
        for cut in 0..payload.len() {
            assert!(decode_block(&payload[..cut], &mut |_, _, _| true).is_err());
        }
        let mut framed = Vec::new();
        record::encode(&payload, &mut framed);
        for at in 0..framed.len() {
            let mut bad = framed.clone();
            bad[at] ^= 0x10;
            assert!(
                decode_framed(&bad, &mut |_, _, _| true).is_err(),
                "flip {at}"
            );
        }
        assert_eq!(read_events_segment(&framed), Ok(13));
    }
}
