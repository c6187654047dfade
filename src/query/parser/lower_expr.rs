//! Lowering sqlparser's expressions into [`Expr`]: operators, literals,
//! parameters, functions and aggregates.
//!
//! This file owns the expression level of the lowering and the [`Lower`]
//! context both levels share: the values of `:name` placeholders, which
//! are substituted here. It folds what SQL writes in several ways into one
//! form (`-5` is a literal, `MEDIAN(x)` an aggregate, a bare keyword such
//! as `user` a column) and refuses, with what to write instead, every
//! expression tally cannot evaluate (`LIKE`, `CASE`, subqueries, window
//! functions...). Whether a column exists or may appear where it does is
//! the planner's concern.

use std::cell::Cell;
use std::collections::HashMap;

use sqlparser::ast as sql;

use crate::error::{query_err, Error, Result};
use crate::query::ast::{AggFunc, BinaryOp, Expr, Literal, Percent, UnaryOp, MAX_EXPRESSION_DEPTH};

/// Values for `:name` placeholders in saved queries, keyed by name without
/// the colon.
pub type Params = HashMap<String, Literal>;

/// Lowers one sqlparser statement; holds the values for `:name` placeholders.
pub(super) struct Lower<'a> {
    pub params: &'a Params,
    /// How many expressions enclose the one being lowered: the lowering
    /// refuses to go past [`MAX_EXPRESSION_DEPTH`].
    depth: Cell<usize>,
}

impl<'a> Lower<'a> {
    pub(super) fn new(params: &'a Params) -> Self {
        Lower {
            params,
            depth: Cell::new(0),
        }
    }

    /// Lowers one expression, one level deeper than its parent.
    pub(super) fn expr(&self, expr: sql::Expr) -> Result<Expr> {
        let depth = self.depth.get() + 1;
        if depth > MAX_EXPRESSION_DEPTH {
            return Err(too_deep());
        }
        self.depth.set(depth);
        let lowered = self.expr_at_depth(expr);
        self.depth.set(depth - 1);
        lowered
    }

    fn expr_at_depth(&self, expr: sql::Expr) -> Result<Expr> {
        use sql::Expr as E;
        Ok(match expr {
            E::Identifier(ident) => Expr::Column(ident.value),
            E::CompoundIdentifier(idents) => Expr::Column(dotted(&idents)),
            E::Value(value) => Expr::Literal(self.literal(value.value)?),
            E::Nested(inner) => self.expr(*inner)?,
            E::UnaryOp { op, expr } => self.unary(op, *expr)?,
            E::BinaryOp { left, op, right } => Expr::Binary {
                op: binary_op(&op)?,
                left: Box::new(self.expr(*left)?),
                right: Box::new(self.expr(*right)?),
            },
            E::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: Box::new(self.expr(*expr)?),
                list: list
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
                negated,
            },
            E::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: Box::new(self.expr(*expr)?),
                low: Box::new(self.expr(*low)?),
                high: Box::new(self.expr(*high)?),
                negated,
            },
            E::IsNull(expr) => Expr::IsNull {
                expr: Box::new(self.expr(*expr)?),
                negated: false,
            },
            E::IsNotNull(expr) => Expr::IsNull {
                expr: Box::new(self.expr(*expr)?),
                negated: true,
            },
            E::Function(function) => self.function(function)?,
            other => return Err(unsupported_expr(&other)),
        })
    }

    /// `-5` folds into the literal; `+x` is `x`.
    fn unary(&self, op: sql::UnaryOperator, operand: sql::Expr) -> Result<Expr> {
        match op {
            sql::UnaryOperator::Plus => self.expr(operand),
            sql::UnaryOperator::Not => Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(self.expr(operand)?),
            }),
            sql::UnaryOperator::Minus => match operand {
                // Through the text, so that -9223372036854775808 is an i64.
                sql::Expr::Value(sql::ValueWithSpan {
                    value: sql::Value::Number(digits, _),
                    ..
                }) => Ok(Expr::Literal(number(&format!("-{digits}"))?)),
                operand => Ok(negate(self.expr(operand)?)),
            },
            other => Err(query_err!(
                "the unary operator `{other}` is not supported; use -, + or NOT"
            )),
        }
    }

    fn literal(&self, value: sql::Value) -> Result<Literal> {
        match value {
            sql::Value::Number(digits, _) => number(&digits),
            sql::Value::SingleQuotedString(s) => Ok(Literal::Str(s)),
            sql::Value::Boolean(b) => Ok(Literal::Bool(b)),
            sql::Value::Null => Ok(Literal::Null),
            sql::Value::Placeholder(p) => self.param(&p),
            other => Err(query_err!(
                "the literal `{other}` is not supported; write strings in 'single quotes'"
            )),
        }
    }

    /// The value of a `:name` placeholder.
    fn param(&self, placeholder: &str) -> Result<Literal> {
        let Some(name) = placeholder.strip_prefix(':') else {
            return Err(query_err!(
                "the positional parameter `{placeholder}` is not supported; \
                 name it, like :user, and pass --param user=VALUE"
            ));
        };
        self.params.get(name).cloned().ok_or_else(|| {
            query_err!("missing value for parameter :{name}; pass --param {name}=VALUE")
        })
    }

    fn function(&self, function: sql::Function) -> Result<Expr> {
        let shown = function.to_string();
        let name = function_name(&function.name)?;
        if let sql::FunctionArguments::None = function.args {
            // sqlparser reads a few bare keywords (`user`, `current_date`) as
            // calls without parentheses; to tally a bare word is a column,
            // and `user` is one in the clicks preset.
            if function.filter.is_none() && function.over.is_none() {
                return Ok(Expr::Column(function.name.to_string()));
            }
        }
        if function.over.is_some() {
            return Err(query_err!(
                "window functions (OVER ...) are not supported in `{shown}`; \
                 tally's window is the trailing WINDOW d, like WINDOW 1h"
            ));
        }
        if !function.within_group.is_empty() {
            return Err(query_err!(
                "WITHIN GROUP is not supported in `{shown}`; write PERCENTILE(x, p) or MEDIAN(x)"
            ));
        }
        if function.null_treatment.is_some()
            || function.uses_odbc_syntax
            || !matches!(function.parameters, sql::FunctionArguments::None)
        {
            return Err(query_err!(
                "`{shown}` is not supported; write {}(args)",
                name.to_uppercase()
            ));
        }
        let args = match function.args {
            sql::FunctionArguments::None => sql::FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![],
                clauses: vec![],
            },
            sql::FunctionArguments::List(list) => list,
            sql::FunctionArguments::Subquery(_) => {
                return Err(query_err!("subqueries are not supported: `{shown}`"))
            }
        };
        if !args.clauses.is_empty() {
            return Err(query_err!(
                "clauses inside a function call (ORDER BY, LIMIT, ...) are not supported: `{shown}`"
            ));
        }
        if name == "percentile" {
            return self.percentile(args, function.filter, &shown);
        }
        match agg_func(&name) {
            Some(func) => self.aggregate(func, args, function.filter, &shown),
            None => self.scalar_function(name, args, function.filter.is_some(), &shown),
        }
    }

    /// `COUNT(*)`, `COUNT(DISTINCT x)`, `SUM(x) FILTER (WHERE ...)`.
    fn aggregate(
        &self,
        func: AggFunc,
        list: sql::FunctionArgumentList,
        filter: Option<Box<sql::Expr>>,
        shown: &str,
    ) -> Result<Expr> {
        let upper = func.to_string().to_uppercase();
        let distinct = matches!(
            list.duplicate_treatment,
            Some(sql::DuplicateTreatment::Distinct)
        );
        let [arg] = <[sql::FunctionArg; 1]>::try_from(list.args).map_err(|_| {
            query_err!("{upper} takes exactly one argument, like {upper}(price), not `{shown}`")
        })?;
        let arg = match unnamed_arg(arg, shown)? {
            sql::FunctionArgExpr::Expr(e) => Some(Box::new(self.expr(e)?)),
            sql::FunctionArgExpr::Wildcard if func == AggFunc::Count && !distinct => None,
            _ if func == AggFunc::Count => {
                return Err(query_err!(
                    "COUNT(DISTINCT *) is not supported; write COUNT(DISTINCT column)"
                ))
            }
            _ => {
                return Err(query_err!(
                    "{upper}(*) is not valid: only COUNT(*) counts rows; write {upper}(column)"
                ))
            }
        };
        Ok(Expr::Aggregate {
            func,
            arg,
            distinct,
            filter: filter.map(|f| self.expr(*f).map(Box::new)).transpose()?,
        })
    }

    /// `PERCENTILE(x, p)`: p a number literal in 0..=100; the rest is an
    /// ordinary one-argument aggregate.
    fn percentile(
        &self,
        mut list: sql::FunctionArgumentList,
        filter: Option<Box<sql::Expr>>,
        shown: &str,
    ) -> Result<Expr> {
        const USAGE: &str = "write PERCENTILE(column, p) with p a number from 0 to 100, \
                             like PERCENTILE(metadata.view_duration_ms, 99)";
        if list.args.len() != 2 {
            return Err(query_err!(
                "PERCENTILE takes two arguments, not `{shown}`; {USAGE}"
            ));
        }
        let p = match list.args.pop().map(|a| unnamed_arg(a, shown)).transpose()? {
            Some(sql::FunctionArgExpr::Expr(e)) => self.expr(e)?,
            _ => return Err(query_err!("`{shown}`: {USAGE}")),
        };
        let neg = |e: &Expr| match e {
            Expr::Literal(Literal::Int(i)) => Some(-(*i as f64)),
            Expr::Literal(Literal::Float(x)) => Some(-x),
            _ => None,
        };
        let p = match p {
            Expr::Literal(Literal::Int(i)) => i as f64,
            Expr::Literal(Literal::Float(x)) => x,
            Expr::Unary {
                op: UnaryOp::Neg,
                ref expr,
            } if neg(expr).is_some() => neg(expr).unwrap_or(-1.0),
            other => {
                return Err(query_err!(
                    "PERCENTILE's p must be a number literal, not `{other}`; {USAGE}"
                ))
            }
        };
        if !(0.0..=100.0).contains(&p) {
            return Err(query_err!(
                "PERCENTILE's p is {p}, outside 0..=100; {USAGE}"
            ));
        }
        self.aggregate(AggFunc::Percentile(Percent(p)), list, filter, shown)
    }

    fn scalar_function(
        &self,
        name: String,
        list: sql::FunctionArgumentList,
        has_filter: bool,
        shown: &str,
    ) -> Result<Expr> {
        if has_filter {
            return Err(query_err!(
                "FILTER (WHERE ...) applies only to aggregates (COUNT, SUM, MIN, MAX, AVG): `{shown}`"
            ));
        }
        if list.duplicate_treatment.is_some() {
            return Err(query_err!(
                "DISTINCT / ALL applies only to aggregates: `{shown}`"
            ));
        }
        let args = list
            .args
            .into_iter()
            .map(|arg| match unnamed_arg(arg, shown)? {
                sql::FunctionArgExpr::Expr(e) => self.expr(e),
                _ => Err(query_err!(
                    "`*` is only allowed in COUNT(*), not in `{shown}`"
                )),
            })
            .collect::<Result<_>>()?;
        Ok(Expr::Function { name, args })
    }
}

/// A function's name, lowercased; qualified names (`a.b(...)`) are rejected.
/// The one refusal of an expression past [`MAX_EXPRESSION_DEPTH`], from the
/// lowering and from sqlparser's own recursion limit alike.
pub(super) fn too_deep() -> Error {
    query_err!(
        "the expression is nested too deeply: at most {MAX_EXPRESSION_DEPTH} levels of \
         operators, NOT, parentheses and function calls; split a long chain such as \
         x = 1 OR x = 2 OR ... into x IN (1, 2, ...)"
    )
}

fn function_name(name: &sql::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(|ident| ident.value.to_lowercase())
            .ok_or_else(|| query_err!("the function name `{name}` is not supported")),
        _ => Err(query_err!(
            "qualified function names like `{name}` are not supported"
        )),
    }
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "avg" => AggFunc::Avg,
        "median" => AggFunc::Median,
        "approx_count_distinct" => AggFunc::ApproxCountDistinct,
        _ => return None,
    })
}

/// Positional arguments only: `f(x)`, not `f(a => x)`.
fn unnamed_arg(arg: sql::FunctionArg, shown: &str) -> Result<sql::FunctionArgExpr> {
    match arg {
        sql::FunctionArg::Unnamed(arg) => Ok(arg),
        _ => Err(query_err!("named arguments are not supported: `{shown}`")),
    }
}

/// `metadata.view_duration_ms`: the dotted path of a nested field.
fn dotted(idents: &[sql::Ident]) -> String {
    let parts: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
    parts.join(".")
}

/// A numeric literal: `Int` when it is a whole number that fits an `i64`,
/// else `Float`.
fn number(text: &str) -> Result<Literal> {
    let whole = !text.contains(['.', 'e', 'E']);
    if whole {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Literal::Int(i));
        }
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Literal::Float(x)),
        _ => Err(query_err!("the number {text} is out of range")),
    }
}

/// `-e`, folded when `e` is a numeric literal (a `:param` value, say).
fn negate(expr: Expr) -> Expr {
    match expr {
        Expr::Literal(Literal::Int(i)) if i != i64::MIN => Expr::Literal(Literal::Int(-i)),
        Expr::Literal(Literal::Float(x)) => Expr::Literal(Literal::Float(-x)),
        expr => Expr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(expr),
        },
    }
}

fn binary_op(op: &sql::BinaryOperator) -> Result<BinaryOp> {
    use sql::BinaryOperator as B;
    Ok(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        other => {
            return Err(query_err!(
                "the operator `{other}` is not supported; use + - * / %, = <> < <= > >=, AND, OR"
            ))
        }
    })
}

/// Names the expression tally does not support, with what to write instead.
fn unsupported_expr(expr: &sql::Expr) -> Error {
    use sql::Expr as E;
    let hint = match expr {
        E::Subquery(_) | E::InSubquery { .. } | E::Exists { .. } => {
            "subqueries are not supported; a query reads one table: FROM events or FROM rule_hits"
        }
        E::Like { .. } | E::ILike { .. } | E::SimilarTo { .. } | E::RLike { .. } => {
            "pattern matching (LIKE) is not supported; use = or IN (...)"
        }
        E::Case { .. } => {
            "CASE is not supported; for conditional aggregates use FILTER (WHERE ...)"
        }
        E::Cast { .. } => "CAST is not supported",
        E::IsTrue(_) | E::IsFalse(_) | E::IsNotTrue(_) | E::IsNotFalse(_) => {
            "IS [NOT] TRUE/FALSE is not supported; write x = TRUE"
        }
        E::Wildcard(_) | E::QualifiedWildcard(..) => "`*` is only allowed as SELECT * or COUNT(*)",
        _ => "this expression is not supported",
    };
    query_err!("`{expr}`: {hint}")
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::super::test_support::*;
    use super::Params;
    use crate::query::ast::{
        AggFunc, BinaryOp, Expr, Literal, Percent, SelectItem, Statement, UnaryOp,
    };

    #[test]
    fn j6_filter_and_arithmetic_on_aggregates() {
        let s = select(
            "SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos, \
                    SUM(metadata.view_duration_ms) / 60000.0 AS minutes, \
                    COUNT(*) FILTER (WHERE event_type = 'like') * 1.0 \
                      / COUNT(*) FILTER (WHERE event_type = 'video_view') AS rate \
             FROM events WHERE user_id = 987654321 WINDOW 24h",
        );
        let counted = |t: &str| Expr::Aggregate {
            func: AggFunc::Count,
            arg: None,
            distinct: false,
            filter: Some(Box::new(bin(
                BinaryOp::Eq,
                col("event_type"),
                Expr::Literal(Literal::Str(t.into())),
            ))),
        };
        let minutes = bin(
            BinaryOp::Div,
            agg(AggFunc::Sum, Some(col("metadata.view_duration_ms"))),
            Expr::Literal(Literal::Float(60000.0)),
        );
        let rate = bin(
            BinaryOp::Div,
            bin(
                BinaryOp::Mul,
                counted("like"),
                Expr::Literal(Literal::Float(1.0)),
            ),
            counted("video_view"),
        );
        assert_eq!(
            s.items,
            vec![
                aliased(counted("video_view"), "videos"),
                aliased(minutes, "minutes"),
                aliased(rate, "rate"),
            ]
        );
        assert_eq!(
            s.filter,
            Some(bin(BinaryOp::Eq, col("user_id"), int(987_654_321)))
        );
        assert_eq!(s.window_ms, Some(24 * HOUR));
    }

    #[test]
    fn j9_count_min_max_avg() {
        // `value` is a keyword in SQL and a field of the stats preset.
        let s = select("SELECT COUNT(*), MIN(value), MAX(value), AVG(value) FROM events WINDOW 1h");
        assert_eq!(
            s.items,
            vec![
                item(count_star()),
                item(agg(AggFunc::Min, Some(col("value")))),
                item(agg(AggFunc::Max, Some(col("value")))),
                item(agg(AggFunc::Avg, Some(col("value")))),
            ]
        );
    }

    #[test]
    fn j5_percentiles_and_distinct_aliases_are_aggregates() {
        let s = select(
            "SELECT MEDIAN(metadata.view_duration_ms), \
                    Percentile(metadata.view_duration_ms, 99.5), \
                    approx_count_distinct(user_id) FROM events WINDOW 1h",
        );
        assert_eq!(
            s.items,
            vec![
                item(agg(AggFunc::Median, Some(col("metadata.view_duration_ms")))),
                item(agg(
                    AggFunc::Percentile(Percent(99.5)),
                    Some(col("metadata.view_duration_ms"))
                )),
                item(agg(AggFunc::ApproxCountDistinct, Some(col("user_id")))),
            ]
        );
        let SelectItem::Expr { expr, .. } = &s.items[1] else {
            panic!("an expression")
        };
        assert_eq!(
            expr.to_string(),
            "percentile(metadata.view_duration_ms, 99.5)"
        );
        for (sql, expected) in [
            ("SELECT PERCENTILE(x, 101) FROM events", "outside 0..=100"),
            ("SELECT PERCENTILE(x, -1) FROM events", "outside 0..=100"),
            ("SELECT PERCENTILE(x, y) FROM events", "a number literal"),
            ("SELECT PERCENTILE(x) FROM events", "two arguments"),
            ("SELECT PERCENTILE(x, 1, 2) FROM events", "two arguments"),
            ("SELECT MEDIAN(x, 2) FROM events", "exactly one argument"),
            ("SELECT MEDIAN(*) FROM events", "only COUNT(*)"),
        ] {
            let err = parse(sql, &Params::new()).unwrap_err().to_string();
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }

    #[test]
    fn preset_field_names_are_columns() {
        let s = select(
            "SELECT type, user, ts, id, category, event, payload.value, timestamp, value \
             FROM events WHERE timestamp > 0 AND user = 'u1'",
        );
        let names: Vec<String> = s
            .items
            .iter()
            .map(|i| match i {
                SelectItem::Expr { expr, .. } => expr.to_string(),
                SelectItem::Wildcard => "*".into(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "type",
                "user",
                "ts",
                "id",
                "category",
                "event",
                "payload.value",
                "timestamp",
                "value",
            ]
        );
        assert_eq!(
            s.filter.map(|f| f.to_string()),
            Some("((timestamp > 0) AND (user = 'u1'))".into())
        );
    }

    #[test]
    fn count_distinct_and_case_insensitive_aggregates() {
        let s = select("SELECT count(DISTINCT user_id), Sum(price) FROM events");
        assert_eq!(
            s.items,
            vec![
                item(Expr::Aggregate {
                    func: AggFunc::Count,
                    arg: Some(Box::new(col("user_id"))),
                    distinct: true,
                    filter: None,
                }),
                item(agg(AggFunc::Sum, Some(col("price")))),
            ]
        );
    }

    #[test]
    fn predicates() {
        let s = select(
            "SELECT COUNT(*) FROM events WHERE NOT (type IN ('a', 'b') OR x NOT IN (1)) \
             AND y BETWEEN 1 AND 2 AND z NOT BETWEEN -1 AND +2 AND w IS NULL AND v IS NOT NULL \
             AND a == 1 AND b != 2 AND c <> 3 AND d < 4 AND e <= 5 AND f >= 6 AND g % 2 = 0",
        );
        let text = s.filter.map(|f| f.to_string()).unwrap_or_default();
        for part in [
            "NOT (type IN ('a', 'b') OR x NOT IN (1))",
            "y BETWEEN 1 AND 2",
            "z NOT BETWEEN -1 AND 2",
            "w IS NULL",
            "v IS NOT NULL",
            "(a = 1)",
            "(b <> 2)",
            "(c <> 3)",
            "(d < 4)",
            "(e <= 5)",
            "(f >= 6)",
            "((g % 2) = 0)",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }

    #[test]
    fn literals_and_unary_operators() {
        let s = select(
            "SELECT -5, - x, -(1.5), 9223372036854775808, -9223372036854775808, 1e3, \
                    TRUE, false, NULL, 'it''s', \"Quoted Col\" FROM events",
        );
        let exprs: Vec<Expr> = s
            .items
            .into_iter()
            .filter_map(|i| match i {
                SelectItem::Expr { expr, .. } => Some(expr),
                SelectItem::Wildcard => None,
            })
            .collect();
        assert_eq!(
            exprs,
            vec![
                int(-5),
                Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(col("x"))
                },
                Expr::Literal(Literal::Float(-1.5)),
                Expr::Literal(Literal::Float(9_223_372_036_854_775_808.0)),
                int(i64::MIN),
                Expr::Literal(Literal::Float(1000.0)),
                Expr::Literal(Literal::Bool(true)),
                Expr::Literal(Literal::Bool(false)),
                Expr::Literal(Literal::Null),
                Expr::Literal(Literal::Str("it's".into())),
                col("Quoted Col"),
            ]
        );
    }

    #[test]
    fn params() {
        let mut params = Params::new();
        params.insert("user".into(), Literal::Int(987_654_321));
        params.insert("kind".into(), Literal::Str("like".into()));
        params.insert("k".into(), Literal::Int(3));
        params.insert("n".into(), Literal::Int(20));
        let statements = parse(
            "SELECT TOP (:k) video_id FROM events WHERE user_id = :user AND type = :kind; \
             SELECT -:n AS m FROM events LIMIT :n",
            &params,
        );
        let Ok(statements) = statements else {
            panic!("{statements:?}");
        };
        let [Statement::Select(first), Statement::Select(second)] = statements.as_slice() else {
            panic!("{statements:?}");
        };
        assert_eq!(first.top, Some(3));
        assert_eq!(
            first.filter.as_ref().map(|f| f.to_string()),
            Some("((user_id = 987654321) AND (type = 'like'))".into())
        );
        assert_eq!(second.items, vec![aliased(int(-20), "m")]);
        assert_eq!(second.limit, Some(20));

        let e = query_error("SELECT COUNT(*) FROM events WHERE user_id = :user");
        assert_eq!(
            e,
            "missing value for parameter :user; pass --param user=VALUE"
        );
        assert!(query_error("SELECT COUNT(*) FROM events WHERE user_id = $1").contains(":user"));
    }

    #[test]
    fn expressions_tally_cannot_evaluate_are_refused_with_a_hint() {
        for (sql, expected) in [
            (
                "SELECT a FROM events WHERE a IN (SELECT a FROM events)",
                "subqueries",
            ),
            ("SELECT (SELECT 1) FROM events", "subqueries"),
            ("SELECT COUNT(*) OVER (PARTITION BY a) FROM events", "OVER"),
            ("SELECT SUM(*) FROM events", "SUM(*)"),
            ("SELECT SUM(a, b) FROM events", "exactly one argument"),
            ("SELECT COUNT() FROM events", "exactly one argument"),
            (
                "SELECT COUNT(DISTINCT *) FROM events",
                "COUNT(DISTINCT column)",
            ),
            (
                "SELECT ROUND(x, 2) FILTER (WHERE a = 1) FROM events",
                "only to aggregates",
            ),
            ("SELECT ABS(*) FROM events", "COUNT(*)"),
            ("SELECT a FROM events WHERE a LIKE 'x%'", "LIKE"),
            ("SELECT CASE WHEN a THEN 1 END FROM events", "CASE"),
            ("SELECT CAST(a AS INT) FROM events", "CAST"),
            ("SELECT a || b FROM events", "operator `||`"),
            ("SELECT a FROM events WHERE a IS TRUE", "IS [NOT] TRUE"),
            ("SELECT 'x' FROM events WHERE a = E'x'", "single quotes"),
        ] {
            let e = query_error(sql);
            assert!(e.contains(expected), "{sql}: {e:?} lacks {expected:?}");
        }
    }
}
