//! The engine owner: the one thread that drives the [`Engine`].
//!
//! The engine takes `&mut self` and is driven from one thread, so the
//! server gives it one owner: a dedicated thread that takes [`Job`]s off
//! the queue ([`super::queue`]) one at a time and answers each on its own
//! reply channel. An event batch is applied by the shards (and, with a
//! data directory, committed to the log under the fsync policy) before
//! its reply is sent; a query sent after that reply is taken after the
//! batch, so it sees it. That is the whole visibility rule, and it needs
//! no lock. Queries are taken before batches still waiting (see
//! [`Owner::serve`]): those were not answered yet, so the rule allows it.
//!
//! The owner also keeps what only it can see: the query-latency histogram
//! and the counters [`super::health`] reads without queueing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use futures::channel::oneshot;

use super::hits::HitHub;
use super::metrics::LatencyHistogram;
use super::queue::Permit;
use crate::engine::{Engine, Stats};
use crate::error::{Error, Result};
use crate::event::{LineParser, Reason};
use crate::ingest::{parse_line, IngestSummary};
use crate::query::Params;
use crate::value::ResultSet;

/// The name event lines posted over HTTP are logged under (the reject
/// file names it too).
pub(super) const SOURCE: &str = "http";

/// One unit of work for the owner, with the channel its answer goes to.
pub(super) enum Job {
    /// NDJSON lines to ingest (a JSON array or object was already turned
    /// into lines). `single`: the body was one JSON object, whose verdict
    /// decides the status and whose reject detail is wanted.
    Ingest {
        lines: Vec<u8>,
        single: bool,
        reply: oneshot::Sender<Result<Ingested>>,
    },
    /// One statement's text and the values of its `:name` parameters.
    Query {
        sql: String,
        params: Params,
        reply: oneshot::Sender<Result<ResultSet>>,
    },
    /// The engine's counters and the query latencies, for `/metrics`.
    Metrics {
        reply: oneshot::Sender<Result<(Stats, LatencyHistogram)>>,
    },
    /// The server is stopping: finish, make the state durable, exit.
    Stop,
}

/// What one posted body did.
#[derive(Debug)]
pub(super) struct Ingested {
    pub summary: IngestSummary,
    /// For a single object that was rejected: its reason and why.
    pub rejected: Option<(Reason, String)>,
}

/// What the owner publishes for `/health`, read without queueing.
#[derive(Debug, Default)]
pub(super) struct Published {
    pub lines: AtomicU64,
    pub accepted: AtomicU64,
    /// Cleared when the owner thread ends (stopped, or failed).
    pub running: AtomicBool,
}

/// The owner thread's state.
struct Owner {
    engine: Engine,
    /// The schema's line parser, to say why a single object was refused.
    parser: LineParser,
    /// Lines posted so far: where the next body's line numbers start.
    lines_before: u64,
    latency: LatencyHistogram,
    published: Arc<Published>,
}

/// Starts the owner thread: `factory` builds the engine there (the engine
/// stays on the thread that made it); the thread then serves `jobs` until
/// a [`Job::Stop`]. Returns once the engine is ready (with its schema's
/// name), or its error.
pub(super) fn spawn(
    factory: super::EngineFactory,
    jobs: Receiver<(Job, Permit)>,
    hits: Arc<HitHub>,
    published: Arc<Published>,
) -> Result<(std::thread::JoinHandle<Result<()>>, String)> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String>>();
    let thread = std::thread::Builder::new()
        .name("tally-engine-owner".into())
        .spawn(move || {
            let mut engine = match factory() {
                Ok(engine) => engine,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return Ok(());
                }
            };
            let listener_hits = hits.clone();
            engine.set_hit_listener(Some(Box::new(move |hit| listener_hits.publish(hit))));
            let parser = LineParser::new(Arc::new(engine.schema().clone()));
            let lines_before = engine.counters().lines;
            let mut owner = Owner {
                engine,
                parser,
                lines_before,
                latency: LatencyHistogram::default(),
                published,
            };
            owner.publish();
            owner.published.running.store(true, Ordering::Release);
            let _ = ready_tx.send(Ok(owner.engine.schema().name.clone()));
            let result = owner.serve(jobs);
            owner.published.running.store(false, Ordering::Release);
            hits.close();
            result
        })
        .map_err(|e| Error::io("starting the engine owner thread", e))?;
    match ready_rx.recv() {
        Ok(Ok(schema)) => Ok((thread, schema)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(Error::Internal(
            "the engine owner thread ended while starting".into(),
        )),
    }
}

impl Owner {
    /// Takes jobs until told to stop (or every sender is gone). Each job's
    /// permit is given back once its answer is sent.
    ///
    /// Queries (and scrapes) go before event batches that are still
    /// waiting: a query must see every batch *answered* before it was
    /// sent, and a waiting batch has not been answered, so taking the
    /// query first keeps the rule while it spares the query the wait.
    /// Batches keep their order among themselves, and so do queries; the
    /// stop is taken only when nothing else waits.
    fn serve(&mut self, jobs: Receiver<(Job, Permit)>) -> Result<()> {
        let mut waiting: VecDeque<(Job, Permit)> = VecDeque::new();
        loop {
            if waiting.is_empty() {
                match jobs.recv() {
                    Ok(job) => waiting.push_back(job),
                    Err(_) => break,
                }
            }
            // Bounded: every job holds a permit.
            waiting.extend(jobs.try_iter());
            let next = waiting
                .iter()
                .position(|(job, _)| matches!(job, Job::Query { .. } | Job::Metrics { .. }))
                .or_else(|| {
                    waiting
                        .iter()
                        .position(|(job, _)| matches!(job, Job::Ingest { .. }))
                })
                .unwrap_or(0);
            let Some((job, _permit)) = waiting.remove(next) else {
                continue;
            };
            match job {
                Job::Ingest {
                    lines,
                    single,
                    reply,
                } => {
                    let answer = self.ingest(lines, single);
                    let _ = reply.send(answer);
                }
                Job::Query { sql, params, reply } => {
                    let started = Instant::now();
                    let answer = self.query(&sql, &params);
                    self.latency.record(started.elapsed());
                    let _ = reply.send(answer);
                }
                Job::Metrics { reply } => {
                    let answer = self.engine.stats().map(|s| (s, self.latency.clone()));
                    let _ = reply.send(answer);
                }
                Job::Stop => break,
            }
        }
        self.stop()
    }

    /// Ingests one body's lines and commits them: when this returns `Ok`
    /// under `--data`, the lines are in the log under the fsync policy.
    fn ingest(&mut self, lines: Vec<u8>, single: bool) -> Result<Ingested> {
        // Only a single object needs its text again, to say why it failed.
        let kept = single.then(|| lines.clone());
        let summary = self.engine.ingest_piece(SOURCE, lines, self.lines_before)?;
        self.lines_before += summary.lines;
        self.publish();
        let rejected = match kept {
            Some(text) if summary.accepted == 0 => self.why_rejected(&summary, &text),
            _ => None,
        };
        Ok(Ingested { summary, rejected })
    }

    /// The reason a single object was rejected, and the detail: the
    /// parser's own when the line does not fit the schema, else what the
    /// admission reason means.
    fn why_rejected(&self, summary: &IngestSummary, text: &[u8]) -> Option<(Reason, String)> {
        let name = summary.rejected.iter().find(|(_, n)| *n > 0)?.0;
        let reason = Reason::ALL.into_iter().find(|r| r.name() == name)?;
        let line = text.strip_suffix(b"\n").unwrap_or(text);
        let detail = match parse_line(&self.parser, line) {
            Err(reject) if reject.reason == reason => reject.detail,
            _ => match reason {
                Reason::Duplicate => "an event with this id was already accepted".to_string(),
                Reason::TooLate => {
                    "the event is older than the retention window (--retention)".to_string()
                }
                Reason::TooFarInFuture => {
                    "the event is further ahead of the clock than --max-jump allows".to_string()
                }
                other => other.name().to_string(),
            },
        };
        Some((reason, detail))
    }

    /// Parses and runs exactly one statement.
    fn query(&mut self, sql: &str, params: &Params) -> Result<ResultSet> {
        let statements = self.engine.parse(sql, params)?;
        match statements.as_slice() {
            [statement] => self.engine.run(statement),
            [] => Err(Error::InvalidInput("the request holds no statement".into())),
            many => Err(Error::InvalidInput(format!(
                "one statement per request; this one holds {}",
                many.len()
            ))),
        }
    }

    fn publish(&self) {
        let counters = self.engine.counters();
        self.published
            .lines
            .store(counters.lines, Ordering::Release);
        self.published
            .accepted
            .store(counters.accepted, Ordering::Release);
    }

    /// The end of the server: every accepted request has been answered,
    /// and every body was committed to the log before its answer. What is
    /// left is to apply everything handed to the shards and, with a data
    /// directory, to write a checkpoint of it, so that the next start
    /// loads it instead of replaying the log.
    fn stop(&mut self) -> Result<()> {
        self.engine.sync()?;
        self.engine.checkpoint()?;
        Ok(())
    }
}
