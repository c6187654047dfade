//! Every message between the engine, the router and the shards, in one
//! place (actix chat style), and how the engine's thread waits for a reply.

use std::sync::{Arc, Mutex};

use actix::{MailboxError, Message};

use crate::error::{Error, Result};
use crate::event::Event;
use crate::query::{FinishedRow, Groups, Scan};
use crate::rules::{Hit, RuleSet};
use crate::storage::CheckpointBytes;
use crate::time::Millis;

/// Engine → router: admitted events, in admission order. The reply is the
/// rule hits they caused.
#[derive(Message)]
#[rtype(result = "Vec<Hit>")]
pub struct Ingest {
    /// The events; their vector goes back to the [`BatchPool`] once split.
    pub events: Vec<Event>,
    /// The clock after admitting the last of them.
    pub now_ms: Millis,
    /// The rules in force for these events: sent with every batch, so a
    /// rule change takes effect at an exact point of the stream.
    pub rules: Arc<RuleSet>,
}

/// Emptied [`Ingest::events`] vectors, handed back by the router for the
/// engine to fill again. A fresh 4,096-event vector is over half a MiB,
/// which the allocator maps fresh and the kernel faults in page by page,
/// on the ingest thread; reusing vectors takes that off it (measured by
/// `tally bench ingest`). Shared by the engine and the router only; the
/// lock is taken twice per batch.
#[derive(Debug, Clone, Default)]
pub struct BatchPool(Arc<Mutex<Vec<Vec<Event>>>>);

impl BatchPool {
    /// Batches kept: as many as can be in flight, and two more.
    const KEEP: usize = 10;

    /// An empty vector with room for `capacity` events.
    pub fn take(&self, capacity: usize) -> Vec<Event> {
        let reused = match self.0.lock() {
            Ok(mut pool) => pool.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        match reused {
            Some(mut batch) => {
                batch.clear();
                batch.reserve(capacity);
                batch
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Gives back a batch whose events were taken out.
    pub fn put(&self, mut batch: Vec<Event>) {
        batch.clear();
        let mut pool = match self.0.lock() {
            Ok(pool) => pool,
            Err(poisoned) => poisoned.into_inner(),
        };
        if pool.len() < Self::KEEP {
            pool.push(batch);
        }
    }
}

/// Bit of [`Routed::targets`] meaning "add to this shard's global partial".
pub const GLOBAL_TARGET: u8 = 1 << 7;

/// The most actor kinds a schema may declare: one bit of
/// [`Routed::targets`] each, below [`GLOBAL_TARGET`].
pub const MAX_ACTOR_KINDS: usize = 7;

/// One event as a shard receives it.
pub struct Routed {
    pub event: Event,
    /// Bit `k` set: update the entity of actor kind `k` on this shard.
    /// [`GLOBAL_TARGET`]: update the global partial.
    pub targets: u8,
    /// The largest event time routed so far, this event included, rounded
    /// down to 5 minutes: the clock as of this event, not of the end of its
    /// batch. Panes are placed by it, so that a batch spanning hours keeps
    /// its seconds at 1 s resolution for rules (queries see the same either
    /// way: a clock behind "now" only keeps seconds in the fine tier longer).
    pub clock_ms: Millis,
}

/// Router → shard: the part of an [`Ingest`] this shard hosts. The reply
/// is the rule hits its entities found.
#[derive(Message)]
#[rtype(result = "Vec<Hit>")]
pub struct Apply {
    /// This shard's part of the batch, in admission order.
    pub events: Vec<Routed>,
    /// [`Ingest::now_ms`]: the passivation sweep after the batch runs by it.
    pub now_ms: Millis,
    /// [`Ingest::rules`], for the entities to evaluate.
    pub rules: Arc<RuleSet>,
}

/// Engine → shard: compute this shard's part of a query.
#[derive(Message)]
#[rtype(result = "Partial")]
pub struct ScanShard(pub Arc<Scan>);

/// A shard's answer to [`ScanShard`].
pub enum Partial {
    /// Partial aggregates by group, for the engine to merge.
    Groups(Groups),
    /// Finished, filtered, sorted and limited rows (groups disjoint by shard).
    Rows(Vec<FinishedRow>),
}

/// Engine → shard: this shard's whole state, encoded for a checkpoint (on
/// the shard's thread, so shards encode theirs at the same time).
#[derive(Message)]
#[rtype(result = "Result<Vec<u8>>")]
pub struct SaveShard;

/// Engine → shard: replace this shard's state with its part of a
/// checkpoint (the bytes, and the range of them that is this shard's), or
/// with an empty state (`None`: a checkpoint failed to load part way).
/// Nothing changes when the part does not decode.
#[derive(Message)]
#[rtype(result = "std::result::Result<(), String>")]
pub struct RestoreShard(pub Option<(Arc<CheckpointBytes>, std::ops::Range<usize>)>);

/// Engine → router: the router's own state, for a checkpoint; with
/// `Some`, replace it first (a checkpoint is loaded). The reply is the
/// state.
#[derive(Message)]
#[rtype(result = "RouterState")]
pub struct SyncRouter(pub Option<RouterState>);

/// What the router keeps between batches: where events without keys go
/// next, and the clock events are stamped with ([`Routed::clock_ms`]),
/// which decides when shards fold their seconds into minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RouterState {
    pub next_home: u64,
    pub clock_ms: Millis,
}

/// Engine → router → shards: the shards' counters for `SHOW STATS`.
#[derive(Message)]
#[rtype(result = "ShardStats")]
pub struct GetStats;

/// One shard's (or, summed, the engine's) state counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardStats {
    /// Active entities per actor kind.
    pub entities: Vec<u64>,
    /// Pane slots held, entities and global partials together.
    pub slots: u64,
    /// Entities passivated since start.
    pub passivated: u64,
}

impl ShardStats {
    pub fn add(&mut self, other: &ShardStats) {
        if self.entities.len() < other.entities.len() {
            self.entities.resize(other.entities.len(), 0);
        }
        for (a, b) in self.entities.iter_mut().zip(&other.entities) {
            *a += b;
        }
        self.slots += other.slots;
        self.passivated += other.passivated;
    }
}

/// The mailbox capacity actix reads as "unbounded". Not `usize::MAX`:
/// actix subtracts the capacity from its own limit when an address is
/// cloned, which overflows (a panic in debug builds) for any capacity past
/// that limit.
pub const UNBOUNDED_MAILBOX: usize = 0;

/// Waits for an actor's reply from outside the actor system (the engine's
/// thread, which is never one of the actors' own).
pub fn block<T>(
    request: impl std::future::Future<Output = std::result::Result<T, MailboxError>>,
) -> Result<T> {
    futures::executor::block_on(request)
        .map_err(|e| Error::Internal(format!("the actor system stopped: {e}")))
}
