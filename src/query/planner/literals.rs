//! Comparisons of a column with a literal: one type rule for every column.
//!
//! A condition such as `event_type = 1` or `user_id = 'x'` can never be
//! true (a string field never equals a number), and `x = NULL` is never
//! true in SQL; answering either with zero rows hides a typo. This file
//! owns the rule, applied to WHERE and FILTER of aggregate queries and to
//! WHERE of raw-event queries alike: the literal side of `=`, `<>`, `<`,
//! `<=`, `>`, `>=`, `[NOT] IN` and `[NOT] BETWEEN` must be of the column's
//! declared type (integers and floats compare with each other), and NULL is
//! tested with `IS [NOT] NULL`. Columns without a declared type (the event
//! id, the time field) only get the NULL rule. It does not resolve column
//! names (`columns.rs`) nor decide where a column may appear.

use crate::error::{query_err, Result};
use crate::event::{FieldType, Schema};
use crate::query::ast::{BinaryOp, Expr, Literal, UnaryOp};

/// Checks every column-to-literal comparison in `e` against the schema.
pub(super) fn check_literals(schema: &Schema, e: &Expr) -> Result<()> {
    match e {
        Expr::Binary { op, left, right } if is_comparison(*op) => {
            compare(schema, left, right)?;
            compare(schema, right, left)?;
            check_literals(schema, left)?;
            check_literals(schema, right)
        }
        Expr::Binary { left, right, .. } => {
            check_literals(schema, left)?;
            check_literals(schema, right)
        }
        Expr::InList { expr, list, .. } => {
            for item in list {
                compare(schema, expr, item)?;
                check_literals(schema, item)?;
            }
            check_literals(schema, expr)
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            compare(schema, expr, low)?;
            compare(schema, expr, high)?;
            check_literals(schema, expr)?;
            check_literals(schema, low)?;
            check_literals(schema, high)
        }
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => check_literals(schema, expr),
        Expr::Function { args, .. } => args.iter().try_for_each(|a| check_literals(schema, a)),
        Expr::Aggregate { arg, filter, .. } => {
            arg.iter().try_for_each(|a| check_literals(schema, a))?;
            filter.iter().try_for_each(|f| check_literals(schema, f))
        }
        Expr::Column(_) | Expr::Literal(_) => Ok(()),
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq)
}

/// The kinds of value a literal can be, for the message.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Null,
    Number,
    Text,
    Boolean,
}

/// `column <op> literal`: refused when the literal can never match.
fn compare(schema: &Schema, column: &Expr, other: &Expr) -> Result<()> {
    let (Expr::Column(name), Some((kind, text))) = (column, literal(other)) else {
        return Ok(());
    };
    if kind == Kind::Null {
        return Err(query_err!(
            "a comparison with NULL is never true (NULL equals nothing, not even NULL); \
             write {name} IS NULL or {name} IS NOT NULL"
        ));
    }
    let Some(ty) = declared_type(schema, name) else {
        return Ok(());
    };
    let wanted = match ty {
        FieldType::Int | FieldType::Float => Kind::Number,
        FieldType::String => Kind::Text,
        FieldType::Bool => Kind::Boolean,
    };
    if kind == wanted {
        return Ok(());
    }
    let (what, hint) = match ty {
        FieldType::Int => ("an integer", "compare it with a number, such as 42".into()),
        FieldType::Float => ("a number", "compare it with a number, such as 0.5".into()),
        FieldType::String => (
            "a string",
            format!("quote the value: '{}'", unquoted(other)),
        ),
        FieldType::Bool => ("a boolean", "compare it with TRUE or FALSE".into()),
    };
    Err(query_err!(
        "{name} is {what} column; {text} never matches it ({hint})"
    ))
}

/// The literal an expression is (a negated number included), with its SQL.
fn literal(e: &Expr) -> Option<(Kind, String)> {
    let kind = match e {
        Expr::Literal(Literal::Null) => Kind::Null,
        Expr::Literal(Literal::Int(_) | Literal::Float(_)) => Kind::Number,
        Expr::Literal(Literal::Str(_)) => Kind::Text,
        Expr::Literal(Literal::Bool(_)) => Kind::Boolean,
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } if matches!(**expr, Expr::Literal(Literal::Int(_) | Literal::Float(_))) => Kind::Number,
        _ => return None,
    };
    Some((kind, e.to_string()))
}

/// A literal as the user would quote it: `1` for `1`, `TRUE` for `TRUE`.
fn unquoted(e: &Expr) -> String {
    e.to_string()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .to_string()
}

/// The declared type of a column: an actor key, a dimension, a metric or
/// an attribute; `None` for the event id and the time field.
fn declared_type(schema: &Schema, name: &str) -> Option<FieldType> {
    if let Some(a) = schema.actors.iter().find(|a| a.key == name) {
        return Some(a.key_type);
    }
    schema
        .dimensions
        .iter()
        .chain(&schema.metrics)
        .chain(&schema.attributes)
        .find(|f| f.field == name)
        .map(|f| f.ty)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{preset, select};
    use super::*;

    fn check(sql: &str) -> std::result::Result<(), String> {
        let schema = preset("reels");
        let s = select(sql);
        let e = s.filter.as_ref().expect("a WHERE clause");
        check_literals(&schema, e).map_err(|e| e.to_string())
    }

    #[test]
    fn item_17_type_mismatches_are_refused_on_every_column() {
        let refused = [
            ("SELECT COUNT(*) FROM events WHERE event_type = 1", "event_type is a string column; 1 never matches it (quote the value: '1')"),
            ("SELECT COUNT(*) FROM events WHERE session_id = 5", "session_id is a string column; 5 never matches it (quote the value: '5')"),
            ("SELECT COUNT(*) FROM events WHERE 'x' = user_id", "user_id is an integer column; 'x' never matches it (compare it with a number, such as 42)"),
            ("SELECT COUNT(*) FROM events WHERE event_type IN ('like', 1)", "event_type is a string column; 1 never matches it (quote the value: '1')"),
            ("SELECT COUNT(*) FROM events WHERE NOT (metadata.view_duration_ms > 'a')", "metadata.view_duration_ms is an integer column; 'a' never matches it (compare it with a number, such as 42)"),
            ("SELECT COUNT(*) FROM events WHERE event_type BETWEEN 1 AND 'z'", "event_type is a string column; 1 never matches it (quote the value: '1')"),
        ];
        for (sql, msg) in refused {
            assert_eq!(check(sql).err().as_deref(), Some(msg), "{sql}");
        }
        for col in ["event_type", "user_id", "event_id", "timestamp"] {
            let sql = format!("SELECT COUNT(*) FROM events WHERE {col} = NULL");
            let e = check(&sql).err().unwrap_or_default();
            assert!(e.contains(&format!("write {col} IS NULL")), "{sql}: {e}");
        }
        for sql in [
            "SELECT COUNT(*) FROM events WHERE event_type = 'like' AND user_id IN (1, -2)",
            "SELECT COUNT(*) FROM events WHERE metadata.video_position > 1",
            "SELECT COUNT(*) FROM events WHERE user_id > 1.5 OR event_type IS NULL",
            "SELECT COUNT(*) FROM events WHERE event_id = 'evt_1' OR event_id = 7",
        ] {
            assert_eq!(check(sql), Ok(()), "{sql}");
        }
    }
}
