//! The engine's counters: [`Stats`], gathered from ingest and the shards,
//! and rendered as `SHOW STATS` rows.
//!
//! Callers in code (tests, `tally bench`) read the fields; `SHOW STATS`
//! shows the same values as `counter, value` rows whose names and order
//! are part of the interface (scripts read them): see
//! [`Stats::to_result_set`]. The counters themselves are kept where they
//! change: lines and rejects by ingest, cells and ids by admission,
//! entities and panes by each shard (summed by the router on request).

use super::durable::StorageStats;
use super::messages::{block, GetStats, ShardStats};
use super::Engine;
use crate::error::Result;
use crate::event::Reason;
use crate::time::{format_timestamp, Millis};
use crate::value::{ResultSet, Value};

/// A snapshot of the engine's counters, taken after every event ingested
/// before it was applied. Each field is one `SHOW STATS` row (named in
/// brackets), except where noted.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Lines read since start, good or bad (`lines`): every line is either
    /// accepted or rejected, so nothing is lost silently.
    pub lines: u64,
    /// Lines admitted as events, now in the windows (`accepted`).
    pub accepted: u64,
    /// Rejected lines by reason, every reason in [`Reason::ALL`] order
    /// (`rejected.<reason>`; their sum is the `rejected` row): why events
    /// are missing from the windows, and which input to fix.
    pub rejected: Vec<(Reason, u64)>,
    /// Active entities per actor kind, in schema order (`actors.<kind>`):
    /// the number of keys holding state, which memory and fan-out queries
    /// grow with.
    pub entities: Vec<(String, u64)>,
    /// Entities passivated since start (`actors.passivated`): shows that
    /// retention gives back the state of keys that fell silent.
    pub passivated: u64,
    /// Pane slots held by entities and the global partials together
    /// (`state.pane_slots`): the size of the window state itself.
    pub pane_slots: u64,
    /// Distinct dimension combinations interned (`state.cells`): queries
    /// and rules are planned per cell, so they cost more as it grows.
    pub cells: u64,
    /// Event ids remembered for de-duplication, those within retention
    /// (`state.remembered_ids`).
    pub remembered_ids: u64,
    /// Bytes of the id history's table (`state.id_history_bytes`): often
    /// the largest part of memory that is not window state.
    pub id_history_bytes: u64,
    /// Accepted events kept for raw-row queries (`state.recent_events`).
    pub recent_events: u64,
    /// Shards running (`shards`): how far a fan-out query spreads.
    pub shards: usize,
    /// Now, as windows see it (`clock.now`, a timestamp or NULL): `None`
    /// before the first event under the event clock.
    pub now_ms: Option<Millis>,
    /// The data directory's log, when there is one (`storage.*` rows, after
    /// the others): its disk bytes and segments, the lines replayed at
    /// start, and what recovery had to cut or set aside.
    pub storage: Option<StorageStats>,
}

impl Stats {
    /// Lines rejected for any reason (the `rejected` row).
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, n)| n).sum()
    }

    /// Active entities of the actor kind named `kind` (`users`), if the
    /// schema has it.
    pub fn entities_of(&self, kind: &str) -> Option<u64> {
        self.entities
            .iter()
            .find(|(name, _)| name == kind)
            .map(|(_, n)| *n)
    }

    /// `SHOW STATS`: one `counter, value` row per counter, in this order.
    pub fn to_result_set(&self) -> ResultSet {
        let int = |n: u64| Value::Int(n as i64);
        let mut rows: Vec<(String, Value)> = vec![
            ("lines".into(), int(self.lines)),
            ("accepted".into(), int(self.accepted)),
            ("rejected".into(), int(self.rejected_total())),
        ];
        for (reason, n) in &self.rejected {
            rows.push((format!("rejected.{reason}"), int(*n)));
        }
        for (kind, n) in &self.entities {
            rows.push((format!("actors.{kind}"), int(*n)));
        }
        rows.extend([
            ("actors.passivated".into(), int(self.passivated)),
            ("state.pane_slots".into(), int(self.pane_slots)),
            ("state.cells".into(), int(self.cells)),
            ("state.remembered_ids".into(), int(self.remembered_ids)),
            ("state.id_history_bytes".into(), int(self.id_history_bytes)),
            ("state.recent_events".into(), int(self.recent_events)),
            ("shards".into(), Value::Int(self.shards as i64)),
            (
                "clock.now".into(),
                self.now_ms
                    .map_or(Value::Null, |t| Value::str(&format_timestamp(t))),
            ),
        ]);
        if let Some(s) = &self.storage {
            rows.extend([
                ("storage.log_bytes".into(), int(s.log_bytes)),
                ("storage.log_segments".into(), int(s.log_segments)),
                ("storage.replayed_lines".into(), int(s.replayed_lines)),
                ("storage.torn_bytes_cut".into(), int(s.torn_bytes_cut)),
                (
                    "storage.damaged_bytes_set_aside".into(),
                    int(s.damaged_bytes_set_aside),
                ),
                ("storage.checkpoint_bytes".into(), int(s.checkpoint_bytes)),
                (
                    "storage.last_checkpoint".into(),
                    s.last_checkpoint
                        .map_or(Value::Null, |p| Value::str(&p.to_string())),
                ),
                (
                    "storage.checkpoints_written".into(),
                    int(s.checkpoints_written),
                ),
                (
                    "storage.checkpoint_restore_ms".into(),
                    s.restore_ms.map_or(Value::Null, int),
                ),
                (
                    "storage.checkpoints_set_aside".into(),
                    int(s.checkpoints_set_aside),
                ),
                ("storage.events_bytes".into(), int(s.events.bytes)),
                ("storage.events_segments".into(), int(s.events.segments)),
                ("storage.events_stored".into(), int(s.events.events)),
                (
                    "storage.events_damaged_blocks".into(),
                    int(s.events.damaged_blocks),
                ),
            ]);
        }
        ResultSet {
            columns: vec!["counter".into(), "value".into()],
            rows: rows
                .into_iter()
                .map(|(c, v)| vec![Value::str(&c), v])
                .collect(),
        }
    }
}

impl Engine {
    /// The counters, after every event ingested so far has been applied.
    pub fn stats(&mut self) -> Result<Stats> {
        self.sync()?;
        let shards: ShardStats = block(self.router.send(GetStats))?;
        let rejected = Reason::ALL
            .iter()
            .copied()
            .zip(self.counters.rejected)
            .collect();
        let entities = self
            .schema
            .actors
            .iter()
            .zip(&shards.entities)
            .map(|(kind, n)| (kind.name.clone(), *n))
            .collect();
        Ok(Stats {
            lines: self.counters.lines,
            accepted: self.counters.accepted,
            rejected,
            entities,
            passivated: shards.passivated,
            pane_slots: shards.slots,
            cells: self.cells.len() as u64,
            remembered_ids: self.admission.remembered_ids() as u64,
            id_history_bytes: self.admission.id_history_bytes() as u64,
            recent_events: self.recent.len() as u64,
            shards: self.config.shards,
            now_ms: self.admission.now_ms(),
            storage: (self.durable.as_ref())
                .map(|d| d.stats(self.store.as_ref().map(|s| s.size()).unwrap_or_default())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stats_rows_keep_their_names_and_order() {
        let mut stats = Stats {
            lines: 10,
            accepted: 7,
            rejected: Reason::ALL.iter().map(|r| (*r, 0)).collect(),
            entities: vec![("users".into(), 4), ("videos".into(), 2)],
            passivated: 1,
            pane_slots: 30,
            cells: 5,
            remembered_ids: 7,
            id_history_bytes: 128,
            recent_events: 7,
            shards: 2,
            now_ms: None,
            storage: None,
        };
        stats.rejected[3].1 = 3; // duplicate
        let set = stats.to_result_set();
        assert_eq!(set.columns, ["counter", "value"]);
        let rows: Vec<String> = set
            .rows
            .iter()
            .map(|r| format!("{}={}", r[0], r[1]))
            .collect();
        assert_eq!(
            rows,
            [
                "lines=10",
                "accepted=7",
                "rejected=3",
                "rejected.malformed_json=0",
                "rejected.missing_field=0",
                "rejected.invalid_field=0",
                "rejected.duplicate=3",
                "rejected.too_late=0",
                "rejected.too_far_in_future=0",
                "actors.users=4",
                "actors.videos=2",
                "actors.passivated=1",
                "state.pane_slots=30",
                "state.cells=5",
                "state.remembered_ids=7",
                "state.id_history_bytes=128",
                "state.recent_events=7",
                "shards=2",
                "clock.now=NULL",
            ]
        );
        assert_eq!(stats.entities_of("videos"), Some(2));
        assert_eq!(stats.entities_of("items"), None);
    }
}
