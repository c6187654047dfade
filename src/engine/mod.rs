//! The engine: the embedding API over the actor system.
//!
//! [`Engine`] owns an actix system on a background thread: one router
//! actor and N shard actors, each shard on its own arbiter. The per-key
//! state lives in *entities*: plain structs hosted by the shards, one per
//! key of each actor kind (a user, a video), activated by their first
//! event and passivated when their window state is empty.
//!
//! Ingest goes line → [`crate::ingest::Admission`] (parse, validate,
//! de-duplicate, clock) → batches → router → shards → entities
//! (`ingest.rs`). Queries go text → parser → planner → fan-out to the
//! shards that hold the state → shard partials → merge, all on the
//! caller's thread (`execute.rs`; `fanout.rs` says why not via the router).
//!
//! The engine is driven from one thread (a shell, a CLI command, a test):
//! every method takes `&mut self`, and a query first waits until every batch
//! handed over before it has been applied, so a query always sees the events
//! ingested before it.
//!
//! Continuous rules ([`crate::rules`]) travel with every batch; the shards
//! reply to each batch with the hits it caused, which the engine delivers
//! (`delivery.rs`: counted, kept, written to `--emit`, passed to a
//! listener). [`Stats`] are the counters `SHOW STATS` shows.
//!
//! The other files: `config.rs` (what shapes an engine), `messages.rs`
//! (every actor message), `router.rs` and `shard.rs` (the two actors),
//! `key_hash.rs` (the shards' entity maps), `recent.rs` (the ring of
//! recent events raw-row queries read without `--data`; with it they read
//! the events store, [`crate::storage::EventStore`]).

mod checkpoint;
mod config;
mod delivery;
mod durable;
mod entities;
mod execute;
mod fanout;
mod ingest;
mod int_table;
mod key_hash;
mod messages;
mod recent;
mod router;
mod shard;
mod stats;

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix::prelude::*;

use crate::error::{Error, Result};
use crate::event::{Event, LineParser, Schema};
use crate::ingest::{Admission, CellDictionary, Counters, Limits, RejectFile};
use crate::rules::Rules;
use crate::time::Millis;

pub use crate::time::Clock;
pub use checkpoint::{decode_checkpoint_parts, read_checkpoint};
pub use config::Config;
use delivery::Delivery;
pub use delivery::HitListener;
use durable::Durable;
pub use durable::StorageStats;
use ingest::BATCH;
pub use messages::Routed;
use messages::{BatchPool, Ingest};
use recent::RecentEvents;
pub use recent::{DEFAULT_RECENT_EVENTS, MAX_RECENT_BYTES};
use router::Router;
pub use router::{shard_of, split_batch};
use shard::Shard;
pub use stats::Stats;

/// A running tally engine. See the module docs.
pub struct Engine {
    config: Config,
    /// The schema, shared with the line parser and the shards.
    schema: Arc<Schema>,
    parser: LineParser,
    admission: Admission,
    /// The cells admission interns, read by the planner.
    cells: CellDictionary,
    /// Lines, accepted and rejected since start.
    counters: Counters,
    rejects: Option<RejectFile>,
    /// Recent accepted events, for raw-row queries without `--data`; with
    /// it the ring is off and only numbers the events (`next_seq`).
    recent: RecentEvents,
    /// With `--data`: every accepted event within retention, on disk
    /// (`DIR/events/`), what raw-row queries read instead of the ring.
    store: Option<crate::storage::EventStore>,
    router: Addr<Router>,
    /// The shards, for queries ([`fanout`]); events go through the router.
    shards: Vec<Addr<Shard>>,
    /// Admitted events not yet handed to the router.
    batch: Vec<Event>,
    /// Batches the router emptied, to fill again.
    batches: BatchPool,
    /// Batches handed to the router whose hits have not come back yet.
    in_flight: VecDeque<actix::dev::Request<Router, Ingest>>,
    rules: Rules,
    delivery: Delivery,
    /// The data directory (`--data`): the log every line offered is
    /// committed to. `None` keeps everything in memory only.
    durable: Option<Durable>,
    system: System,
    /// The actor system's thread, joined on drop.
    thread: Option<JoinHandle<()>>,
}

/// What the actor thread hands back once the actors run.
type Actors = (Addr<Router>, Vec<Addr<Shard>>, System);

impl Engine {
    /// Checks the configuration, opens its files and starts the actor
    /// system: the router and one shard per arbiter.
    pub fn start(config: Config) -> Result<Engine> {
        config.validate()?;
        let rejects = config
            .reject_file
            .as_deref()
            .map(RejectFile::create)
            .transpose()?;
        let delivery = Delivery::open(config.emit.as_deref())?;
        let schema = Arc::new(config.schema.clone());
        let admission = Admission::new(Limits {
            clock: config.clock,
            retention_ms: config.retention_ms(),
            max_jump_ms: config.max_jump.as_millis() as Millis,
        });
        let batches = BatchPool::default();
        let (thread, (router, shards, system)) = spawn_actors(&schema, &config, batches.clone())?;
        let data = config.data.clone();
        // With a data directory the events store replaces the ring: it
        // holds every event the ring would, and keeps it out of memory and
        // out of the checkpoints.
        let ring = if data.is_some() {
            0
        } else {
            config.recent_events
        };
        let mut engine = Engine {
            recent: RecentEvents::new(ring),
            store: None,
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
            delivery,
            durable: None,
            system,
            thread: Some(thread),
        };
        if let Some(dir) = data {
            engine.open_data(&dir)?;
        }
        Ok(engine)
    }

    /// What the data directory has to say since last asked: what recovery
    /// found and replayed, which files resume where. Empty without `--data`.
    pub fn take_notes(&mut self) -> Vec<String> {
        self.durable
            .as_mut()
            .map(|d| std::mem::take(&mut d.notes))
            .unwrap_or_default()
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

    /// Calls `listener` with every hit from now on, as it is delivered
    /// (during ingest, batch by batch); `None` removes it.
    pub fn set_hit_listener(&mut self, listener: Option<HitListener>) {
        self.delivery.set_listener(listener);
    }
}

/// Starts the actor system on a thread of its own: one shard per arbiter,
/// then the router that owns the arbiters. Returns once the actors run.
fn spawn_actors(
    schema: &Arc<Schema>,
    config: &Config,
    batches: BatchPool,
) -> Result<(JoinHandle<()>, Actors)> {
    let (tx, rx) = std::sync::mpsc::channel::<Actors>();
    let shards = config.shards;
    let retention_ms = config.retention_ms();
    let schema = schema.clone();
    let thread = std::thread::Builder::new()
        .name("tally-actors".into())
        .spawn(move || {
            let system = System::new();
            system.block_on(async move {
                let mut arbiters = Vec::new();
                let mut addrs = Vec::new();
                for _ in 0..shards {
                    let arbiter = Arbiter::new();
                    let schema = schema.clone();
                    addrs.push(Shard::start_in_arbiter(&arbiter.handle(), move |_| {
                        Shard::new(&schema, retention_ms)
                    }));
                    arbiters.push(arbiter);
                }
                let shards = addrs.clone();
                let router = Router::new(addrs, arbiters, batches).start();
                let _ = tx.send((router, shards, System::current()));
            });
            let _ = system.run();
        })
        .map_err(|e| Error::io("starting the actor thread", e))?;
    let actors = rx
        .recv()
        .map_err(|_| Error::Internal("the actor system failed to start".into()))?;
    Ok((thread, actors))
}

/// Applies what was handed over (and delivers its hits), writes a
/// checkpoint when there is a data directory, then stops the actors and
/// waits for their thread.
impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.sync();
        // A clean exit checkpoints what the log holds; a failure costs
        // only time at the next start, which replays the log instead.
        if let Err(e) = self.checkpoint() {
            eprintln!("tally: no checkpoint at exit ({e}); the next start replays the log");
        }
        // Whatever the checkpoint did: the next start cuts the store back
        // to the checkpoint it loads, so writing more is never wrong.
        if let Some(Err(e)) = self
            .store
            .as_mut()
            .map(|s| s.flush().and_then(|()| s.sync()))
        {
            eprintln!("tally: the events store was not flushed at exit ({e})");
        }
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
