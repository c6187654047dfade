//! Running a [`RawPlan`] over candidate rows.
//!
//! The engine hands over one [`RawRow`] per candidate (an event of the
//! ring of recent events or of the events store, or a rule hit), oldest
//! first. This file owns what
//! is done with each: reading the plan's field paths out of its JSON,
//! WHERE, and the sort keys and outputs; then sorting, LIMIT and the
//! result, through [`Finish::sort_and_limit`]. It does not own the ring
//! (`src/engine/recent.rs`) nor where hits come from.

use super::finish::FinishedRow;
use crate::query::plan::{Finish, RawPlan, RawSource};
use crate::query::scalar::{Row, Scalar};
use crate::time::{format_timestamp, Millis};
use crate::value::{ResultSet, Value};

/// One candidate row handed to [`RawPlan::finish`].
pub struct RawRow<'a> {
    /// The row as JSON (an event as ingested, or a hit).
    pub json: &'a serde_json::Value,
    /// The admitted event time (events only).
    pub ts_ms: Option<Millis>,
}

impl RawPlan {
    /// Whether rows can be taken in arrival order and the scan stopped at
    /// LIMIT (no ORDER BY).
    pub fn stops_at_limit(&self) -> Option<usize> {
        let limit = self.limit?;
        (self.order.len() == 1).then(|| limit.min(usize::MAX as u64) as usize)
    }

    /// `Some((k, newest))` when the query asks for the k newest events
    /// (`ORDER BY` the time field `DESC LIMIT k`, events only; `newest`
    /// true) or the k oldest (`ASC`, `newest` false): a scan can go block
    /// by block in that order and stop once it holds k events that every
    /// block left cannot beat.
    pub fn by_time(&self) -> Option<(usize, bool)> {
        let limit = self.limit?;
        let desc = match (self.order.first(), self.time_path) {
            (Some((Scalar::Dim(i), desc)), Some(t)) if *i == t => *desc,
            _ => return None,
        };
        (self.source == RawSource::Events && self.order.len() == 2)
            .then(|| (limit.min(usize::MAX as u64 / 4) as usize, desc))
    }

    /// Evaluates one row: `None` when WHERE drops it. `seq` is its arrival
    /// order.
    pub fn row(&self, row: &RawRow, seq: u64) -> Option<FinishedRow> {
        let mut values: Vec<Value> = self
            .paths
            .iter()
            .enumerate()
            .map(|(i, path)| match (self.time_path == Some(i), row.ts_ms) {
                (true, Some(ts)) => Value::str(&format_timestamp(ts)),
                _ => lookup(row.json, path),
            })
            .collect();
        values.push(Value::Int(seq as i64));
        let row = Row {
            key: None,
            dims: &values,
            aggs: &[],
        };
        if let Some(filter) = &self.filter {
            if !filter.eval(&row).is_true() {
                return None;
            }
        }
        Some(FinishedRow {
            sort: self.order.iter().map(|(e, _)| e.eval(&row)).collect(),
            out: self.outputs.iter().map(|e| e.eval(&row)).collect(),
        })
    }

    /// Sorts, limits and projects the rows that passed WHERE.
    pub fn finish(&self, rows: Vec<FinishedRow>) -> ResultSet {
        let finish = self.finisher();
        finish.result(finish.sort_and_limit(rows))
    }

    /// Keeps only the rows that can still be among the first LIMIT, once
    /// there are many: a scan of a long window with ORDER BY … LIMIT then
    /// holds a few rows, not every event. The order ends with the arrival
    /// sequence, so it is total and pruning early changes no answer.
    pub fn prune(&self, rows: &mut Vec<FinishedRow>) {
        let Some(limit) = self.limit else { return };
        let limit = limit.min(usize::MAX as u64 / 4) as usize;
        if rows.len() >= (2 * limit).max(4096) {
            *rows = self.finisher().sort_and_limit(std::mem::take(rows));
        }
    }

    fn finisher(&self) -> Finish {
        Finish {
            columns: self.columns.clone(),
            outputs: self.outputs.clone(),
            having: None,
            order: self.order.clone(),
            limit: self.limit,
            single_row: false,
            cumulative: Vec::new(),
        }
    }
}

/// A JSON field by dotted path (`metadata.view_duration_ms`) as a value:
/// numbers stay numbers, objects and arrays become their JSON text.
fn lookup(json: &serde_json::Value, path: &str) -> Value {
    let mut v = json;
    if let Some(direct) = json.get(path) {
        v = direct;
    } else {
        for part in path.split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => return Value::Null,
            }
        }
    }
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::str(s),
        other => Value::str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_dotted_paths_and_keeps_types() {
        let j: serde_json::Value = serde_json::json!({
            "a": 1, "b": {"c": 2.5, "d": "x"}, "e": [1, 2], "f.g": true
        });
        assert_eq!(lookup(&j, "a"), Value::Int(1));
        assert_eq!(lookup(&j, "b.c"), Value::Float(2.5));
        assert_eq!(lookup(&j, "b.d"), Value::str("x"));
        assert_eq!(lookup(&j, "e"), Value::str("[1,2]"));
        assert_eq!(lookup(&j, "f.g"), Value::Bool(true));
        assert_eq!(lookup(&j, "b.zz"), Value::Null);
    }
}
