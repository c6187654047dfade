//! The planner: a [`Select`] and the catalog → a [`Plan`].
//!
//! It resolves every column against the schema (actor key, dimension,
//! metric), decides the route (point, fan-out or global), evaluates WHERE
//! and FILTER on dimensions once per interned cell, and lowers the select
//! list, HAVING and ORDER BY to positional [`Scalar`]s over finished groups.
//! Everything the rolling state cannot answer is refused here, with why.

use std::sync::Arc;

use super::ast::{AggFunc, BinaryOp, Expr, Literal, OrderBy, Select, SelectItem, UnaryOp};
use super::plan::{AggInput, AggSpec, Buckets, Finish, Plan, Route, Scan, NO_VALUE};
use super::scalar::{Function, Row, Scalar};
use crate::error::{Error, Result};
use crate::event::{FieldType, Key, Schema, TimeSource};
use crate::time::{format_duration, Millis};
use crate::value::Value;
use crate::window::{SketchLayout, WindowSpec};

/// What the planner needs to know about the engine's state.
pub struct Catalog<'a> {
    pub schema: &'a Schema,
    /// Every interned cell's dimension values, by cell id.
    pub cells: &'a [Arc<[Value]>],
    /// The clock; `None` before any event (every window is then empty).
    pub now_ms: Option<Millis>,
    pub retention_ms: Millis,
    pub shards: usize,
    /// How many recent accepted events raw-row queries can read (0: none).
    pub recent_events: usize,
    /// The `rule_hits` table, for raw-row queries over it.
    pub rule_hits: HitLog<'a>,
}

/// What the planner knows of the `rule_hits` table: the engine keeps the
/// last hits of its rules, and its columns are the fields every hit has
/// followed by the rules' select-list columns.
#[derive(Debug, Clone, Copy, Default)]
pub struct HitLog<'a> {
    pub columns: &'a [String],
    /// How many hits the log keeps, for EXPLAIN.
    pub capacity: usize,
}

/// What a column name is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Key(usize),
    Dim(usize),
    Metric(usize),
    Time,
    Other,
}

pub fn plan(select: &Select, catalog: &Catalog) -> Result<Plan> {
    Planner {
        catalog,
        schema: catalog.schema,
    }
    .plan(select)
}

struct Planner<'a> {
    catalog: &'a Catalog<'a>,
    schema: &'a Schema,
}

/// The lowering context for post-aggregation expressions.
struct Outputs<'s> {
    aggs: Vec<AggSpec>,
    /// Aggregate expressions as written, parallel to `aggs` (for reuse).
    agg_exprs: Vec<Expr>,
    /// GROUP BY columns: the grouped actor kind, and grouped dimensions.
    group_key: Option<usize>,
    group_dims: Vec<usize>,
    /// Select-list aliases, usable in HAVING and ORDER BY.
    aliases: Vec<(String, &'s Expr)>,
    /// The `TIME_BUCKET(...)` call grouped by, if any: it reads as the
    /// group value after the dimensions.
    bucket: Option<&'s Expr>,
    /// The sketches the route's stores keep, and the route in words for
    /// messages about them.
    sketches: SketchLayout,
    route: Route,
    /// Sketch accumulators handed out so far.
    sketch_accs: usize,
}

impl<'a> Planner<'a> {
    fn plan(&self, select: &Select) -> Result<Plan> {
        let select = self.desugar_top(select)?;
        if select.from != "events" {
            return Err(Error::Query(format!(
                "unknown table '{}'; the stream is queried as FROM events",
                select.from
            )));
        }
        let window = self.window(select.window_ms)?;

        // GROUP BY: at most one actor key, and dimensions.
        let mut group_key = None;
        let mut group_dims = Vec::new();
        let mut group_by_names = Vec::new();
        let mut bucket: Option<(&Expr, Millis)> = None;
        for g in &select.group_by {
            let g = self.resolve_alias(g, &select.items);
            if let Some(width) = self.time_bucket(g)? {
                if bucket.is_some() {
                    return Err(Error::Query(
                        "GROUP BY names two time buckets; group by one".into(),
                    ));
                }
                bucket = Some((g, width));
                group_by_names.push(g.to_string());
                continue;
            }
            let Expr::Column(name) = g else {
                return Err(Error::Query(format!(
                    "GROUP BY {g}: group by columns (actor keys or dimensions), not expressions"
                )));
            };
            match self.column(name)? {
                Column::Key(k) if group_key.is_none_or(|g| g == k) => group_key = Some(k),
                Column::Key(_) => {
                    return Err(Error::Query(
                        "GROUP BY names two actor keys; no actor holds both, group by one".into(),
                    ))
                }
                Column::Dim(d) => group_dims.push(d),
                _ => return Err(self.not_groupable(name)),
            }
            group_by_names.push(name.clone());
        }

        // WHERE: conjuncts on dimensions (per cell) or on one kind's key.
        let mut cell_filter: Vec<Scalar> = Vec::new();
        let mut key_kind: Option<usize> = group_key;
        let mut key_filters: Vec<Scalar> = Vec::new();
        let mut point_keys: Option<Vec<Key>> = None;
        for conjunct in select.filter.iter().flat_map(conjuncts) {
            match self.classify(conjunct)? {
                Scope::Cells => cell_filter.push(self.lower_row(conjunct)?),
                Scope::Key(k) => {
                    if key_kind.is_some_and(|kk| kk != k) {
                        return Err(Error::Query(format!(
                            "WHERE filters on {} but the query is answered by {} actors; \
                             no actor holds both keys",
                            self.schema.actors[k].key,
                            self.schema.actors[key_kind.unwrap_or(k)].name
                        )));
                    }
                    key_kind = Some(k);
                    match (point_keys.is_none(), self.point_keys(conjunct, k)?) {
                        (true, Some(keys)) => point_keys = Some(keys),
                        _ => key_filters.push(self.lower_row(conjunct)?),
                    }
                }
            }
        }
        let route = match (key_kind, point_keys) {
            (Some(kind), Some(keys)) => Route::Point { kind, keys },
            (Some(kind), None) => Route::FanOut { kind },
            (None, _) => Route::Global,
        };

        // Cells: which pass WHERE, and the group of each.
        let mut dim_groups: Vec<Vec<Value>> = Vec::new();
        let mut group_ids: std::collections::HashMap<crate::event::DimValues, u32> =
            Default::default();
        let mut cell_groups = Vec::with_capacity(self.catalog.cells.len());
        for cell in self.catalog.cells {
            let row = Row {
                key: None,
                dims: cell,
                aggs: &[],
            };
            if !cell_filter.iter().all(|f| f.eval(&row).is_true()) {
                cell_groups.push(None);
                continue;
            }
            let values: Vec<Value> = group_dims
                .iter()
                .map(|&d| cell.get(d).cloned().unwrap_or(Value::Null))
                .collect();
            let next = dim_groups.len() as u32;
            let id = *group_ids
                .entry(crate::event::DimValues(values.clone().into()))
                .or_insert_with(|| {
                    dim_groups.push(values);
                    next
                });
            cell_groups.push(Some(id));
        }
        if dim_groups.is_empty() {
            dim_groups.push(vec![Value::Null; group_dims.len()]);
        }
        let buckets = bucket
            .map(|(_, width)| {
                self.buckets(
                    &window,
                    width,
                    group_key.is_none() && group_dims.is_empty(),
                    dim_groups.len(),
                )
            })
            .transpose()?;

        // Select list, HAVING, ORDER BY over finished groups.
        let sketches = match &route {
            Route::Global => SketchLayout::global(self.schema),
            Route::Point { kind, .. } | Route::FanOut { kind } => {
                SketchLayout::entity(self.schema, *kind)
            }
        };
        let mut out = Outputs {
            aggs: Vec::new(),
            agg_exprs: Vec::new(),
            group_key,
            group_dims,
            aliases: Vec::new(),
            bucket: bucket.map(|(e, _)| e),
            sketches,
            route: route.clone(),
            sketch_accs: 0,
        };
        let mut columns = Vec::new();
        let mut outputs = Vec::new();
        let mut cumulative = Vec::new();
        for item in &select.items {
            match item {
                SelectItem::Wildcard => {
                    return Err(Error::Query(
                        "SELECT * reads raw events, which this version does not keep; \
                         select aggregates (COUNT(*), SUM(x), ...) or group columns"
                            .into(),
                    ))
                }
                SelectItem::Expr { expr, alias } => {
                    let inner = match expr {
                        Expr::Function { name, args } if name == "cumulative" => {
                            let [arg] = args.as_slice() else {
                                return Err(Error::Query(
                                    "CUMULATIVE takes one argument: CUMULATIVE(n)".into(),
                                ));
                            };
                            cumulative.push(outputs.len());
                            arg
                        }
                        other => other,
                    };
                    outputs.push(self.lower_output(inner, &mut out, true)?);
                    let name = alias.clone().unwrap_or_else(|| default_name(expr));
                    if let Some(alias) = alias {
                        out.aliases.push((alias.clone(), expr));
                    }
                    columns.push(name);
                }
            }
        }
        if out.aggs.is_empty() && select.group_by.is_empty() {
            return Err(Error::Query(
                "a query without aggregates or GROUP BY reads raw events, which this version \
                 does not keep; add an aggregate such as COUNT(*)"
                    .into(),
            ));
        }
        let having = select
            .having
            .as_ref()
            .map(|h| self.lower_output(h, &mut out, false))
            .transpose()?;
        let mut order = Vec::new();
        let mut order_by_names = Vec::new();
        for OrderBy { expr, desc } in &select.order_by {
            let lowered = match expr {
                Expr::Literal(Literal::Int(n)) => {
                    let i = usize::try_from(*n)
                        .ok()
                        .filter(|i| (1..=outputs.len()).contains(i))
                        .ok_or_else(|| {
                            Error::Query(format!(
                                "ORDER BY {n}: there are {} output columns",
                                outputs.len()
                            ))
                        })?;
                    outputs[i - 1].clone()
                }
                _ => self.lower_output(expr, &mut out, false)?,
            };
            order.push((lowered, *desc));
            order_by_names.push(format!("{expr} {}", if *desc { "DESC" } else { "ASC" }));
        }
        let finish = Finish {
            columns,
            outputs,
            having,
            order,
            limit: select.limit,
            single_row: select.group_by.is_empty(),
            cumulative,
        };
        // Running totals need every group in order: the router finishes.
        let disjoint =
            group_key.is_some() && !matches!(route, Route::Global) && finish.cumulative.is_empty();
        let kind_names = self.schema.actors.iter().map(|a| a.name.clone()).collect();
        let key_filter = key_filters
            .into_iter()
            .reduce(|a, b| Scalar::Binary(BinaryOp::And, Box::new(a), Box::new(b)));
        let scan = Scan {
            window,
            route,
            key_filter,
            group_by_key: group_key.is_some(),
            cell_groups,
            dim_groups,
            buckets,
            aggs: out.aggs,
            finish_at_shard: disjoint.then(|| finish.clone()),
        };
        Ok(Plan {
            scan: Arc::new(scan),
            finish,
            kind_names,
            shards: self.catalog.shards,
            group_by: group_by_names,
            filter: select.filter.as_ref().map(|f| f.to_string()),
            order_by: order_by_names,
        })
    }

    /// `SELECT TOP k col ...` → `SELECT col, COUNT(*) AS count ... GROUP BY
    /// col ORDER BY count DESC, col ASC LIMIT k`.
    fn desugar_top(&self, select: &Select) -> Result<Select> {
        let Some(k) = select.top else {
            return Ok(select.clone());
        };
        let col =
            match select.items.as_slice() {
                [SelectItem::Expr {
                    expr: expr @ Expr::Column(_),
                    alias: None,
                }] => expr.clone(),
                _ => return Err(Error::Query(
                    "SELECT TOP k takes exactly one column: SELECT TOP 3 event_type FROM events"
                        .into(),
                )),
            };
        if !select.group_by.is_empty()
            || !select.order_by.is_empty()
            || select.limit.is_some()
            || select.having.is_some()
        {
            return Err(Error::Query(
                "SELECT TOP k already groups, orders and limits; drop GROUP BY, HAVING, ORDER BY and LIMIT".into(),
            ));
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

    fn window(&self, window_ms: Option<Millis>) -> Result<WindowSpec> {
        let retention = self.catalog.retention_ms;
        WindowSpec::new(
            window_ms.unwrap_or(retention),
            self.catalog.now_ms,
            retention,
        )
    }

    fn column(&self, name: &str) -> Result<Column> {
        let s = self.schema;
        if let Some(k) = s.actor(name) {
            return Ok(Column::Key(k));
        }
        if let Some(d) = s.dimension(name) {
            return Ok(Column::Dim(d));
        }
        if let Some(m) = s.metric(name) {
            return Ok(Column::Metric(m));
        }
        if matches!(&s.time, TimeSource::Field(t) if t == name) {
            return Ok(Column::Time);
        }
        if s.columns().iter().any(|c| c == name) {
            return Ok(Column::Other);
        }
        Err(unknown_column(name, &s.columns()))
    }

    /// `TIME_BUCKET(width, time)`: its width, or `None` for any other
    /// expression.
    fn time_bucket(&self, e: &Expr) -> Result<Option<Millis>> {
        let Expr::Function { name, args } = e else {
            return Ok(None);
        };
        if name != "time_bucket" {
            return Ok(None);
        }
        let time = match &self.schema.time {
            TimeSource::Field(t) => t.as_str(),
            TimeSource::Arrival => "",
        };
        let usage = || {
            Error::Query(format!(
                "write TIME_BUCKET(width, {}), like TIME_BUCKET(1h, {0})",
                if time.is_empty() { "time" } else { time }
            ))
        };
        let [width, column] = args.as_slice() else {
            return Err(usage());
        };
        match column {
            Expr::Column(c) if c == time => {}
            Expr::Column(c) if time.is_empty() => {
                return Err(Error::Query(format!(
                    "TIME_BUCKET({width}, {c}): schema {} has no time field (events are timed on arrival)",
                    self.schema.name
                )))
            }
            _ => return Err(usage()),
        }
        let Expr::Literal(Literal::Str(text)) = width else {
            return Err(usage());
        };
        let width = crate::time::parse_duration(text)
            .map_err(|e| Error::Query(format!("TIME_BUCKET width '{text}': {e}")))?;
        Ok(Some(width))
    }

    /// The buckets of `window` for a width, checked against its panes.
    fn buckets(
        &self,
        window: &WindowSpec,
        width_ms: Millis,
        fill_empty: bool,
        dim_groups: usize,
    ) -> Result<Buckets> {
        let pane_ms = window.pane_secs() * 1000;
        if width_ms < pane_ms || width_ms % pane_ms != 0 {
            return Err(Error::Query(format!(
                "TIME_BUCKET width {} must be a whole number of the window's {} panes \
                 (1 s panes up to WINDOW 1h, 1 min beyond)",
                format_duration(width_ms),
                format_duration(pane_ms)
            )));
        }
        let first_ms = window.first_pane() * pane_ms;
        let first = first_ms.div_euclid(width_ms);
        let count = window.now_ms.div_euclid(width_ms) - first + 1;
        const MAX_GROUPS: i64 = 1 << 20;
        if count.saturating_mul(dim_groups as i64) > MAX_GROUPS {
            return Err(Error::Query(format!(
                "TIME_BUCKET width {} cuts WINDOW {} into {count} buckets; use a wider bucket",
                format_duration(width_ms),
                format_duration(window.length_ms)
            )));
        }
        Ok(Buckets {
            width_ms,
            first,
            count: count.max(1) as u32,
            // Before the first event there is no range to fill.
            fill_empty: fill_empty && self.catalog.now_ms.is_some(),
        })
    }

    fn not_groupable(&self, name: &str) -> Error {
        let why = match self.column(name) {
            Ok(Column::Metric(_)) => "it is a metric (aggregate it: SUM, AVG, MIN, MAX)",
            Ok(Column::Time) => "it is the event time (windows bound time: WINDOW 1h)",
            _ => "only actor keys and dimensions are kept in rolling state",
        };
        Error::Query(format!("cannot group by {name}: {why}"))
    }

    fn resolve_alias<'e>(&self, e: &'e Expr, items: &'e [SelectItem]) -> &'e Expr {
        if let Expr::Column(name) = e {
            if self.schema.columns().iter().any(|c| c == name) {
                return e;
            }
            for item in items {
                if let SelectItem::Expr {
                    expr,
                    alias: Some(a),
                } = item
                {
                    if a == name {
                        return expr;
                    }
                }
            }
        }
        e
    }

    /// Which state a WHERE conjunct can be evaluated on.
    fn classify(&self, e: &Expr) -> Result<Scope> {
        let mut keys = Vec::new();
        let mut dims = false;
        let mut problem: Option<Error> = None;
        visit_columns(e, &mut |name, in_agg| {
            if problem.is_some() {
                return;
            }
            if in_agg {
                problem = Some(Error::Query(
                    "aggregates are not allowed in WHERE; use HAVING".into(),
                ));
                return;
            }
            match self.column(name) {
                Ok(Column::Key(k)) => keys.push(k),
                Ok(Column::Dim(_)) => dims = true,
                Ok(Column::Metric(_)) => {
                    problem = Some(Error::Query(format!(
                        "WHERE cannot filter on metric '{name}': rolling state keeps per-pane \
                         aggregates of metrics, not each event's value; filter on dimensions ({}) \
                         or actor keys, or use HAVING on an aggregate",
                        self.schema.dimensions.iter().map(|d| d.field.as_str()).collect::<Vec<_>>().join(", ")
                    )))
                }
                Ok(Column::Time) => {
                    problem = Some(Error::Query(format!(
                        "WHERE cannot filter on the event time '{name}'; bound time with WINDOW d"
                    )))
                }
                Ok(Column::Other) => {
                    problem = Some(Error::Query(format!(
                        "WHERE cannot filter on '{name}': it is checked on ingest but not kept in rolling state"
                    )))
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
            ([_], true) => Err(Error::Query(format!(
                "WHERE {e}: split conditions on actor keys and on dimensions with AND"
            ))),
            _ => Err(Error::Query(format!(
                "WHERE {e}: no actor holds two different keys"
            ))),
        }
    }

    /// `key = lit` or `key IN (lits)`: the keys of a point query.
    fn point_keys(&self, e: &Expr, kind: usize) -> Result<Option<Vec<Key>>> {
        let literals: Vec<&Expr> = match e {
            Expr::Binary {
                op: BinaryOp::Eq,
                left,
                right,
            } => match (&**left, &**right) {
                (Expr::Column(_), lit @ Expr::Literal(_))
                | (lit @ Expr::Literal(_), Expr::Column(_)) => vec![lit],
                _ => return Ok(None),
            },
            Expr::InList {
                expr,
                list,
                negated: false,
            } if matches!(**expr, Expr::Column(_)) => list.iter().collect(),
            _ => return Ok(None),
        };
        let actor = &self.schema.actors[kind];
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
                    return Err(Error::Query(format!(
                        "{} is {ty} key; {l} never matches it",
                        actor.key
                    )));
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
    fn lower_row(&self, e: &Expr) -> Result<Scalar> {
        lower(e, &mut |e| match e {
            Expr::Column(name) => match self.column(name)? {
                Column::Key(_) => Ok(Some(Scalar::Key)),
                Column::Dim(d) => Ok(Some(Scalar::Dim(d))),
                _ => Err(Error::Query(format!("'{name}' cannot be used here"))),
            },
            Expr::Aggregate { .. } => Err(Error::Query(
                "aggregates are not allowed in WHERE or FILTER; use HAVING".into(),
            )),
            _ => Ok(None),
        })
    }

    /// Lowers a select item, HAVING or ORDER BY expression over finished
    /// groups.
    fn lower_output<'s>(
        &self,
        e: &'s Expr,
        out: &mut Outputs<'s>,
        in_select: bool,
    ) -> Result<Scalar> {
        lower(e, &mut |e| match e {
            Expr::Aggregate { .. } => self.aggregate(e, out).map(Some),
            Expr::Function { name, .. } if name == "time_bucket" => {
                match out.bucket.filter(|b| *b == e) {
                    Some(_) => Ok(Some(Scalar::Dim(out.group_dims.len()))),
                    None => Err(Error::Query(format!(
                        "{e} must appear in GROUP BY (by itself or by its alias)"
                    ))),
                }
            }
            Expr::Function { name, .. } if name == "cumulative" => Err(Error::Query(
                "CUMULATIVE(x) is a select-list column of its own, like CUMULATIVE(n) AS running"
                    .into(),
            )),
            Expr::Column(name) => {
                // HAVING and ORDER BY see select aliases first; the select
                // list itself sees earlier aliases that are not columns
                // (`COUNT(*) AS views, shares / views AS ratio`).
                let is_column = self.schema.columns().iter().any(|c| c == name);
                if !in_select || !is_column {
                    if let Some((_, expr)) = out.aliases.iter().rev().find(|(a, _)| a == name) {
                        let expr: &Expr = expr;
                        return self.lower_output(expr, out, true).map(Some);
                    }
                }
                let column = self.column(name);
                match column {
                    Ok(Column::Key(k)) if out.group_key == Some(k) => Ok(Some(Scalar::Key)),
                    Ok(Column::Dim(d)) => match out.group_dims.iter().position(|g| *g == d) {
                        Some(i) => Ok(Some(Scalar::Dim(i))),
                        None => Err(not_grouped(name)),
                    },
                    Ok(_) => Err(not_grouped(name)),
                    Err(_) if !in_select && name == "count" => {
                        Err(unknown_column(name, &self.schema.columns()))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Ok(None),
        })
    }

    fn aggregate(&self, e: &Expr, out: &mut Outputs) -> Result<Scalar> {
        if let Some(i) = out.agg_exprs.iter().position(|x| x == e) {
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
            return Err(Error::Query(format!(
                "{e}: DISTINCT applies only to COUNT; write COUNT(DISTINCT column)"
            )));
        }
        let n_cells = self.catalog.cells.len();
        let mut cells: Option<Vec<bool>> = None;
        if let Some(filter) = filter {
            if self.classify(filter)? != Scope::Cells {
                return Err(Error::Query(format!(
                    "{e}: FILTER (WHERE ...) may test dimensions only; filter actor keys in WHERE"
                )));
            }
            let f = self.lower_row(filter)?;
            cells = Some(
                self.catalog
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
                    .collect(),
            );
        }
        let sketch_func = *distinct
            || matches!(
                func,
                AggFunc::ApproxCountDistinct | AggFunc::Median | AggFunc::Percentile(_)
            );
        let (input, integer) = match arg.as_deref() {
            Some(Expr::Column(name)) if sketch_func => {
                let (input, non_null) = self.sketch_input(e, name, out)?;
                if let Some(non_null) = non_null {
                    cells = Some(match cells {
                        Some(f) => f.iter().zip(non_null).map(|(a, b)| *a && b).collect(),
                        None => non_null,
                    });
                }
                // Percentiles of an integer metric answer integers: the
                // sketch's 1 % error is far coarser than the rounding.
                let integer = matches!(input, AggInput::Quantile { metric, .. }
                    if self.schema.metrics[metric].ty == FieldType::Int);
                (input, integer)
            }
            None => (AggInput::Events, false),
            Some(Expr::Column(name)) => match (self.column(name)?, func) {
                (Column::Metric(m), _) => (
                    AggInput::Metric(m),
                    self.schema.metrics[m].ty == FieldType::Int,
                ),
                (Column::Key(_) | Column::Time, AggFunc::Count) => (AggInput::Events, false),
                (Column::Dim(d), AggFunc::Count) => {
                    let non_null = self
                        .catalog
                        .cells
                        .iter()
                        .map(|c| !c.get(d).is_none_or(Value::is_null));
                    cells = Some(match cells {
                        Some(f) => f.iter().zip(non_null).map(|(a, b)| *a && b).collect(),
                        None => non_null.collect(),
                    });
                    (AggInput::Events, false)
                }
                (_, f) => {
                    return Err(Error::Query(format!(
                        "{f}({name}): '{name}' is not a metric; {f} takes one of {}",
                        self.schema
                            .metrics
                            .iter()
                            .map(|m| m.field.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            },
            Some(other) => {
                return Err(Error::Query(format!(
                    "{func}({other}): aggregate a column, e.g. {func}({})",
                    self.schema
                        .metrics
                        .first()
                        .map_or("x", |m| m.field.as_str())
                )))
            }
        };
        debug_assert!(cells.as_ref().is_none_or(|c| c.len() == n_cells));
        let label = match &input {
            AggInput::Quantile { .. } => format!("{e} [percentile sketch, ±1%]"),
            AggInput::Distinct { .. } => format!("{e} [HyperLogLog, ±0.8%]"),
            AggInput::DimValues { .. } => format!("{e} [exact, from cells]"),
            AggInput::Presence => format!("{e} [exact: one actor per group]"),
            _ => e.to_string(),
        };
        if input.sketch_acc().is_some() {
            out.sketch_accs += 1;
        }
        out.aggs.push(AggSpec {
            func: *func,
            input,
            cells,
            integer,
            label,
        });
        out.agg_exprs.push(e.clone());
        Ok(Scalar::Agg(out.aggs.len() - 1))
    }
}

impl Planner<'_> {
    /// The input of `MEDIAN`, `PERCENTILE` or `COUNT(DISTINCT)` of column
    /// `name`, from what the route's stores keep; with, for exact distinct
    /// counts of a dimension, which cells are non-NULL. Refuses, saying
    /// what is kept, when the route keeps no sketch of the column.
    fn sketch_input(
        &self,
        e: &Expr,
        name: &str,
        out: &Outputs,
    ) -> Result<(AggInput, Option<Vec<bool>>)> {
        let Expr::Aggregate { func, .. } = e else {
            return Err(Error::Internal("aggregate expected".into()));
        };
        let acc = out.sketch_accs;
        let column = self.column(name)?;
        let schema = self.schema;
        let route = match &out.route {
            Route::Global => "the global state".to_string(),
            Route::Point { kind, .. } | Route::FanOut { kind } => {
                format!("{} actors", schema.actors[*kind].name)
            }
        };
        let list = |v: Vec<&str>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        if matches!(func, AggFunc::Median | AggFunc::Percentile(_)) {
            let Column::Metric(m) = column else {
                return Err(Error::Query(format!(
                    "{e}: '{name}' is not a metric; percentiles are kept for {}",
                    list(schema.percentiles.iter().map(String::as_str).collect())
                )));
            };
            let Some(sketch) = out.sketches.percentile_of(m) else {
                let declared = schema.percentiles.iter().any(|p| p == name);
                let actor = match &out.route {
                    Route::Point { kind, .. } | Route::FanOut { kind } => schema.actors.get(*kind),
                    Route::Global => None,
                };
                if let (Some(actor), true) = (actor, declared) {
                    return Err(Error::Query(format!(
                        "{e}: {} actors keep no percentile sketches (they cost memory per \
                         pane); percentiles are global — drop the {} condition — or set \
                         \"percentiles\": true on the actor kind in a schema file",
                        actor.name, actor.key
                    )));
                }
                return Err(Error::Query(format!(
                    "{e}: no percentile sketch of '{name}' is kept; the schema keeps them for {} \
                     (declare \"percentiles\": [\"{name}\"] in a schema file)",
                    list(schema.percentiles.iter().map(String::as_str).collect())
                )));
            };
            return Ok((
                AggInput::Quantile {
                    metric: m,
                    sketch,
                    acc,
                },
                None,
            ));
        }
        // COUNT(DISTINCT x) / APPROX_COUNT_DISTINCT(x).
        let sources = schema.distinct_sources();
        let kept: Vec<&str> = out
            .sketches
            .distinct
            .iter()
            .filter_map(|&d| sources.get(d).map(|(n, _)| n.as_str()))
            .collect();
        let refuse = |why: String| {
            Error::Query(format!(
                "{e}: {why}; {route} keep distinct sketches of {} (and count every dimension \
                 exactly)",
                list(kept.clone())
            ))
        };
        match column {
            Column::Dim(d) => {
                let mut ids: std::collections::HashMap<crate::event::DimValues, u32> =
                    Default::default();
                let mut values = Vec::with_capacity(self.catalog.cells.len());
                let mut non_null = Vec::with_capacity(self.catalog.cells.len());
                for cell in self.catalog.cells {
                    let v = cell.get(d).cloned().unwrap_or(Value::Null);
                    non_null.push(!v.is_null());
                    if v.is_null() {
                        values.push(NO_VALUE);
                        continue;
                    }
                    let next = ids.len() as u32;
                    values.push(
                        *ids.entry(crate::event::DimValues(Box::new([v])))
                            .or_insert(next),
                    );
                }
                Ok((AggInput::DimValues { values, acc }, Some(non_null)))
            }
            Column::Key(k) if matches!(out.route, Route::Point { kind, .. } | Route::FanOut { kind } if kind == k) =>
            {
                let one_actor = out.group_key == Some(k)
                    || matches!(&out.route, Route::Point { keys, .. } if keys.len() == 1);
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
                    return Err(Error::Query(format!(
                        "{e}: no distinct sketch of '{name}' is kept; the schema keeps them for {} \
                         and counts dimensions exactly (declare \"distinct\": [\"{name}\"] in a \
                         schema file)",
                        list(declared)
                    )));
                };
                match out.sketches.distinct_of(d) {
                    Some(sketch) => Ok((AggInput::Distinct { sketch, acc }, None)),
                    None => Err(refuse(format!(
                        "{route} keep no distinct sketch of '{name}' (it is kept in the global \
                         state: drop the actor key from WHERE and GROUP BY)"
                    ))),
                }
            }
            Column::Metric(_) => Err(Error::Query(format!(
                "{e}: '{name}' is a metric; distinct counts of metrics are not kept (panes keep \
                 their count, sum, min, max and percentiles); count distinct actor keys, \
                 attributes or dimensions"
            ))),
            Column::Time => Err(Error::Query(format!(
                "{e}: '{name}' is the event time; distinct times are not kept"
            ))),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Scope {
    Cells,
    Key(usize),
}

fn not_grouped(name: &str) -> Error {
    Error::Query(format!(
        "column '{name}' must appear in GROUP BY or be used in an aggregate"
    ))
}

/// "unknown column 'usr_id'; did you mean 'user_id'? Known columns: ..."
pub(super) fn unknown_column(name: &str, known: &[String]) -> Error {
    let best = known
        .iter()
        .map(|k| (edit_distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    let hint = best
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    Error::Query(format!(
        "unknown column '{name}'{hint}; known columns: {}",
        known.join(", ")
    ))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

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
            let items = list.iter().map(|x| lower(x, leaf)).collect::<Result<_>>()?;
            Scalar::InList(head, items, *negated)
        }
        Expr::Function { name, args } => {
            let f = Function::by_name(name).ok_or_else(|| {
                Error::Query(format!("unknown function {name}(); functions: {}, and the aggregates count, sum, min, max, avg, median, percentile, approx_count_distinct", Function::NAMES.join(", ")))
            })?;
            if !f.arity().contains(&args.len()) {
                return Err(Error::Query(format!(
                    "{name}() takes {:?} arguments, got {}",
                    f.arity(),
                    args.len()
                )));
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
