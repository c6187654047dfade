//! Statement execution: a parsed [`Statement`] applied to the engine.
//!
//! Aggregate queries are planned against the schema, the interned cells and
//! the clock, then fanned out to the shards and merged on the caller's
//! thread ([`super::fanout`]). Raw-row queries (no aggregates) read the
//! ring of recent events (with `--data`, the events store) or the recent
//! rule hits here, without the shards.
//! `EXPLAIN` prints a plan instead of running it. Every statement that
//! reads state first waits for the events ingested before it
//! ([`Engine::sync`]). Parsing and planning are [`crate::query`]'s; this
//! file only decides which runs, over what.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::fanout;
use super::Engine;
use crate::error::Result;
use crate::query::Statement;
use crate::query::{encode_rule, HitLog, Params, Plan, RawPlan, RawRow, RawSource, Select};
use crate::rules::Hit;
use crate::storage;
use crate::storage::TimeOrder;
use crate::time::Millis;
use crate::value::{ResultSet, Value};

impl Engine {
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
            Statement::ShowStats => Ok(self.stats()?.to_result_set()),
            // Rule changes take effect between two events: everything
            // ingested before is applied under the old rules first. With
            // `--data`, a change is logged before it is acknowledged.
            Statement::CreateRule(def) => {
                // A no-op changes nothing, not even where the batch being
                // filled ends (which decides when shards sweep): it must
                // not differ between a run and its replay, which skips it.
                if let Some(unchanged) = self.rules.existing(def)? {
                    return Ok(unchanged);
                }
                self.sync()?;
                let cells = self.cells.snapshot();
                let catalog = self.config.catalog(self.admission.now_ms(), &cells);
                let generation = self.cells.generation();
                let outcome = self.rules.create(def, &catalog, generation)?;
                if outcome.changed {
                    let entry = storage::encode_create_rule(&encode_rule(def));
                    if let Err(e) = self.log_statement(&entry) {
                        // Not durable, so not in force either.
                        self.rules.drop_rule(&def.name, true, generation)?;
                        return Err(e);
                    }
                }
                Ok(outcome.result)
            }
            Statement::DropRule { name, if_exists } => {
                let generation = self.cells.generation();
                // An unknown rule: an error, or (IF EXISTS) a no-op that,
                // as above, touches nothing.
                if !self.rules.contains(name) {
                    return Ok(self.rules.drop_rule(name, *if_exists, generation)?.result);
                }
                self.sync()?;
                // Logged first: once the rule is known, dropping cannot fail.
                self.log_statement(&storage::encode_drop_rule(name))?;
                Ok(self.rules.drop_rule(name, *if_exists, generation)?.result)
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
        let catalog = self.config.catalog(self.admission.now_ms(), &cells);
        crate::query::plan(select, &catalog)
    }

    /// Plans a raw-row query (no aggregates) against the current schema and
    /// clock.
    pub fn plan_raw(&mut self, select: &Select) -> Result<RawPlan> {
        let hit_columns = self.rules.hit_columns();
        let mut catalog = self.config.catalog(self.admission.now_ms(), &[]);
        catalog.recent_events = self.recent.capacity();
        catalog.events_store = self.store.is_some();
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
        // The ring and the store are filled as lines are admitted, before
        // their batch is applied, so reading them needs no sync.
        // For the k newest (oldest) events, the times of the k newest
        // (oldest) kept so far, negated when oldest so that the heap keeps
        // the k largest keys either way.
        let by_time = plan.by_time();
        let key = |ts: Millis| match by_time {
            Some((_, false)) => -ts,
            _ => ts,
        };
        let best = RefCell::new(BinaryHeap::<Reverse<Millis>>::new());
        let mut consider = |seq: u64, ts_ms, text: &[u8]| {
            if rows.len() >= stop {
                return false;
            }
            if plan.window.is_some_and(|w| !w.contains(ts_ms)) {
                return true;
            }
            // Accepted lines are valid JSON; a line that is not is skipped.
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(text) else {
                return true;
            };
            let row = RawRow {
                json: &json,
                ts_ms: Some(ts_ms),
            };
            let Some(row) = plan.row(&row, seq) else {
                return true;
            };
            rows.push(row);
            plan.prune(&mut rows);
            if let Some((k, _)) = by_time {
                let mut best = best.borrow_mut();
                best.push(Reverse(key(ts_ms)));
                if best.len() > k {
                    best.pop();
                }
            }
            rows.len() < stop
        };
        // Blocks left can only matter while fewer than k events are kept
        // or a block's bound is at least as good as the worst kept (ties
        // are broken by arrival, which a block read later may win).
        let mut more = |bound: Millis| {
            let best = best.borrow();
            by_time.is_none_or(|(k, _)| best.len() < k)
                || best
                    .peek()
                    .is_none_or(|Reverse(worst)| key(bound) >= *worst)
        };
        match &mut self.store {
            Some(store) => {
                // Only blocks whose times reach into the window are read.
                let (from, to) = plan.window.map_or((Millis::MIN, Millis::MAX), |w| {
                    (w.first_pane() * 1000 * w.pane_secs(), w.now_ms)
                });
                let report = match by_time {
                    Some((_, newest)) => {
                        let order = match newest {
                            true => TimeOrder::NewestFirst,
                            false => TimeOrder::OldestFirst,
                        };
                        store.scan_by_time(from, to, order, &mut consider, &mut more)?
                    }
                    None => store.scan(from, to, &mut consider)?,
                };
                for damaged in &report.damaged {
                    eprintln!(
                        "tally: events store block skipped ({damaged}); \
                         its events are missing from this answer"
                    );
                }
            }
            None => {
                for event in self.recent.iter() {
                    if !consider(event.seq, event.ts_ms, event.text) {
                        break;
                    }
                }
            }
        }
        Ok(plan.finish(rows))
    }

    /// The last [`crate::rules::RECENT_HITS`] rule hits, oldest first, after
    /// every event ingested so far has been applied. Each turns into a JSON
    /// object with [`Hit::to_json`].
    pub fn rule_hits(&mut self) -> Result<&VecDeque<Hit>> {
        self.sync()?;
        Ok(self.rules.recent())
    }

    /// How many times the rule set the shards evaluate was rebuilt after
    /// rules changed: once per batch of events that follows changes, not
    /// once per change.
    pub fn rule_set_builds(&self) -> u64 {
        self.rules.builds()
    }

    /// Hits counted per rule so far, in creation order.
    pub fn rule_hit_counts(&self) -> Vec<(String, u64)> {
        self.rules.counts()
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
