//! Aggregates: each aggregate call of a query → what every slot adds to it.
//!
//! An aggregate reads events, a metric, or a sketch, from the cells its own
//! FILTER admits. This file owns turning an aggregate expression into an
//! [`AggSpec`] — its input, its per-cell mask, whether it answers an
//! integer, how EXPLAIN labels it — and handing the same accumulator to an
//! aggregate written twice (`COUNT(*) AS n ... HAVING COUNT(*) > 1`).
//! Which sketch answers a sketch aggregate is `sketches.rs`; where
//! aggregates may appear is the outputs' concern.

use super::catalog::Catalog;
use super::columns::{column, Column};
use super::literals::check_literals;
use super::route::{classify, lower_row, Scope};
use super::sketches::KeptSketches;
use crate::error::{query_err, Error, Result};
use crate::event::FieldType;
use crate::query::ast::{AggFunc, Expr};
use crate::query::plan::{AggInput, AggSpec, Route};
use crate::query::scalar::{Row, Scalar};
use crate::value::Value;

/// The aggregates of one query, in the order they were first met.
pub(super) struct Aggregates<'a> {
    catalog: &'a Catalog<'a>,
    sketches: KeptSketches<'a>,
    specs: Vec<AggSpec>,
    /// The aggregate expressions as written, parallel to `specs` (for reuse).
    exprs: Vec<Expr>,
    /// Sketch accumulators handed out so far.
    sketch_accs: usize,
}

impl<'a> Aggregates<'a> {
    /// No aggregates yet, for a query on `route` grouped by `group_key`.
    pub fn new(catalog: &'a Catalog<'a>, route: Route, group_key: Option<usize>) -> Self {
        Aggregates {
            catalog,
            sketches: KeptSketches::new(catalog, route, group_key),
            specs: Vec::new(),
            exprs: Vec::new(),
            sketch_accs: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    pub fn into_specs(self) -> Vec<AggSpec> {
        self.specs
    }

    /// The accumulator of aggregate `e`, added if it is new.
    pub fn lower(&mut self, e: &Expr) -> Result<Scalar> {
        if let Some(i) = self.exprs.iter().position(|x| x == e) {
            return Ok(Scalar::Agg(i));
        }
        let Expr::Aggregate {
            func,
            arg,
            distinct,
            filter,
        } = e
        else {
            return Err(Error::Internal("aggregate expected".into()));
        };
        if *distinct && *func != AggFunc::Count {
            return Err(query_err!(
                "{e}: DISTINCT applies only to COUNT; write COUNT(DISTINCT column)"
            ));
        }
        let mut cells = filter
            .as_deref()
            .map(|filter| self.filter_cells(e, filter))
            .transpose()?;
        let sketch_func = *distinct
            || matches!(
                func,
                AggFunc::ApproxCountDistinct | AggFunc::Median | AggFunc::Percentile(_)
            );
        let schema = self.catalog.schema;
        let (input, integer) = match arg.as_deref() {
            Some(Expr::Column(name)) if sketch_func => {
                let (input, non_null) = self.sketches.input(e, name, self.sketch_accs)?;
                if let Some(non_null) = non_null {
                    cells = Some(and(cells, non_null));
                }
                // Percentiles of an integer metric answer integers: the
                // sketch's 1 % error is far coarser than the rounding.
                let integer = matches!(input, AggInput::Quantile { metric, .. }
                    if schema.metrics[metric].ty == FieldType::Int);
                (input, integer)
            }
            None => (AggInput::Events, false),
            Some(Expr::Column(name)) => self.plain_input(*func, name, &mut cells)?,
            Some(other) => {
                return Err(query_err!(
                    "{func}({other}): aggregate a column, e.g. {func}({})",
                    schema.metrics.first().map_or("x", |m| m.field.as_str())
                ))
            }
        };
        debug_assert!(cells
            .as_ref()
            .is_none_or(|c| c.len() == self.catalog.cells.len()));
        let label = match &input {
            AggInput::Quantile { .. } => format!("{e} [percentile sketch, ±1%]"),
            AggInput::Distinct { .. } => format!("{e} [HyperLogLog, ±0.8%]"),
            AggInput::DimValues { .. } => format!("{e} [exact, from cells]"),
            AggInput::Presence => format!("{e} [exact: one actor per group]"),
            _ => e.to_string(),
        };
        if input.sketch_acc().is_some() {
            self.sketch_accs += 1;
        }
        self.specs.push(AggSpec {
            func: *func,
            input,
            cells,
            integer,
            label,
        });
        self.exprs.push(e.clone());
        Ok(Scalar::Agg(self.specs.len() - 1))
    }

    /// Per cell, whether the aggregate's `FILTER (WHERE filter)` admits it:
    /// a FILTER may test dimensions only, so it is decided once per cell.
    fn filter_cells(&self, e: &Expr, filter: &Expr) -> Result<Vec<bool>> {
        let schema = self.catalog.schema;
        check_literals(schema, filter)?;
        if classify(schema, filter)? != Scope::Cells {
            return Err(query_err!(
                "{e}: FILTER (WHERE ...) may test dimensions only; filter actor keys in WHERE"
            ));
        }
        let f = lower_row(schema, filter)?;
        Ok(self
            .catalog
            .cells
            .iter()
            .map(|c| {
                f.eval(&Row {
                    key: None,
                    dims: c,
                    aggs: &[],
                })
                .is_true()
            })
            .collect())
    }

    /// The input of `func(name)` when no sketch is involved, and whether it
    /// answers an integer. `COUNT(dimension)` counts only the cells where
    /// the dimension is not NULL, narrowing `cells`.
    fn plain_input(
        &self,
        func: AggFunc,
        name: &str,
        cells: &mut Option<Vec<bool>>,
    ) -> Result<(AggInput, bool)> {
        let schema = self.catalog.schema;
        Ok(match (column(schema, name)?, func) {
            (Column::Metric(m), _) => (AggInput::Metric(m), schema.metrics[m].ty == FieldType::Int),
            (Column::Key(_) | Column::Time, AggFunc::Count) => (AggInput::Events, false),
            (Column::Dim(d), AggFunc::Count) => {
                let non_null = self
                    .catalog
                    .cells
                    .iter()
                    .map(|c| !c.get(d).is_none_or(Value::is_null))
                    .collect();
                *cells = Some(and(cells.take(), non_null));
                (AggInput::Events, false)
            }
            (_, f) => {
                return Err(query_err!(
                    "{f}({name}): '{name}' is not a metric; {f} takes one of {}",
                    schema
                        .metrics
                        .iter()
                        .map(|m| m.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        })
    }
}

/// A cell mask narrowed by another: `None` admits every cell.
fn and(mask: Option<Vec<bool>>, other: Vec<bool>) -> Vec<bool> {
    match mask {
        Some(m) => m.iter().zip(other).map(|(a, b)| *a && b).collect(),
        None => other,
    }
}
