//! WHERE and the route: which state answers, and what it filters.
//!
//! Rolling state is kept per cell (a combination of dimension values) and
//! per actor, so each AND-ed condition of WHERE is either on dimensions —
//! evaluated once per interned cell, at plan time — or on one actor kind's
//! key — evaluated once per actor. This file owns that split, the route it
//! implies (a point query on the named keys, a fan-out over every actor of
//! the kind, or the global state), and the refusal of conditions on what
//! the state does not keep (metrics, the event time). It also lowers a
//! condition over one row of dimensions and key, which FILTER reuses. It
//! does not know how shards are reached (the engine's fan-out does).

use std::sync::Arc;

use super::columns::{column, Column};
use super::literals::check_literals;
use super::lower::{lower, visit_columns};
use crate::error::{query_err, Error, Result};
use crate::event::{FieldType, Key, Schema};
use crate::query::ast::{BinaryOp, Expr, Literal, Select};
use crate::query::plan::Route;
use crate::query::scalar::Scalar;

/// WHERE, planned.
pub(super) struct Where {
    /// The conditions on dimensions, each evaluated per cell.
    pub cell_filter: Vec<Scalar>,
    /// The conditions on the route's key that do not name keys outright,
    /// AND-ed (e.g. `user_id > 100`).
    pub key_filter: Option<Scalar>,
    pub route: Route,
}

/// Splits WHERE into per-cell and per-key conditions and picks the route.
/// `group_key` is the actor kind grouped by, which a key condition must
/// agree with.
pub(super) fn plan_where(
    select: &Select,
    schema: &Schema,
    group_key: Option<usize>,
) -> Result<Where> {
    let mut cell_filter: Vec<Scalar> = Vec::new();
    let mut key_kind: Option<usize> = group_key;
    let mut key_filters: Vec<Scalar> = Vec::new();
    let mut point_keys: Option<Vec<Key>> = None;
    if let Some(f) = &select.filter {
        check_literals(schema, f)?;
    }
    for conjunct in select.filter.iter().flat_map(conjuncts) {
        match classify(schema, conjunct)? {
            Scope::Cells => cell_filter.push(lower_row(schema, conjunct)?),
            Scope::Key(k) => {
                if key_kind.is_some_and(|kk| kk != k) {
                    return Err(query_err!(
                        "WHERE filters on {} but the query is answered by {} actors; \
                         no actor holds both keys",
                        schema.actors[k].key,
                        schema.actors[key_kind.unwrap_or(k)].name
                    ));
                }
                key_kind = Some(k);
                // The first condition naming keys outright makes a point
                // query; later ones filter the keys it names.
                match (point_keys.is_none(), keys_named(schema, conjunct, k)?) {
                    (true, Some(keys)) => point_keys = Some(keys),
                    _ => key_filters.push(lower_row(schema, conjunct)?),
                }
            }
        }
    }
    let route = match (key_kind, point_keys) {
        (Some(kind), Some(keys)) => Route::Point { kind, keys },
        (Some(kind), None) => Route::FanOut { kind },
        (None, _) => Route::Global,
    };
    let key_filter = key_filters
        .into_iter()
        .reduce(|a, b| Scalar::Binary(BinaryOp::And, Box::new(a), Box::new(b)));
    Ok(Where {
        cell_filter,
        key_filter,
        route,
    })
}

/// Which state a condition can be evaluated on.
#[derive(Debug, PartialEq)]
pub(super) enum Scope {
    /// Dimensions only (or nothing): once per cell.
    Cells,
    /// The key of actor kind `.0`: once per actor.
    Key(usize),
}

/// Which state a WHERE conjunct (or a FILTER) can be evaluated on; refuses
/// aggregates and columns the state does not keep.
pub(super) fn classify(schema: &Schema, e: &Expr) -> Result<Scope> {
    let mut keys = Vec::new();
    let mut dims = false;
    let mut problem: Option<Error> = None;
    visit_columns(e, &mut |name, in_agg| {
        if problem.is_some() {
            return;
        }
        if in_agg {
            problem = Some(query_err!(
                "aggregates are not allowed in WHERE; use HAVING"
            ));
            return;
        }
        match column(schema, name) {
            Ok(Column::Key(k)) => keys.push(k),
            Ok(Column::Dim(_)) => dims = true,
            Ok(Column::Metric(_)) => {
                problem = Some(query_err!(
                    "WHERE cannot filter on metric '{name}': rolling state keeps per-pane \
                     aggregates of metrics, not each event's value; filter on dimensions ({}) \
                     or actor keys, or use HAVING on an aggregate",
                    schema
                        .dimensions
                        .iter()
                        .map(|d| d.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            Ok(Column::Time) => {
                problem = Some(query_err!(
                    "WHERE cannot filter on the event time '{name}'; bound time with WINDOW d"
                ))
            }
            Ok(Column::Other) => {
                problem = Some(query_err!(
                    "WHERE cannot filter on '{name}': it is checked on ingest but not kept in rolling state"
                ))
            }
            Err(e) => problem = Some(e),
        }
    });
    if let Some(p) = problem {
        return Err(p);
    }
    keys.dedup();
    match (keys.as_slice(), dims) {
        ([], _) => Ok(Scope::Cells),
        ([k], false) => Ok(Scope::Key(*k)),
        ([_], true) => Err(query_err!(
            "WHERE {e}: split conditions on actor keys and on dimensions with AND"
        )),
        _ => Err(query_err!("WHERE {e}: no actor holds two different keys")),
    }
}

/// `key = lit` or `key IN (lits)`: the keys of a point query; `None` for
/// any other condition.
fn keys_named(schema: &Schema, e: &Expr, kind: usize) -> Result<Option<Vec<Key>>> {
    let literals: Vec<&Expr> = match e {
        Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } => match (&**left, &**right) {
            (Expr::Column(_), lit @ Expr::Literal(_))
            | (lit @ Expr::Literal(_), Expr::Column(_)) => {
                vec![lit]
            }
            _ => return Ok(None),
        },
        Expr::InList {
            expr,
            list,
            negated: false,
        } if matches!(**expr, Expr::Column(_)) => list.iter().collect(),
        _ => return Ok(None),
    };
    let actor = &schema.actors[kind];
    let mut keys = Vec::new();
    for lit in literals {
        let Expr::Literal(l) = lit else {
            return Ok(None);
        };
        let key = match (actor.key_type, l) {
            (FieldType::Int, Literal::Int(i)) => Key::Int(*i),
            (FieldType::String, Literal::Str(s)) => Key::Str(Arc::from(s.as_str())),
            (ty, l) => {
                let ty = if ty == FieldType::Int {
                    "an integer"
                } else {
                    "a string"
                };
                return Err(query_err!(
                    "{} is {ty} key; {l} never matches it",
                    actor.key
                ));
            }
        };
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    Ok(Some(keys))
}

/// Lowers a WHERE / FILTER expression over one row of dimensions and
/// the entity key (Dim(i) = schema dimension i).
pub(super) fn lower_row(schema: &Schema, e: &Expr) -> Result<Scalar> {
    lower(e, &mut |e| match e {
        Expr::Column(name) => match column(schema, name)? {
            Column::Key(_) => Ok(Some(Scalar::Key)),
            Column::Dim(d) => Ok(Some(Scalar::Dim(d))),
            _ => Err(query_err!("'{name}' cannot be used here")),
        },
        Expr::Aggregate { .. } => Err(query_err!(
            "aggregates are not allowed in WHERE or FILTER; use HAVING"
        )),
        _ => Ok(None),
    })
}

/// The AND-ed conditions of an expression.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            let mut v = conjuncts(left);
            v.extend(conjuncts(right));
            v
        }
        other => vec![other],
    }
}
