//! The ingest loop: lines in, batches of admitted events out to the router.
//!
//! Every line read is counted and offered to [`crate::ingest::Admission`];
//! its verdicts are settled here: a rejected line goes to the reject file,
//! an accepted one to the ring of recent events (or, with `--data`, the
//! events store) and the current batch. A
//! full batch goes to the router with the rules in force, and at most
//! [`IN_FLIGHT`] batches are in flight: past that the loop waits for the
//! oldest reply and delivers its hits. [`Engine::sync`] waits for all of
//! them, which is how a query sees every event ingested before it.
//!
//! Parsing, de-duplication and the clock are [`crate::ingest`]'s; routing
//! is the router's; this file only moves lines between them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::durable::Mark;
use super::messages::{block, Ingest};
use super::Engine;
use crate::error::Result;
use crate::ingest::{Counters, IngestProgress, IngestSummary, Line, Merge, Origin, Verdicts};

/// Where one run of the ingest loop stops.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// More of the same input may come (a followed file's pause): the
    /// future guard keeps all it holds.
    Pause,
    /// A whole piece of an input that goes on (a posted body) ended: the
    /// guard settles what it holds before the clock has started.
    Piece,
    /// The input ended: the guard settles everything.
    End,
}

/// Events per batch handed to the router.
pub(super) const BATCH: usize = 4096;
/// Batches in flight before ingest waits for the oldest: bounds memory and
/// keeps the shards busy while the next batch is parsed.
const IN_FLIGHT: usize = 8;

impl Engine {
    /// Ingests NDJSON files (`-` is stdin); several files are merged by
    /// event time (k-way). `progress` is called now and then.
    pub fn ingest_files(
        &mut self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<IngestSummary> {
        let merge = Merge::open(paths)?;
        self.ingest(merge, progress)
    }

    /// Ingests lines already in memory (generated demo data, tests).
    pub fn ingest_lines<I, S>(&mut self, source: &str, lines: I) -> Result<IngestSummary>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(line.as_ref());
            text.push(b'\n');
        }
        let reader: Box<dyn std::io::BufRead + Send> = Box::new(std::io::Cursor::new(text));
        self.ingest(
            Merge::from_readers(vec![(Arc::from(source), reader)]),
            &mut |_| {},
        )
    }

    /// Ingests more of a source that has not ended (a followed file):
    /// `bytes` are its next whole lines, the first of them line
    /// `lines_before + 1`. Unlike [`Engine::ingest`] this is not the end of
    /// the input, so the future guard keeps holding what it holds.
    pub fn ingest_more(
        &mut self,
        source: &str,
        bytes: Vec<u8>,
        lines_before: u64,
    ) -> Result<IngestSummary> {
        self.ingest_bytes(source, bytes, lines_before, Stop::Pause)
    }

    /// Ingests one whole piece of a source that goes on (a posted body),
    /// numbered as [`Engine::ingest_more`] numbers it. The piece is whole,
    /// so the future guard settles the events it holds before the clock
    /// has started (a lone first event is admitted); events held for a
    /// jump wait for the next piece.
    pub fn ingest_piece(
        &mut self,
        source: &str,
        bytes: Vec<u8>,
        lines_before: u64,
    ) -> Result<IngestSummary> {
        self.ingest_bytes(source, bytes, lines_before, Stop::Piece)
    }

    /// Whether the first events of the input are held, waiting for the end
    /// of a piece before the clock starts (see [`Engine::ingest_piece`]).
    pub fn holds_first_events(&self) -> bool {
        self.admission.holds_start()
    }

    /// `bytes` as lines of `source` after its first `lines_before`, to the
    /// `stop` that says what their end is.
    fn ingest_bytes(
        &mut self,
        source: &str,
        bytes: Vec<u8>,
        lines_before: u64,
        stop: Stop,
    ) -> Result<IngestSummary> {
        let merge = Merge::continuing(
            Arc::from(source),
            Box::new(std::io::Cursor::new(bytes)),
            lines_before,
        );
        self.ingest_to(merge, &mut |_| {}, stop)
    }

    /// Ingests from an already opened [`Merge`] of sources, to the end of
    /// the input. Returns when every line has been applied by the shards.
    pub fn ingest(
        &mut self,
        merge: Merge,
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<IngestSummary> {
        self.ingest_until(merge, progress, true)
    }

    /// Ingests what `merge` holds; `end_of_input` settles what the future
    /// guard still holds (rejects it: it was never confirmed). Only the end
    /// of the input may: under `--follow` more lines may confirm a jump.
    pub fn ingest_until(
        &mut self,
        merge: Merge,
        progress: &mut dyn FnMut(&IngestProgress),
        end_of_input: bool,
    ) -> Result<IngestSummary> {
        let stop = if end_of_input { Stop::End } else { Stop::Pause };
        self.ingest_to(merge, progress, stop)
    }

    /// The ingest loop, to the end of what `merge` holds; `stop` says what
    /// that end is, and so what the future guard settles there.
    fn ingest_to(
        &mut self,
        mut merge: Merge,
        progress: &mut dyn FnMut(&IngestProgress),
        stop: Stop,
    ) -> Result<IngestSummary> {
        // From the opening of the sources: reading ahead for detection may
        // have waited on them.
        let start = merge.opened();
        let before = self.counters.clone();
        let mut verdicts = Verdicts::default();
        self.resume_sources(&mut merge)?;
        if let Err(e) = self.read_lines(&mut merge, &mut verdicts, progress, start, &before) {
            // What was offered before the error (a read error, a full
            // disk) counts: its lines are committed as a pause, and the
            // batch handed over at that mark, so that the log says what
            // this run did and a statement run next moves no batch
            // boundary that replay would not. If the log itself failed,
            // this fails again and the error below is what is said.
            self.settle(&mut verdicts, None)
                .and_then(|()| match &mut self.durable {
                    Some(d) => d.commit(self.counters.lines, &merge, Mark::HandOver),
                    None => Ok(()),
                })
                .and_then(|()| self.sync())
                .ok();
            return Err(e);
        }
        // End of input: lines the future guard still holds were never
        // confirmed, and are rejected now. The end of a piece settles only
        // the lines held before the clock started.
        match stop {
            Stop::End => self.admission.finish(&mut verdicts),
            Stop::Piece => self.admission.end_piece(&mut verdicts),
            Stop::Pause => {}
        }
        self.settle(&mut verdicts, None)?;
        // The log marks the stop as what it was: replay settles the future
        // guard where this run did and nowhere else, and hands its batch
        // over there as this run does just below.
        if let Some(d) = &mut self.durable {
            let mark = match stop {
                Stop::End => Mark::Finish,
                Stop::Piece => Mark::EndPiece,
                Stop::Pause => Mark::HandOver,
            };
            d.commit(self.counters.lines, &merge, mark)?;
        }
        self.sync()?;
        // A checkpoint falls due between pieces too: a server's posts and
        // a followed file's pauses each end here, often before a commit of
        // their own was due inside the loop.
        if self.checkpoint_due() {
            self.checkpoint()?;
        }
        if let Some(r) = &mut self.rejects {
            r.flush()?;
        }
        let mut summary = self.counters.since(&before, start.elapsed());
        if self.schema.id.is_none() {
            summary.no_id_schema = Some(self.schema.name.clone());
        }
        Ok(summary)
    }

    /// Reads, counts and offers every line of `merge`, committing as
    /// commits fall due, and reports progress.
    fn read_lines(
        &mut self,
        merge: &mut Merge,
        verdicts: &mut Verdicts,
        progress: &mut dyn FnMut(&IngestProgress),
        start: Instant,
        before: &Counters,
    ) -> Result<()> {
        let mut last_report = Instant::now();
        while let Some(line) = merge.next(&self.parser)? {
            self.counters.lines += 1;
            if let Some(d) = &mut self.durable {
                d.add_line(&line.origin.source, &line.bytes);
            }
            let bytes = self.offer(line, verdicts)?;
            merge.recycle(bytes);
            if let Some(d) = self.durable.as_mut().filter(|d| d.commit_due()) {
                d.commit(self.counters.lines, merge, Mark::None)?;
                if self.checkpoint_due() {
                    self.checkpoint()?;
                }
            }
            // Checking the time only every 8,192 lines keeps the clock
            // read off the per-line path.
            if self.counters.lines.is_multiple_of(8192)
                && last_report.elapsed() >= Duration::from_millis(200)
            {
                last_report = Instant::now();
                progress(&IngestProgress {
                    lines: self.counters.lines - before.lines,
                    accepted: self.counters.accepted - before.accepted,
                    rejected: self.counters.rejected_total() - before.rejected_total(),
                    elapsed: start.elapsed(),
                    bytes_read: merge.bytes_read(),
                    total_bytes: merge.total_bytes(),
                });
            }
        }
        Ok(())
    }

    /// Offers one line to admission and settles the verdicts; gives the
    /// line's buffer back for reuse.
    pub(super) fn offer(&mut self, line: Line, verdicts: &mut Verdicts) -> Result<Vec<u8>> {
        let Line {
            origin,
            bytes,
            parsed,
        } = line;
        match parsed {
            Ok(parsed) => self
                .admission
                .offer(origin.clone(), parsed, &bytes, verdicts),
            Err(reject) => verdicts.reject(origin.clone(), reject),
        }
        self.settle(verdicts, Some((&origin, &bytes)))?;
        Ok(bytes)
    }

    /// Counts and records verdicts, and hands full batches to the router.
    /// `line` is the line just offered, if any: its text goes to the reject
    /// file or, once accepted, to the ring of recent events.
    pub(super) fn settle(
        &mut self,
        verdicts: &mut Verdicts,
        line: Option<(&Origin, &[u8])>,
    ) -> Result<()> {
        for r in verdicts.rejected.drain(..) {
            self.counters.reject(r.reject.reason);
            if let Some(file) = &mut self.rejects {
                let current = line
                    .filter(|(o, _)| **o == r.origin)
                    .map(|(_, bytes)| bytes);
                file.write(&r.origin, &r.reject, r.text.as_deref().or(current))?;
            }
        }
        let mut current = line.map(|(_, bytes)| bytes);
        for (event, text) in verdicts
            .admitted
            .iter()
            .zip(verdicts.admitted_text.drain(..))
        {
            // A held line comes with its text; the offered line is `current`.
            let text = match &text {
                Some(held) => Some(&held[..]),
                None => current.take(),
            };
            if let Some(text) = text {
                let seq = self.recent.push(event.ts_ms, text);
                if let Some(store) = &mut self.store {
                    store.append(seq, event.ts_ms, super::recent::trim_line_end(text))?;
                }
            }
        }
        self.counters.accepted += verdicts.admitted.len() as u64;
        self.batch.append(&mut verdicts.admitted);
        if self.batch.len() >= BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Hands the current batch to the router, waiting for the oldest batch
    /// in flight when too many are.
    fn flush_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // A rule never ignores cells interned after it was created, nor
        // mistakes a reused id for its old cell: it is planned again before the events that brought them are applied.
        let generation = self.cells.generation();
        if self.rules.needs_replan(generation) {
            let cells = self.cells.snapshot();
            let catalog = self.config.catalog(self.admission.now_ms(), &cells);
            self.rules.replan(&catalog, generation)?;
        }
        let events = std::mem::replace(&mut self.batch, self.batches.take(BATCH));
        let now_ms = self.admission.now_ms().unwrap_or(0);
        self.in_flight.push_back(self.router.send(Ingest {
            events,
            now_ms,
            rules: self.rules.active().clone(),
        }));
        while self.in_flight.len() > IN_FLIGHT {
            if let Some(oldest) = self.in_flight.pop_front() {
                let hits = block(oldest)?;
                self.delivery.deliver(&mut self.rules, hits)?;
            }
        }
        Ok(())
    }

    /// Waits until every admitted event has been applied by its shards, and
    /// delivers the hits they caused.
    pub fn sync(&mut self) -> Result<()> {
        self.flush_batch()?;
        self.drain_in_flight()
    }

    /// Waits for every batch handed to the router, and delivers its hits;
    /// the batch being filled stays (a checkpoint keeps it, so that
    /// checkpoints move no batch boundary).
    pub(super) fn drain_in_flight(&mut self) -> Result<()> {
        while let Some(request) = self.in_flight.pop_front() {
            let hits = block(request)?;
            self.delivery.deliver(&mut self.rules, hits)?;
        }
        Ok(())
    }
}
