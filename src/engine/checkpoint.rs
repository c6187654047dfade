//! The engine's side of checkpoints: writing the whole state at a log
//! position, and loading the latest good one at start.
//!
//! A checkpoint is written only at a commit boundary (no line offered is
//! missing from the log), after every batch handed over has been applied:
//! then the state is exactly what replaying the log up to its end builds.
//! The shards encode their own state on their own threads, in reply to
//! [`SaveShard`] (with their rules' edge state), while this thread
//! encodes admission, the counters, the ring of recent events, the rules
//! and the sources ([`SavedEngine`]); the file
//! format is `storage`'s.
//!
//! Loading tries the checkpoints newest first. One that cannot be used
//! (damaged, or covering log records the log no longer holds) is set
//! aside as `*.damaged`, said in the notes, and the one before it is
//! tried; the shards are emptied again when one fails part way, so
//! nothing of it stays. One written by another number of shards is
//! refused with the flag to give: its entities live where that many
//! shards put them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::durable::Durable;
use super::messages::{block, RestoreShard, RouterState, SaveShard, SyncRouter};
use super::recent::SavedRecent;
use super::shard::SavedShard;
use super::Engine;
use crate::error::{Error, Result};
use crate::event::{CellId, Event, Key};
use crate::ingest::{parse_line, Counters, SavedAdmission, SourcePosition};
use crate::rules::{Rules, SavedRules};
use crate::storage::{self, CheckpointEvery, Checkpoints, Log, LogPosition};
use crate::time::Millis;

/// What a checkpoint keeps of the engine's thread; the shards' parts
/// follow it in the file.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedEngine<'a> {
    /// How many shards wrote their parts: entities live on the shard
    /// their key hashes to among that many.
    shards: u32,
    /// The log position the checkpoint covers (also in its name).
    position: LogPosition,
    counters: Cow<'a, Counters>,
    admission: SavedAdmission<'a>,
    recent: SavedRecent<'a>,
    sources: SavedSources,
    /// The router's clock and round-robin home.
    router: RouterState,
    /// Every rule, its hit count and the recent hits; each shard's part
    /// holds the rules' edge state.
    rules: SavedRules,
    /// Admitted events not yet handed to the shards. Kept rather than
    /// flushed: where batches end decides when shards sweep, and so how
    /// their panes are folded (`state.pane_slots`); a checkpoint must not
    /// move it.
    batch: Vec<SavedEvent>,
}

/// An admitted event as a checkpoint keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedEvent {
    ts_ms: Millis,
    cell: CellId,
    keys: Vec<SavedKey>,
    metrics: Vec<f64>,
    attr_hashes: Vec<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
enum SavedKey {
    Int(i64),
    Str(String),
}

impl SavedEvent {
    fn of(e: &Event) -> SavedEvent {
        SavedEvent {
            ts_ms: e.ts_ms,
            cell: e.cell,
            keys: (e.keys.iter())
                .map(|k| match k {
                    Key::Int(i) => SavedKey::Int(*i),
                    Key::Str(s) => SavedKey::Str(s.to_string()),
                })
                .collect(),
            metrics: e.metrics.to_vec(),
            attr_hashes: e.attr_hashes.to_vec(),
        }
    }

    fn event(self) -> Event {
        Event {
            ts_ms: self.ts_ms,
            cell: self.cell,
            keys: (self.keys.into_iter())
                .map(|k| match k {
                    SavedKey::Int(i) => Key::Int(i),
                    SavedKey::Str(s) => Key::Str(s.into()),
                })
                .collect(),
            metrics: self.metrics.into_iter().collect(),
            attr_hashes: self.attr_hashes.into_iter().collect(),
        }
    }
}

/// What replaying the log after a checkpoint needs to know of its
/// sources, and what a resumed ingest continues from.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct SavedSources {
    /// Every source's id, by name.
    pub ids: Vec<(String, u32)>,
    /// Every source's position at the last commit.
    pub positions: Vec<SourcePosition>,
    /// The sources of the ingest in progress: id, name and lines read.
    pub open: Vec<(u32, String, u64)>,
}

/// Why a checkpoint was not loaded.
enum Unusable {
    /// Its bytes cannot be trusted, or the log cannot follow it: set it
    /// aside and try the one before.
    Damaged(String),
    /// It is fine but not for this run (or the disk failed): stop.
    Refused(Error),
}

impl Engine {
    /// Writes a checkpoint of the whole state, if there is a data
    /// directory, no commit is pending and the log has grown since the
    /// last one; then keeps the last two and deletes the log segments
    /// both cover. Returns whether it wrote one.
    pub fn checkpoint(&mut self) -> Result<bool> {
        match &self.durable {
            Some(d) if d.pending_lines() == 0 => {}
            _ => return Ok(false),
        }
        self.drain_in_flight()?;
        // Every event the checkpoint counts is durable in the events store
        // before it is written: recovery cuts the store back to it.
        if let Some(store) = &mut self.store {
            store.flush()?;
            store.sync()?;
        }
        let Some(d) = self.durable.as_mut() else {
            return Ok(false);
        };
        // Never cover records a power loss could still take.
        d.log.sync()?;
        let position = d.log.position();
        if d.last_checkpoint == Some(position) {
            return Ok(false);
        }
        let started = Instant::now();
        let router = block(self.router.send(SyncRouter(None)))?;
        let requests: Vec<_> = self.shards.iter().map(|s| s.send(SaveShard)).collect();
        let engine = storage::to_bytes(&SavedEngine {
            router,
            shards: self.shards.len() as u32,
            position,
            counters: Cow::Borrowed(&self.counters),
            admission: self.admission.save(),
            recent: self.recent.save(),
            sources: d.saved_sources(),
            rules: self.rules.save(),
            batch: self.batch.iter().map(SavedEvent::of).collect(),
        })?;
        let mut parts = vec![engine];
        for request in requests {
            parts.push(block(request)??);
        }
        let sections: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let (bytes, oldest) = d.checkpoints.write(position, &sections)?;
        if let Some(oldest) = oldest {
            d.log.delete_before(oldest)?;
        }
        // Store segments past retention go (a minute's margin: a window of
        // minute panes starts at the top of its first minute).
        if let (Some(store), Some(now)) = (&mut self.store, self.admission.now_ms()) {
            store.expire(now - self.config.retention_ms() - 60_000)?;
        }
        d.last_checkpoint = Some(position);
        d.lines_at_checkpoint = self.counters.lines;
        d.checkpoint_at = Instant::now();
        d.checkpoints_written += 1;
        d.last_checkpoint_bytes = bytes;
        d.last_checkpoint_secs = started.elapsed().as_secs_f64();
        Ok(true)
    }

    /// Whether `--checkpoint-every` says a checkpoint is due.
    pub(super) fn checkpoint_due(&self) -> bool {
        let Some(d) = &self.durable else {
            return false;
        };
        match d.every {
            CheckpointEvery::Lines(n) => self.counters.lines - d.lines_at_checkpoint >= n,
            CheckpointEvery::Interval(every) => d.checkpoint_at.elapsed() >= every,
        }
    }

    /// Loads the newest checkpoint that can be used, setting aside those
    /// that cannot; returns its position and sources, and how many were
    /// set aside. `None`: there is none, and the log replays from its start.
    pub(super) fn restore_latest(
        &mut self,
        checkpoints: &Checkpoints,
        log_dir: &Path,
        notes: &mut Vec<String>,
    ) -> Result<(Option<(LogPosition, SavedSources)>, u64)> {
        let mut set_aside = 0;
        for (position, path) in checkpoints.list()? {
            match self.restore(position, &path, log_dir) {
                Ok(sources) => return Ok((Some((position, sources)), set_aside)),
                Err(Unusable::Refused(e)) => return Err(e),
                Err(Unusable::Damaged(why)) => {
                    let mut aside = path.as_os_str().to_owned();
                    aside.push(".damaged");
                    std::fs::rename(&path, &aside)
                        .map_err(|e| Error::io(format!("setting aside {}", path.display()), e))?;
                    set_aside += 1;
                    notes.push(format!(
                        "{}: not used ({why}); set aside as *.damaged, falling back to the one before",
                        path.display()
                    ));
                }
            }
        }
        Ok((None, set_aside))
    }

    /// Loads one checkpoint: all of it, or nothing (the shards are
    /// emptied again when a part fails).
    fn restore(
        &mut self,
        position: LogPosition,
        path: &Path,
        log_dir: &Path,
    ) -> std::result::Result<SavedSources, Unusable> {
        use Unusable::{Damaged, Refused};
        let bytes = storage::CheckpointBytes::open(path)
            .map_err(|e| Refused(Error::io(format!("reading {}", path.display()), e)))?;
        let sections = storage::decode_checkpoint(&bytes).map_err(Damaged)?;
        let (Some(first), Some(written)) =
            (sections.first().cloned(), sections.len().checked_sub(1))
        else {
            return Err(Damaged("no sections".into()));
        };
        if written != self.shards.len() {
            return Err(Refused(Error::InvalidInput(format!(
                "{} was written by {written} shards (this run: {}): run with --shards {written}",
                path.display(),
                self.shards.len(),
            ))));
        }
        if !Log::holds(log_dir, Some(position)).map_err(Refused)? {
            return Err(Damaged(format!(
                "it covers the log up to {position}, which the log no longer holds"
            )));
        }
        // The shards decode their parts while this thread decodes its own.
        let bytes = Arc::new(bytes);
        let requests: Vec<_> = (self.shards.iter().zip(&sections[1..]))
            .map(|(s, range)| s.send(RestoreShard(Some((bytes.clone(), range.clone())))))
            .collect();
        let decoded =
            storage::from_bytes::<SavedEngine<'static>>(&bytes[first]).and_then(|saved| {
                let cells = saved.admission.cells();
                let fits = |e: &SavedEvent| {
                    (e.cell as usize) < cells
                        && e.keys.len() == self.schema.actors.len()
                        && e.metrics.len() == self.schema.metrics.len()
                };
                if !saved.batch.iter().all(fits) {
                    Err("a pending event of another schema".to_string())
                } else if saved.position != position || saved.shards as usize != written {
                    Err("a position or shard count other than the file's".to_string())
                } else {
                    Ok(saved)
                }
            });
        let mut failed = decoded.as_ref().err().cloned();
        for request in requests {
            if let Err(why) = block(request).map_err(Refused)? {
                failed = Some(why);
            }
        }
        let saved = match (decoded, failed) {
            (Ok(saved), None) => saved,
            (_, Some(why)) | (Err(why), None) => {
                self.empty_shards().map_err(Refused)?;
                return Err(Damaged(why));
            }
        };
        let parser = &self.parser;
        let restored =
            (self.admission).restore(saved.admission, |text| parse_line(parser, text).ok());
        if let Err(why) = restored {
            self.empty_shards().map_err(Refused)?;
            return Err(Damaged(why));
        }
        let cells = self.cells.snapshot();
        let catalog = self.config.catalog(self.admission.now_ms(), &cells);
        match Rules::restore(saved.rules, &catalog, self.cells.generation()) {
            Ok(rules) => self.rules = rules,
            Err(why) => {
                self.empty_shards().map_err(Refused)?;
                return Err(Damaged(why));
            }
        }
        block(self.router.send(SyncRouter(Some(saved.router)))).map_err(Refused)?;
        self.counters = saved.counters.into_owned();
        self.recent.restore(saved.recent);
        self.batch.clear();
        self.batch
            .extend(saved.batch.into_iter().map(SavedEvent::event));
        Ok(saved.sources)
    }

    fn empty_shards(&mut self) -> Result<()> {
        let requests: Vec<_> = self
            .shards
            .iter()
            .map(|s| s.send(RestoreShard(None)))
            .collect();
        for request in requests {
            block(request)?.map_err(Error::Internal)?;
        }
        Ok(())
    }
}

/// Reads a checkpoint file's bytes as a restart does, without an engine:
/// the framing and its CRC, the engine's part and every shard's part.
/// Returns the number of shards that wrote it; any damage is an error,
/// never a panic (the fuzz target `checkpoint` feeds it).
pub fn read_checkpoint(bytes: &[u8]) -> std::result::Result<u32, String> {
    let sections = storage::decode_checkpoint(bytes)?;
    let first = sections.first().ok_or("no sections")?;
    let saved: SavedEngine<'static> = storage::from_bytes(&bytes[first.clone()])?;
    if sections.len() != saved.shards as usize + 1 {
        return Err("a shard count other than its parts'".into());
    }
    for part in &sections[1..] {
        storage::from_bytes::<SavedShard>(&bytes[part.clone()])?;
    }
    Ok(saved.shards)
}

/// Decodes `bytes` as the engine's part and as a shard's part of a
/// checkpoint, past the framing (whose CRC random bytes almost never
/// pass): for the fuzz target. Errors, never panics.
pub fn decode_checkpoint_parts(bytes: &[u8]) -> (bool, bool) {
    let engine = storage::from_bytes::<SavedEngine<'static>>(bytes).is_ok();
    let shard = storage::from_bytes::<SavedShard>(bytes).is_ok();
    (engine, shard)
}

impl Durable {
    /// The sources as a checkpoint keeps them.
    fn saved_sources(&self) -> SavedSources {
        let names: HashMap<u32, &str> = self.ids.iter().map(|(n, &id)| (id, &**n)).collect();
        SavedSources {
            ids: self
                .ids
                .iter()
                .map(|(n, &id)| (n.to_string(), id))
                .collect(),
            positions: self.positions.values().cloned().collect(),
            open: (self.open.iter())
                .filter_map(|id| {
                    let name = *names.get(id)?;
                    let line = self.positions.get(name).map_or(0, |p| p.line);
                    Some((*id, name.to_string(), line))
                })
                .collect(),
        }
    }
}
