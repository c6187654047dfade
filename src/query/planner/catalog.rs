//! The catalog: what the planner knows of the engine's state.
//!
//! The engine builds one per statement and hands it down, so that the
//! planner never names the engine (the layers point down). This file owns
//! that description and the one window rule every plan follows: no
//! `WINDOW d` means the whole retention horizon. It does not check
//! windows itself: [`WindowSpec::new`] (src/window/spec.rs) does, for
//! aggregates, raw rows and rules alike.

use std::sync::Arc;

use crate::error::Result;
use crate::event::Schema;
use crate::time::Millis;
use crate::value::Value;
use crate::window::WindowSpec;

/// What the planner needs to know about the engine's state.
pub struct Catalog<'a> {
    pub schema: &'a Schema,
    /// Every interned cell's dimension values, by cell id.
    pub cells: &'a [Arc<[Value]>],
    /// The clock; `None` before any event (every window is then empty).
    pub now_ms: Option<Millis>,
    pub retention_ms: Millis,
    pub shards: usize,
    /// How many recent accepted events raw-row queries can read (0: none).
    pub recent_events: usize,
    /// Whether raw-row queries read the events store (`--data`): every
    /// accepted event within retention, whatever `recent_events` says.
    pub events_store: bool,
    /// The `rule_hits` table, for raw-row queries over it.
    pub rule_hits: HitLog<'a>,
}

/// What the planner knows of the `rule_hits` table: the engine keeps the
/// last hits of its rules, and its columns are the fields every hit has
/// followed by the rules' select-list columns.
#[derive(Debug, Clone, Copy, Default)]
pub struct HitLog<'a> {
    pub columns: &'a [String],
    /// How many hits the log keeps, for EXPLAIN.
    pub capacity: usize,
}

impl Catalog<'_> {
    /// The window of `WINDOW d`, or of the whole retention horizon without
    /// one, ending now.
    pub(super) fn window(&self, window_ms: Option<Millis>) -> Result<WindowSpec> {
        let retention = self.retention_ms;
        WindowSpec::new(window_ms.unwrap_or(retention), self.now_ms, retention)
    }
}
