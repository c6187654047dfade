//! GROUP BY: what a group is, and which group every cell falls in.
//!
//! A group of an aggregate query is at most one actor key (an actor holds
//! one key of its kind), any number of dimensions, and at most one time
//! bucket (`TIME_BUCKET(width, time)`). This file owns resolving GROUP BY
//! into those (select aliases included), the buckets of the window, and,
//! since WHERE on dimensions and the grouped dimensions only depend on a
//! cell's values, the group of every interned cell, computed once here
//! rather than per event. It does not read WHERE (the route does) nor the
//! select list (the outputs do).

use std::collections::HashMap;

use super::catalog::Catalog;
use super::columns::{column, is_column, Column};
use crate::error::{query_err, Error, Result};
use crate::event::{DimValues, Schema, TimeSource};
use crate::query::ast::{Expr, Literal, Select, SelectItem};
use crate::query::plan::Buckets;
use crate::query::scalar::{Row, Scalar};
use crate::time::{format_duration, parse_duration, Millis};
use crate::value::Value;
use crate::window::WindowSpec;

/// The GROUP BY of a query, resolved.
pub(super) struct Grouping<'s> {
    /// The grouped actor kind, if any.
    pub key: Option<usize>,
    /// The grouped dimensions, in GROUP BY order.
    pub dims: Vec<usize>,
    /// The `TIME_BUCKET(...)` call grouped by and its width: it reads as the
    /// group value after the dimensions.
    pub bucket: Option<(&'s Expr, Millis)>,
    /// GROUP BY as written, for EXPLAIN.
    pub names: Vec<String>,
}

/// Resolves GROUP BY: at most one actor key, dimensions, one time bucket.
pub(super) fn group_by<'s>(select: &'s Select, schema: &Schema) -> Result<Grouping<'s>> {
    let mut grouping = Grouping {
        key: None,
        dims: Vec::new(),
        bucket: None,
        names: Vec::new(),
    };
    for g in &select.group_by {
        let g = resolve_alias(schema, g, &select.items);
        if let Some(width) = time_bucket(schema, g)? {
            if grouping.bucket.is_some() {
                return Err(query_err!("GROUP BY names two time buckets; group by one"));
            }
            grouping.bucket = Some((g, width));
            grouping.names.push(g.to_string());
            continue;
        }
        let Expr::Column(name) = g else {
            return Err(query_err!(
                "GROUP BY {g}: group by columns (actor keys or dimensions), not expressions"
            ));
        };
        match column(schema, name)? {
            Column::Key(k) if grouping.key.is_none_or(|g| g == k) => grouping.key = Some(k),
            Column::Key(_) => {
                return Err(query_err!(
                    "GROUP BY names two actor keys; no actor holds both, group by one"
                ))
            }
            Column::Dim(d) => grouping.dims.push(d),
            _ => return Err(not_groupable(schema, name)),
        }
        grouping.names.push(name.clone());
    }
    Ok(grouping)
}

/// A GROUP BY name that is not a column but a select alias stands for the
/// aliased expression (`GROUP BY hour` of `TIME_BUCKET(1h, ts) AS hour`).
fn resolve_alias<'e>(schema: &Schema, e: &'e Expr, items: &'e [SelectItem]) -> &'e Expr {
    if let Expr::Column(name) = e {
        if is_column(schema, name) {
            return e;
        }
        for item in items {
            if let SelectItem::Expr {
                expr,
                alias: Some(a),
            } = item
            {
                if a == name {
                    return expr;
                }
            }
        }
    }
    e
}

fn not_groupable(schema: &Schema, name: &str) -> Error {
    let why = match column(schema, name) {
        Ok(Column::Metric(_)) => "it is a metric (aggregate it: SUM, AVG, MIN, MAX)",
        Ok(Column::Time) => "it is the event time (windows bound time: WINDOW 1h)",
        _ => "only actor keys and dimensions are kept in rolling state",
    };
    query_err!("cannot group by {name}: {why}")
}

/// `TIME_BUCKET(width, time)`: its width, or `None` for any other
/// expression.
fn time_bucket(schema: &Schema, e: &Expr) -> Result<Option<Millis>> {
    let Expr::Function { name, args } = e else {
        return Ok(None);
    };
    if name != "time_bucket" {
        return Ok(None);
    }
    let time = match &schema.time {
        TimeSource::Field(t) => t.as_str(),
        TimeSource::Arrival => "",
    };
    let usage = || {
        query_err!(
            "write TIME_BUCKET(width, {}), like TIME_BUCKET(1h, {0})",
            if time.is_empty() { "time" } else { time }
        )
    };
    let [width, column] = args.as_slice() else {
        return Err(usage());
    };
    match column {
        Expr::Column(c) if c == time => {}
        Expr::Column(c) if time.is_empty() => {
            return Err(query_err!(
            "TIME_BUCKET({width}, {c}): schema {} has no time field (events are timed on arrival)",
            schema.name
        ))
        }
        _ => return Err(usage()),
    }
    let Expr::Literal(Literal::Str(text)) = width else {
        return Err(usage());
    };
    let width = parse_duration(text).map_err(|e| query_err!("TIME_BUCKET width '{text}': {e}"))?;
    Ok(Some(width))
}

/// The buckets of `window` for a width, checked against its panes.
/// `fill_empty` asks for buckets without events too (when the bucket is
/// the only group column); `dim_groups` bounds the groups in all.
pub(super) fn time_buckets(
    catalog: &Catalog,
    window: &WindowSpec,
    width_ms: Millis,
    fill_empty: bool,
    dim_groups: usize,
) -> Result<Buckets> {
    let pane_ms = window.pane_secs() * 1000;
    if width_ms < pane_ms || width_ms % pane_ms != 0 {
        return Err(query_err!(
            "TIME_BUCKET width {} must be a whole number of the window's {} panes \
             (1 s panes up to WINDOW 1h, 1 min beyond)",
            format_duration(width_ms),
            format_duration(pane_ms)
        ));
    }
    let first_ms = window.first_pane() * pane_ms;
    let first = first_ms.div_euclid(width_ms);
    let count = window.now_ms.div_euclid(width_ms) - first + 1;
    const MAX_GROUPS: i64 = 1 << 20;
    if count.saturating_mul(dim_groups as i64) > MAX_GROUPS {
        return Err(query_err!(
            "TIME_BUCKET width {} cuts WINDOW {} into {count} buckets; use a wider bucket",
            format_duration(width_ms),
            format_duration(window.length_ms)
        ));
    }
    Ok(Buckets {
        width_ms,
        first,
        count: count.max(1) as u32,
        // Before the first event there is no range to fill.
        fill_empty: fill_empty && catalog.now_ms.is_some(),
    })
}

/// Every cell's group, and the dimension values of every group.
pub(super) struct CellGroups {
    /// Per cell id: its group, or `None` when WHERE excludes the cell.
    pub cell_groups: Vec<Option<u32>>,
    /// Per group: the values of the grouped dimensions. Never empty: a
    /// query over no cell still has its one (empty) group.
    pub dim_groups: Vec<Vec<Value>>,
}

/// Which cells pass the dimension conditions of WHERE, and the group of
/// each: cells with the same grouped values share a group.
pub(super) fn cell_groups(catalog: &Catalog, cell_filter: &[Scalar], dims: &[usize]) -> CellGroups {
    let mut dim_groups: Vec<Vec<Value>> = Vec::new();
    let mut group_ids: HashMap<DimValues, u32> = HashMap::new();
    let mut cell_groups = Vec::with_capacity(catalog.cells.len());
    for cell in catalog.cells {
        let row = Row {
            key: None,
            dims: cell,
            aggs: &[],
        };
        if !cell_filter.iter().all(|f| f.eval(&row).is_true()) {
            cell_groups.push(None);
            continue;
        }
        let values: Vec<Value> = dims
            .iter()
            .map(|&d| cell.get(d).cloned().unwrap_or(Value::Null))
            .collect();
        let next = dim_groups.len() as u32;
        let id = *group_ids
            .entry(DimValues(values.clone().into()))
            .or_insert_with(|| {
                dim_groups.push(values);
                next
            });
        cell_groups.push(Some(id));
    }
    if dim_groups.is_empty() {
        dim_groups.push(vec![Value::Null; dims.len()]);
    }
    CellGroups {
        cell_groups,
        dim_groups,
    }
}
