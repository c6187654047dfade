//! Helpers for the query unit tests (planner and exec): a select from text, and a catalog
//! of a preset schema before any event. Test code only.

use crate::event::Schema;
use crate::query::{parse, Catalog, HitLog, Select, Statement};

/// The one select of `sql`.
pub(crate) fn select(sql: &str) -> Select {
    let statements = parse(sql, &Default::default()).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match statements.as_slice() {
        [Statement::Select(s)] => s.clone(),
        other => panic!("{sql}: expected one select, got {other:?}"),
    }
}

/// A preset schema by name.
pub(crate) fn preset(name: &str) -> Schema {
    Schema::preset(name).unwrap_or_else(|e| panic!("{e}"))
}

/// A catalog of `schema` before any event, with a ring of recent events.
pub(crate) fn catalog(schema: &Schema) -> Catalog<'_> {
    Catalog {
        schema,
        cells: &[],
        now_ms: None,
        retention_ms: 24 * 3_600_000,
        shards: 1,
        recent_events: 100,
        events_store: false,
        rule_hits: HitLog::default(),
    }
}
