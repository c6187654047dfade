//! The query half of routing: send a plan's scan to the shards that hold
//! its state and merge their partials, on the caller's thread.
//!
//! Events travel through the [`super::Router`] actor, which batches and
//! splits them. Queries do not: a query is one request and one reply per
//! shard it needs, and passing it through the router's thread as well would
//! add two thread wake-ups to every query, a large share of a point query's
//! latency (measured by `tally bench query`). The routing decision is the
//! same function the router uses for events ([`shard_of`]), so a point
//! query reaches exactly the one shard that hosts its entity.

use actix::prelude::*;
use futures::future::join_all;

use super::messages::{Partial, ScanShard};
use super::router::shard_of;
use super::shard::Shard;
use crate::error::{Error, Result};
use crate::query::{Groups, Plan, Route};
use crate::value::ResultSet;

/// Runs `plan` on `shards` and waits for the answer.
pub fn run(shards: &[Addr<Shard>], plan: &Plan) -> Result<ResultSet> {
    let sends: Vec<_> = targets(&plan.scan.route, shards.len())
        .into_iter()
        .map(|i| shards[i].send(ScanShard(plan.scan.clone())))
        .collect();
    let partials = futures::executor::block_on(join_all(sends));
    let mut rows = Vec::new();
    let mut groups = Groups::new();
    for partial in partials {
        match partial.map_err(|e| Error::Internal(format!("shard unavailable: {e}")))? {
            Partial::Rows(r) => rows.extend(r),
            Partial::Groups(g) => merge(&mut groups, g),
        }
    }
    let rows = if plan.scan.finish_at_shard.is_some() {
        plan.finish.sort_and_limit(rows)
    } else {
        plan.finish.rows(&plan.scan, groups)
    };
    Ok(plan.finish.result(rows))
}

/// The shards a route needs, each once: the hosts of a point query's keys,
/// or all of them.
fn targets(route: &Route, shards: usize) -> Vec<usize> {
    match route {
        Route::Point { kind, keys } => {
            let mut s: Vec<usize> = keys.iter().map(|k| shard_of(*kind, k, shards)).collect();
            s.sort_unstable();
            s.dedup();
            s
        }
        Route::Global | Route::FanOut { .. } => (0..shards).collect(),
    }
}

/// Adds one shard's partial groups into the merged ones.
fn merge(into: &mut Groups, from: Groups) {
    if into.is_empty() {
        *into = from;
        return;
    }
    for (key, accs) in from {
        match into.get_mut(&key) {
            Some(existing) => existing.merge(accs),
            None => {
                into.insert(key, accs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Key;

    #[test]
    fn a_point_query_reaches_only_the_hosts_of_its_keys() {
        let keys = vec![Key::Int(1), Key::Int(2), Key::Int(1)];
        let hosts: Vec<usize> = {
            let mut h: Vec<usize> = keys.iter().map(|k| shard_of(0, k, 4)).collect();
            h.sort_unstable();
            h.dedup();
            h
        };
        let route = Route::Point { kind: 0, keys };
        assert_eq!(targets(&route, 4), hosts);
        assert_eq!(targets(&Route::Global, 3), vec![0, 1, 2]);
        assert_eq!(targets(&Route::FanOut { kind: 1 }, 2), vec![0, 1]);
    }
}
