//! The schema's roles as column names: every schema names the field that
//! holds an event's type and (unless events are timed on arrival) the field
//! that holds its time, and `type` and `time` name those fields in any
//! query, whatever the preset or schema file calls them (`event_type`,
//! `event`, `ts`, ...). A real column or a select-list alias of that name
//! wins (the clicks preset has a `type` column).
//!
//! The rewrite runs before planning, so every later stage, rules and
//! EXPLAIN included, sees the schema's own column names.

use super::columns::is_column;
use crate::event::{Schema, TimeSource};
use crate::query::ast::{Expr, OrderBy, Select, SelectItem};

/// `select` with `type` and `time` replaced by the columns they stand for.
pub(super) fn with_roles(select: &Select, schema: &Schema) -> Select {
    // The log of rule hits has columns of its own, and no roles.
    if select.from != "events" {
        return select.clone();
    }
    let aliases: Vec<&str> = select
        .items
        .iter()
        .filter_map(|item| match item {
            SelectItem::Expr { alias, .. } => alias.as_deref(),
            SelectItem::Wildcard => None,
        })
        .collect();
    let role = |name: &str| -> Option<String> {
        if is_column(schema, name) || aliases.contains(&name) {
            return None;
        }
        role_column(schema, name)
    };
    let mut out = select.clone();
    for item in &mut out.items {
        if let SelectItem::Expr { expr, .. } = item {
            rename(expr, &role);
        }
    }
    let exprs = out
        .filter
        .iter_mut()
        .chain(out.having.iter_mut())
        .chain(out.group_by.iter_mut())
        .chain(out.order_by.iter_mut().map(|OrderBy { expr, .. }| expr));
    for expr in exprs {
        rename(expr, &role);
    }
    out
}

/// The column a role name stands for: `type` the schema's type field,
/// `time` its time field.
pub(super) fn role_column(schema: &Schema, name: &str) -> Option<String> {
    match name {
        "type" => schema.type_field.clone(),
        "time" => match &schema.time {
            TimeSource::Field(field) => Some(field.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Renames every column of `expr` that `role` maps.
fn rename(expr: &mut Expr, role: &dyn Fn(&str) -> Option<String>) {
    match expr {
        Expr::Column(name) => {
            if let Some(column) = role(name) {
                *name = column;
            }
        }
        Expr::Literal(_) => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => rename(expr, role),
        Expr::Binary { left, right, .. } => {
            rename(left, role);
            rename(right, role);
        }
        Expr::InList { expr, list, .. } => {
            rename(expr, role);
            list.iter_mut().for_each(|e| rename(e, role));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            rename(expr, role);
            rename(low, role);
            rename(high, role);
        }
        Expr::Aggregate { arg, filter, .. } => {
            arg.iter_mut().for_each(|e| rename(e, role));
            filter.iter_mut().for_each(|e| rename(e, role));
        }
        Expr::Function { args, .. } => args.iter_mut().for_each(|e| rename(e, role)),
    }
}
