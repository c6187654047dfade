//! The engine's side of `--data DIR`: replaying the log at start, and
//! committing what ingest offers.
//!
//! Every line offered to admission is added to the current commit before
//! it is offered; every `commit_lines` lines (the engine's batch by default) (or [`COMMIT_BYTES`] of
//! them, or every line under `--fsync always`) the commit is written as
//! one log record with each file source's position after it, and fsynced
//! as the policy says. An ingest returns only after its last commit is
//! durable (under `always` and `batch`) — that is what its exit 0 means.
//!
//! Recovery replays the records through the same code the ingest loop
//! runs — [`Engine::offer`] and [`Engine::settle`] — so the state, every
//! counter and every remembered id come out as one uninterrupted run made
//! them. The positions of the last good commit are where a resumed ingest
//! continues each file ([`Engine::resume_sources`]).
//!
//! With checkpoints (`checkpoint.rs`), recovery first loads the latest
//! good one and replays only the log records after its position.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::Engine;
use crate::error::{Error, Result};
use crate::ingest::{parse_line, Line, Merge, Origin, SourcePosition, Verdicts, MAX_LINE_BYTES};
use crate::query::{decode_rule, Statement};
use crate::storage::{self, CheckpointEvery, Checkpoints, Entry, Fsync, Log, LogPosition};
use crate::storage::{EventStore, EventStoreReport, EventStoreSize, LogReport, Manifest};

/// A commit is written early once its lines pass this many bytes, which
/// bounds the memory it takes and the size of a record.
const COMMIT_BYTES: usize = 4 << 20;

/// What the log records after a commit, so that replay does there what the
/// live run did.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mark {
    /// Nothing: the ingest goes on.
    None,
    /// The batch is handed to the shards without ending the input (a
    /// followed file's pause): [`Entry::HandOver`].
    HandOver,
    /// A whole piece of the input ended (a posted body): the future guard
    /// settles the events it holds before the clock started, and the batch
    /// is handed over ([`Entry::EndPiece`]).
    EndPiece,
    /// The input ended ([`Entry::Finish`]).
    Finish,
}

/// The open data directory and the commit being built.
pub(super) struct Durable {
    dir: PathBuf,
    pub(super) log: Log,
    fsync: Fsync,
    /// Lines per commit ([`crate::Config::commit_lines`]).
    commit_lines: usize,
    /// Source ids, by name; a name keeps its id for the life of the log.
    pub(super) ids: HashMap<Arc<str>, u32>,
    /// The id of the source of the last line added: one lookup saved per
    /// line while a single file is read.
    last: Option<(Arc<str>, u32)>,
    /// The sources of the ingest in progress, in merge order.
    pub(super) open: Vec<u32>,
    /// Each source's position at the last commit, by name.
    pub(super) positions: HashMap<String, SourcePosition>,
    /// The commit being built: a batch entry's bytes so far.
    pending: Vec<u8>,
    pending_lines: usize,
    last_sync: Instant,
    /// What opening the log found, for `SHOW STATS`.
    report: LogReport,
    /// Lines replayed from the log at start.
    replayed_lines: u64,
    /// What the user should hear about: recovery, resumed files.
    pub(super) notes: Vec<String>,
    /// The checkpoints of the directory, and when to write the next.
    pub(super) checkpoints: Checkpoints,
    pub(super) every: CheckpointEvery,
    /// The position of the last checkpoint written or loaded.
    pub(super) last_checkpoint: Option<LogPosition>,
    /// The line total and the time at the last checkpoint (or the start).
    pub(super) lines_at_checkpoint: u64,
    pub(super) checkpoint_at: Instant,
    /// For `SHOW STATS`: checkpoints written by this process, the size
    /// and write time of the last, the time the restore took (`None`: no
    /// checkpoint was loaded) and checkpoints set aside as damaged.
    pub(super) checkpoints_written: u64,
    pub(super) last_checkpoint_bytes: u64,
    pub(super) last_checkpoint_secs: f64,
    restore_secs: Option<f64>,
    checkpoints_set_aside: u64,
}

/// What `SHOW STATS` shows of the data directory.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageStats {
    pub log_bytes: u64,
    pub log_segments: u64,
    /// Lines replayed from the log at start (after the checkpoint loaded).
    pub replayed_lines: u64,
    pub torn_bytes_cut: u64,
    pub damaged_bytes_set_aside: u64,
    /// Bytes of the checkpoints on disk.
    pub checkpoint_bytes: u64,
    /// The log position of the last checkpoint written or loaded.
    pub last_checkpoint: Option<LogPosition>,
    /// Checkpoints written since start.
    pub checkpoints_written: u64,
    /// Milliseconds loading the checkpoint took at start (`None`: none
    /// was loaded).
    pub restore_ms: Option<u64>,
    /// Checkpoints found damaged at start and set aside.
    pub checkpoints_set_aside: u64,
    /// The events store (`DIR/events/`): bytes, segments, events held, and
    /// blocks raw queries found damaged and skipped since start.
    pub events: EventStoreSize,
}

/// What replay keeps per source id: its name and its line count.
type ReplaySources = HashMap<u32, (Arc<str>, u64)>;

impl Engine {
    /// Opens the data directory of the configuration and replays its log.
    pub(super) fn open_data(&mut self, dir: &Path) -> Result<()> {
        let wanted = Manifest::new(
            self.config.schema.clone(),
            self.config.retention.as_secs(),
            self.config.max_jump.as_millis() as u64,
        );
        let manifest = match Manifest::read(dir)? {
            Some(found) => {
                found.check(&wanted, dir)?;
                found
            }
            None => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                wanted.write(dir)?;
                wanted
            }
        };
        self.admission.seed_ids(manifest.id_seed);
        let started = Instant::now();
        let log_dir = dir.join("log");
        let mut notes = Vec::new();
        let (checkpoints, removed) = Checkpoints::open(dir)?;
        if removed > 0 {
            notes.push(format!(
                "{}: deleted {removed} half-written checkpoint(s) a crash left",
                dir.display()
            ));
        }
        let (restored, checkpoints_set_aside) =
            self.restore_latest(&checkpoints, &log_dir, &mut notes)?;
        let restore_secs = restored.as_ref().map(|_| started.elapsed().as_secs_f64());
        if restored.is_none() && !Log::holds(&log_dir, None)? {
            return Err(Error::Corrupt(format!(
                "{}: no checkpoint can be loaded and the log's first segments were deleted \
                 (they were in the checkpoints): restore the directory from a backup",
                dir.display()
            )));
        }
        let (from, saved) = match restored {
            Some((position, saved)) => (Some(position), saved),
            None => (None, Default::default()),
        };
        // The store is cut back to the events the checkpoint counts (all
        // of them without one) before replay appends the rest.
        let (store, store_report) = EventStore::open(&dir.join("events"), self.recent.next_seq())?;
        store_notes(dir, &store_report, &mut notes);
        self.store = Some(store);
        if let Some(position) = from {
            notes.push(format!(
                "{}: loaded the checkpoint at {position} ({} lines, {} accepted) in {:.2}s",
                dir.display(),
                self.counters.lines,
                self.counters.accepted,
                started.elapsed().as_secs_f64()
            ));
        }
        let lines_before = self.counters.lines;
        let mut sources: ReplaySources = (saved.open.into_iter())
            .map(|(id, name, line)| (id, (Arc::from(name.as_str()), line)))
            .collect();
        let mut ids: HashMap<String, u32> = saved.ids.into_iter().collect();
        let mut positions: HashMap<String, SourcePosition> = (saved.positions.into_iter())
            .map(|p| (p.name.clone(), p))
            .collect();
        let mut verdicts = Verdicts::default();
        let mut failure = None;
        let replay_started = Instant::now();
        // The hits replay finds were delivered by the run that ingested
        // those lines: they are counted and kept again, not emitted again.
        self.delivery.mute(true);
        let (log, report) = Log::open(&log_dir, from, &mut |payload| {
            let entry = storage::decode(payload)?;
            let applied = self.replay(
                entry,
                &mut sources,
                &mut ids,
                &mut positions,
                &mut verdicts,
                &mut notes,
            );
            // An engine error (an I/O error writing the reject file) is
            // not damage: it stops the start, as it would stop an ingest.
            applied.map_err(|e| {
                let why = e.to_string();
                failure = Some(e);
                why
            })
        })?;
        if let Some(e) = failure.filter(|e| !matches!(e, Error::Corrupt(_))) {
            return Err(e);
        }
        // The batch being filled stays, as the writer had it when it
        // stopped: where batches end decides when shards sweep (and so
        // how they fold their panes), and must not depend on restarts.
        self.drain_in_flight()?;
        self.delivery.mute(false);
        if let Some(r) = &mut self.rejects {
            r.flush()?;
        }
        let replayed_lines = self.counters.lines - lines_before;
        if report.records > 0 {
            notes.push(format!(
                "{}: recovered {} lines from the log{} in {:.2}s ({} lines, {} accepted in all)",
                dir.display(),
                replayed_lines,
                if from.is_some() { " after it" } else { "" },
                replay_started.elapsed().as_secs_f64(),
                self.counters.lines,
                self.counters.accepted,
            ));
        }
        if report.torn_bytes > 0 {
            notes.push(format!(
                "{}: cut a torn last record of {} bytes (a write the crash interrupted; \
                 its lines were never committed and files resume before them)",
                dir.display(),
                report.torn_bytes
            ));
        }
        if let Some(damage) = &report.damage {
            notes.push(format!(
                "{damage}; state is what the log held before it: files resume from there, \
                 lines from standard input after it are lost"
            ));
        }
        self.durable = Some(Durable {
            dir: dir.to_path_buf(),
            log,
            fsync: self.config.fsync,
            commit_lines: self.config.commit_lines,
            last: None,
            open: Vec::new(),
            ids: ids
                .into_iter()
                .map(|(name, id): (String, u32)| (Arc::from(name), id))
                .collect(),
            positions,
            pending: Vec::new(),
            pending_lines: 0,
            last_sync: Instant::now(),
            report,
            replayed_lines,
            notes,
            checkpoints,
            every: self.config.checkpoint_every,
            last_checkpoint: from,
            lines_at_checkpoint: self.counters.lines,
            checkpoint_at: Instant::now(),
            checkpoints_written: 0,
            last_checkpoint_bytes: 0,
            last_checkpoint_secs: 0.0,
            restore_secs,
            checkpoints_set_aside,
        });
        Ok(())
    }

    /// Applies one log entry, as the ingest loop did when it wrote it.
    fn replay(
        &mut self,
        entry: Entry<'_>,
        sources: &mut ReplaySources,
        ids: &mut HashMap<String, u32>,
        positions: &mut HashMap<String, SourcePosition>,
        verdicts: &mut Verdicts,
        notes: &mut Vec<String>,
    ) -> Result<()> {
        let corrupt = |why: String| Error::Corrupt(why);
        match entry {
            Entry::Open(opened) => {
                for (id, pos) in opened {
                    sources.insert(id, (Arc::from(pos.name.as_str()), pos.line));
                    ids.insert(pos.name.clone(), id);
                    positions.insert(pos.name.clone(), pos);
                }
            }
            Entry::Batch(batch) => {
                // Checked before anything is applied: a record refused here
                // leaves the state as it was, at the end of the good log.
                if let Some((id, _)) = batch.lines.iter().find(|(id, _)| !sources.contains_key(id))
                {
                    return Err(corrupt(format!("a line of unknown source {id}")));
                }
                if batch.lines_total != self.counters.lines + batch.lines.len() as u64 {
                    return Err(corrupt(format!(
                        "{} lines after {} where the log says {}",
                        batch.lines.len(),
                        self.counters.lines,
                        batch.lines_total
                    )));
                }
                for (id, bytes) in batch.lines {
                    let (name, line) = sources
                        .get_mut(&id)
                        .ok_or_else(|| corrupt(format!("a line of unknown source {id}")))?;
                    *line += 1;
                    self.counters.lines += 1;
                    let line = Line {
                        origin: Origin {
                            source: name.clone(),
                            line: *line,
                        },
                        parsed: parse_line(&self.parser, bytes),
                        bytes: bytes.to_vec(),
                    };
                    self.offer(line, verdicts)?;
                }
                for (id, offset, line) in batch.positions {
                    let Some((name, _)) = sources.get(&id) else {
                        return Err(corrupt(format!("a position of unknown source {id}")));
                    };
                    if let Some(pos) = positions.get_mut(&**name) {
                        pos.offset = offset;
                        pos.line = line;
                    }
                }
            }
            Entry::Finish => {
                // As the end of an ingest: the guard's held lines are
                // rejected, and the batch is handed over.
                self.admission.finish(verdicts);
                self.settle(verdicts, None)?;
                self.sync()?;
            }
            Entry::HandOver => {
                self.settle(verdicts, None)?;
                self.sync()?;
            }
            Entry::EndPiece => {
                self.admission.end_piece(verdicts);
                self.settle(verdicts, None)?;
                self.sync()?;
            }
            // A rule statement runs again where it ran, through the same
            // code (`durable` is not open yet, so it is not logged twice).
            Entry::CreateRule(bytes) => {
                let def = decode_rule(bytes).map_err(|why| {
                    corrupt(format!("a rule definition that does not decode: {why}"))
                })?;
                let name = def.name.clone();
                match self.run(&Statement::CreateRule(def)) {
                    Ok(_) => {}
                    // The live run created it, so this tally plans rules
                    // differently: said, and the stream goes on.
                    Err(Error::Query(why)) => {
                        notes.push(format!("rule {name} from the log not created again: {why}"));
                    }
                    Err(e) => return Err(e),
                }
            }
            Entry::DropRule(name) => {
                self.run(&Statement::DropRule {
                    name: name.to_string(),
                    if_exists: true,
                })?;
            }
        }
        Ok(())
    }

    /// Writes a statement that changed state (a rule created or dropped)
    /// to the log before it is acknowledged, fsynced as the policy says.
    /// Statements run between ingests, when no commit is pending.
    pub(super) fn log_statement(&mut self, entry: &[u8]) -> Result<()> {
        let Some(d) = &mut self.durable else {
            return Ok(());
        };
        if d.pending_lines > 0 {
            return Err(Error::Internal(
                "a statement logged while a commit is pending".into(),
            ));
        }
        d.log.append(entry)?;
        let due = match d.fsync {
            Fsync::Always | Fsync::Batch => true,
            Fsync::Interval(every) => d.last_sync.elapsed() >= every,
        };
        if due {
            d.log.sync()?;
            d.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Before an ingest: continues every file the data directory has read
    /// before at its recorded position (refusing a file that changed), and
    /// logs the sources the ingest starts from.
    pub(super) fn resume_sources(&mut self, merge: &mut Merge) -> Result<()> {
        let Some(d) = &mut self.durable else {
            return Ok(());
        };
        let mut starts = Vec::new();
        for (i, start) in merge.positions().into_iter().enumerate() {
            let start = match d.positions.get(&start.name) {
                Some(at) if at.offset > 0 && merge.resume(i, at)? => {
                    d.notes.push(format!(
                        "{}: resuming at line {} (byte {}), where {} left it",
                        at.name,
                        at.line + 1,
                        at.offset,
                        d.dir.display()
                    ));
                    at.clone()
                }
                _ => start,
            };
            let next = d.ids.len() as u32;
            let id = *d.ids.entry(Arc::from(start.name.as_str())).or_insert(next);
            starts.push((id, start));
        }
        d.open = starts.iter().map(|(id, _)| *id).collect();
        d.last = None;
        for (_, start) in &starts {
            d.positions.insert(start.name.clone(), start.clone());
        }
        d.log.append(&storage::encode_open(&starts))?;
        Ok(())
    }
}

impl Durable {
    /// Adds a line about to be offered to the current commit. A line past
    /// the length limit is kept only up to one byte past it: that is enough
    /// for replay to reject it the same way.
    pub(super) fn add_line(&mut self, source: &Arc<str>, bytes: &[u8]) {
        let id = match &self.last {
            Some((name, id)) if Arc::ptr_eq(name, source) => *id,
            _ => {
                let next = self.ids.len() as u32;
                let id = *self.ids.entry(source.clone()).or_insert(next);
                self.last = Some((source.clone(), id));
                id
            }
        };
        if self.pending.is_empty() {
            storage::start_batch(&mut self.pending);
        }
        storage::batch_line(
            &mut self.pending,
            id,
            &bytes[..bytes.len().min(MAX_LINE_BYTES + 1)],
        );
        self.pending_lines += 1;
    }

    /// Lines added to the commit being built.
    pub(super) fn pending_lines(&self) -> usize {
        self.pending_lines
    }

    /// Whether the current commit is due.
    pub(super) fn commit_due(&self) -> bool {
        self.pending_lines >= self.commit_lines
            || self.pending.len() >= COMMIT_BYTES
            || (self.fsync == Fsync::Always && self.pending_lines > 0)
    }

    /// Writes the current commit with the sources' positions after it, then
    /// `mark`, and fsyncs as the policy says (at a [`Mark::Finish`] always).
    pub(super) fn commit(&mut self, lines_total: u64, merge: &Merge, mark: Mark) -> Result<()> {
        if self.pending_lines > 0 {
            let mut positions = Vec::new();
            for (id, pos) in self.open.iter().zip(merge.positions()) {
                positions.push((*id, pos.offset, pos.line));
                if let Some(recorded) = self.positions.get_mut(&pos.name) {
                    recorded.offset = pos.offset;
                    recorded.line = pos.line;
                }
            }
            storage::end_batch(&mut self.pending, lines_total, &positions);
            self.log.append(&self.pending)?;
            self.pending.clear();
            self.pending_lines = 0;
        }
        let end = matches!(mark, Mark::Finish);
        match mark {
            Mark::None => {}
            Mark::HandOver => self.log.append(&storage::encode_hand_over())?,
            Mark::EndPiece => self.log.append(&storage::encode_end_piece())?,
            Mark::Finish => self.log.append(&storage::encode_finish())?,
        }
        let due = match self.fsync {
            Fsync::Always | Fsync::Batch => true,
            Fsync::Interval(every) => end || self.last_sync.elapsed() >= every,
        };
        if due {
            self.log.sync()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    pub(super) fn stats(&self, events: EventStoreSize) -> StorageStats {
        let (log_bytes, log_segments) = self.log.size();
        StorageStats {
            log_bytes,
            log_segments,
            replayed_lines: self.replayed_lines,
            torn_bytes_cut: self.report.torn_bytes,
            damaged_bytes_set_aside: self.report.damaged_bytes,
            checkpoint_bytes: self.checkpoints.bytes().unwrap_or(0),
            last_checkpoint: self.last_checkpoint,
            checkpoints_written: self.checkpoints_written,
            restore_ms: self.restore_secs.map(|s| (s * 1000.0).round() as u64),
            checkpoints_set_aside: self.checkpoints_set_aside,
            events,
        }
    }
}

/// What opening the events store found, for the user.
fn store_notes(dir: &Path, report: &EventStoreReport, notes: &mut Vec<String>) {
    if let Some(damage) = &report.damage {
        notes.push(damage.clone());
    } else if report.cut_bytes > 0 {
        notes.push(format!(
            "{}: cut a torn last block of {} bytes from the events store",
            dir.display(),
            report.cut_bytes
        ));
    }
    if report.missing_events > 0 {
        notes.push(format!(
            "{}: the events store lacks {} events the checkpoint counts; \
             raw-event queries do not return them",
            dir.display(),
            report.missing_events
        ));
    }
}
