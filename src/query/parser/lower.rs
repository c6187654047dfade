//! Lowering sqlparser's statement into a [`Select`]: the clauses.
//!
//! This file owns the statement level of the lowering: which statement
//! kinds, set operations and clauses tally answers (one `SELECT` over one
//! table, with `TOP`, `WHERE`, `GROUP BY`, `HAVING`, `ORDER BY` and
//! `LIMIT`), and the refusal, with a hint, of every valid SQL clause it
//! does not (joins, subqueries in `FROM`, `OFFSET`, `DISTINCT`, ...).
//! Expressions inside the clauses are lowered by `lower_expr.rs`; columns
//! and tables are not checked here: the planner knows the schema.

use sqlparser::ast as sql;

use super::lower_expr::Lower;
use crate::error::{query_err, Result};
use crate::query::ast::{Expr, Literal, OrderBy, Select, SelectItem};

/// The shape of every query tally answers, quoted in rejection messages.
const SELECT_SHAPE: &str = "SELECT [TOP k] items FROM events [WHERE ...] [GROUP BY ...] \
                            [HAVING ...] [ORDER BY ...] [LIMIT n] [WINDOW d]";

impl Lower<'_> {
    /// `leading` is the statement's first token, to name what is rejected.
    pub(super) fn statement(&self, statement: sql::Statement, leading: &str) -> Result<Select> {
        match statement {
            sql::Statement::Query(query) => self.query(*query),
            _ => Err(query_err!(
                "{} statements are not supported: tally answers {SELECT_SHAPE}, \
                 EXPLAIN SELECT ..., SHOW STATS, and CREATE RULE / DROP RULE / SHOW RULES",
                leading.to_uppercase()
            )),
        }
    }

    fn query(&self, query: sql::Query) -> Result<Select> {
        reject_query_extras(&query)?;
        let mut select = match *query.body {
            sql::SetExpr::Select(select) => self.select(*select)?,
            sql::SetExpr::SetOperation { op, .. } => {
                return Err(query_err!(
                    "{op} is not supported; run each SELECT as its own statement"
                ))
            }
            sql::SetExpr::Query(_) => {
                return Err(query_err!(
                    "a parenthesized query is not supported; remove the parentheses"
                ))
            }
            other => {
                return Err(query_err!(
                    "`{other}` is not supported; write {SELECT_SHAPE}"
                ))
            }
        };
        if let Some(order_by) = query.order_by {
            select.order_by = self.order_by(order_by)?;
        }
        if let Some(limit) = query.limit_clause {
            select.limit = self.limit(limit)?;
        }
        Ok(select)
    }

    fn select(&self, select: sql::Select) -> Result<Select> {
        reject_select_extras(&select)?;
        let sql::Select {
            distinct,
            top,
            projection,
            from,
            selection,
            group_by,
            having,
            ..
        } = select;
        match distinct {
            None | Some(sql::Distinct::All) => {}
            Some(_) => {
                return Err(query_err!(
                    "SELECT DISTINCT is not supported; use GROUP BY col, or COUNT(DISTINCT col)"
                ))
            }
        }
        Ok(Select {
            top: top.map(|top| self.top(top)).transpose()?,
            items: projection
                .into_iter()
                .map(|item| self.select_item(item))
                .collect::<Result<_>>()?,
            from: from_table(from)?,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            group_by: self.group_by(group_by)?,
            having: having.map(|e| self.expr(e)).transpose()?,
            ..Select::default()
        })
    }

    fn top(&self, top: sql::Top) -> Result<u64> {
        if top.percent || top.with_ties {
            return Err(query_err!(
                "TOP ... PERCENT and TOP ... WITH TIES are not supported; write TOP k"
            ));
        }
        match top.quantity {
            Some(sql::TopQuantity::Constant(k)) => Ok(k),
            Some(sql::TopQuantity::Expr(e)) => self.count("TOP", e),
            None => Err(query_err!("TOP needs a count, like TOP 3")),
        }
    }

    fn select_item(&self, item: sql::SelectItem) -> Result<SelectItem> {
        match item {
            sql::SelectItem::UnnamedExpr(e) => Ok(SelectItem::Expr {
                expr: self.expr(e)?,
                alias: None,
            }),
            sql::SelectItem::ExprWithAlias { expr, alias } => Ok(SelectItem::Expr {
                expr: self.expr(expr)?,
                alias: Some(alias.value),
            }),
            sql::SelectItem::Wildcard(options) => {
                let plain = sql::WildcardAdditionalOptions {
                    wildcard_token: options.wildcard_token.clone(),
                    ..Default::default()
                };
                if options == plain {
                    Ok(SelectItem::Wildcard)
                } else {
                    Err(query_err!(
                        "`{options}` after * is not supported; write SELECT * or list the columns"
                    ))
                }
            }
            other => Err(query_err!(
                "`{other}` is not supported; write SELECT * or list the columns"
            )),
        }
    }

    fn group_by(&self, group_by: sql::GroupByExpr) -> Result<Vec<Expr>> {
        match group_by {
            sql::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                exprs.into_iter().map(|e| self.expr(e)).collect()
            }
            sql::GroupByExpr::Expressions(..) => Err(query_err!(
                "GROUP BY modifiers (ROLLUP, CUBE, TOTALS) are not supported; list the columns"
            )),
            sql::GroupByExpr::All(_) => Err(query_err!(
                "GROUP BY ALL is not supported; list the columns, like GROUP BY user_id"
            )),
        }
    }

    fn order_by(&self, order_by: sql::OrderBy) -> Result<Vec<OrderBy>> {
        if order_by.interpolate.is_some() {
            return Err(query_err!("ORDER BY ... INTERPOLATE is not supported"));
        }
        match order_by.kind {
            sql::OrderByKind::Expressions(exprs) => {
                exprs.into_iter().map(|e| self.order_by_expr(e)).collect()
            }
            sql::OrderByKind::All(_) => Err(query_err!(
                "ORDER BY ALL is not supported; list the columns, like ORDER BY n DESC"
            )),
        }
    }

    fn order_by_expr(&self, order: sql::OrderByExpr) -> Result<OrderBy> {
        if order.with_fill.is_some() {
            return Err(query_err!("ORDER BY ... WITH FILL is not supported"));
        }
        if order.options.nulls_first.is_some() {
            return Err(query_err!(
                "NULLS FIRST / NULLS LAST is not supported; remove it"
            ));
        }
        let desc = match order.options.sort {
            None | Some(sql::OrderBySort::Asc) => false,
            Some(sql::OrderBySort::Desc) => true,
            Some(sql::OrderBySort::Using(_)) => {
                return Err(query_err!(
                    "ORDER BY ... USING is not supported; write ASC or DESC"
                ))
            }
        };
        Ok(OrderBy {
            expr: self.expr(order.expr)?,
            desc,
        })
    }

    fn limit(&self, limit: sql::LimitClause) -> Result<Option<u64>> {
        match limit {
            sql::LimitClause::LimitOffset {
                offset: Some(_), ..
            }
            | sql::LimitClause::OffsetCommaLimit { .. } => Err(query_err!(
                "OFFSET is not supported; use ORDER BY ... LIMIT n"
            )),
            sql::LimitClause::LimitOffset { limit_by, .. } if !limit_by.is_empty() => {
                Err(query_err!("LIMIT ... BY is not supported; write LIMIT n"))
            }
            sql::LimitClause::LimitOffset { limit, .. } => {
                limit.map(|e| self.count("LIMIT", e)).transpose()
            }
        }
    }

    /// A `TOP` or `LIMIT` count: a non-negative integer literal or parameter.
    fn count(&self, clause: &str, expr: sql::Expr) -> Result<u64> {
        let shown = expr.to_string();
        match self.expr(expr)? {
            Expr::Literal(Literal::Int(n)) if n >= 0 => Ok(n.unsigned_abs()),
            // Digits that do not fit a 64-bit integer are whole, just large.
            _ if !shown.is_empty() && shown.bytes().all(|b| b.is_ascii_digit()) => Err(query_err!(
                "{clause} {shown} is too large; the largest is {}",
                i64::MAX
            )),
            _ => Err(query_err!(
                "{clause} takes a non-negative whole number, not `{shown}`"
            )),
        }
    }
}

/// Rejects the clauses of sqlparser's `Query` that tally has no use for.
fn reject_query_extras(query: &sql::Query) -> Result<()> {
    if query.with.is_some() {
        return Err(query_err!(
            "WITH (common table expressions) is not supported; write {SELECT_SHAPE}"
        ));
    }
    let extras = [
        (
            query.fetch.is_some(),
            "FETCH FIRST ... ROWS (write LIMIT n)",
        ),
        (!query.locks.is_empty(), "FOR UPDATE / FOR SHARE"),
        (query.for_clause.is_some(), "FOR XML / FOR JSON"),
        (query.settings.is_some(), "SETTINGS"),
        (query.format_clause.is_some(), "FORMAT"),
        (!query.pipe_operators.is_empty(), "pipe operators (|>)"),
    ];
    reject_first(&extras)
}

/// Rejects the clauses of sqlparser's `Select` that tally has no use for.
fn reject_select_extras(select: &sql::Select) -> Result<()> {
    if !select.named_window.is_empty() {
        return Err(query_err!(
            "named windows (WINDOW w AS (...)) are not supported; tally's WINDOW takes a \
             duration and comes last, like WINDOW 1h"
        ));
    }
    let extras = [
        (select.select_modifiers.is_some(), "MySQL SELECT modifiers"),
        (select.exclude.is_some(), "SELECT ... EXCLUDE"),
        (select.into.is_some(), "SELECT INTO"),
        (!select.lateral_views.is_empty(), "LATERAL VIEW"),
        (select.prewhere.is_some(), "PREWHERE"),
        (!select.connect_by.is_empty(), "CONNECT BY"),
        (!select.cluster_by.is_empty(), "CLUSTER BY"),
        (!select.distribute_by.is_empty(), "DISTRIBUTE BY"),
        (!select.sort_by.is_empty(), "SORT BY (write ORDER BY)"),
        (select.qualify.is_some(), "QUALIFY"),
        (
            select.value_table_mode.is_some(),
            "SELECT AS STRUCT / VALUE",
        ),
        (
            select.flavor != sql::SelectFlavor::Standard,
            "FROM-first queries (write SELECT ... FROM events)",
        ),
    ];
    reject_first(&extras)
}

/// Errors on the first `(present, what)` that is present.
fn reject_first(extras: &[(bool, &str)]) -> Result<()> {
    match extras.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(query_err!(
            "{what} is not supported; tally answers {SELECT_SHAPE}"
        )),
        None => Ok(()),
    }
}

/// The one table of `FROM`, lowercased. The planner checks it is `events`.
fn from_table(from: Vec<sql::TableWithJoins>) -> Result<String> {
    let mut from = from.into_iter();
    let (Some(table), None) = (from.next(), from.next()) else {
        return Err(query_err!(
            "expected FROM events or FROM rule_hits: a query reads exactly one table"
        ));
    };
    if !table.joins.is_empty() {
        return Err(query_err!(
            "JOIN is not supported; a query reads one table: FROM events or FROM rule_hits"
        ));
    }
    let shown = table.relation.to_string();
    let sql::TableFactor::Table {
        name,
        alias,
        args,
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_hints,
    } = table.relation
    else {
        return Err(query_err!(
            "`{shown}` in FROM is not supported (no subqueries or table functions); write FROM events"
        ));
    };
    if alias.is_some() {
        return Err(query_err!(
            "table aliases are not supported (`{shown}`); write FROM events and name columns directly"
        ));
    }
    let plain = args.is_none()
        && with_hints.is_empty()
        && version.is_none()
        && !with_ordinality
        && partitions.is_empty()
        && json_path.is_none()
        && sample.is_none()
        && index_hints.is_empty();
    if !plain {
        return Err(query_err!(
            "`{shown}` is not supported in FROM; write FROM events"
        ));
    }
    let parts = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(|ident| ident.value.to_lowercase())
                .ok_or_else(|| query_err!("`{name}` in FROM is not supported; write FROM events"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::query::ast::{BinaryOp, Expr, Literal, OrderBy, Select, SelectItem};

    #[test]
    fn j1_top_k() {
        assert_eq!(
            select("SELECT TOP 3 event_type FROM events WINDOW 1h"),
            Select {
                top: Some(3),
                items: vec![item(col("event_type"))],
                from: "events".into(),
                window_ms: Some(HOUR),
                ..Select::default()
            }
        );
    }

    #[test]
    fn j2_rate_limit_with_having_on_alias() {
        let s = select(
            "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id HAVING n > 20 WINDOW 60s",
        );
        assert_eq!(
            s.items,
            vec![item(col("user_id")), aliased(count_star(), "n")]
        );
        assert_eq!(s.group_by, vec![col("user_id")]);
        assert_eq!(s.having, Some(bin(BinaryOp::Gt, col("n"), int(20))));
        assert_eq!(s.window_ms, Some(60_000));
    }

    #[test]
    fn j3_count_in_window() {
        let s = select("SELECT COUNT(*) FROM events WINDOW 5m;");
        assert_eq!(s.items, vec![item(count_star())]);
        assert_eq!(s.window_ms, Some(300_000));
    }

    #[test]
    fn j7_viral_videos() {
        let s = select(
            "SELECT video_id, \
                    COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, \
                    (COUNT(*) FILTER (WHERE event_type = 'share') \
                     + COUNT(*) FILTER (WHERE event_type = 'comment')) * 1.0 / views AS virality \
             FROM events GROUP BY video_id \
             HAVING views >= 1000 AND virality > 1.5 \
             ORDER BY virality DESC LIMIT 10 WINDOW 2h",
        );
        assert_eq!(s.items.len(), 3);
        assert_eq!(s.group_by, vec![col("video_id")]);
        assert_eq!(
            s.having,
            Some(bin(
                BinaryOp::And,
                bin(BinaryOp::GtEq, col("views"), int(1000)),
                bin(
                    BinaryOp::Gt,
                    col("virality"),
                    Expr::Literal(Literal::Float(1.5))
                ),
            ))
        );
        assert_eq!(
            s.order_by,
            vec![OrderBy {
                expr: col("virality"),
                desc: true
            }]
        );
        assert_eq!(s.limit, Some(10));
        assert_eq!(s.window_ms, Some(2 * HOUR));
    }

    #[test]
    fn raw_events_wildcard_order_and_no_window() {
        let s = select("select * from EVENTS order by ts, type asc, user desc limit 5");
        assert_eq!(s.items, vec![SelectItem::Wildcard]);
        assert_eq!(s.from, "events");
        assert_eq!(
            s.order_by.iter().map(|o| o.desc).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(s.limit, Some(5));
        assert_eq!(s.window_ms, None);
    }

    #[test]
    fn one_table_refusals_name_both_tables() {
        for sql in [
            "SELECT a",
            "SELECT a FROM events, rule_hits",
            "SELECT a FROM events JOIN users ON events.u = users.u",
            "SELECT a FROM events WHERE a IN (SELECT a FROM events)",
        ] {
            let e = query_error(sql);
            assert!(
                e.contains("FROM events or FROM rule_hits") && !e.contains("the event stream"),
                "{sql}: {e}"
            );
        }
    }

    #[test]
    fn clauses_tally_does_not_answer_are_refused_with_a_hint() {
        for (sql, expected) in [
            ("INSERT INTO events VALUES (1)", "INSERT statements"),
            ("UPDATE events SET a = 1", "UPDATE statements"),
            ("DELETE FROM events", "DELETE statements"),
            ("SELECT a FROM events UNION SELECT a FROM events", "UNION"),
            (
                "SELECT a FROM events INTERSECT SELECT a FROM events",
                "INTERSECT",
            ),
            ("WITH t AS (SELECT a FROM events) SELECT a FROM t", "WITH"),
            (
                "SELECT a FROM events JOIN users ON events.u = users.u",
                "JOIN",
            ),
            ("SELECT a FROM events, users", "exactly one table"),
            ("SELECT a FROM (SELECT a FROM events)", "no subqueries"),
            ("SELECT a FROM events e", "aliases"),
            ("SELECT a FROM events LIMIT 1 OFFSET 2", "OFFSET"),
            ("SELECT a FROM events LIMIT 2, 1", "OFFSET"),
            ("SELECT a FROM events LIMIT -1", "non-negative"),
            ("SELECT a FROM events LIMIT 1.5", "non-negative"),
            ("SELECT a FROM events LIMIT x", "non-negative"),
            ("SELECT DISTINCT a FROM events", "SELECT DISTINCT"),
            ("SELECT TOP 10 PERCENT a FROM events", "PERCENT"),
            (
                "SELECT TOP 3 WITH TIES a FROM events ORDER BY a",
                "WITH TIES",
            ),
            (
                "SELECT a, COUNT(*) FROM events GROUP BY ALL",
                "GROUP BY ALL",
            ),
            ("SELECT a FROM events ORDER BY a NULLS FIRST", "NULLS FIRST"),
            ("SELECT a", "expected FROM events"),
            ("SELECT a FROM events FETCH FIRST 3 ROWS ONLY", "LIMIT n"),
            ("SELECT t.* FROM events", "SELECT *"),
        ] {
            let e = query_error(sql);
            assert!(e.contains(expected), "{sql}: {e:?} lacks {expected:?}");
        }
    }
}
