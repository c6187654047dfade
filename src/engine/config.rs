//! What shapes an engine: [`Config`], its defaults, and the checks a
//! configuration must pass before any thread starts.
//!
//! Also the planner's view of a running engine ([`Config::catalog`]): the
//! schema and limits come from here, the cells and the clock from ingest.
//! Opening the files a configuration names is not done here, but by the
//! parts that write them (ingest's reject file, delivery's `--emit`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::messages::MAX_ACTOR_KINDS;
use super::recent::DEFAULT_RECENT_EVENTS;
use crate::error::{Error, Result};
use crate::event::Schema;
use crate::query::{Catalog, HitLog};
use crate::storage::{CheckpointEvery, Fsync};
use crate::time::{Clock, Millis};
use crate::value::Value;

/// The most shards an engine starts (each is a thread of its own).
const MAX_SHARDS: usize = 256;

/// Everything that shapes an engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// The events' shape: time, id, actor kinds, dimensions, metrics.
    pub schema: Schema,
    /// Number of shard actors; each runs on its own arbiter (thread).
    pub shards: usize,
    /// How far back state is kept; older events are rejected as `too_late`.
    pub retention: Duration,
    /// Whose time windows follow: the events' own, or the system's.
    pub clock: Clock,
    /// The future guard: an event more than this ahead of the clock is held
    /// until the stream confirms the jump (see [`crate::ingest`]).
    pub max_jump: Duration,
    /// Where rejected lines are written, with line number and reason.
    pub reject_file: Option<PathBuf>,
    /// Where rule hits are written, one JSON object per line (`--emit`).
    pub emit: Option<PathBuf>,
    /// How many recent accepted events raw-row queries can read (also
    /// bounded by [`super::MAX_RECENT_BYTES`]); 0 keeps none.
    pub recent_events: usize,
    /// The data directory (`--data`): a write-ahead log of every line
    /// offered, replayed at start. `None`: in memory only.
    pub data: Option<PathBuf>,
    /// When the log is fsynced (`--fsync`).
    pub fsync: Fsync,
    /// Lines per log commit (group commit) under `--fsync batch` and
    /// `interval`: the default is the router's batch of events, so one
    /// fsync per batch; fewer lines mean more, smaller commits.
    pub commit_lines: usize,
    /// When a checkpoint of the whole state is written (`--checkpoint-every`),
    /// besides at a clean exit.
    pub checkpoint_every: CheckpointEvery,
}

impl Config {
    /// The defaults: one shard per core, a day of retention, the event
    /// clock, an hour of future guard, no files.
    pub fn new(schema: Schema) -> Config {
        Config {
            schema,
            shards: std::thread::available_parallelism().map_or(2, |n| n.get()),
            retention: Duration::from_secs(24 * 3600),
            clock: Clock::Event,
            max_jump: Duration::from_secs(3600),
            reject_file: None,
            emit: None,
            recent_events: DEFAULT_RECENT_EVENTS,
            data: None,
            fsync: Fsync::Batch,
            commit_lines: super::ingest::BATCH,
            checkpoint_every: CheckpointEvery::DEFAULT,
        }
    }

    /// Refuses a configuration the engine cannot run, with the flag to fix.
    pub(super) fn validate(&self) -> Result<()> {
        self.schema.validate()?;
        if self.shards == 0 || self.shards > MAX_SHARDS {
            return Err(Error::InvalidInput(format!(
                "--shards must be between 1 and {MAX_SHARDS}"
            )));
        }
        // State past the first hour expires a whole 1-minute pane at a time.
        if self.retention < Duration::from_secs(60) || !self.retention.as_secs().is_multiple_of(60)
        {
            return Err(Error::InvalidInput(
                "--retention must be a whole number of minutes, at least 1m".into(),
            ));
        }
        // Replay must reach the state the first run reached: under the
        // wall clock, "now" at replay is not what it was.
        if self.data.is_some() && self.clock == Clock::Wall {
            return Err(Error::InvalidInput(
                "--data needs the event clock (--clock event): a log cannot be replayed against the wall clock".into(),
            ));
        }
        if self.commit_lines == 0 {
            return Err(Error::InvalidInput(
                "commit_lines must be at least 1".into(),
            ));
        }
        if self.schema.actors.len() > MAX_ACTOR_KINDS {
            return Err(Error::InvalidInput(format!(
                "a schema may declare at most {MAX_ACTOR_KINDS} actor kinds"
            )));
        }
        Ok(())
    }

    pub(super) fn retention_ms(&self) -> Millis {
        self.retention.as_millis() as Millis
    }

    /// What the planner sees: the schema, the interned cells and the clock.
    /// Raw-row queries add the recent events and the rule hits they can read.
    pub(super) fn catalog<'a>(
        &'a self,
        now_ms: Option<Millis>,
        cells: &'a [Arc<[Value]>],
    ) -> Catalog<'a> {
        Catalog {
            schema: &self.schema,
            cells,
            now_ms,
            retention_ms: self.retention_ms(),
            shards: self.shards,
            recent_events: 0,
            events_store: false,
            rule_hits: HitLog::default(),
        }
    }
}
