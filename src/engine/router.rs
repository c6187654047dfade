//! The router: an actix actor that splits batches of events by key and
//! hands each shard its part, and sums the shards' counters for
//! `SHOW STATS`. It owns the shards' arbiters, so their threads live as
//! long as it does. Queries skip it: the caller's thread sends them to
//! the shards and merges the partials ([`super::fanout`]), choosing the
//! shards with this file's [`shard_of`].

use actix::prelude::*;
use futures::future::join_all;

use super::messages::{
    Apply, BatchPool, GetStats, Ingest, Routed, RouterState, ShardStats, SyncRouter, GLOBAL_TARGET,
    MAX_ACTOR_KINDS, UNBOUNDED_MAILBOX,
};
use super::shard::Shard;
use crate::event::{Event, Key};
use crate::hash::{hash_bytes, GOLDEN_GAMMA};
use crate::rules::Hit;
use crate::time::Millis;

/// See the module docs.
pub struct Router {
    shards: Vec<Addr<Shard>>,
    /// Emptied batches go back here for the engine to fill again.
    batches: BatchPool,
    /// Kept so the shard threads live as long as the router.
    _arbiters: Vec<Arbiter>,
    /// Round-robin home for events with no key of any actor kind.
    next_home: usize,
    /// The largest event time routed so far (see [`Routed::clock_ms`]).
    clock_ms: Millis,
}

/// [`Routed::clock_ms`] moves in steps of this much. Every step folds the
/// seconds that left the last hour into minutes, which shifts a pane
/// store's whole fine tier: once per event (a clock in milliseconds) that
/// dominated ingest; once per 5 minutes of stream time it does not show
/// (measured by `tally bench ingest` and the `ingest` bench of
/// `benches/pipeline.rs`). The fine tier then holds up to 1 h 5 min, which
/// no window sees.
const CLOCK_STEP_MS: Millis = 5 * 60_000;

/// The shard that hosts the entity `(kind, key)`. Stable for a given shard
/// count: a fixed mix of the key (an integer itself, a string's
/// [`hash_bytes`]) and the kind, mapped to `0..shards` by multiply-shift.
/// Not SipHash: this runs once per key of every event, and keys need no
/// protection from crafted collisions here (a shard is a whole thread).
pub fn shard_of(kind: usize, key: &Key, shards: usize) -> usize {
    let h = match key {
        Key::Int(i) => *i as u64,
        Key::Str(s) => hash_bytes(s.as_bytes()),
    };
    // Two rounds of a multiply-xorshift mixer (Murmur3's constants): a
    // different function from the sketches' hashes, so a shard's share of
    // keys is not biased in the bits its sketches read.
    let mut z = h ^ (kind as u64 + 1).wrapping_mul(GOLDEN_GAMMA);
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^= z >> 33;
    ((u128::from(z) * shards as u128) >> 64) as usize
}

/// Splits a batch into one list per shard (the routing step of an
/// [`Ingest`], public so `benches/` can time it on its own). An event goes
/// to the shard of each of its keys; the shard of its first key is its
/// home, where it counts in the global partial. Events without keys take
/// turns at `next_home`, so they still spread over the shards.
pub fn split_batch(events: Vec<Event>, shards: usize, next_home: &mut usize) -> Vec<Vec<Routed>> {
    let mut clock_ms = Millis::MIN;
    split_batch_clocked(events.into_iter(), shards, next_home, &mut clock_ms)
}

/// [`split_batch`], stamping each event with the clock as of that event
/// ([`Routed::clock_ms`]); `clock_ms` is the largest event time routed
/// before this batch, and after it on return.
pub fn split_batch_clocked(
    events: impl ExactSizeIterator<Item = Event>,
    shards: usize,
    next_home: &mut usize,
    clock_ms: &mut Millis,
) -> Vec<Vec<Routed>> {
    let n = shards;
    // Room for an even share of two targets per event, so that the lists
    // rarely grow (each growth copies, and touches fresh pages).
    let room = events.len().min(events.len() * 2 / n + 64);
    let mut per_shard: Vec<Vec<Routed>> = (0..n).map(|_| Vec::with_capacity(room)).collect();
    for event in events {
        // (shard, target bits) for each shard this event goes to: at
        // most one per key plus the home.
        let mut targets = [(0usize, 0u8); MAX_ACTOR_KINDS + 1];
        let mut len = 0;
        let mut mark =
            |shard: usize, bit: u8| match targets[..len].iter_mut().find(|(s, _)| *s == shard) {
                Some((_, bits)) => *bits |= bit,
                None => {
                    targets[len] = (shard, bit);
                    len += 1;
                }
            };
        let home = match event.keys.first() {
            Some(key) => shard_of(0, key, n),
            None => {
                *next_home = (*next_home + 1) % n;
                *next_home
            }
        };
        mark(home, GLOBAL_TARGET);
        for (kind, key) in event.keys.iter().enumerate() {
            mark(shard_of(kind, key, n), 1 << kind);
        }
        *clock_ms = (*clock_ms).max(event.ts_ms);
        let clock = clock_ms.div_euclid(CLOCK_STEP_MS) * CLOCK_STEP_MS;
        let mut event = Some(event);
        let last = len.saturating_sub(1);
        for (i, &(shard, bits)) in targets[..len].iter().enumerate() {
            let e = if i == last {
                event.take()
            } else {
                event.clone()
            };
            if let Some(e) = e {
                per_shard[shard].push(Routed {
                    event: e,
                    targets: bits,
                    clock_ms: clock,
                });
            }
        }
    }
    per_shard
}

impl Router {
    pub fn new(shards: Vec<Addr<Shard>>, arbiters: Vec<Arbiter>, batches: BatchPool) -> Router {
        Router {
            shards,
            batches,
            _arbiters: arbiters,
            next_home: 0,
            clock_ms: Millis::MIN,
        }
    }
}

impl Actor for Router {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, as the shards' (see there).
        ctx.set_mailbox_capacity(UNBOUNDED_MAILBOX);
    }
}

/// Answers the router's state, after replacing it when asked to.
impl Handler<SyncRouter> for Router {
    type Result = MessageResult<SyncRouter>;

    fn handle(&mut self, msg: SyncRouter, _: &mut Self::Context) -> Self::Result {
        if let Some(state) = msg.0 {
            self.next_home = state.next_home as usize % self.shards.len().max(1);
            self.clock_ms = state.clock_ms;
        }
        MessageResult(RouterState {
            next_home: self.next_home as u64,
            clock_ms: self.clock_ms,
        })
    }
}

/// Splits a batch into one [`Apply`] per shard ([`split_batch_clocked`])
/// and replies when every shard has applied its part, with the rule hits
/// the shards found.
impl Handler<Ingest> for Router {
    type Result = ResponseFuture<Vec<Hit>>;

    fn handle(&mut self, mut msg: Ingest, _: &mut Self::Context) -> Self::Result {
        let per_shard = split_batch_clocked(
            msg.events.drain(..),
            self.shards.len(),
            &mut self.next_home,
            &mut self.clock_ms,
        );
        self.batches.put(msg.events);
        let sends: Vec<_> = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, events)| !events.is_empty())
            .map(|(i, events)| {
                self.shards[i].send(Apply {
                    events,
                    now_ms: msg.now_ms,
                    rules: msg.rules.clone(),
                })
            })
            .collect();
        Box::pin(async move {
            join_all(sends)
                .await
                .into_iter()
                .flatten()
                .flatten()
                .collect()
        })
    }
}

/// Sums every shard's counters.
impl Handler<GetStats> for Router {
    type Result = ResponseFuture<ShardStats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        let sends: Vec<_> = self.shards.iter().map(|s| s.send(GetStats)).collect();
        Box::pin(async move {
            let mut total = ShardStats::default();
            for s in join_all(sends).await.into_iter().flatten() {
                total.add(&s);
            }
            total
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys spread evenly over the shards, integers in a run as well as
    /// strings, and differently for each kind.
    #[test]
    fn keys_spread_evenly_over_shards() {
        for shards in [2, 3, 8] {
            for kind in 0..2 {
                let mut ints = vec![0u32; shards];
                let mut strs = vec![0u32; shards];
                for i in 0..80_000i64 {
                    ints[shard_of(kind, &Key::Int(100_000_000 + i), shards)] += 1;
                    let s = Key::Str(format!("user{i}").into());
                    strs[shard_of(kind, &s, shards)] += 1;
                }
                let even = 80_000 / shards as u32;
                for n in ints.iter().chain(&strs) {
                    assert!(
                        n.abs_diff(even) < even / 20,
                        "{shards} {kind} {ints:?} {strs:?}"
                    );
                }
            }
        }
        let differ = (0..1000)
            .filter(|&i| shard_of(0, &Key::Int(i), 8) != shard_of(1, &Key::Int(i), 8))
            .count();
        assert!(differ > 800, "{differ}");
        assert_eq!(shard_of(0, &Key::Int(5), 1), 0);
    }
}
