//! Raw-row queries: `SELECT` without aggregates (SPEC §5.4, jobs J11, J12).
//!
//! Rolling state keeps aggregates, not events, so a query that lists event
//! fields (`SELECT event_id, timestamp, user_id FROM events ORDER BY
//! timestamp LIMIT 10`) reads rows instead: the engine's bounded ring of
//! recently accepted events, or the log of continuous-rule hits. Both are
//! JSON objects, so one small executor serves them: the planner here binds
//! every column the query names to a position, the engine hands over one
//! [`RawRow`] per candidate row, and [`RawPlan::finish`] filters, sorts,
//! limits and projects, reusing the aggregate path's [`Scalar`] evaluator
//! and [`Finish::sort_and_limit`].
//!
//! This module owns raw planning and execution, not the ring itself
//! (`engine/recent.rs`) nor where hits come from.

use std::fmt;

use super::ast::{Expr, Literal, OrderBy, Select, SelectItem};
use super::plan::{Finish, FinishedRow};
use super::planner::{default_name, lower, unknown_column, visit_columns, Catalog};
use super::scalar::{Row, Scalar};
use crate::error::{Error, Result};
use crate::event::TimeSource;
use crate::time::{format_duration, format_timestamp, Millis};
use crate::value::{ResultSet, Value};
use crate::window::WindowSpec;

/// Which rows a raw query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawSource {
    /// The ring of recently accepted events (`FROM events`).
    Events,
    /// The log of continuous-rule hits (`FROM rule_hits`).
    RuleHits,
}

impl RawSource {
    pub fn table(self) -> &'static str {
        match self {
            RawSource::Events => "events",
            RawSource::RuleHits => "rule_hits",
        }
    }
}

/// Whether a select reads rows rather than aggregates: it names
/// `rule_hits`, or it has no aggregate, no GROUP BY and no TOP.
pub fn is_raw(select: &Select) -> bool {
    select.from == RawSource::RuleHits.table() || !aggregates(select)
}

/// Whether a select aggregates: TOP, GROUP BY, HAVING or an aggregate call.
fn aggregates(select: &Select) -> bool {
    if select.top.is_some() || !select.group_by.is_empty() || select.having.is_some() {
        return true;
    }
    let mut aggregate = false;
    let mut look = |e: &Expr| visit_columns(e, &mut |_, in_agg| aggregate |= in_agg);
    for item in &select.items {
        if let SelectItem::Expr { expr, .. } = item {
            look(expr);
        }
    }
    select.order_by.iter().for_each(|o| look(&o.expr));
    aggregate
}

/// A planned raw-row query.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPlan {
    pub source: RawSource,
    /// Rows must fall in this window (events only; `None` for rule hits).
    pub window: Option<WindowSpec>,
    /// The field paths read from each row: `Scalar::Dim(i)` reads `paths[i]`.
    pub paths: Vec<String>,
    /// Which path is the schema's time field: its value is the admitted
    /// event time, normalized to RFC 3339 UTC so that it sorts as time.
    pub time_path: Option<usize>,
    pub columns: Vec<String>,
    pub outputs: Vec<Scalar>,
    pub filter: Option<Scalar>,
    /// ORDER BY, then the row's arrival sequence (so ties and unordered
    /// queries keep arrival order).
    pub order: Vec<(Scalar, bool)>,
    pub limit: Option<u64>,
    /// How many rows the source keeps (the ring of recent events, or the
    /// log of rule hits), for EXPLAIN.
    pub capacity: usize,
    /// WHERE and ORDER BY as written, for EXPLAIN.
    pub filter_text: Option<String>,
    pub order_text: Vec<String>,
}

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
        let finish = Finish {
            columns: self.columns.clone(),
            outputs: self.outputs.clone(),
            having: None,
            order: self.order.clone(),
            limit: self.limit,
            single_row: false,
            cumulative: Vec::new(),
        };
        finish.result(finish.sort_and_limit(rows))
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

/// Plans a raw-row query over recent events or the rule hits.
pub fn plan_raw(select: &Select, catalog: &Catalog) -> Result<RawPlan> {
    let source = match select.from.as_str() {
        "events" => RawSource::Events,
        "rule_hits" => RawSource::RuleHits,
        other => {
            return Err(Error::Query(format!(
                "unknown table '{other}'; the tables are events and rule_hits"
            )))
        }
    };
    if aggregates(select) {
        return Err(Error::Query(
            "rule_hits holds one row per hit; aggregates, GROUP BY and TOP are not supported on it"
                .into(),
        ));
    }
    let (known, time_field) = match source {
        RawSource::Events => {
            let time = match &catalog.schema.time {
                TimeSource::Field(t) => Some(t.clone()),
                TimeSource::Arrival => None,
            };
            (catalog.schema.columns(), time)
        }
        RawSource::RuleHits => (catalog.rule_hits.columns.to_vec(), None),
    };
    let capacity = match source {
        RawSource::Events => catalog.recent_events,
        RawSource::RuleHits => catalog.rule_hits.capacity,
    };
    if source == RawSource::Events && capacity == 0 {
        return Err(Error::Query(
            "raw-event queries read the ring of recent events, which is off \
             (--recent-events 0); add an aggregate such as COUNT(*), or keep events"
                .into(),
        ));
    }
    let window = match source {
        RawSource::Events => {
            let retention = catalog.retention_ms;
            let length_ms = select.window_ms.unwrap_or(retention);
            Some(WindowSpec::new(length_ms, catalog.now_ms, retention)?)
        }
        RawSource::RuleHits if select.window_ms.is_some() => {
            return Err(Error::Query(
                "rule_hits is a log, not a window; filter on window_end instead".into(),
            ))
        }
        RawSource::RuleHits => None,
    };

    let mut paths: Vec<String> = Vec::new();
    let mut bind = |name: &str| -> Result<Scalar> {
        if !known.iter().any(|k| k == name) {
            return Err(unknown_column(name, &known));
        }
        let i = match paths.iter().position(|p| p == name) {
            Some(i) => i,
            None => {
                paths.push(name.to_string());
                paths.len() - 1
            }
        };
        Ok(Scalar::Dim(i))
    };

    let mut columns = Vec::new();
    let mut outputs = Vec::new();
    let mut aliases: Vec<(String, Scalar)> = Vec::new();
    for item in &select.items {
        match item {
            SelectItem::Wildcard => {
                for name in &known {
                    outputs.push(bind(name)?);
                    columns.push(name.clone());
                }
            }
            SelectItem::Expr { expr, alias } => {
                let lowered = lower_raw(expr, &mut bind, &[])?;
                if let Some(a) = alias {
                    aliases.push((a.clone(), lowered.clone()));
                }
                columns.push(alias.clone().unwrap_or_else(|| default_name(expr)));
                outputs.push(lowered);
            }
        }
    }
    let filter = select
        .filter
        .as_ref()
        .map(|f| lower_raw(f, &mut bind, &[]))
        .transpose()?;
    let mut order = Vec::new();
    for OrderBy { expr, desc } in &select.order_by {
        let lowered = match expr {
            Expr::Literal(Literal::Int(n)) => usize::try_from(*n)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| outputs.get(i).cloned())
                .ok_or_else(|| {
                    Error::Query(format!(
                        "ORDER BY {n}: there are {} output columns",
                        outputs.len()
                    ))
                })?,
            _ => lower_raw(expr, &mut bind, &aliases)?,
        };
        order.push((lowered, *desc));
    }
    // The arrival sequence sits just after the paths (see `RawPlan::row`).
    order.push((Scalar::Dim(paths.len()), false));
    let time_path = time_field.and_then(|t| paths.iter().position(|p| *p == t));
    Ok(RawPlan {
        source,
        window,
        time_path,
        paths,
        columns,
        outputs,
        filter,
        order,
        limit: select.limit,
        capacity,
        filter_text: select.filter.as_ref().map(|f| f.to_string()),
        order_text: select
            .order_by
            .iter()
            .map(|o| format!("{} {}", o.expr, if o.desc { "DESC" } else { "ASC" }))
            .collect(),
    })
}

/// Lowers an expression over raw rows: columns bind to paths, select-list
/// aliases (ORDER BY only) to their expressions.
fn lower_raw(
    e: &Expr,
    bind: &mut dyn FnMut(&str) -> Result<Scalar>,
    aliases: &[(String, Scalar)],
) -> Result<Scalar> {
    lower(e, &mut |e| match e {
        Expr::Column(name) => match aliases.iter().find(|(a, _)| a == name) {
            Some((_, s)) => Ok(Some(s.clone())),
            None => bind(name).map(Some),
        },
        Expr::Aggregate { .. } => Err(Error::Query(
            "aggregates are not allowed here; a query with aggregates reads rolling state".into(),
        )),
        _ => Ok(None),
    })
}

/// EXPLAIN for raw queries.
impl fmt::Display for RawPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = vec![format!("Project {}", self.columns.join(", "))];
        if let Some(limit) = self.limit {
            lines.push(format!("Limit {limit}"));
        }
        if self.order_text.is_empty() {
            lines.push("Keep arrival order".to_string());
        } else {
            lines.push(format!(
                "Sort {} (ties in arrival order)",
                self.order_text.join(", ")
            ));
        }
        if let Some(w) = &self.filter_text {
            lines.push(format!("Filter {w}"));
        }
        lines.push(match (self.source, &self.window) {
            (RawSource::Events, Some(w)) => format!(
                "Scan raw events: the ring of the last {} accepted events, window {}",
                self.capacity,
                format_duration(w.length_ms)
            ),
            _ => format!(
                "Scan rule hits (the engine's last {}, in delivery order)",
                self.capacity
            ),
        });
        for (depth, line) in lines.iter().enumerate() {
            if depth == 0 {
                writeln!(f, "{line}")?;
            } else {
                writeln!(f, "{}└─ {line}", "   ".repeat(depth - 1))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(sql: &str) -> Select {
        match crate::query::parse(sql, &Default::default()) {
            Ok(mut s) => match s.remove(0) {
                crate::query::Statement::Select(s) => s,
                other => panic!("not a select: {other:?}"),
            },
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn raw_means_no_aggregate_no_group_no_top() {
        assert!(is_raw(&select("SELECT user_id FROM events")));
        assert!(is_raw(&select("SELECT * FROM events LIMIT 3")));
        assert!(is_raw(&select("SELECT count(*) FROM rule_hits")));
        assert!(!is_raw(&select("SELECT COUNT(*) FROM events")));
        assert!(!is_raw(&select(
            "SELECT user_id FROM events GROUP BY user_id"
        )));
        assert!(!is_raw(&select("SELECT TOP 3 event_type FROM events")));
        assert!(!is_raw(&select(
            "SELECT user_id FROM events ORDER BY COUNT(*) DESC"
        )));
    }

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
