//! Feeds: where a bench's event lines come from, as readers the engine's
//! [`Merge`] can take.
//!
//! - [`Recorded`]: lines generated into memory before the clock starts
//!   (so generating is never timed), handed out as zero-copy ranges.
//! - [`Streamed`]: lines produced on demand by a closure, for inputs too
//!   big to hold (the memory bench's 50 M events, a preload).
//! - [`Metered`]: wraps a raw reader and records the time to consume each
//!   MiB, the ingest benches' latency distribution.

use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::generator::{GenConfig, Generator};
use crate::ingest::Merge;
use crate::Result;

use super::histogram::Series;

/// Most events a bench generates into memory (about 5 GB of reels lines):
/// beyond that, a typo in `--rate` would exhaust memory before measuring
/// anything.
pub const MAX_IN_MEMORY_EVENTS: u64 = 20_000_000;

/// Checks an in-memory event count, naming the flags that set it.
pub fn check_in_memory(events: u64, flags: &str) -> anyhow::Result<()> {
    if events > MAX_IN_MEMORY_EVENTS {
        anyhow::bail!(
            "{flags} asks for {events} events generated into memory; at most {MAX_IN_MEMORY_EVENTS} \
             (for more, ingest a file made with `tally gen`)"
        );
    }
    Ok(())
}

/// Lines in one contiguous buffer, with their offsets.
#[derive(Debug, Clone)]
pub struct Recorded {
    text: Arc<Vec<u8>>,
    /// `starts[i]` is where line `i` begins; one extra entry at the end.
    starts: Vec<usize>,
}

impl Recorded {
    /// Generates `config` into memory. With `live_ids`, reels event ids
    /// become `live_N` instead of `evt_N`, so a second stream never
    /// collides with a first one (de-duplication would reject it).
    pub fn generate(config: &GenConfig, live_ids: bool) -> Result<Recorded> {
        let mut generator = Generator::new(config)?;
        let mut text = Vec::new();
        let mut starts = Vec::with_capacity(config.events as usize + 1);
        const EVT: &str = "{\"event_id\":\"evt_";
        while let Some(line) = generator.next_line() {
            starts.push(text.len());
            match line.strip_prefix(EVT) {
                Some(rest) if live_ids => {
                    text.extend_from_slice(b"{\"event_id\":\"live_");
                    text.extend_from_slice(rest.as_bytes());
                }
                _ => text.extend_from_slice(line.as_bytes()),
            }
            text.push(b'\n');
        }
        starts.push(text.len());
        Ok(Recorded {
            // Arc<Vec> rather than Arc<[u8]>: no copy of a buffer that may
            // be gigabytes.
            text: Arc::new(text),
            starts,
        })
    }

    pub fn lines(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Lines `from..to` as a reader.
    pub fn reader(&self, from: usize, to: usize) -> Slice {
        let to = to.min(self.lines());
        let from = from.min(to);
        Slice {
            text: self.text.clone(),
            pos: self.starts[from],
            end: self.starts[to],
        }
    }

    /// Lines `from..to` as a one-source [`Merge`] for `Engine::ingest`.
    pub fn merge(&self, name: &str, from: usize, to: usize) -> Merge {
        Merge::from_readers(vec![(Arc::from(name), Box::new(self.reader(from, to)))])
    }
}

/// A range of a [`Recorded`] buffer, read without copying.
#[derive(Debug, Clone)]
pub struct Slice {
    text: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
}

impl Read for Slice {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.text[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for Slice {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(&self.text[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.end);
    }
}

/// Lines made on demand: `next(buf)` appends one line (without its
/// newline) and returns true, or returns false at the end.
pub struct Streamed<F> {
    next: F,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

/// How much a [`Streamed`] buffers before handing bytes out.
const STREAM_CHUNK: usize = 1 << 16;

impl<F: FnMut(&mut Vec<u8>) -> bool> Streamed<F> {
    pub fn new(next: F) -> Streamed<F> {
        Streamed {
            next,
            buf: Vec::with_capacity(STREAM_CHUNK + 1024),
            pos: 0,
            done: false,
        }
    }
}

/// A [`Streamed`] reader over a generator (preloads: nothing is held).
pub fn streamed_generator(config: &GenConfig) -> Result<impl BufRead + Send> {
    let mut generator = Generator::new(config)?;
    Ok(Streamed::new(move |buf: &mut Vec<u8>| {
        match generator.next_line() {
            Some(line) => {
                buf.extend_from_slice(line.as_bytes());
                true
            }
            None => false,
        }
    }))
}

impl<F: FnMut(&mut Vec<u8>) -> bool> Read for Streamed<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<F: FnMut(&mut Vec<u8>) -> bool> BufRead for Streamed<F> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.buf.len() && !self.done {
            self.buf.clear();
            self.pos = 0;
            while self.buf.len() < STREAM_CHUNK {
                if !(self.next)(&mut self.buf) {
                    self.done = true;
                    break;
                }
                self.buf.push(b'\n');
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.buf.len());
    }
}

/// Bytes per sample of a [`Meter`].
pub const METER_BYTES: u64 = 1 << 20;

/// Time per MiB consumed, shared by every [`Metered`] reader of one ingest
/// (several files merged by time read in turn).
#[derive(Debug)]
pub struct Meter {
    pub series: Series,
    pub bytes: u64,
    last: Option<Instant>,
}

impl Meter {
    pub fn shared(name: &str) -> Arc<Mutex<Meter>> {
        Arc::new(Mutex::new(Meter {
            series: Series::new(name, "per MiB"),
            bytes: 0,
            last: None,
        }))
    }

    /// Starts the clock (the first MiB is timed from here).
    pub fn start(&mut self) {
        self.last = Some(Instant::now());
    }

    /// The time-per-MiB series measured so far, for a report.
    pub fn series_of(meter: &Mutex<Meter>) -> anyhow::Result<Series> {
        Ok(meter
            .lock()
            .map_err(|_| anyhow::anyhow!("the ingest meter was poisoned"))?
            .series
            .clone())
    }

    fn add(&mut self, n: usize) {
        let before = self.bytes / METER_BYTES;
        self.bytes += n as u64;
        let after = self.bytes / METER_BYTES;
        if after > before {
            let now = Instant::now();
            if let Some(last) = self.last {
                // A read that crossed several boundaries at once spreads
                // its time over them.
                self.series
                    .record_n((now - last) / (after - before) as u32, after - before);
            }
            self.last = Some(now);
        }
    }
}

/// A raw reader that reports every read to a [`Meter`]. Put it under the
/// `BufReader`, so the meter is touched once per buffer refill, not per
/// line; reads run ahead of parsing by at most one buffer.
pub struct Metered<R> {
    inner: R,
    meter: Arc<Mutex<Meter>>,
}

impl<R> Metered<R> {
    pub fn new(inner: R, meter: Arc<Mutex<Meter>>) -> Metered<R> {
        Metered { inner, meter }
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut meter) = self.meter.lock() {
            meter.add(n);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_slices_are_whole_lines_and_ids_can_be_retagged() {
        let config = GenConfig {
            events: 10,
            ..GenConfig::default()
        };
        let plain = Recorded::generate(&config, false).unwrap();
        let live = Recorded::generate(&config, true).unwrap();
        assert_eq!(plain.lines(), 10);
        let mut text = String::new();
        plain.reader(2, 5).read_to_string(&mut text).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with("{\"event_id\":\"evt_"), "{text}");
        let mut text = String::new();
        live.reader(0, 99).read_to_string(&mut text).unwrap();
        assert_eq!(text.lines().count(), 10);
        assert!(text.lines().all(|l| l.starts_with("{\"event_id\":\"live_")));
    }

    #[test]
    fn streamed_reads_every_line_once() {
        let mut i = 0;
        let mut s = Streamed::new(|buf: &mut Vec<u8>| {
            i += 1;
            if i > 50_000 {
                return false;
            }
            buf.extend_from_slice(format!("line {i}").as_bytes());
            true
        });
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50_000);
        assert_eq!(lines[49_999], "line 50000");
    }

    #[test]
    fn meter_records_one_sample_per_mib() {
        let meter = Meter::shared("x");
        meter.lock().unwrap().start();
        let data = vec![b'a'; 3 * METER_BYTES as usize + 10];
        let mut r = Metered::new(&data[..], meter.clone());
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let m = meter.lock().unwrap();
        assert_eq!(m.bytes, data.len() as u64);
        assert_eq!(m.series.hist.len(), 3);
    }
}
