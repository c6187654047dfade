//! A shard: an actix actor hosting many entities, on its own arbiter.
//!
//! An entity is one key's rolling state (a user's, a video's): a plain
//! struct in the shard's map for its actor kind, not an actix actor, in the
//! manner of virtual actors. It is activated by its first event and
//! passivated by the sweep once its window state is empty (every pane past
//! retention). A shard also keeps its share of the global state (the
//! events whose home it is), so global queries never scan entities.
//!
//! When rules are in force, an entity that takes an event evaluates its
//! kind's rules at once (a [`Watcher`]), and the hits go back to the engine
//! in the reply to the batch. Which events reach a shard is the router's
//! decision; merging shards' partials is the query side's ([`super::fanout`]).

use actix::prelude::*;

use super::entities::Entities;

use super::messages::{
    Apply, GetStats, Partial, RestoreShard, Routed, SaveShard, ScanShard, ShardStats,
    GLOBAL_TARGET, UNBOUNDED_MAILBOX,
};
use crate::event::{DistinctSource, Key, Schema, MAX_DISTINCT_SKETCHES};
use crate::query::{Groups, Route, Scratch};
use crate::rules::{SavedFiring, Watcher};
use crate::time::Millis;
use crate::window::{hash_key, PaneStore, SketchInput, SketchLayout, FINE_SPAN_SECS};

/// How many events ahead of the one applied its entities' slots are
/// prefetched, and then their state: each step needs its miss in flight
/// for about memory's latency, a few events' work.
const SLOT_AHEAD: usize = 8;
const STATE_AHEAD: usize = 4;

/// See the module docs.
pub struct Shard {
    /// The entities of each actor kind of the schema.
    entities: Vec<Entities>,
    /// This shard's share of the global state.
    global: PaneStore,
    /// Which sketches the global partial and each actor kind keep.
    global_sketches: SketchLayout,
    entity_sketches: Vec<SketchLayout>,
    /// Where each sketched distinct column's value comes from.
    distinct_sources: Vec<DistinctSource>,
    /// State older than this behind the clock is dropped by the sweep.
    retention_ms: Millis,
    /// Passivation sweeps run when the clock passes this.
    next_sweep_ms: Millis,
    /// Entities passivated since start, for `SHOW STATS`.
    passivated: u64,
    /// The largest clock any pane of this shard was placed or folded with:
    /// every second after it minus an hour is still in the fine tier, so a
    /// rule's 1 s-pane window starting there can be evaluated exactly.
    fold_clock_ms: Millis,
    /// The rules in force for this shard's entities and their edge state.
    watcher: Watcher,
}

impl Shard {
    pub fn new(schema: &Schema, retention_ms: Millis) -> Shard {
        let kinds = schema.actors.len();
        Shard {
            entities: (0..kinds).map(|_| Entities::default()).collect(),
            global: PaneStore::default(),
            global_sketches: SketchLayout::global(schema),
            entity_sketches: (0..kinds)
                .map(|k| SketchLayout::entity(schema, k))
                .collect(),
            distinct_sources: schema
                .distinct_sources()
                .into_iter()
                .map(|(_, s)| s)
                .collect(),
            retention_ms,
            next_sweep_ms: Millis::MIN,
            passivated: 0,
            fold_clock_ms: Millis::MIN,
            watcher: Watcher::default(),
        }
    }

    /// Adds one routed event to this shard's global partial and to the
    /// entities it targets here, activating any it is the first event of.
    fn apply(&mut self, routed: &Routed) {
        let e = &routed.event;
        let now_ms = routed.clock_ms;
        self.fold_clock_ms = self.fold_clock_ms.max(now_ms);
        let fine_from_sec = self.fold_clock_ms.div_euclid(1000) - FINE_SPAN_SECS + 1;
        // Each sketched distinct value is hashed once per event, here on
        // the shard's thread rather than on the ingest thread.
        let mut hashes = [0u64; MAX_DISTINCT_SKETCHES];
        for (h, source) in hashes.iter_mut().zip(&self.distinct_sources) {
            *h = match *source {
                DistinctSource::Key(k) => e.keys.get(k).map_or(0, hash_key),
                DistinctSource::Attribute(j) => e.attr_hashes.get(j).copied().unwrap_or(0),
            };
        }
        let hashes = &hashes[..self.distinct_sources.len()];
        if routed.targets & GLOBAL_TARGET != 0 {
            let input = SketchInput {
                layout: &self.global_sketches,
                hashes,
            };
            self.global
                .add_sketched(e.ts_ms, e.cell, &e.metrics, input, now_ms);
        }
        for (kind, key) in e.keys.iter().enumerate() {
            if routed.targets & (1 << kind) == 0 {
                continue;
            }
            let panes = self.entities[kind].activate(key, e.ts_ms);
            let watched = self.watcher.watches(kind);
            if watched {
                self.watcher
                    .before_late(kind, key, panes, e.ts_ms, e.cell, fine_from_sec);
            }
            let input = SketchInput {
                layout: &self.entity_sketches[kind],
                hashes,
            };
            panes.add_sketched(e.ts_ms, e.cell, &e.metrics, input, now_ms);
            if watched {
                self.watcher
                    .check(kind, key, panes, e.ts_ms, e.cell, fine_from_sec);
            }
        }
    }

    /// `step` for each entity `routed` targets on this shard.
    fn prefetch(&self, routed: &Routed, step: fn(&Entities, &Key)) {
        for (kind, key) in routed.event.keys.iter().enumerate() {
            if routed.targets & (1 << kind) != 0 {
                step(&self.entities[kind], key);
            }
        }
    }

    /// Drops state older than retention and passivates empty entities. Runs
    /// every 1/24 of retention of clock time, so its cost is spread thin.
    fn sweep(&mut self, now_ms: Millis) {
        if now_ms < self.next_sweep_ms {
            return;
        }
        self.next_sweep_ms = now_ms + (self.retention_ms / 24).max(1000);
        self.fold_clock_ms = self.fold_clock_ms.max(now_ms);
        let retention = self.retention_ms;
        self.global.expire(now_ms, retention);
        for (k, kind) in self.entities.iter_mut().enumerate() {
            let horizon_minute = now_ms.div_euclid(60_000) - retention / 60_000;
            let dropped = kind.expire(horizon_minute, |panes| panes.expire(now_ms, retention));
            if dropped > 0 {
                self.passivated += dropped as u64;
                self.watcher.forget_passivated(k, |key| kind.contains(key));
            }
        }
    }
}

impl Actor for Shard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Flow control is the engine's (a bounded number of batches in
        // flight); an unbounded mailbox keeps messages in send order.
        ctx.set_mailbox_capacity(UNBOUNDED_MAILBOX);
    }
}

/// Applies a batch of routed events to entities and the global partial,
/// evaluating rules as entities take them; replies with the hits.
impl Handler<Apply> for Shard {
    type Result = MessageResult<Apply>;

    fn handle(&mut self, msg: Apply, _: &mut Self::Context) -> Self::Result {
        self.watcher.install(&msg.rules);
        // The entity maps and logs are far larger than the caches, so
        // each lookup would wait on memory: the slots of the events
        // SLOT_AHEAD on, and then the state of those STATE_AHEAD on, are
        // fetched while this one is applied.
        let events = &msg.events;
        for (i, routed) in events.iter().enumerate() {
            if let Some(ahead) = events.get(i + SLOT_AHEAD) {
                self.prefetch(ahead, Entities::prefetch_slot);
            }
            if let Some(ahead) = events.get(i + STATE_AHEAD) {
                self.prefetch(ahead, Entities::prefetch_state);
            }
            self.apply(routed);
        }
        self.sweep(msg.now_ms);
        MessageResult(self.watcher.take_hits())
    }
}

/// Computes this shard's part of a query: partial groups, or finished rows
/// when every group lives on one shard.
impl Handler<ScanShard> for Shard {
    type Result = MessageResult<ScanShard>;

    fn handle(&mut self, msg: ScanShard, _: &mut Self::Context) -> Self::Result {
        let scan = &msg.0;
        let mut groups = Groups::new();
        let scratch = &mut Scratch::default();
        match &scan.route {
            Route::Global => scan.accumulate(&self.global, None, &mut groups, scratch),
            Route::Point { kind, keys } => {
                for key in keys {
                    if let Some(panes) = self.entities.get(*kind).and_then(|m| m.get(key)) {
                        if scan.admits_key(key) {
                            scan.accumulate(panes, Some(key), &mut groups, scratch);
                        }
                    }
                }
            }
            Route::FanOut { kind } => {
                let entities = self.entities.get(*kind);
                if let Some(finish) = scan
                    .finish_at_shard
                    .as_ref()
                    .filter(|f| f.finishes_per_entity(scan))
                {
                    let mut rows = Vec::new();
                    let min_events = finish.min_events(scan);
                    entities.inspect(|entities| {
                        entities.for_each_holding(min_events, |key, panes| {
                            if scan.admits_key(key) {
                                finish.entity_rows(scan, key, panes, scratch, &mut rows);
                            }
                        })
                    });
                    return MessageResult(Partial::Rows(finish.sort_and_limit(rows)));
                }
                if let Some(entities) = entities {
                    entities.for_each(|key, panes| {
                        if scan.admits_key(key) {
                            scan.accumulate(panes, Some(key), &mut groups, scratch);
                        }
                    });
                }
            }
        }
        MessageResult(match &scan.finish_at_shard {
            Some(finish) => Partial::Rows(finish.rows(scan, groups)),
            None => Partial::Groups(groups),
        })
    }
}

impl Handler<GetStats> for Shard {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        let slots = self.global.slots()
            + self
                .entities
                .iter()
                .flat_map(|m| m.stores())
                .map(|panes| panes.slots())
                .sum::<usize>();
        MessageResult(ShardStats {
            entities: self.entities.iter().map(|m| m.len() as u64).collect(),
            slots: slots as u64,
            passivated: self.passivated,
        })
    }
}

/// What a checkpoint keeps of a shard: its entities, its share of the
/// global state, its clocks and its rules' edge state (which actors are
/// in violation, so none fires again after a restart). The layouts,
/// sources and retention come from the schema and the configuration.
/// Borrowed when written...
#[derive(serde::Serialize)]
struct SavedShardRef<'a> {
    entities: &'a [Entities],
    global: &'a PaneStore,
    next_sweep_ms: Millis,
    passivated: u64,
    fold_clock_ms: Millis,
    firing: SavedFiring,
}

/// ...owned when read.
#[derive(serde::Deserialize)]
pub(super) struct SavedShard {
    entities: Vec<Entities>,
    global: PaneStore,
    next_sweep_ms: Millis,
    passivated: u64,
    fold_clock_ms: Millis,
    firing: SavedFiring,
}

/// Encodes this shard's state for a checkpoint.
impl Handler<SaveShard> for Shard {
    type Result = MessageResult<SaveShard>;

    fn handle(&mut self, _: SaveShard, _: &mut Self::Context) -> Self::Result {
        MessageResult(crate::storage::to_bytes(&SavedShardRef {
            entities: &self.entities,
            global: &self.global,
            next_sweep_ms: self.next_sweep_ms,
            passivated: self.passivated,
            fold_clock_ms: self.fold_clock_ms,
            firing: self.watcher.save(),
        }))
    }
}

/// Replaces this shard's state with a checkpoint's part, or empties it.
impl Handler<RestoreShard> for Shard {
    type Result = MessageResult<RestoreShard>;

    fn handle(&mut self, msg: RestoreShard, _: &mut Self::Context) -> Self::Result {
        let saved = match msg.0 {
            None => SavedShard {
                entities: (0..self.entities.len())
                    .map(|_| Entities::default())
                    .collect(),
                global: PaneStore::default(),
                next_sweep_ms: Millis::MIN,
                passivated: 0,
                fold_clock_ms: Millis::MIN,
                firing: SavedFiring::default(),
            },
            Some((bytes, range)) => {
                let Some(part) = bytes.get(range) else {
                    return MessageResult(Err("a shard part outside the file".into()));
                };
                match crate::storage::from_bytes::<SavedShard>(part) {
                    Ok(saved) if saved.entities.len() == self.entities.len() => saved,
                    Ok(_) => return MessageResult(Err("a shard of another schema".into())),
                    Err(why) => return MessageResult(Err(why)),
                }
            }
        };
        self.entities = saved.entities;
        self.global = saved.global;
        self.next_sweep_ms = saved.next_sweep_ms;
        self.passivated = saved.passivated;
        self.fold_clock_ms = saved.fold_clock_ms;
        self.watcher = Watcher::restored(saved.firing);
        MessageResult(Ok(()))
    }
}
