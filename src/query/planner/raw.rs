//! Raw-row queries: `SELECT` without aggregates, over rows kept as JSON.
//!
//! Rolling state keeps aggregates, not events, so a query that lists event
//! fields (`SELECT event_id, timestamp, user_id FROM events ORDER BY
//! timestamp LIMIT 10`) reads rows instead: the engine's bounded ring of
//! recently accepted events, or the log of continuous-rule hits. This file
//! owns telling such queries apart ([`is_raw`]) and planning them
//! ([`plan_raw`]): which table and window, and every column the query
//! names bound to a field path of the row's JSON. Running the plan is
//! `exec/raw.rs`; the ring itself is the engine's (`src/engine/recent.rs`),
//! and with `--data` the events store (`src/storage/events.rs`) replaces it.

use super::catalog::Catalog;
use super::columns::unknown_column;
use super::literals::check_literals;
use super::lower::{default_name, lower, visit_columns};
use super::order_by::SelectList;
use crate::error::{query_err, Result};
use crate::event::TimeSource;
use crate::query::ast::{Expr, Select, SelectItem};
use crate::query::plan::{RawPlan, RawSource};
use crate::query::scalar::Scalar;
use crate::window::WindowSpec;

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

/// Plans a raw-row query over recent events or the rule hits.
pub fn plan_raw(select: &Select, catalog: &Catalog) -> Result<RawPlan> {
    let select = &super::roles::with_roles(select, catalog.schema);
    let table = table(select, catalog)?;
    let mut paths = Paths {
        known: &table.columns,
        paths: Vec::new(),
    };
    let mut columns = Vec::new();
    let mut list = SelectList::default();
    for item in &select.items {
        match item {
            SelectItem::Wildcard => {
                for name in &table.columns {
                    list.push(paths.bind(name)?, None);
                    columns.push(name.clone());
                }
            }
            SelectItem::Expr { expr, alias } => {
                list.push(
                    lower_raw(expr, &mut paths, None)?,
                    alias.as_deref().map(|a| (a, expr)),
                );
                columns.push(alias.clone().unwrap_or_else(|| default_name(expr)));
            }
        }
    }
    if let (RawSource::Events, Some(f)) = (table.source, &select.filter) {
        check_literals(catalog.schema, f)?;
    }
    let filter = select
        .filter
        .as_ref()
        .map(|f| lower_raw(f, &mut paths, None))
        .transpose()?;
    let ordering = list.order_by(&select.order_by, &mut |e| {
        lower_raw(e, &mut paths, Some(&list))
    })?;
    // The arrival sequence sits just after the paths (see `RawPlan::row`).
    let mut order = ordering.keys;
    order.push((Scalar::Dim(paths.paths.len()), false));
    let time_path = table
        .time_field
        .and_then(|t| paths.paths.iter().position(|p| *p == t));
    Ok(RawPlan {
        source: table.source,
        window: table.window,
        time_path,
        paths: paths.paths,
        columns,
        outputs: list.into_outputs(),
        filter,
        order,
        limit: select.limit,
        capacity: table.capacity,
        events_store: table.source == RawSource::Events && catalog.events_store,
        filter_text: select.filter.as_ref().map(|f| f.to_string()),
        order_text: ordering.text,
    })
}

/// The table a raw query reads, as the catalog describes it.
struct Table {
    source: RawSource,
    /// Its columns: the schema's for events, the hits' for rule hits.
    columns: Vec<String>,
    /// The schema's time field, for events timed by a field.
    time_field: Option<String>,
    /// How many rows the source keeps.
    capacity: usize,
    /// Rows must fall in this window (events only).
    window: Option<WindowSpec>,
}

/// The table of `FROM`, its window, and the refusals of what it cannot
/// answer.
fn table(select: &Select, catalog: &Catalog) -> Result<Table> {
    let source = match select.from.as_str() {
        "events" => RawSource::Events,
        "rule_hits" => RawSource::RuleHits,
        other => {
            return Err(query_err!(
                "unknown table '{other}'; the tables are events and rule_hits"
            ))
        }
    };
    if aggregates(select) {
        return Err(query_err!(
            "rule_hits holds one row per hit; aggregates, GROUP BY and TOP are not supported on it"
        ));
    }
    let (columns, time_field, capacity) = match source {
        RawSource::Events => {
            let time = match &catalog.schema.time {
                TimeSource::Field(t) => Some(t.clone()),
                TimeSource::Arrival => None,
            };
            (catalog.schema.columns(), time, catalog.recent_events)
        }
        RawSource::RuleHits => (
            catalog.rule_hits.columns.to_vec(),
            None,
            catalog.rule_hits.capacity,
        ),
    };
    if source == RawSource::Events && capacity == 0 && !catalog.events_store {
        return Err(query_err!(
            "raw-event queries read the ring of recent events, which is off \
             (--recent-events 0); add an aggregate such as COUNT(*), or keep events"
        ));
    }
    let window = match source {
        RawSource::Events => Some(catalog.window(select.window_ms)?),
        RawSource::RuleHits if select.window_ms.is_some() => {
            return Err(query_err!(
                "rule_hits is a log, not a window; filter on window_end instead"
            ))
        }
        RawSource::RuleHits => None,
    };
    Ok(Table {
        source,
        columns,
        time_field,
        capacity,
        window,
    })
}

/// The field paths a raw query reads, each once: `Scalar::Dim(i)` reads
/// `paths[i]`.
struct Paths<'k> {
    known: &'k [String],
    paths: Vec<String>,
}

impl Paths<'_> {
    /// The position of column `name`, added if new.
    fn bind(&mut self, name: &str) -> Result<Scalar> {
        if !self.known.iter().any(|k| k == name) {
            return Err(unknown_column(name, self.known));
        }
        let i = match self.paths.iter().position(|p| p == name) {
            Some(i) => i,
            None => {
                self.paths.push(name.to_string());
                self.paths.len() - 1
            }
        };
        Ok(Scalar::Dim(i))
    }
}

/// Lowers an expression over raw rows: columns bind to paths, and, in
/// ORDER BY (`list` given), select-list aliases to their expressions first.
fn lower_raw(e: &Expr, paths: &mut Paths, list: Option<&SelectList>) -> Result<Scalar> {
    lower(e, &mut |e| match e {
        Expr::Column(name) => match list.and_then(|l| l.alias(name)) {
            Some(aliased) => lower_raw(aliased, paths, None).map(Some),
            None => paths.bind(name).map(Some),
        },
        Expr::Aggregate { .. } => Err(query_err!(
            "aggregates are not allowed here; a query with aggregates reads rolling state"
        )),
        _ => Ok(None),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{catalog, preset, select};
    use super::*;
    use crate::query::ast::BinaryOp;
    use crate::value::Value;

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
    fn order_by_reads_select_aliases_and_ordinals_as_aggregate_queries_do() {
        let schema = preset("shop");
        let catalog = catalog(&schema);
        let plan = |sql: &str| plan_raw(&select(sql), &catalog);
        let by_alias = plan("SELECT price * 2 AS p, event FROM events ORDER BY p DESC, 2")
            .unwrap_or_else(|e| panic!("{e}"));
        let doubled = Scalar::Binary(
            BinaryOp::Mul,
            Box::new(Scalar::Dim(0)),
            Box::new(Scalar::Literal(Value::Int(2))),
        );
        assert_eq!(
            by_alias.order,
            [
                (doubled, true),
                (Scalar::Dim(1), false),
                (Scalar::Dim(2), false),
            ],
            "the alias, the second column, then arrival order"
        );
        assert_eq!(by_alias.order_text, ["p DESC", "2 ASC"]);
        // Two items of one alias: the later one counts.
        let twice = plan("SELECT price AS x, event AS x FROM events ORDER BY x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(twice.order[0], (Scalar::Dim(1), false));
        let e = plan("SELECT price FROM events ORDER BY 2").map_err(|e| e.to_string());
        assert_eq!(
            e.err().as_deref(),
            Some("ORDER BY 2: there are 1 output columns")
        );
    }
}
