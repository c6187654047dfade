//! Sketch aggregates: which kept sketch answers `MEDIAN`, `PERCENTILE` and
//! `COUNT(DISTINCT)`, or why none does.
//!
//! Sketches cost memory per pane, so the schema says which columns keep
//! them and where (the global state, actor kinds); the route of a query
//! decides which stores it reads. This file owns matching a sketch
//! aggregate to what those stores keep (src/window/sketch.rs lays them
//! out), the exact alternatives (distinct dimension values from the cells,
//! the presence of a group's one actor), and the refusals that say what is
//! kept instead. Plain aggregates are not here (`aggregates.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::Catalog;
use super::columns::{column, Column};
use crate::error::{query_err, Error, Result};
use crate::event::{DimValues, Schema};
use crate::query::ast::{AggFunc, Expr};
use crate::query::plan::{AggInput, Route, NO_VALUE};
use crate::value::Value;
use crate::window::SketchLayout;

/// The sketches the route's stores keep, and what else decides whether one
/// answers.
pub(super) struct KeptSketches<'a> {
    schema: &'a Schema,
    cells: &'a [Arc<[Value]>],
    route: Route,
    layout: SketchLayout,
    /// The actor kind grouped by: each group is then one actor.
    group_key: Option<usize>,
}

/// A sketch aggregate's input, and, for exact distinct counts of a
/// dimension, which cells are non-NULL.
pub(super) type SketchInput = (AggInput, Option<Vec<bool>>);

impl<'a> KeptSketches<'a> {
    pub fn new(catalog: &'a Catalog, route: Route, group_key: Option<usize>) -> Self {
        let schema = catalog.schema;
        let layout = match &route {
            Route::Global => SketchLayout::global(schema),
            Route::Point { kind, .. } | Route::FanOut { kind } => {
                SketchLayout::entity(schema, *kind)
            }
        };
        KeptSketches {
            schema,
            cells: catalog.cells,
            route,
            layout,
            group_key,
        }
    }

    /// The input of `MEDIAN`, `PERCENTILE` or `COUNT(DISTINCT)` (the
    /// aggregate `e`) of column `name`, merged into sketch accumulator
    /// `acc`. Refuses, saying what is kept, when the route keeps no sketch
    /// of the column.
    pub fn input(&self, e: &Expr, name: &str, acc: usize) -> Result<SketchInput> {
        let Expr::Aggregate { func, .. } = e else {
            return Err(Error::Internal("aggregate expected".into()));
        };
        let column = column(self.schema, name)?;
        if matches!(func, AggFunc::Median | AggFunc::Percentile(_)) {
            return self.percentile(e, name, column, acc);
        }
        // COUNT(DISTINCT x) / APPROX_COUNT_DISTINCT(x).
        self.distinct(e, name, column, acc)
    }

    fn percentile(&self, e: &Expr, name: &str, column: Column, acc: usize) -> Result<SketchInput> {
        let schema = self.schema;
        let declared = || list(schema.percentiles.iter().map(String::as_str).collect());
        let Column::Metric(m) = column else {
            return Err(query_err!(
                "{e}: '{name}' is not a metric; percentiles are kept for {}",
                declared()
            ));
        };
        let Some(sketch) = self.layout.percentile_of(m) else {
            let actor = match &self.route {
                Route::Point { kind, .. } | Route::FanOut { kind } => schema.actors.get(*kind),
                Route::Global => None,
            };
            if let (Some(actor), true) = (actor, schema.percentiles.iter().any(|p| p == name)) {
                return Err(query_err!(
                    "{e}: {} actors keep no percentile sketches (they cost memory per \
                     pane); percentiles are global — drop the {} condition — or set \
                     \"percentiles\": true on the actor kind in a schema file",
                    actor.name,
                    actor.key
                ));
            }
            return Err(query_err!(
                "{e}: no percentile sketch of '{name}' is kept; the schema keeps them for {} \
                 (declare \"percentiles\": [\"{name}\"] in a schema file)",
                declared()
            ));
        };
        Ok((
            AggInput::Quantile {
                metric: m,
                sketch,
                acc,
            },
            None,
        ))
    }

    fn distinct(&self, e: &Expr, name: &str, column: Column, acc: usize) -> Result<SketchInput> {
        let sources = self.schema.distinct_sources();
        let route = self.route_words();
        let refuse = |why: String| {
            let kept: Vec<&str> = self
                .layout
                .distinct
                .iter()
                .filter_map(|&d| sources.get(d).map(|(n, _)| n.as_str()))
                .collect();
            query_err!(
                "{e}: {why}; {route} keep distinct sketches of {} (and count every dimension \
                 exactly)",
                list(kept)
            )
        };
        match column {
            Column::Dim(d) => Ok(self.dim_values(d, acc)),
            Column::Key(k) if matches!(self.route, Route::Point { kind, .. } | Route::FanOut { kind } if kind == k) =>
            {
                let one_actor = self.group_key == Some(k)
                    || matches!(&self.route, Route::Point { keys, .. } if keys.len() == 1);
                if one_actor {
                    Ok((AggInput::Presence, None))
                } else {
                    Err(refuse(format!(
                        "the query reads {route} without grouping by {name}, and an actor \
                         keeps no sketch of its own key; GROUP BY {name}, or count it in a \
                         global query (without {name} in WHERE)"
                    )))
                }
            }
            Column::Key(_) | Column::Other => {
                let Some(d) = sources.iter().position(|(n, _)| n == name) else {
                    let declared: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(query_err!(
                        "{e}: no distinct sketch of '{name}' is kept; the schema keeps them for {} \
                         and counts dimensions exactly (declare \"distinct\": [\"{name}\"] in a \
                         schema file)",
                        list(declared)
                    ));
                };
                match self.layout.distinct_of(d) {
                    Some(sketch) => Ok((AggInput::Distinct { sketch, acc }, None)),
                    None => Err(refuse(format!(
                        "{route} keep no distinct sketch of '{name}' (it is kept in the global \
                         state: drop the actor key from WHERE and GROUP BY)"
                    ))),
                }
            }
            Column::Metric(_) => Err(query_err!(
                "{e}: '{name}' is a metric; distinct counts of metrics are not kept (panes keep \
                 their count, sum, min, max and percentiles); count distinct actor keys, \
                 attributes or dimensions"
            )),
            Column::Time => Err(query_err!(
                "{e}: '{name}' is the event time; distinct times are not kept"
            )),
        }
    }

    /// `COUNT(DISTINCT dimension)`, exact: an id per distinct value of
    /// dimension `d` over the cells, and which cells are non-NULL.
    fn dim_values(&self, d: usize, acc: usize) -> SketchInput {
        let mut ids: HashMap<DimValues, u32> = HashMap::new();
        let mut values = Vec::with_capacity(self.cells.len());
        let mut non_null = Vec::with_capacity(self.cells.len());
        for cell in self.cells {
            let v = cell.get(d).cloned().unwrap_or(Value::Null);
            non_null.push(!v.is_null());
            if v.is_null() {
                values.push(NO_VALUE);
                continue;
            }
            let next = ids.len() as u32;
            values.push(*ids.entry(DimValues(Box::new([v]))).or_insert(next));
        }
        (AggInput::DimValues { values, acc }, Some(non_null))
    }

    /// The route in words, for messages about what it keeps.
    fn route_words(&self) -> String {
        match &self.route {
            Route::Global => "the global state".to_string(),
            Route::Point { kind, .. } | Route::FanOut { kind } => {
                format!("{} actors", self.schema.actors[*kind].name)
            }
        }
    }
}

/// Names, or "none".
fn list(v: Vec<&str>) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}
