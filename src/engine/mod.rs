//! The engine: the embedding API over the actor system.
//!
//! [`Engine`] owns an actix system on a background thread: one [`Router`]
//! actor and N [`Shard`] actors, each on its own arbiter. Ingest goes
//! line → [`crate::ingest::Admission`] (parse, validate, de-duplicate, clock)
//! → batches → router → shards → entities. Queries go text → parser →
//! planner → fan-out to the shards that hold the state → shard partials →
//! merge, from the caller's thread ([`fanout`] says why not via the router).
//!
//! The engine is driven from one thread (a shell, a CLI command, a test):
//! every method takes `&mut self`, and a query first waits until every batch
//! handed over before it has been applied, so a query always sees the events
//! ingested before it.
//!
//! Continuous rules ([`crate::rules`]) travel with every batch; the shards
//! reply to each batch with the hits it caused, which the engine counts,
//! keeps (the last [`crate::rules::RECENT_HITS`]), writes to `--emit` and passes to a
//! listener. Hits arrive batch by batch in ingest order, sorted within a
//! batch by window end, rule and key, so their order never depends on the
//! shard count.

mod fanout;
mod key_hash;
mod messages;
mod recent;
mod router;
mod shard;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::error::{Error, Result};
use crate::event::{Event, LineParser, Schema};
use crate::ingest::{
    Admission, CellDictionary, Counters, IngestProgress, IngestSummary, Limits, Line, Merge,
    Origin, RejectFile, Verdicts,
};
use crate::query::{Catalog, HitLog, Params, Plan, RawPlan, RawRow, RawSource, Select, Statement};
use crate::rules::{Hit, Rules};
pub use crate::time::Clock;
use crate::time::Millis;
use crate::value::{ResultSet, Value};

pub use messages::Routed;
use messages::{BatchPool, GetStats, Ingest, ShardStats};
use recent::RecentEvents;
pub use recent::{DEFAULT_RECENT_EVENTS, MAX_RECENT_BYTES};
use router::Router;
pub use router::{shard_of, split_batch};
use shard::Shard;

/// Events per batch handed to the router.
const BATCH: usize = 4096;
/// Batches in flight before ingest waits for the oldest: bounds memory and
/// keeps the shards busy while the next batch is parsed.
const IN_FLIGHT: usize = 8;

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
    /// Where rule hits are written, one JSON object per line (`--emit`).
    pub emit: Option<PathBuf>,
    /// How many recent accepted events raw-row queries can read (also
    /// bounded by [`MAX_RECENT_BYTES`]); 0 keeps none.
    pub recent_events: usize,
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
            emit: None,
            recent_events: DEFAULT_RECENT_EVENTS,
        }
    }
}

/// Called with every rule hit as it is delivered (the shell prints them).
pub type HitListener = Box<dyn FnMut(&Hit)>;

/// A running tally engine. See the module docs.
pub struct Engine {
    config: Config,
    schema: Arc<Schema>,
    parser: LineParser,
    admission: Admission,
    cells: CellDictionary,
    counters: Counters,
    rejects: Option<RejectFile>,
    /// Recent accepted events, for raw-row queries.
    recent: RecentEvents,
    router: Addr<Router>,
    /// The shards, for queries ([`fanout`]); events go through the router.
    shards: Vec<Addr<Shard>>,
    /// Admitted events not yet handed to the router.
    batch: Vec<Event>,
    /// Batches the router emptied, to fill again.
    batches: BatchPool,
    in_flight: VecDeque<actix::dev::Request<Router, Ingest>>,
    rules: Rules,
    /// The `--emit` file, when asked for.
    emit: Option<(PathBuf, BufWriter<File>)>,
    hit_listener: Option<HitListener>,
    system: System,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the actor system: the router and one shard per arbiter.
    pub fn start(config: Config) -> Result<Engine> {
        config.schema.validate()?;
        if config.shards == 0 || config.shards > 256 {
            return Err(Error::InvalidInput(
                "--shards must be between 1 and 256".into(),
            ));
        }
        if config.retention < Duration::from_secs(60)
            || !config.retention.as_secs().is_multiple_of(60)
        {
            return Err(Error::InvalidInput(
                "--retention must be a whole number of minutes, at least 1m".into(),
            ));
        }
        if config.schema.actors.len() > 7 {
            return Err(Error::InvalidInput(
                "a schema may declare at most 7 actor kinds".into(),
            ));
        }
        let rejects = config
            .reject_file
            .as_deref()
            .map(RejectFile::create)
            .transpose()?;
        let emit = match &config.emit {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
                Some((path.clone(), BufWriter::new(file)))
            }
            None => None,
        };
        let schema = Arc::new(config.schema.clone());
        let retention_ms = config.retention.as_millis() as Millis;
        let admission = Admission::new(Limits {
            clock: config.clock,
            retention_ms,
            max_jump_ms: config.max_jump.as_millis() as Millis,
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let shards = config.shards;
        let batches = BatchPool::default();
        let router_batches = batches.clone();
        let shard_schema = schema.clone();
        let thread = std::thread::Builder::new()
            .name("tally-actors".into())
            .spawn(move || {
                let system = System::new();
                system.block_on(async move {
                    let mut arbiters = Vec::new();
                    let mut addrs = Vec::new();
                    for _ in 0..shards {
                        let arbiter = Arbiter::new();
                        let schema = shard_schema.clone();
                        addrs.push(Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                            Shard::new(&schema, retention_ms)
                        }));
                        arbiters.push(arbiter);
                    }
                    let shards = addrs.clone();
                    let router = Router::new(addrs, arbiters, router_batches).start();
                    let _ = tx.send((router, shards, System::current()));
                });
                let _ = system.run();
            })
            .map_err(|e| Error::io("starting the actor thread", e))?;
        let (router, shards, system) = rx
            .recv()
            .map_err(|_| Error::Internal("the actor system failed to start".into()))?;
        Ok(Engine {
            recent: RecentEvents::new(config.recent_events),
            parser: LineParser::new(schema.clone()),
            cells: admission.cells.dictionary(),
            admission,
            schema,
            config,
            counters: Counters::default(),
            rejects,
            router,
            shards,
            batch: batches.take(BATCH),
            batches,
            in_flight: VecDeque::new(),
            rules: Rules::default(),
            emit,
            hit_listener: None,
            system,
            thread: Some(thread),
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Lines, accepted and rejected so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Now, as windows see it: `None` before the first event (event clock).
    pub fn now_ms(&self) -> Option<Millis> {
        self.admission.now_ms()
    }

    /// Parses statement text (one or more statements separated by `;`),
    /// substituting `:name` parameters. Nothing runs yet.
    pub fn parse(&self, sql: &str, params: &Params) -> Result<Vec<Statement>> {
        crate::query::parse(sql, params)
    }

    /// Parses and runs every statement in `sql`, stopping at the first error.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<ResultSet>> {
        let statements = self.parse(sql, &Params::new())?;
        statements.iter().map(|s| self.run(s)).collect()
    }

    /// Runs one parsed statement. It sees every event ingested before it.
    pub fn run(&mut self, statement: &Statement) -> Result<ResultSet> {
        match statement {
            Statement::Select(select) if crate::query::is_raw(select) => {
                let plan = self.plan_raw(select)?;
                self.run_raw(&plan)
            }
            Statement::Explain(select) if crate::query::is_raw(select) => {
                Ok(explain(&self.plan_raw(select)?))
            }
            Statement::Select(select) => {
                let plan = self.plan(select)?;
                self.sync()?;
                fanout::run(&self.shards, &plan)
            }
            Statement::Explain(select) => Ok(explain(&self.plan(select)?)),
            Statement::ShowStats => self.stats(),
            // Rule changes take effect between two events: everything
            // ingested before is applied under the old rules first.
            Statement::CreateRule(def) => {
                self.sync()?;
                let cells = self.cells.snapshot();
                let now_ms = self.admission.now_ms();
                let catalog = catalog(&self.schema, &self.config, now_ms, &cells);
                self.rules.create(def, &catalog)
            }
            Statement::DropRule(name) => {
                self.sync()?;
                self.rules.drop_rule(name, self.cells.len())
            }
            Statement::ShowRules => {
                self.sync()?;
                Ok(self.rules.show())
            }
        }
    }

    /// Plans a select against the current schema, cells and clock.
    pub fn plan(&mut self, select: &Select) -> Result<Plan> {
        let cells = self.cells.snapshot();
        let now_ms = self.admission.now_ms();
        crate::query::plan(select, &catalog(&self.schema, &self.config, now_ms, &cells))
    }

    /// The last [`crate::rules::RECENT_HITS`] rule hits, oldest first, after every event
    /// ingested so far has been applied. Each turns into a JSON object
    /// with [`Hit::to_json`].
    pub fn rule_hits(&mut self) -> Result<&VecDeque<Hit>> {
        self.sync()?;
        Ok(self.rules.recent())
    }

    /// Hits counted per rule so far, in creation order.
    pub fn rule_hit_counts(&self) -> Vec<(String, u64)> {
        self.rules.counts()
    }

    /// Calls `listener` with every hit from now on, as it is delivered
    /// (during ingest, batch by batch); `None` removes it.
    pub fn set_hit_listener(&mut self, listener: Option<HitListener>) {
        self.hit_listener = listener;
    }

    /// Counts, keeps, emits and announces one batch's hits.
    fn deliver(&mut self, mut hits: Vec<Hit>) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        hits.sort_by(Hit::delivery_order);
        for hit in &hits {
            self.rules.record(hit);
            if let Some((path, file)) = &mut self.emit {
                let mut line = hit.to_json().to_string();
                line.push('\n');
                file.write_all(line.as_bytes())
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            }
            if let Some(listener) = &mut self.hit_listener {
                listener(hit);
            }
        }
        if let Some((path, file)) = &mut self.emit {
            file.flush()
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Plans a raw-row query (no aggregates) against the current schema and
    /// clock.
    pub fn plan_raw(&mut self, select: &Select) -> Result<RawPlan> {
        let now_ms = self.admission.now_ms();
        let hit_columns = self.rules.hit_columns();
        let mut catalog = catalog(&self.schema, &self.config, now_ms, &[]);
        catalog.recent_events = self.recent.capacity();
        catalog.rule_hits = HitLog {
            columns: &hit_columns,
            capacity: crate::rules::RECENT_HITS,
        };
        crate::query::plan_raw(select, &catalog)
    }

    /// Runs a raw-row query over the ring of recent events (or the recent
    /// rule hits), oldest first; without ORDER BY the scan stops at LIMIT.
    fn run_raw(&mut self, plan: &RawPlan) -> Result<ResultSet> {
        let stop = plan.stops_at_limit().unwrap_or(usize::MAX);
        let mut rows = Vec::new();
        if plan.source == RawSource::RuleHits {
            self.sync()?;
            for (seq, hit) in self.rules.recent().iter().enumerate() {
                if rows.len() >= stop {
                    break;
                }
                let json = hit.to_json();
                let row = RawRow {
                    json: &json,
                    ts_ms: None,
                };
                rows.extend(plan.row(&row, seq as u64));
            }
            return Ok(plan.finish(rows));
        }
        for event in self.recent.iter() {
            if rows.len() >= stop {
                break;
            }
            if plan.window.is_some_and(|w| !w.contains(event.ts_ms)) {
                continue;
            }
            // Accepted lines are valid JSON; a line that is not is skipped.
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(event.text) else {
                continue;
            };
            let row = RawRow {
                json: &json,
                ts_ms: Some(event.ts_ms),
            };
            rows.extend(plan.row(&row, event.seq));
        }
        Ok(plan.finish(rows))
    }

    /// `SHOW STATS`: one row per counter.
    pub fn stats(&mut self) -> Result<ResultSet> {
        self.sync()?;
        let shards: ShardStats = block(self.router.send(GetStats))?;
        let mut rows: Vec<(String, Value)> = vec![
            ("lines".into(), Value::Int(self.counters.lines as i64)),
            ("accepted".into(), Value::Int(self.counters.accepted as i64)),
            (
                "rejected".into(),
                Value::Int(self.counters.rejected_total() as i64),
            ),
        ];
        for (reason, n) in self.counters.by_reason() {
            rows.push((format!("rejected.{reason}"), Value::Int(n as i64)));
        }
        for (kind, n) in self.schema.actors.iter().zip(&shards.entities) {
            rows.push((format!("actors.{}", kind.name), Value::Int(*n as i64)));
        }
        rows.push((
            "actors.passivated".into(),
            Value::Int(shards.passivated as i64),
        ));
        rows.push(("state.pane_slots".into(), Value::Int(shards.slots as i64)));
        rows.push(("state.cells".into(), Value::Int(self.cells.len() as i64)));
        rows.push((
            "state.remembered_ids".into(),
            Value::Int(self.admission.remembered_ids() as i64),
        ));
        rows.push((
            "state.id_history_bytes".into(),
            Value::Int(self.admission.id_history_bytes() as i64),
        ));
        rows.push((
            "state.recent_events".into(),
            Value::Int(self.recent.len() as i64),
        ));
        rows.push(("shards".into(), Value::Int(self.config.shards as i64)));
        let now = self.admission.now_ms().map_or(Value::Null, |t| {
            Value::str(&crate::time::format_timestamp(t))
        });
        rows.push(("clock.now".into(), now));
        Ok(ResultSet {
            columns: vec!["counter".into(), "value".into()],
            rows: rows
                .into_iter()
                .map(|(c, v)| vec![Value::str(&c), v])
                .collect(),
        })
    }

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

    /// Ingests from an already opened [`Merge`] of sources.
    pub fn ingest(
        &mut self,
        mut merge: Merge,
        progress: &mut dyn FnMut(&IngestProgress),
    ) -> Result<IngestSummary> {
        let start = Instant::now();
        let before = self.counters.clone();
        let mut verdicts = Verdicts::default();
        let mut last_report = start;
        while let Some(line) = merge.next(&self.parser)? {
            self.counters.lines += 1;
            let bytes = self.offer(line, &mut verdicts)?;
            merge.recycle(bytes);
            if self.counters.lines.is_multiple_of(8192)
                && last_report.elapsed() >= Duration::from_millis(200)
            {
                last_report = Instant::now();
                progress(&IngestProgress {
                    lines: self.counters.lines - before.lines,
                    accepted: self.counters.accepted - before.accepted,
                    rejected: self.counters.rejected_total() - before.rejected_total(),
                    elapsed: start.elapsed(),
                });
            }
        }
        self.admission.finish(&mut verdicts);
        self.settle(&mut verdicts, None)?;
        self.sync()?;
        if let Some(r) = &mut self.rejects {
            r.flush()?;
        }
        Ok(self.counters.since(&before, start.elapsed()))
    }

    /// Offers one line to admission and settles the verdicts; gives the
    /// line's buffer back for reuse.
    fn offer(&mut self, line: Line, verdicts: &mut Verdicts) -> Result<Vec<u8>> {
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
    fn settle(&mut self, verdicts: &mut Verdicts, line: Option<(&Origin, &[u8])>) -> Result<()> {
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
                self.recent.push(event.ts_ms, text);
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
        if self.rules.needs_replan(self.cells.len()) {
            let cells = self.cells.snapshot();
            let now_ms = self.admission.now_ms();
            let catalog = catalog(&self.schema, &self.config, now_ms, &cells);
            self.rules.replan(&catalog)?;
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
                self.deliver(hits)?;
            }
        }
        Ok(())
    }

    /// Waits until every admitted event has been applied by its shards.
    pub fn sync(&mut self) -> Result<()> {
        self.flush_batch()?;
        while let Some(request) = self.in_flight.pop_front() {
            let hits = block(request)?;
            self.deliver(hits)?;
        }
        Ok(())
    }
}

/// What the planner sees: the schema, the interned cells and the clock.
fn catalog<'a>(
    schema: &'a Schema,
    config: &Config,
    now_ms: Option<Millis>,
    cells: &'a [Arc<[Value]>],
) -> Catalog<'a> {
    Catalog {
        schema,
        cells,
        now_ms,
        retention_ms: config.retention.as_millis() as Millis,
        shards: config.shards,
        recent_events: 0,
        rule_hits: HitLog::default(),
    }
}

/// `EXPLAIN`: a plan's tree, one row per line.
fn explain(plan: &dyn std::fmt::Display) -> ResultSet {
    ResultSet {
        columns: vec!["plan".into()],
        rows: plan
            .to_string()
            .lines()
            .map(|l| vec![Value::str(l)])
            .collect(),
    }
}

/// Waits for an actor's reply from outside the actor system.
fn block<T>(request: impl std::future::Future<Output = Result<T, MailboxError>>) -> Result<T> {
    futures::executor::block_on(request)
        .map_err(|e| Error::Internal(format!("the actor system stopped: {e}")))
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.sync();
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
