//! The events store: every accepted event, on disk, for raw-row queries
//! under `--data DIR`.
//!
//! `DIR/events/` holds numbered segments of *blocks*. A block is one record
//! of the log's framing (`record.rs`: length, CRC, payload) whose payload
//! is a header — format version, event count, smallest and largest event
//! time, sequence number of its first event — then per event its time, the
//! length of its text and the text. Events arrive in acceptance order with
//! consecutive sequence numbers, so a block covers a run of them (the format
//! and its decoders are `block.rs`).
//!
//! An index in memory keeps, per block, where it is and its header: a
//! query over a short window reads only the blocks whose times reach into
//! it. The index is rebuilt at open from the record and block headers
//! alone (the last block's CRC is checked: a crash may have torn it); the
//! other blocks' CRCs are checked when a query reads them, and a block
//! that fails is skipped and counted, never trusted.
//!
//! The store is derived data: the log is the truth. The engine flushes
//! and fsyncs it before every checkpoint, and at open cuts it back to the
//! checkpoint's sequence number ([`EventStore::open`]) before replay
//! appends the rest, so no event is stored twice or missed. It does not
//! decide what is accepted nor when to checkpoint: the engine does.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::block::BLOCK_HEADER;
use super::block::{decode_block, decode_framed, decode_header, le_u32, BlockHeader, Pending};
use super::record::{self, HEADER, MAX_RECORD};
use super::{cut_file, set_aside, sync_dir};
use crate::error::{Error, Result};
use crate::time::Millis;

/// A block is written once its events pass this many bytes: small enough
/// that a query with a small LIMIT reads little, large enough that the
/// index stays small (≈ 250 events of 250 bytes per block).
const BLOCK_BYTES: usize = 64 << 10;
/// A new segment is started past this size; segments are the unit retention
/// deletes.
const SEGMENT_BYTES: u64 = 64 << 20;

/// Where one block is and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockMeta {
    /// Offset of its record in the segment.
    offset: u64,
    /// Bytes of its record, framing included.
    len: u64,
    min_ts: Millis,
    max_ts: Millis,
    first_seq: u64,
    count: u64,
}

impl BlockMeta {
    fn end_seq(&self) -> u64 {
        self.first_seq + self.count
    }
}

/// One segment file and the index of its blocks.
#[derive(Debug)]
struct Segment {
    number: u64,
    bytes: u64,
    blocks: Vec<BlockMeta>,
}

impl Segment {
    fn max_ts(&self) -> Option<Millis> {
        self.blocks.iter().map(|b| b.max_ts).max()
    }
}

/// What opening the store found and did, for the notes and `SHOW STATS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventStoreReport {
    /// Bytes taken off the store: a torn last block (cut), or damage with
    /// the segments after it (set aside as `*.damaged`).
    pub cut_bytes: u64,
    /// Where the damage was and what was set aside, if there was any.
    pub damage: Option<String>,
    /// Events at or past the checkpoint's sequence number dropped, for
    /// replay to append again.
    pub dropped_events: u64,
    /// Events the checkpoint counts that the store does not hold (cut as
    /// damage, or a directory older than the store).
    pub missing_events: u64,
}

/// What a scan read, for the caller to say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanReport {
    /// Blocks read from disk (the pending block not counted).
    pub blocks_read: u64,
    /// Blocks skipped because their CRC or contents failed, each with
    /// segment, offset and why.
    pub damaged: Vec<String>,
}

/// In which order [`EventStore::scan_by_time`] reads blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrder {
    /// The block with the newest event first.
    NewestFirst,
    /// The block with the oldest event first.
    OldestFirst,
}

/// The store, open for appending. See the module docs.
#[derive(Debug)]
pub struct EventStore {
    dir: PathBuf,
    /// Oldest first; the last is appended to.
    segments: Vec<Segment>,
    file: File,
    pending: Pending,
    /// Framing scratch, reused.
    frame: Vec<u8>,
    /// Blocks skipped as damaged by queries since open.
    damaged_blocks: u64,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.seg"))
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::io(format!("{what} {}", path.display()), e)
}

/// The segment numbers in `dir`, in order.
fn segment_numbers(dir: &Path) -> Result<Vec<u64>> {
    let io = io_err("listing", dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(&io)? {
        let name = entry.map_err(&io)?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Why walking a segment stopped before its end.
struct Stop {
    /// Where the untrusted bytes start.
    at: u64,
    why: &'static str,
    /// A torn tail (a crash's), not damage.
    torn: bool,
}

/// Rebuilds one segment's index from its record and block headers;
/// `check_last` also checks the CRC of its last block. `previous_end` is
/// the sequence number the segment's first block must not be below.
fn walk(
    file: &File,
    file_len: u64,
    previous_end: &mut u64,
    check_last: bool,
) -> std::io::Result<(Vec<BlockMeta>, Option<Stop>)> {
    let mut blocks = Vec::new();
    let mut at = 0u64;
    let stop = |at, why, torn| Some(Stop { at, why, torn });
    while at < file_len {
        let left = file_len - at;
        let mut head = [0u8; HEADER + BLOCK_HEADER];
        let want = (head.len() as u64).min(left) as usize;
        file.read_exact_at(&mut head[..want], at)?;
        if want < HEADER {
            return Ok((blocks, stop(at, "a torn record header", true)));
        }
        let len = le_u32(&head) as usize;
        if len > MAX_RECORD {
            return Ok((blocks, stop(at, "a record length past the limit", false)));
        }
        let framed_len = (HEADER + len) as u64;
        if framed_len > left {
            return Ok((blocks, stop(at, "a block cut short", true)));
        }
        let last = framed_len == left;
        let header = if last && check_last {
            let mut framed = vec![0; framed_len as usize];
            file.read_exact_at(&mut framed, at)?;
            decode_framed(&framed, &mut |_, _, _| true)
        } else {
            decode_header(&head[HEADER..want], len)
        };
        let h = match header {
            Ok(h) => h,
            Err(why) => return Ok((blocks, stop(at, why, last))),
        };
        if h.first_seq < *previous_end {
            return Ok((blocks, stop(at, "a block out of sequence", false)));
        }
        *previous_end = h.first_seq + h.count;
        blocks.push(BlockMeta {
            offset: at,
            len: framed_len,
            min_ts: h.min_ts,
            max_ts: h.max_ts,
            first_seq: h.first_seq,
            count: h.count,
        });
        at += framed_len;
    }
    Ok((blocks, None))
}

impl EventStore {
    /// Opens (creating) the store in `dir` and cuts it back to the events
    /// with a sequence number below `keep_below` (the checkpoint's next
    /// one; 0 without a checkpoint): the log's replay appends the rest.
    /// A torn last block is cut; a block header that cannot be trusted
    /// ends the store there (what follows is set aside as `*.damaged` and said).
    pub fn open(dir: &Path, keep_below: u64) -> Result<(EventStore, EventStoreReport)> {
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        let numbers = segment_numbers(dir)?;
        let mut report = EventStoreReport::default();
        let mut segments: Vec<Segment> = Vec::new();
        let mut previous_end = 0;
        for (k, &n) in numbers.iter().enumerate() {
            let path = segment_path(dir, n);
            let file = File::open(&path).map_err(io_err("reading", &path))?;
            let len = file.metadata().map_err(io_err("reading", &path))?.len();
            let last = k + 1 == numbers.len();
            let (blocks, stop) =
                walk(&file, len, &mut previous_end, last).map_err(io_err("reading", &path))?;
            let bytes = stop.as_ref().map_or(len, |s| s.at);
            segments.push(Segment {
                number: n,
                bytes,
                blocks,
            });
            let Some(stop) = stop else { continue };
            // A torn last block is a crash's and is cut. Damage anywhere
            // is set aside as `*.damaged`, with every later segment: the
            // store is derived from the log, but the log's segments for
            // those events may be gone, and the bytes are then the only
            // copy left to inspect.
            if stop.torn && last {
                cut_file(&path, stop.at)?;
                report.cut_bytes += len - stop.at;
                break;
            }
            let mut aside = set_aside(&path, stop.at)?;
            for &later in &numbers[k + 1..] {
                aside += set_aside(&segment_path(dir, later), 0)?;
            }
            report.cut_bytes += aside;
            report.damage = Some(format!(
                "events store damaged at {} offset {}: {}; {} bytes from there on set aside as *.damaged",
                path.display(),
                stop.at,
                stop.why,
                aside
            ));
            break;
        }
        let mut store = EventStore::from_segments(dir, segments)?;
        store.keep_below(keep_below, &mut report)?;
        Ok((store, report))
    }

    /// The store over an index already built, appending to its last
    /// segment (a first one is made when there is none).
    fn from_segments(dir: &Path, mut segments: Vec<Segment>) -> Result<EventStore> {
        if segments.is_empty() {
            segments.push(Segment {
                number: 1,
                bytes: 0,
                blocks: Vec::new(),
            });
        }
        let number = segments.last().map_or(1, |s| s.number);
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        sync_dir(dir)?;
        Ok(EventStore {
            dir: dir.to_path_buf(),
            segments,
            file,
            pending: Pending::new(),
            frame: Vec::new(),
            damaged_blocks: 0,
        })
    }

    /// Drops every event with a sequence number at or past `keep_below`:
    /// whole blocks after it, and the part of a block that straddles it
    /// (written again, cut, so that it is durable as it was).
    fn keep_below(&mut self, keep_below: u64, report: &mut EventStoreReport) -> Result<()> {
        let stored_end = self.end_seq();
        report.missing_events = keep_below.saturating_sub(stored_end);
        // The first segment holding an event at or past the cut.
        let Some(k) = (self.segments.iter())
            .position(|s| s.blocks.last().is_some_and(|b| b.end_seq() > keep_below))
        else {
            return Ok(());
        };
        for later in self.segments.drain(k + 1..) {
            let path = segment_path(&self.dir, later.number);
            report.dropped_events += later.blocks.iter().map(|b| b.count).sum::<u64>();
            std::fs::remove_file(&path).map_err(io_err("deleting", &path))?;
        }
        let number = self.segments[k].number;
        let path = segment_path(&self.dir, number);
        if k + 1 != self.segments.len() || number != self.current_number() {
            return Err(Error::Internal("events store cut out of order".into()));
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        let segment = &mut self.segments[k];
        let first = (segment.blocks.iter())
            .position(|b| b.end_seq() > keep_below)
            .unwrap_or(segment.blocks.len());
        let dropped: Vec<BlockMeta> = segment.blocks.drain(first..).collect();
        let cut_at = dropped.first().map_or(segment.bytes, |b| b.offset);
        report.dropped_events += dropped.iter().map(|b| b.count).sum::<u64>();
        // The straddling block keeps its events below the cut.
        let mut kept = Pending::new();
        if let Some(b) = dropped.first().filter(|b| b.first_seq < keep_below) {
            let mut framed = vec![0; b.len as usize];
            File::open(&path)
                .and_then(|f| f.read_exact_at(&mut framed, b.offset))
                .map_err(io_err("reading", &path))?;
            let decoded = decode_framed(&framed, &mut |seq, ts, text| {
                if seq < keep_below {
                    kept.push(seq, ts, text);
                }
                seq + 1 < keep_below
            });
            if decoded.is_err() {
                // Unreadable: its events are missing, as damage is.
                report.missing_events += keep_below - b.first_seq;
                kept = Pending::new();
            }
            report.dropped_events -= kept.count;
        }
        cut_file(&path, cut_at)?;
        segment.bytes = cut_at;
        self.pending = kept;
        self.flush()?;
        self.sync()?;
        sync_dir(&self.dir)
    }

    fn current_number(&self) -> u64 {
        self.segments.last().map_or(1, |s| s.number)
    }

    /// The sequence number after the last event held (pending included).
    pub fn end_seq(&self) -> u64 {
        if self.pending.count > 0 {
            return self.pending.end_seq();
        }
        (self.segments.iter().rev())
            .find_map(|s| s.blocks.last())
            .map_or(0, |b| b.end_seq())
    }

    /// Adds one accepted event (its text without line ending). It is
    /// written once its block is full; durable after [`EventStore::sync`].
    pub fn append(&mut self, seq: u64, ts_ms: Millis, text: &[u8]) -> Result<()> {
        // A block covers consecutive events; a gap starts a new one.
        if self.pending.count > 0 && seq != self.pending.end_seq() {
            self.flush()?;
        }
        self.pending.push(seq, ts_ms, text);
        if self.pending.payload.len() >= BLOCK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the pending block, if it holds anything (not yet durable).
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.count == 0 {
            return Ok(());
        }
        if self
            .segments
            .last()
            .is_some_and(|s| s.bytes >= SEGMENT_BYTES)
        {
            self.roll()?;
        }
        let mut pending = std::mem::replace(&mut self.pending, Pending::new());
        self.frame.clear();
        record::encode(pending.seal(), &mut self.frame);
        let path = segment_path(&self.dir, self.current_number());
        self.file
            .write_all(&self.frame)
            .map_err(io_err("writing", &path))?;
        let Some(segment) = self.segments.last_mut() else {
            return Err(Error::Internal("events store without a segment".into()));
        };
        segment.blocks.push(BlockMeta {
            offset: segment.bytes,
            len: self.frame.len() as u64,
            min_ts: pending.min_ts,
            max_ts: pending.max_ts,
            first_seq: pending.first_seq,
            count: pending.count,
        });
        segment.bytes += self.frame.len() as u64;
        // The buffer is kept for the next block: no fresh 64 KiB each time.
        pending.payload.truncate(BLOCK_HEADER);
        self.pending.payload = pending.payload;
        Ok(())
    }

    /// Makes everything written so far durable (fdatasync).
    pub fn sync(&mut self) -> Result<()> {
        let path = segment_path(&self.dir, self.current_number());
        self.file.sync_data().map_err(io_err("syncing", &path))
    }

    fn roll(&mut self) -> Result<()> {
        self.sync()?;
        let number = self.current_number() + 1;
        let path = segment_path(&self.dir, number);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("creating", &path))?;
        sync_dir(&self.dir)?;
        self.segments.push(Segment {
            number,
            bytes: 0,
            blocks: Vec::new(),
        });
        Ok(())
    }

    /// Deletes every segment but the current one whose events are all
    /// older than `before_ms` (past retention); returns the bytes freed.
    pub fn expire(&mut self, before_ms: Millis) -> Result<u64> {
        let mut freed = 0;
        while self.segments.len() > 1 && self.segments[0].max_ts().is_none_or(|t| t < before_ms) {
            let segment = self.segments.remove(0);
            let path = segment_path(&self.dir, segment.number);
            std::fs::remove_file(&path).map_err(io_err("deleting", &path))?;
            freed += segment.bytes;
        }
        if freed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(freed)
    }

    /// Hands every event with a time in `from_ms..=to_ms` to `visit`,
    /// oldest seq first (the pending block last), until it answers false.
    /// Blocks whose times do not reach into the range are not read; a
    /// block that fails its CRC or does not decode is skipped and said in
    /// the report.
    pub fn scan(
        &mut self,
        from_ms: Millis,
        to_ms: Millis,
        visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool,
    ) -> Result<ScanReport> {
        let wanted = self.wanted(from_ms, to_ms);
        self.read_blocks(&wanted, None, from_ms, to_ms, visit, &mut |_| true)
    }

    /// The same events as [`EventStore::scan`], a block at a time, in
    /// `order` of the blocks' times; before each block `more` is told the
    /// block's bound (its newest time when newest first, its oldest when
    /// oldest first) and stops the scan by answering false. A query for
    /// the k newest events stops once it holds k newer than every block
    /// left. Within a block events come in seq order; times overlap
    /// between blocks (events arrive out of order), so the caller still
    /// sorts.
    pub fn scan_by_time(
        &mut self,
        from_ms: Millis,
        to_ms: Millis,
        order: TimeOrder,
        visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool,
        more: &mut dyn FnMut(Millis) -> bool,
    ) -> Result<ScanReport> {
        let mut wanted = self.wanted(from_ms, to_ms);
        match order {
            TimeOrder::NewestFirst => wanted.sort_by_key(|&(_, b)| std::cmp::Reverse(b.max_ts)),
            TimeOrder::OldestFirst => wanted.sort_by_key(|&(_, b)| b.min_ts),
        }
        self.read_blocks(&wanted, Some(order), from_ms, to_ms, visit, more)
    }

    /// The blocks whose times reach into `from_ms..=to_ms`, with the index
    /// of their segment, oldest first.
    fn wanted(&self, from_ms: Millis, to_ms: Millis) -> Vec<(usize, BlockMeta)> {
        let reaches = |b: &BlockMeta| b.max_ts >= from_ms && b.min_ts <= to_ms;
        (self.segments.iter().enumerate())
            .flat_map(|(i, s)| s.blocks.iter().filter(|b| reaches(b)).map(move |b| (i, *b)))
            .collect()
    }

    /// Reads `blocks` in the order given and the pending block: last when
    /// `order` is `None` (arrival order), else at its place in `order`;
    /// `more` is asked before each with the block's bound.
    fn read_blocks(
        &mut self,
        blocks: &[(usize, BlockMeta)],
        order: Option<TimeOrder>,
        from_ms: Millis,
        to_ms: Millis,
        visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool,
        more: &mut dyn FnMut(Millis) -> bool,
    ) -> Result<ScanReport> {
        let bound = |min_ts: Millis, max_ts: Millis| match order {
            Some(TimeOrder::OldestFirst) => min_ts,
            _ => max_ts,
        };
        // Whether a block of bound `a` comes before one of bound `b`.
        let before = |a: Millis, b: Millis| match order {
            None => false,
            Some(TimeOrder::NewestFirst) => a >= b,
            Some(TimeOrder::OldestFirst) => a <= b,
        };
        let mut report = ScanReport::default();
        let going = std::cell::Cell::new(true);
        let mut in_range = |seq, ts, text: &[u8]| {
            if ts >= from_ms && ts <= to_ms {
                going.set(visit(seq, ts, text));
            }
            going.get()
        };
        let pending = (self.pending.count > 0
            && self.pending.max_ts >= from_ms
            && self.pending.min_ts <= to_ms)
            .then_some(bound(self.pending.min_ts, self.pending.max_ts));
        let mut pending_done = pending.is_none();
        let mut framed = Vec::new();
        let mut open: Option<(usize, File, PathBuf)> = None;
        for &(segment, b) in blocks {
            let b_bound = bound(b.min_ts, b.max_ts);
            if let Some(p) = pending.filter(|&p| !pending_done && before(p, b_bound)) {
                pending_done = true;
                if !more(p) {
                    going.set(false);
                    break;
                }
                self.read_pending(&mut in_range)?;
                if !going.get() {
                    break;
                }
            }
            if !more(b_bound) {
                going.set(false);
                break;
            }
            if open.as_ref().is_none_or(|(n, _, _)| *n != segment) {
                let path = segment_path(&self.dir, self.segments[segment].number);
                let file = File::open(&path).map_err(io_err("reading", &path))?;
                open = Some((segment, file, path));
            }
            let (_, file, path) = open.as_ref().expect("opened above");
            framed.resize(b.len as usize, 0);
            file.read_exact_at(&mut framed, b.offset)
                .map_err(io_err("reading", path))?;
            report.blocks_read += 1;
            let decoded = decode_framed(&framed, &mut in_range);
            let fits = |h: &BlockHeader| h.first_seq == b.first_seq && h.count == b.count;
            match decoded {
                Ok(h) if fits(&h) => {}
                Ok(_) => report.damaged.push(format!(
                    "{} offset {}: a block other than its index says",
                    path.display(),
                    b.offset
                )),
                Err(why) => {
                    report
                        .damaged
                        .push(format!("{} offset {}: {why}", path.display(), b.offset))
                }
            }
            if !going.get() {
                break;
            }
        }
        if let Some(p) = pending.filter(|_| going.get() && !pending_done) {
            if more(p) {
                self.read_pending(&mut in_range)?;
            }
        }
        self.damaged_blocks += report.damaged.len() as u64;
        Ok(report)
    }

    fn read_pending(&mut self, visit: &mut dyn FnMut(u64, Millis, &[u8]) -> bool) -> Result<()> {
        let payload = self.pending.seal().to_vec();
        decode_block(&payload, visit)
            .map(|_| ())
            .map_err(|why| Error::Internal(format!("the pending block: {why}")))
    }

    /// What `SHOW STATS` shows: bytes on disk, segments, events held and
    /// blocks queries found damaged since open.
    pub fn size(&self) -> EventStoreSize {
        let stored: u64 = (self.segments.iter())
            .flat_map(|s| &s.blocks)
            .map(|b| b.count)
            .sum();
        EventStoreSize {
            bytes: self.segments.iter().map(|s| s.bytes).sum(),
            segments: self.segments.len() as u64,
            events: stored + self.pending.count,
            damaged_blocks: self.damaged_blocks,
        }
    }
}

/// The store's size, for `SHOW STATS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStoreSize {
    pub bytes: u64,
    pub segments: u64,
    /// Events held, the pending block's included.
    pub events: u64,
    /// Blocks queries skipped as damaged since open.
    pub damaged_blocks: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seq: u64) -> Vec<u8> {
        format!(
            "{{\"n\":{seq},\"pad\":\"{}\"}}",
            "x".repeat((seq % 300) as usize)
        )
        .into_bytes()
    }

    fn fill(store: &mut EventStore, from: u64, to: u64) {
        for seq in from..to {
            store.append(seq, seq as Millis * 10, &text(seq)).unwrap();
        }
    }

    fn all(store: &mut EventStore) -> (Vec<(u64, Millis, Vec<u8>)>, ScanReport) {
        let mut out = Vec::new();
        let report = store
            .scan(Millis::MIN, Millis::MAX, &mut |seq, ts, t| {
                out.push((seq, ts, t.to_vec()));
                true
            })
            .unwrap();
        (out, report)
    }

    /// A store of events `0..split` in a first segment (closed as if
    /// full) and `split..end` in a second.
    fn two_segments(dir: &Path, split: u64, end: u64) -> EventStore {
        let (mut store, _) = EventStore::open(dir, 0).unwrap();
        fill(&mut store, 0, split);
        store.flush().unwrap();
        store.segments[0].bytes = SEGMENT_BYTES; // as if full
        fill(&mut store, split, end);
        store.flush().unwrap();
        assert_eq!(store.size().segments, 2);
        store
    }

    fn expect(from: u64, to: u64) -> Vec<(u64, Millis, Vec<u8>)> {
        (from..to).map(|s| (s, s as Millis * 10, text(s))).collect()
    }

    #[test]
    fn the_index_is_rebuilt_at_open_and_short_windows_read_few_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = EventStore::open(dir.path(), 0).unwrap();
        fill(&mut store, 0, 5000);
        store.flush().unwrap();
        let blocks = store.segments[0].blocks.clone();
        assert!(blocks.len() > 10, "{} blocks", blocks.len());
        drop(store);
        let (mut store, report) = EventStore::open(dir.path(), 5000).unwrap();
        assert_eq!(report, EventStoreReport::default());
        assert_eq!(store.segments[0].blocks, blocks);
        let (events, scan) = all(&mut store);
        assert_eq!(events, expect(0, 5000));
        assert_eq!(scan.blocks_read, blocks.len() as u64);
        // The last 100 events' times: one or two blocks.
        let mut n = 0;
        let scan = store
            .scan(4900 * 10, Millis::MAX, &mut |_, _, _| {
                n += 1;
                true
            })
            .unwrap();
        assert_eq!(n, 100);
        assert!(scan.blocks_read <= 2, "{scan:?}");
    }

    /// The k best times of a scan in `order` that stops as the engine's
    /// does, with the blocks it read and the bounds it was told.
    fn k_best(
        store: &mut EventStore,
        order: TimeOrder,
        k: usize,
    ) -> (Vec<Millis>, u64, Vec<Millis>) {
        let newest = order == TimeOrder::NewestFirst;
        let rank = |mut h: Vec<Millis>| {
            h.sort_unstable_by(|a, b| if newest { b.cmp(a) } else { a.cmp(b) });
            h
        };
        let held = std::cell::RefCell::new(Vec::<Millis>::new());
        let mut told = Vec::new();
        let report = store
            .scan_by_time(
                Millis::MIN,
                Millis::MAX,
                order,
                &mut |_, t, _| {
                    held.borrow_mut().push(t);
                    true
                },
                &mut |bound| {
                    told.push(bound);
                    let h = rank(held.borrow().clone());
                    h.len() < k
                        || if newest {
                            h[k - 1] <= bound
                        } else {
                            h[k - 1] >= bound
                        }
                },
            )
            .unwrap();
        let mut held = rank(held.into_inner());
        held.truncate(k);
        (held, report.blocks_read, told)
    }

    #[test]
    fn time_ordered_scans_read_the_best_blocks_first_and_stop_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = EventStore::open(dir.path(), 0).unwrap();
        // Times out of arrival order: each run of 7 events goes backwards,
        // so blocks' time ranges overlap.
        let ts = |seq: u64| ((seq / 7) * 7 + 6 - seq % 7) as Millis * 10;
        for seq in 0..5000 {
            store.append(seq, ts(seq), &text(seq)).unwrap();
        }
        assert!(
            store.pending.count > 0,
            "a pending block is part of the test"
        );
        let mut times: Vec<Millis> = (0..5000).map(ts).collect();
        times.sort_unstable();
        for order in [TimeOrder::NewestFirst, TimeOrder::OldestFirst] {
            // Everything: every event once, bounds in order.
            let (all, read, told) = k_best(&mut store, order, 5000);
            let blocks: usize = store.segments.iter().map(|s| s.blocks.len()).sum();
            assert_eq!(read, blocks as u64, "{order:?}");
            let mut all = all;
            all.sort_unstable();
            assert_eq!(all, times, "{order:?}");
            let sorted = |w: &[Millis]| match order {
                TimeOrder::NewestFirst => w[0] >= w[1],
                TimeOrder::OldestFirst => w[0] <= w[1],
            };
            assert!(told.windows(2).all(sorted), "{order:?}: {told:?}");
            // The 50 best: right, and from a block or two (the newest are
            // in the pending block, which is not counted as read).
            let (best, read, _) = k_best(&mut store, order, 50);
            let want: Vec<Millis> = match order {
                TimeOrder::NewestFirst => times.iter().rev().take(50).copied().collect(),
                TimeOrder::OldestFirst => times.iter().take(50).copied().collect(),
            };
            assert_eq!(best, want, "{order:?}");
            assert!(read <= 2, "{order:?}: {read} blocks read");
        }
    }

    #[test]
    fn open_cuts_back_to_the_checkpoint_seq_inside_a_block_too() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = EventStore::open(dir.path(), 0).unwrap();
        fill(&mut store, 0, 3000);
        store.flush().unwrap();
        let straddled = store.segments[0].blocks[3];
        let keep = straddled.first_seq + straddled.count / 2;
        drop(store);
        let (mut store, report) = EventStore::open(dir.path(), keep).unwrap();
        assert_eq!(report.dropped_events, 3000 - keep);
        assert_eq!(report.missing_events, 0);
        assert_eq!(store.end_seq(), keep);
        // Replay appends the rest; nothing twice, nothing missing.
        fill(&mut store, keep, 3500);
        store.flush().unwrap();
        drop(store);
        let (mut store, _) = EventStore::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(all(&mut store).0, expect(0, 3500));
        // No checkpoint: everything goes.
        drop(store);
        let (mut store, report) = EventStore::open(dir.path(), 0).unwrap();
        assert_eq!((report.dropped_events, all(&mut store).0.len()), (3500, 0));
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_byte_and_appending_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = EventStore::open(dir.path(), 0).unwrap();
        fill(&mut store, 0, 600);
        store.flush().unwrap();
        let last = *store.segments[0].blocks.last().unwrap();
        drop(store);
        let seg = segment_path(dir.path(), 1);
        let whole = std::fs::read(&seg).unwrap();
        for cut in (last.offset as usize + 1..whole.len()).step_by(97) {
            std::fs::write(&seg, &whole[..cut]).unwrap();
            let (mut store, report) = EventStore::open(dir.path(), u64::MAX).unwrap();
            assert_eq!(report.cut_bytes, cut as u64 - last.offset, "cut {cut}");
            assert_eq!(report.damage, None);
            assert_eq!(all(&mut store).0, expect(0, last.first_seq));
            fill(&mut store, last.first_seq, 600);
            store.flush().unwrap();
            drop(store);
            let (mut store, _) = EventStore::open(dir.path(), u64::MAX).unwrap();
            let events = all(&mut store).0;
            assert_eq!(events.len(), 600, "cut {cut}");
            assert!(events == expect(0, 600), "cut {cut}");
        }
        // A whole-length last block with a flipped byte is torn too.
        let mut flipped = whole.clone();
        let at = whole.len() - 3;
        flipped[at] ^= 1;
        std::fs::write(&seg, &flipped).unwrap();
        let (_, report) = EventStore::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(report.cut_bytes, last.len);
    }

    #[test]
    fn a_damaged_block_in_the_middle_is_skipped_and_said_at_query_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = EventStore::open(dir.path(), 0).unwrap();
        fill(&mut store, 0, 2000);
        store.flush().unwrap();
        let bad = store.segments[0].blocks[2];
        drop(store);
        let seg = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[(bad.offset + bad.len - 5) as usize] ^= 0x20;
        std::fs::write(&seg, &bytes).unwrap();
        let (mut store, report) = EventStore::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(
            report.damage, None,
            "only the last block is checked at open"
        );
        let (events, scan) = all(&mut store);
        let mut want = expect(0, bad.first_seq);
        want.extend(expect(bad.end_seq(), 2000));
        assert_eq!(events, want);
        assert_eq!(scan.damaged.len(), 1);
        assert!(scan.damaged[0].contains(&format!("offset {}", bad.offset)));
        assert_eq!(store.size().damaged_blocks, 1);
    }

    #[test]
    fn a_bad_header_at_open_sets_the_rest_aside_and_appending_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = two_segments(dir.path(), 1000, 1200);
        let bad = store.segments[0].blocks[2];
        drop(store);
        let (seg1, seg2) = (segment_path(dir.path(), 1), segment_path(dir.path(), 2));
        let (whole1, whole2) = (std::fs::read(&seg1).unwrap(), std::fs::read(&seg2).unwrap());
        let mut bytes = whole1.clone();
        // A record length past the limit: the header cannot be trusted.
        bytes[bad.offset as usize..bad.offset as usize + 4]
            .copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&seg1, &bytes).unwrap();
        let (mut store, report) = EventStore::open(dir.path(), 1200).unwrap();
        let damage = report.damage.clone().expect("damage said");
        assert!(
            damage.contains(&format!("offset {}", bad.offset)),
            "{damage}"
        );
        assert!(damage.contains("set aside"), "{damage}");
        let aside = |p: &Path, suffix: &str| {
            let mut name = p.as_os_str().to_owned();
            name.push(suffix);
            std::fs::read(PathBuf::from(name)).unwrap()
        };
        assert_eq!(aside(&seg1, ".damaged"), bytes[bad.offset as usize..]);
        assert_eq!(aside(&seg2, ".damaged"), whole2);
        assert!(!seg2.exists());
        assert_eq!(std::fs::read(&seg1).unwrap(), whole1[..bad.offset as usize]);
        assert_eq!(
            report.cut_bytes,
            (whole1.len() - bad.offset as usize + whole2.len()) as u64
        );
        assert_eq!(report.missing_events, 1200 - bad.first_seq);
        assert_eq!(all(&mut store).0, expect(0, bad.first_seq));
        // Appending goes on after the cut; a second incident keeps the first's bytes.
        fill(&mut store, 2000, 2600);
        store.flush().unwrap();
        let again = store.segments[0].blocks[1];
        drop(store);
        let mut bytes2 = std::fs::read(&seg1).unwrap();
        bytes2[again.offset as usize..again.offset as usize + 4]
            .copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&seg1, &bytes2).unwrap();
        let (mut store, report) = EventStore::open(dir.path(), u64::MAX).unwrap();
        assert!(report.damage.is_some());
        assert_eq!(aside(&seg1, ".damaged"), bytes[bad.offset as usize..]);
        assert_eq!(aside(&seg1, ".damaged.2"), bytes2[again.offset as usize..]);
        assert_eq!(all(&mut store).0, expect(0, again.first_seq));
    }

    #[test]
    fn segments_roll_and_those_past_retention_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = two_segments(dir.path(), 100, 200);
        assert_eq!(store.expire(99 * 10).unwrap(), 0, "the newest is in time");
        assert_eq!(store.size().segments, 2);
        assert!(store.expire(100 * 10).unwrap() > 0);
        assert_eq!(store.size().segments, 1);
        assert!(!segment_path(dir.path(), 1).exists());
        drop(store);
        let (mut store, _) = EventStore::open(dir.path(), 200).unwrap();
        assert_eq!(all(&mut store).0, expect(100, 200));
        assert_eq!(store.expire(Millis::MAX).unwrap(), 0, "never the current");
    }
}
