//! The outputs of an aggregate query: select list, HAVING, ORDER BY, LIMIT.
//!
//! Everything after the scan reads finished groups: the group's key and
//! dimension values, and its aggregates. This file owns lowering the select
//! list (with `CUMULATIVE(x)` running totals), HAVING and ORDER BY to
//! [`Scalar`]s over such a row — a column must be grouped, an aggregate
//! gets an accumulator, a select alias stands for its expression — and
//! building the [`Finish`]. It also refuses select lists that are not
//! aggregate queries after all. Which groups exist is GROUP BY's concern.

use super::aggregates::Aggregates;
use super::columns::{column, is_column, unknown_column, Column};
use super::group_by::Grouping;
use super::lower::{default_name, lower};
use super::order_by::SelectList;
use crate::error::{query_err, Error, Result};
use crate::event::Schema;
use crate::query::ast::{Expr, Select, SelectItem};
use crate::query::plan::{AggSpec, Finish};
use crate::query::scalar::Scalar;

/// The planned outputs.
pub(super) struct Outputs {
    pub finish: Finish,
    /// The aggregates the scan accumulates, as the outputs read them.
    pub aggs: Vec<AggSpec>,
    /// ORDER BY as written, for EXPLAIN.
    pub order_by: Vec<String>,
}

/// What an expression over a finished group may read.
struct GroupRow<'s, 'a> {
    schema: &'a Schema,
    aggs: Aggregates<'a>,
    /// The actor kind grouped by, which reads as the group's key.
    group_key: Option<usize>,
    /// The grouped dimensions, which read as the group's values in order.
    group_dims: &'s [usize],
    /// The `TIME_BUCKET(...)` grouped by: the group value after the
    /// dimensions.
    bucket: Option<&'s Expr>,
}

/// Plans the select list, HAVING, ORDER BY and LIMIT of `select`, whose
/// aggregates accumulate into `aggs`.
pub(super) fn plan_outputs<'s>(
    select: &'s Select,
    schema: &Schema,
    grouping: &'s Grouping<'s>,
    aggs: Aggregates,
) -> Result<Outputs> {
    let mut row = GroupRow {
        schema,
        aggs,
        group_key: grouping.key,
        group_dims: &grouping.dims,
        bucket: grouping.bucket.map(|(e, _)| e),
    };
    let (columns, list, cumulative) = select_list(select, &mut row)?;
    if row.aggs.is_empty() && select.group_by.is_empty() {
        return Err(not_an_aggregate_query(select));
    }
    let having = select
        .having
        .as_ref()
        .map(|h| lower_output(h, &mut row, &list, false))
        .transpose()?;
    let ordering = list.order_by(&select.order_by, &mut |e| {
        lower_output(e, &mut row, &list, false)
    })?;
    let finish = Finish {
        columns,
        outputs: list.into_outputs(),
        having,
        order: ordering.keys,
        limit: select.limit,
        single_row: select.group_by.is_empty(),
        cumulative,
    };
    Ok(Outputs {
        finish,
        aggs: row.aggs.into_specs(),
        order_by: ordering.text,
    })
}

/// The select list: output names, lowered outputs with their aliases, and
/// which columns are running totals.
fn select_list<'s>(
    select: &'s Select,
    row: &mut GroupRow<'s, '_>,
) -> Result<(Vec<String>, SelectList<'s>, Vec<usize>)> {
    let mut columns = Vec::new();
    let mut list = SelectList::default();
    let mut cumulative = Vec::new();
    for item in &select.items {
        let SelectItem::Expr { expr, alias } = item else {
            // `SELECT *` alone reads recent events (a raw-row query); with
            // an aggregate, GROUP BY or HAVING it would be two answers in one.
            return Err(query_err!(
                "a select list cannot mix * with aggregates: * reads raw events, one row each, \
                 while aggregates make one row per group; drop the aggregates (and GROUP BY, \
                 HAVING) to read recent events, or list the GROUP BY columns instead of *"
            ));
        };
        let inner = match expr {
            Expr::Function { name, args } if name == "cumulative" => {
                let [arg] = args.as_slice() else {
                    return Err(query_err!("CUMULATIVE takes one argument: CUMULATIVE(n)"));
                };
                cumulative.push(columns.len());
                arg
            }
            other => other,
        };
        let output = lower_output(inner, row, &list, true)?;
        list.push(output, alias.as_deref().map(|a| (a, expr)));
        columns.push(alias.clone().unwrap_or_else(|| default_name(expr)));
    }
    Ok((columns, list, cumulative))
}

/// A select planned as an aggregate query (it has HAVING, or an aggregate
/// in ORDER BY) that selects no aggregate and has no GROUP BY: there are no
/// groups to filter or sort.
fn not_an_aggregate_query(select: &Select) -> Error {
    if select.having.is_some() {
        query_err!(
            "HAVING filters groups, but this query has no GROUP BY and selects no aggregate; \
             filter events with WHERE (a query without aggregates reads recent events), or \
             add an aggregate such as COUNT(*) or a GROUP BY"
        )
    } else {
        query_err!(
            "ORDER BY an aggregate sorts groups, but this query has no GROUP BY and selects no \
             aggregate; select the aggregate too, or GROUP BY a column (a query without \
             aggregates reads recent events, sorted by their columns)"
        )
    }
}

/// Lowers a select item, HAVING or ORDER BY expression over finished
/// groups. `list` holds the select items lowered so far.
fn lower_output(
    e: &Expr,
    row: &mut GroupRow<'_, '_>,
    list: &SelectList<'_>,
    in_select: bool,
) -> Result<Scalar> {
    lower(e, &mut |e| match e {
        Expr::Aggregate { .. } => row.aggs.lower(e).map(Some),
        Expr::Function { name, .. } if name == "time_bucket" => {
            match row.bucket.filter(|b| *b == e) {
                Some(_) => Ok(Some(Scalar::Dim(row.group_dims.len()))),
                None => Err(query_err!(
                    "{e} must appear in GROUP BY (by itself or by its alias)"
                )),
            }
        }
        Expr::Function { name, .. } if name == "cumulative" => Err(query_err!(
            "CUMULATIVE(x) is a select-list column of its own, like CUMULATIVE(n) AS running"
        )),
        Expr::Column(name) => {
            // HAVING and ORDER BY see select aliases first; the select
            // list itself sees earlier aliases that are not columns
            // (`COUNT(*) AS views, shares / views AS ratio`).
            if !in_select || !is_column(row.schema, name) {
                if let Some(expr) = list.alias(name) {
                    return lower_output(expr, row, list, true).map(Some);
                }
            }
            match column(row.schema, name) {
                Ok(Column::Key(k)) if row.group_key == Some(k) => Ok(Some(Scalar::Key)),
                Ok(Column::Dim(d)) => match row.group_dims.iter().position(|g| *g == d) {
                    Some(i) => Ok(Some(Scalar::Dim(i))),
                    None => Err(not_grouped(name)),
                },
                Ok(_) => Err(not_grouped(name)),
                Err(_) if !in_select && name == "count" => {
                    Err(unknown_column(name, &row.schema.columns()))
                }
                Err(e) => Err(e),
            }
        }
        _ => Ok(None),
    })
}

fn not_grouped(name: &str) -> Error {
    query_err!("column '{name}' must appear in GROUP BY or be used in an aggregate")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{catalog, preset, select};
    use crate::query::plan;

    /// The refusal `plan` gives `sql`, on the shop preset before any event.
    fn refusal(sql: &str) -> String {
        let schema = preset("shop");
        match plan(&select(sql), &catalog(&schema)) {
            Ok(_) => panic!("{sql}: planned"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_wildcard_beside_aggregates_is_refused_for_mixing_them() {
        for sql in [
            "SELECT *, COUNT(*) FROM events",
            "SELECT * FROM events GROUP BY event",
            "SELECT COUNT(*), * FROM events",
        ] {
            let e = refusal(sql);
            assert!(
                e.starts_with("a select list cannot mix * with aggregates")
                    && e.contains("drop the aggregates")
                    && !e.contains("does not keep"),
                "{sql}: {e}"
            );
        }
    }

    #[test]
    fn having_or_ordering_by_an_aggregate_without_groups_says_what_is_missing() {
        let e = refusal("SELECT 1 FROM events HAVING 1 = 1");
        assert!(
            e.starts_with("HAVING filters groups, but this query has no GROUP BY")
                && e.contains("WHERE")
                && !e.contains("does not keep"),
            "{e}"
        );
        let e = refusal("SELECT 1 FROM events ORDER BY COUNT(*)");
        assert!(
            e.starts_with("ORDER BY an aggregate sorts groups")
                && e.contains("select the aggregate too")
                && !e.contains("does not keep"),
            "{e}"
        );
    }
}
