//! The planner: a [`Select`] and the [`Catalog`] → a [`Plan`] (or, for a
//! select without aggregates, a [`RawPlan`]).
//!
//! It resolves every column against the schema (actor key, dimension,
//! metric), decides the route (point, fan-out or global), evaluates WHERE
//! and FILTER on dimensions once per interned cell, and lowers the select
//! list, HAVING and ORDER BY to positional [`Scalar`]s over finished
//! groups. Everything the rolling state cannot answer is refused here, with
//! why. [`plan`] runs the stages in order, each in its own file:
//!
//! 1. `top.rs`: `TOP k col` becomes GROUP BY, ORDER BY and LIMIT.
//! 2. `catalog.rs`: the window (the whole retention without `WINDOW d`).
//! 3. `group_by.rs`: the group — an actor key, dimensions, a time bucket.
//! 4. `route.rs`: WHERE split into per-cell and per-key conditions, and the
//!    route they imply.
//! 5. `group_by.rs` again: the group of every cell that passes WHERE, and
//!    the time buckets of the window.
//! 6. `outputs.rs`: the select list, HAVING, ORDER BY and LIMIT, with the
//!    aggregates they need (`aggregates.rs`, `sketches.rs`).
//!
//! Raw-row queries are planned by `raw.rs`. Shared by the stages:
//! `columns.rs` (what a name is, did-you-mean), `literals.rs` (a literal
//! compared with a column must be of its type), `lower.rs` (expressions to
//! scalars) and `order_by.rs` (ORDER BY ordinals and select aliases). The
//! planner only describes work; `exec/` runs it and the engine routes it.
//!
//! [`Select`]: crate::query::Select
//! [`Plan`]: crate::query::Plan
//! [`RawPlan`]: crate::query::RawPlan
//! [`Scalar`]: crate::query::Scalar

mod aggregates;
mod catalog;
mod columns;
mod group_by;
mod literals;
mod lower;
mod order_by;
mod outputs;
mod raw;
mod roles;
mod route;
mod sketches;
#[cfg(test)]
pub(super) mod test_support;
mod top;

use std::sync::Arc;

use self::aggregates::Aggregates;
use self::group_by::{cell_groups, group_by, time_buckets};
use self::outputs::plan_outputs;
use self::route::plan_where;
use super::ast::Select;
use super::plan::{Plan, Route, Scan};
use crate::error::{query_err, Result};

pub use self::catalog::{Catalog, HitLog};
pub use self::raw::{is_raw, plan_raw};

/// Plans an aggregate query.
pub fn plan(select: &Select, catalog: &Catalog) -> Result<Plan> {
    // `type` and `time` → the schema's columns; TOP k → GROUP BY, ORDER
    // BY, LIMIT; the table and the window.
    let select = top::desugar(&roles::with_roles(select, catalog.schema))?;
    if select.from != "events" {
        return Err(query_err!(
            "unknown table '{}'; the stream is queried as FROM events",
            select.from
        ));
    }
    let schema = catalog.schema;
    let window = catalog.window(select.window_ms)?;
    // What a group is, and WHERE with the route it implies.
    let grouping = group_by(&select, schema)?;
    let filter = plan_where(&select, schema, grouping.key)?;
    // The group of every cell WHERE admits, and the time buckets.
    let cells = cell_groups(catalog, &filter.cell_filter, &grouping.dims);
    let buckets = grouping
        .bucket
        .map(|(_, width)| {
            let fill_empty = grouping.key.is_none() && grouping.dims.is_empty();
            time_buckets(catalog, &window, width, fill_empty, cells.dim_groups.len())
        })
        .transpose()?;
    // The select list, HAVING and ORDER BY, and the aggregates they read.
    let aggs = Aggregates::new(catalog, filter.route.clone(), grouping.key);
    let outputs = plan_outputs(&select, schema, &grouping, aggs)?;

    // When every group is one actor's, shards finish their own groups and
    // the caller only merges finished rows; running totals need every
    // group in order, so the caller finishes them after the merge.
    let route = filter.route;
    let finish = outputs.finish;
    let disjoint =
        grouping.key.is_some() && !matches!(route, Route::Global) && finish.cumulative.is_empty();
    let scan = Scan {
        window,
        route,
        key_filter: filter.key_filter,
        group_by_key: grouping.key.is_some(),
        cell_groups: cells.cell_groups,
        dim_groups: cells.dim_groups,
        buckets,
        aggs: outputs.aggs,
        finish_at_shard: disjoint.then(|| finish.clone()),
    };
    Ok(Plan {
        scan: Arc::new(scan),
        finish,
        kind_names: schema.actors.iter().map(|a| a.name.clone()).collect(),
        shards: catalog.shards,
        group_by: grouping.names,
        filter: select.filter.as_ref().map(|f| f.to_string()),
        order_by: outputs.order_by,
    })
}
