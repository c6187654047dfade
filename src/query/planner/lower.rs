//! Expressions of the statement tree → positional [`Scalar`]s.
//!
//! Every stage of the planner lowers expressions the same way except at
//! the leaves: a column is a dimension position in WHERE, a group value in
//! the select list, a field path in a raw-row query; an aggregate is an
//! accumulator or an error. This file owns the shared structure
//! ([`lower`], with the leaves handed in), scalar function names and
//! arities, the walk over the columns an expression names, and the default
//! name of an output column. It does not resolve any column itself.

use crate::error::{query_err, Error, Result};
use crate::query::ast::{Expr, Literal, UnaryOp};
use std::sync::Arc;

use crate::query::scalar::{Function, Scalar, ValueSet};
use crate::value::Value;

/// Calls `f(column, inside_aggregate)` for every column an expression names.
pub(super) fn visit_columns(e: &Expr, f: &mut dyn FnMut(&str, bool)) {
    fn walk(e: &Expr, in_agg: bool, f: &mut dyn FnMut(&str, bool)) {
        match e {
            Expr::Column(c) => f(c, in_agg),
            Expr::Literal(_) => {}
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => walk(expr, in_agg, f),
            Expr::Binary { left, right, .. } => {
                walk(left, in_agg, f);
                walk(right, in_agg, f);
            }
            Expr::InList { expr, list, .. } => {
                walk(expr, in_agg, f);
                list.iter().for_each(|x| walk(x, in_agg, f));
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                walk(expr, in_agg, f);
                walk(low, in_agg, f);
                walk(high, in_agg, f);
            }
            Expr::Aggregate { arg, filter, .. } => {
                if let Some(a) = arg {
                    walk(a, true, f);
                }
                if let Some(x) = filter {
                    walk(x, true, f);
                }
                if arg.is_none() && filter.is_none() {
                    f("*", true);
                }
            }
            Expr::Function { args, .. } => args.iter().for_each(|x| walk(x, in_agg, f)),
        }
    }
    walk(e, false, f)
}

/// Lowers the structure of an expression; `leaf` handles columns and
/// aggregates (returning `None` for everything else).
pub(super) fn lower(
    e: &Expr,
    leaf: &mut dyn FnMut(&Expr) -> Result<Option<Scalar>>,
) -> Result<Scalar> {
    if let Some(s) = leaf(e)? {
        return Ok(s);
    }
    let mut go = |e: &Expr| lower(e, leaf).map(Box::new);
    Ok(match e {
        Expr::Literal(l) => Scalar::Literal(literal(l)),
        Expr::Unary { op, expr } => Scalar::Unary(*op, go(expr)?),
        Expr::Binary { op, left, right } => Scalar::Binary(*op, go(left)?, go(right)?),
        Expr::IsNull { expr, negated } => Scalar::IsNull(go(expr)?, *negated),
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => Scalar::Between(go(expr)?, go(low)?, go(high)?, *negated),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let head = go(expr)?;
            let items: Vec<Scalar> = list.iter().map(|x| lower(x, leaf)).collect::<Result<_>>()?;
            let literals: Option<Vec<Value>> = items
                .iter()
                .map(|i| match i {
                    Scalar::Literal(v) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            match literals {
                Some(values) => Scalar::InSet(head, Arc::new(ValueSet::new(values)), *negated),
                None => Scalar::InList(head, items, *negated),
            }
        }
        Expr::Function { name, args } => {
            if name.eq_ignore_ascii_case("time_bucket") {
                return Err(query_err!(
                    "TIME_BUCKET names a group of rows, so it needs GROUP BY: \
                     SELECT TIME_BUCKET(1h, timestamp) AS hour, COUNT(*) FROM events GROUP BY hour"
                ));
            }
            let f = Function::by_name(name).ok_or_else(|| {
                query_err!("unknown function {name}(); functions: {}, and the aggregates count, sum, min, max, avg, median, percentile, approx_count_distinct", Function::NAMES.join(", "))
            })?;
            if !f.arity().contains(&args.len()) {
                return Err(query_err!(
                    "{name}() takes {:?} arguments, got {}",
                    f.arity(),
                    args.len()
                ));
            }
            Scalar::Call(
                f,
                args.iter().map(|x| lower(x, leaf)).collect::<Result<_>>()?,
            )
        }
        Expr::Column(_) | Expr::Aggregate { .. } => {
            return Err(Error::Internal(format!("unlowered leaf {e}")))
        }
    })
}

fn literal(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::Str(s) => Value::str(s),
    }
}

/// The column name of an unaliased select item: the column itself, or the
/// expression as SQL (`count(*)`, `sum(price)`).
pub(super) fn default_name(e: &Expr) -> String {
    match e {
        Expr::Column(c) => c.clone(),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => format!("-{}", default_name(expr)),
        other => {
            let s = other.to_string();
            s.strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .map(str::to_string)
                .unwrap_or(s)
        }
    }
}
