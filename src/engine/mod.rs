//! The engine: the embedding API over the actor system.
//!
//! [`Engine`] owns an actix system on a background thread: one [`Router`]
//! actor and N [`Shard`] actors, each on its own arbiter. Ingest goes
//! line → [`crate::ingest::Admission`] (parse, validate, de-duplicate, clock)
//! → batches → router → shards → entities. Queries go text → parser →
//! planner → router fan-out → shard partials → merge.
//!
//! The engine is driven from one thread (a shell, a CLI command, a test):
//! every method takes `&mut self`, and a query first waits until every batch
//! handed over before it has been applied, so a query always sees the events
//! ingested before it.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Result;
use crate::event::Schema;
use crate::ingest::{IngestProgress, IngestSummary};
use crate::query::{Params, Statement};
use crate::value::ResultSet;

/// Which clock defines "now" for windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// Now is the largest event time accepted so far (replays are exact).
    #[default]
    Event,
    /// Now is the system clock (for live services).
    Wall,
}

/// Everything that shapes an engine.
#[derive(Debug, Clone)]
pub struct Config {
    pub schema: Schema,
    /// Number of shard actors; each runs on its own arbiter (thread).
    pub shards: usize,
    /// How far back state is kept; older events are rejected as `too_late`.
    pub retention: Duration,
    pub clock: Clock,
    /// The future guard: an event more than this ahead of the clock is held
    /// until the stream confirms the jump (see [`crate::ingest`]).
    pub max_jump: Duration,
    /// Where rejected lines are written, with line number and reason.
    pub reject_file: Option<PathBuf>,
}

impl Config {
    pub fn new(schema: Schema) -> Config {
        Config {
            schema,
            shards: std::thread::available_parallelism().map_or(2, |n| n.get()),
            retention: Duration::from_secs(24 * 3600),
            clock: Clock::Event,
            max_jump: Duration::from_secs(3600),
            reject_file: None,
        }
    }
}

/// A running tally engine. See the module docs.
pub struct Engine {
    config: Config,
}

impl Engine {
    /// Starts the actor system: router and shards.
    pub fn start(config: Config) -> Result<Engine> {
        Ok(Engine { config })
    }

    pub fn schema(&self) -> &Schema {
        &self.config.schema
    }

    /// Parses statement text (one or more statements separated by `;`),
    /// substituting `:name` parameters. Nothing runs yet.
    pub fn parse(&self, sql: &str, params: &Params) -> Result<Vec<Statement>> {
        crate::query::parse(sql, params)
    }

    /// Runs one parsed statement.
    pub fn run(&mut self, statement: &Statement) -> Result<ResultSet> {
        let _ = statement;
        Err(crate::error::Error::Internal("engine not built yet".into()))
    }

    /// Parses and runs every statement in `sql`, stopping at the first error.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        let statements = self.parse(sql, &Params::new())?;
        statements.iter().map(|s| self.run(s)).collect()
    }

    /// Ingests NDJSON files; several files are merged by event time (k-way).
    /// `progress` is called now and then with running totals.
    pub fn ingest_files(
        &mut self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<IngestSummary> {
        let _ = (paths, progress);
        Err(crate::error::Error::Internal("engine not built yet".into()))
    }
}
