//! `SELECT TOP k col`, rewritten as the query it stands for.
//!
//! This file owns the one rewrite the planner makes before resolving
//! anything: `TOP k col` → `SELECT col, COUNT(*) AS count ... GROUP BY col
//! ORDER BY count DESC, col ASC LIMIT k`. The parser reads the count; every
//! later stage sees an ordinary grouped query.

use crate::error::{query_err, Result};
use crate::query::ast::{AggFunc, Expr, OrderBy, Select, SelectItem};

/// The select `TOP k` stands for; a select without `TOP` as it is.
pub(super) fn desugar(select: &Select) -> Result<Select> {
    let Some(k) = select.top else {
        return Ok(select.clone());
    };
    let col = match select.items.as_slice() {
        [SelectItem::Expr {
            expr: expr @ Expr::Column(_),
            alias: None,
        }] => expr.clone(),
        _ => {
            return Err(query_err!(
                "SELECT TOP k takes exactly one column: SELECT TOP 3 event_type FROM events"
            ))
        }
    };
    if !select.group_by.is_empty()
        || !select.order_by.is_empty()
        || select.limit.is_some()
        || select.having.is_some()
    {
        return Err(query_err!(
            "SELECT TOP k already groups, orders and limits; drop GROUP BY, HAVING, ORDER BY and LIMIT"));
    }
    let count = Expr::Column("count".into());
    Ok(Select {
        top: None,
        items: vec![
            SelectItem::Expr {
                expr: col.clone(),
                alias: None,
            },
            SelectItem::Expr {
                expr: Expr::Aggregate {
                    func: AggFunc::Count,
                    arg: None,
                    distinct: false,
                    filter: None,
                },
                alias: Some("count".into()),
            },
        ],
        group_by: vec![col.clone()],
        order_by: vec![
            OrderBy {
                expr: count,
                desc: true,
            },
            OrderBy {
                expr: col,
                desc: false,
            },
        ],
        limit: Some(k),
        ..select.clone()
    })
}
