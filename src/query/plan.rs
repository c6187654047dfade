//! Plans: what the planner decided, and the two halves that run it.
//!
//! A [`Plan`] has a [`Route`] (which state answers), a [`Scan`] (what every
//! actor computes from its panes: partial aggregates per group) and a
//! [`Finish`] (what the router does with merged groups: final values,
//! HAVING, ORDER BY, LIMIT). When every group lives in exactly one actor —
//! the query groups by that actor's key — shards run the finish themselves
//! and the router only merges sorted, limited rows.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::ast::AggFunc;
use super::scalar::{Row, Scalar};
use crate::event::{CellId, Key};
use crate::time::{format_duration, Millis};
use crate::value::{ResultSet, Value};
use crate::window::{Agg, Hll, MetricAgg, PaneStore, QuantileSketch, WindowSpec};

/// Which state answers the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The shards' global partials (no entity is touched).
    Global,
    /// The named entities of one actor kind, each on its own shard.
    Point { kind: usize, keys: Vec<Key> },
    /// Every entity of one actor kind, on every shard.
    FanOut { kind: usize },
}

/// What one aggregate reads from a pane slot.
#[derive(Debug, Clone, PartialEq)]
pub enum AggInput {
    /// The number of events (COUNT(*), COUNT(key), COUNT(dimension)).
    Events,
    /// One metric's count/sum/min/max.
    Metric(usize),
    /// `PERCENTILE`/`MEDIAN` of metric `metric`: its count/min/max in the
    /// plain accumulator (the answer is clamped into the exact [min, max]),
    /// and the percentile sketch at position `sketch` of the store's
    /// layout, merged into sketch accumulator `acc`.
    Quantile {
        metric: usize,
        sketch: usize,
        acc: usize,
    },
    /// `COUNT(DISTINCT key or attribute)`: the HyperLogLog at position
    /// `sketch` of the store's layout, merged into sketch accumulator `acc`.
    Distinct { sketch: usize, acc: usize },
    /// `COUNT(DISTINCT dimension)`, exact: per cell, the id of its value
    /// (`NO_VALUE` for NULL), collected as a set in accumulator `acc`.
    DimValues { values: Vec<u32>, acc: usize },
    /// `COUNT(DISTINCT own key)` where every group is one actor: 1 if the
    /// group had events, else 0.
    Presence,
}

/// [`AggInput::DimValues`]: the cell's value is NULL.
pub const NO_VALUE: u32 = u32::MAX;

impl AggInput {
    /// The sketch accumulator this input fills, if any.
    pub fn sketch_acc(&self) -> Option<usize> {
        match self {
            AggInput::Quantile { acc, .. }
            | AggInput::Distinct { acc, .. }
            | AggInput::DimValues { acc, .. } => Some(*acc),
            _ => None,
        }
    }
}

/// A sketch aggregate's accumulator, one per group.
#[derive(Debug, Clone, PartialEq)]
pub enum SketchAcc {
    Quantile(QuantileSketch),
    Distinct(Hll),
    /// Bit set of the dimension value ids seen.
    Values(Vec<u64>),
}

impl SketchAcc {
    /// Adds everything of `other` (accumulators of the same aggregate).
    pub fn merge(&mut self, other: &SketchAcc) {
        match (self, other) {
            (SketchAcc::Quantile(a), SketchAcc::Quantile(b)) => a.merge(b),
            (SketchAcc::Distinct(a), SketchAcc::Distinct(b)) => a.merge(b),
            (SketchAcc::Values(a), SketchAcc::Values(b)) => {
                if a.len() < b.len() {
                    a.resize(b.len(), 0);
                }
                for (x, y) in a.iter_mut().zip(b) {
                    *x |= y;
                }
            }
            _ => {}
        }
    }
}

/// A group's accumulators.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accs {
    /// One per aggregate (unused by distinct counts).
    pub plain: Vec<MetricAgg>,
    /// One per sketch aggregate ([`AggInput::sketch_acc`]); empty when the
    /// query has none, or the group none yet.
    pub sketches: Vec<SketchAcc>,
}

impl Accs {
    pub fn merge(&mut self, other: Accs) {
        for (a, b) in self.plain.iter_mut().zip(&other.plain) {
            a.merge(b);
        }
        if self.sketches.is_empty() {
            self.sketches = other.sketches;
        } else {
            for (a, b) in self.sketches.iter_mut().zip(&other.sketches) {
                a.merge(b);
            }
        }
    }
}

/// One aggregate to accumulate, e.g. `SUM(price) FILTER (WHERE event = 'purchase')`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    pub func: AggFunc,
    pub input: AggInput,
    /// Per cell: whether this aggregate's own FILTER (and, for
    /// COUNT(dimension), non-NULL) admits the cell. `None` admits all.
    pub cells: Option<Vec<bool>>,
    /// Integer-typed result for SUM/MIN/MAX of an integer metric.
    pub integer: bool,
    /// How EXPLAIN shows it.
    pub label: String,
}

impl AggSpec {
    /// The finished value of an accumulator.
    pub fn value(&self, acc: &MetricAgg) -> Value {
        let typed = |x: f64| {
            if self.integer && x.fract() == 0.0 && x.abs() < 9.0e15 {
                Value::Int(x as i64)
            } else {
                Value::Float(x)
            }
        };
        match self.func {
            AggFunc::Count => Value::Int(acc.count as i64),
            _ if acc.count == 0 => Value::Null,
            AggFunc::Sum => typed(acc.sum),
            AggFunc::Min => typed(acc.min),
            AggFunc::Max => typed(acc.max),
            AggFunc::Avg => Value::Float(acc.sum / acc.count as f64),
            AggFunc::Median | AggFunc::Percentile(_) | AggFunc::ApproxCountDistinct => Value::Null,
        }
    }

    /// The finished value, sketch aggregates included.
    pub fn value_with(&self, acc: &MetricAgg, sketches: &[SketchAcc]) -> Value {
        let sketch = self.input.sketch_acc().and_then(|i| sketches.get(i));
        match (&self.input, sketch) {
            (AggInput::Presence, _) => Value::Int(acc.count.min(1) as i64),
            (AggInput::Quantile { .. }, Some(SketchAcc::Quantile(q))) => {
                let p = match self.func {
                    AggFunc::Percentile(p) => p.0,
                    _ => 50.0,
                };
                match q.percentile(p, acc.min, acc.max) {
                    None => Value::Null,
                    Some(x) if self.integer => Value::Int(x.round() as i64),
                    Some(x) => Value::Float(x),
                }
            }
            (AggInput::Quantile { .. }, _) => Value::Null,
            (AggInput::Distinct { .. }, Some(SketchAcc::Distinct(h))) => {
                Value::Int(h.estimate() as i64)
            }
            (AggInput::DimValues { .. }, Some(SketchAcc::Values(bits))) => {
                Value::Int(bits.iter().map(|w| w.count_ones() as i64).sum())
            }
            (AggInput::Distinct { .. } | AggInput::DimValues { .. }, _) => Value::Int(0),
            _ => self.value(acc),
        }
    }
}

/// A group: the entity key when grouping by it, and the index of the
/// combination of grouped dimension values.
pub type GroupKey = (Option<Key>, u32);

/// Partial aggregates by group.
pub type Groups = HashMap<GroupKey, Accs>;

/// Reusable per-query buffers for [`Scan::accumulate`].
#[derive(Debug, Default)]
pub struct Scratch {
    /// Accumulators, `groups × aggregates`, kept at their default between
    /// stores.
    accs: Vec<MetricAgg>,
    touched: Vec<bool>,
    /// Sketch accumulators per dimension group, created on first touch and
    /// moved (not copied) into the group map.
    sketches: Vec<Vec<SketchAcc>>,
}

impl Scratch {
    fn reset(&mut self, groups: usize, aggs: usize) {
        if self.touched.len() != groups || self.accs.len() != groups * aggs {
            self.accs = vec![MetricAgg::default(); groups * aggs];
            self.touched = vec![false; groups];
            self.sketches = vec![Vec::new(); groups];
        }
    }
}

/// `GROUP BY TIME_BUCKET(width, time)`: the window cut into buckets of
/// `width_ms`, aligned to the epoch. A bucket behaves as one more grouped
/// dimension, computed per pane slot: group `g` of the scan is dimension
/// group `g / count`, bucket `first + g % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// A whole number of the window's panes, so a pane is in one bucket.
    pub width_ms: Millis,
    /// The bucket (start / width) holding the window's first pane.
    pub first: i64,
    /// Buckets from the window's first pane to now, partial ones included.
    pub count: u32,
    /// Whether buckets without events appear (with COUNT 0): when the
    /// bucket is the only group column.
    pub fill_empty: bool,
}

impl Buckets {
    /// The scan group of a pane starting at `start_ms` in dimension group `g`.
    fn group(&self, g: usize, start_ms: Millis) -> Option<usize> {
        let b = start_ms.div_euclid(self.width_ms) - self.first;
        (0..self.count as i64)
            .contains(&b)
            .then(|| g * self.count as usize + b as usize)
    }

    /// The start of bucket `b` (0-based from `first`), as a timestamp value.
    fn start(&self, b: u32) -> Value {
        Value::str(&crate::time::format_timestamp(
            (self.first + b as i64) * self.width_ms,
        ))
    }
}

/// What every actor (or global partial) computes. Sent to shards.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub window: WindowSpec,
    pub route: Route,
    /// Per-entity condition on the key (e.g. `user_id > 100`).
    pub key_filter: Option<Scalar>,
    pub group_by_key: bool,
    /// Per cell id: the group of its dimension values, or `None` when WHERE
    /// excludes the cell. Cells interned after planning are excluded.
    pub cell_groups: Vec<Option<u32>>,
    /// Per dimension group: the values of the GROUP BY dimensions.
    pub dim_groups: Vec<Vec<Value>>,
    /// `GROUP BY TIME_BUCKET(...)`, if any.
    pub buckets: Option<Buckets>,
    pub aggs: Vec<AggSpec>,
    /// Set when groups are disjoint across shards: shards finish them.
    pub finish_at_shard: Option<Finish>,
}

impl Scan {
    /// Adds one store's slots inside the window to `groups`. Slots are
    /// first summed into `scratch`, a dense array indexed by dimension
    /// group, so a store with many slots costs one map update per group,
    /// not one per slot.
    pub fn accumulate(
        &self,
        store: &PaneStore,
        key: Option<&Key>,
        groups: &mut Groups,
        scratch: &mut Scratch,
    ) {
        let n = self.aggs.len();
        let buckets = self.buckets.map_or(1, |b| b.count as usize);
        scratch.reset(self.dim_groups.len() * buckets, n);
        let sketched = self.has_sketches();
        store.fold_timed(&self.window, |start_ms, cell, agg| {
            let Some(&Some(g)) = self.cell_groups.get(cell as usize) else {
                return;
            };
            let g = match self.buckets {
                None => g as usize,
                Some(b) => match b.group(g as usize, start_ms) {
                    Some(g) => g,
                    None => return,
                },
            };
            scratch.touched[g] = true;
            self.add(cell, agg, &mut scratch.accs[g * n..(g + 1) * n]);
            if sketched {
                let accs = &mut scratch.sketches[g];
                if accs.is_empty() {
                    *accs = self.new_sketch_accs();
                }
                self.add_sketches(cell, agg, accs);
            }
        });
        let group_key = if self.group_by_key {
            key.cloned()
        } else {
            None
        };
        for g in 0..scratch.touched.len() {
            if !std::mem::take(&mut scratch.touched[g]) {
                continue;
            }
            let local = &mut scratch.accs[g * n..(g + 1) * n];
            let accs = groups
                .entry((group_key.clone(), g as u32))
                .or_insert_with(|| Accs {
                    plain: vec![MetricAgg::default(); n],
                    sketches: Vec::new(),
                });
            for (a, l) in accs.plain.iter_mut().zip(local.iter_mut()) {
                a.merge(l);
                *l = MetricAgg::default();
            }
            if sketched {
                let local = std::mem::take(&mut scratch.sketches[g]);
                if accs.sketches.is_empty() {
                    accs.sketches = local;
                } else {
                    for (a, l) in accs.sketches.iter_mut().zip(&local) {
                        a.merge(l);
                    }
                }
            }
        }
    }

    /// Whether any aggregate reads sketches (or collects dimension values).
    pub fn has_sketches(&self) -> bool {
        self.aggs.iter().any(|a| a.input.sketch_acc().is_some())
    }

    /// Empty accumulators for the sketch aggregates, in `acc` order.
    pub fn new_sketch_accs(&self) -> Vec<SketchAcc> {
        self.aggs
            .iter()
            .filter_map(|a| match &a.input {
                AggInput::Quantile { .. } => Some(SketchAcc::Quantile(QuantileSketch::default())),
                AggInput::Distinct { .. } => Some(SketchAcc::Distinct(Hll::default())),
                AggInput::DimValues { .. } => Some(SketchAcc::Values(Vec::new())),
                _ => None,
            })
            .collect()
    }

    fn add_sketches(&self, cell: CellId, agg: &Agg, accs: &mut [SketchAcc]) {
        for spec in &self.aggs {
            let Some(i) = spec.input.sketch_acc() else {
                continue;
            };
            if let Some(cells) = &spec.cells {
                if !cells.get(cell as usize).copied().unwrap_or(false) {
                    continue;
                }
            }
            let slot = agg.sketches.as_deref();
            match (&spec.input, accs.get_mut(i)) {
                (AggInput::Quantile { sketch, .. }, Some(SketchAcc::Quantile(q))) => {
                    if let Some(s) = slot.and_then(|s| s.quantiles.get(*sketch)) {
                        q.merge(s);
                    }
                }
                (AggInput::Distinct { sketch, .. }, Some(SketchAcc::Distinct(h))) => {
                    if let Some(s) = slot.and_then(|s| s.distinct.get(*sketch)) {
                        h.merge(s);
                    }
                }
                (AggInput::DimValues { values, .. }, Some(SketchAcc::Values(bits))) => {
                    match values.get(cell as usize) {
                        Some(&v) if v != NO_VALUE && agg.count > 0 => {
                            let (word, bit) = (v as usize / 64, v % 64);
                            if bits.len() <= word {
                                bits.resize(word + 1, 0);
                            }
                            bits[word] |= 1 << bit;
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }

    /// One group's aggregates over `store` inside `window` (not
    /// [`Self::window`]), added to `accs` (one per aggregate). For plans with
    /// a single dimension group — continuous rules, which group by the actor
    /// key alone — this is [`Self::accumulate`] without the group map: no
    /// allocation. Returns whether any slot passed WHERE, i.e. whether the
    /// group exists.
    pub fn accumulate_group(
        &self,
        store: &PaneStore,
        window: &WindowSpec,
        accs: &mut [MetricAgg],
    ) -> bool {
        let mut any = false;
        store.fold(window, |cell, agg| {
            if let Some(Some(_)) = self.cell_groups.get(cell as usize) {
                any = true;
                self.add(cell, agg, accs);
            }
        });
        any
    }

    /// Whether WHERE admits a cell: events of other cells cannot change
    /// this plan's answer.
    pub fn admits_cell(&self, cell: CellId) -> bool {
        matches!(self.cell_groups.get(cell as usize), Some(Some(_)))
    }

    fn add(&self, cell: CellId, agg: &Agg, accs: &mut [MetricAgg]) {
        for (spec, acc) in self.aggs.iter().zip(accs) {
            if let Some(cells) = &spec.cells {
                if !cells.get(cell as usize).copied().unwrap_or(false) {
                    continue;
                }
            }
            match spec.input {
                AggInput::Events | AggInput::Presence => acc.count += agg.count,
                AggInput::Metric(m) | AggInput::Quantile { metric: m, .. } => {
                    if let Some(x) = agg.metrics.get(m) {
                        acc.merge(x);
                    }
                }
                AggInput::Distinct { .. } | AggInput::DimValues { .. } => {}
            }
        }
    }

    /// The GROUP BY values of scan group `g`: its dimension values, then
    /// its time bucket's start when grouping by one.
    pub fn group_values(&self, g: u32) -> std::borrow::Cow<'_, [Value]> {
        let dims = |d: usize| self.dim_groups.get(d).map_or(&[][..], |d| d);
        match self.buckets {
            None => std::borrow::Cow::Borrowed(dims(g as usize)),
            Some(b) => {
                let mut values = dims((g / b.count) as usize).to_vec();
                values.push(b.start(g % b.count));
                std::borrow::Cow::Owned(values)
            }
        }
    }

    /// Whether an entity's key passes the key filter.
    pub fn admits_key(&self, key: &Key) -> bool {
        self.key_filter.as_ref().is_none_or(|f| {
            let v = key.to_value();
            let row = Row {
                key: Some(&v),
                dims: &[],
                aggs: &[],
            };
            f.eval(&row).is_true()
        })
    }
}

/// A finished row: its ORDER BY values, then its output values.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRow {
    pub sort: Vec<Value>,
    pub out: Vec<Value>,
}

/// From merged groups to result rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub columns: Vec<String>,
    pub outputs: Vec<Scalar>,
    pub having: Option<Scalar>,
    /// ORDER BY expressions and whether each is descending.
    pub order: Vec<(Scalar, bool)>,
    pub limit: Option<u64>,
    /// No GROUP BY: exactly one row, even over no events.
    pub single_row: bool,
    /// Output columns holding `CUMULATIVE(x)`: each row's value becomes the
    /// sum of `x` over itself and every row before it in the result order
    /// (before LIMIT).
    pub cumulative: Vec<usize>,
}

impl Finish {
    /// Finishes groups into rows, filtered, sorted and limited.
    pub fn rows(&self, scan: &Scan, groups: Groups) -> Vec<FinishedRow> {
        let mut groups: Vec<(GroupKey, Accs)> = groups.into_iter().collect();
        let empty = || Accs {
            plain: vec![MetricAgg::default(); scan.aggs.len()],
            sketches: scan.new_sketch_accs(),
        };
        if self.single_row && groups.is_empty() {
            groups.push(((None, 0), empty()));
        }
        if let Some(b) = scan.buckets.filter(|b| b.fill_empty) {
            let mut seen = vec![false; b.count as usize];
            for ((_, g), _) in &groups {
                if let Some(s) = seen.get_mut(*g as usize) {
                    *s = true;
                }
            }
            for (g, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
                groups.push(((None, g as u32), empty()));
            }
        }
        let mut rows = Vec::with_capacity(groups.len());
        for ((key, dim_group), accs) in groups {
            let aggs: Vec<Value> = scan
                .aggs
                .iter()
                .zip(&accs.plain)
                .map(|(s, a)| s.value_with(a, &accs.sketches))
                .collect();
            let key = key.map(|k| k.to_value());
            let dims = scan.group_values(dim_group);
            let row = Row {
                key: key.as_ref(),
                dims: &dims,
                aggs: &aggs,
            };
            if let Some(having) = &self.having {
                if !having.eval(&row).is_true() {
                    continue;
                }
            }
            rows.push(FinishedRow {
                sort: self.order.iter().map(|(e, _)| e.eval(&row)).collect(),
                out: self.outputs.iter().map(|e| e.eval(&row)).collect(),
            });
        }
        self.sort_and_limit(rows)
    }

    /// Sorts by ORDER BY (then by the whole output row, so that the answer
    /// never depends on hash order or shard count), computes running totals
    /// and applies LIMIT.
    pub fn sort_and_limit(&self, mut rows: Vec<FinishedRow>) -> Vec<FinishedRow> {
        let cmp = |a: &FinishedRow, b: &FinishedRow| {
            for ((x, y), (_, desc)) in a.sort.iter().zip(&b.sort).zip(&self.order) {
                let o = x.total_cmp(y);
                if o != std::cmp::Ordering::Equal {
                    return if *desc { o.reverse() } else { o };
                }
            }
            for (x, y) in a.out.iter().zip(&b.out) {
                let o = x.total_cmp(y);
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        };
        let limit = self
            .limit
            .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
        if !self.cumulative.is_empty() {
            rows.sort_by(cmp);
            for &c in &self.cumulative {
                let mut total = Value::Int(0);
                for row in &mut rows {
                    if let Some(v) = row.out.get_mut(c) {
                        total = running_sum(&total, v);
                        *v = total.clone();
                    }
                }
            }
            rows.truncate(limit);
            return rows;
        }
        if limit < rows.len() {
            if limit > 0 {
                rows.select_nth_unstable_by(limit - 1, cmp);
            }
            rows.truncate(limit);
        }
        rows.sort_by(cmp);
        rows
    }

    /// Finishes one group of a plan without GROUP BY dimensions nor sketch
    /// aggregates: its aggregate values go into `aggs` (reused between
    /// calls), and the result is whether HAVING holds. Continuous rules call it on every
    /// event, so it allocates nothing unless an expression makes strings.
    pub fn group_passes(
        &self,
        scan: &Scan,
        key: &Value,
        accs: &[MetricAgg],
        aggs: &mut Vec<Value>,
    ) -> bool {
        aggs.clear();
        aggs.extend(
            scan.aggs
                .iter()
                .zip(accs)
                .map(|(s, a)| s.value_with(a, &[])),
        );
        let row = Row {
            key: Some(key),
            dims: &[],
            aggs,
        };
        self.having.as_ref().is_none_or(|h| h.eval(&row).is_true())
    }

    /// The select-list values of one group finished by [`Self::group_passes`].
    pub fn group_outputs(&self, key: &Value, aggs: &[Value]) -> Vec<Value> {
        let row = Row {
            key: Some(key),
            dims: &[],
            aggs,
        };
        self.outputs.iter().map(|e| e.eval(&row)).collect()
    }

    pub fn result(&self, rows: Vec<FinishedRow>) -> ResultSet {
        ResultSet {
            columns: self.columns.clone(),
            rows: rows.into_iter().map(|r| r.out).collect(),
        }
    }
}

/// `total + v` for running totals: NULL adds nothing, integers stay
/// integers until a float joins.
fn running_sum(total: &Value, v: &Value) -> Value {
    match (total, v) {
        (Value::Int(a), Value::Int(b)) => a
            .checked_add(*b)
            .map_or(Value::Float(*a as f64 + *b as f64), Value::Int),
        (t, v) => match (t.as_f64(), v.as_f64()) {
            (Some(a), Some(b)) => Value::Float(a + b),
            _ => t.clone(),
        },
    }
}

/// A planned query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Shared with every shard the query reaches, without a copy.
    pub scan: Arc<Scan>,
    pub finish: Finish,
    /// Names for EXPLAIN: actor kinds by index, and the shard count.
    pub kind_names: Vec<String>,
    pub shards: usize,
    /// GROUP BY and WHERE as written, for EXPLAIN.
    pub group_by: Vec<String>,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
}

/// EXPLAIN: the plan as a tree, from the answer down to the state.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scan = &self.scan;
        let mut depth = 0;
        let mut line = |f: &mut fmt::Formatter<'_>, text: String| {
            let pad = if depth == 0 {
                String::new()
            } else {
                format!("{}└─ ", "   ".repeat(depth - 1))
            };
            depth += 1;
            writeln!(f, "{pad}{text}")
        };
        line(f, format!("Project {}", self.finish.columns.join(", ")))?;
        if let Some(limit) = self.finish.limit {
            line(f, format!("Limit {limit}"))?;
        }
        if !self.finish.cumulative.is_empty() {
            let names: Vec<&str> = self
                .finish
                .cumulative
                .iter()
                .filter_map(|&c| self.finish.columns.get(c).map(String::as_str))
                .collect();
            line(
                f,
                format!("Running total {} (in result order)", names.join(", ")),
            )?;
        }
        if !self.order_by.is_empty() {
            line(f, format!("Sort {}", self.order_by.join(", ")))?;
        }
        if self.finish.having.is_some() {
            line(f, "Filter HAVING".to_string())?;
        }
        let kind = |k: &usize| self.kind_names.get(*k).cloned().unwrap_or_default();
        let merge = match (&scan.route, scan.finish_at_shard.is_some()) {
            (Route::Point { keys, .. }, _) => format!("Merge {} point partial(s)", keys.len()),
            (_, true) => format!("Merge finished rows from {} shards (each shard filters, sorts and limits its own groups)", self.shards),
            (_, false) => format!("Merge partial aggregates from {} shards", self.shards),
        };
        line(f, merge)?;
        let mut group = if self.group_by.is_empty() {
            "one group".to_string()
        } else {
            format!("group by {}", self.group_by.join(", "))
        };
        if let Some(b) = &scan.buckets {
            group += &format!(
                "; {} bucket(s) of {}{}",
                b.count,
                format_duration(b.width_ms),
                if b.fill_empty {
                    ", empty ones shown"
                } else {
                    ""
                }
            );
        }
        let aggs: Vec<&str> = scan.aggs.iter().map(|a| a.label.as_str()).collect();
        line(
            f,
            format!(
                "Aggregate {} ({group})",
                if aggs.is_empty() {
                    "nothing".to_string()
                } else {
                    aggs.join(", ")
                }
            ),
        )?;
        let route = match &scan.route {
            Route::Global => {
                "global state (each shard's partial; no entity is touched)".to_string()
            }
            Route::Point { kind: k, keys } => {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                format!(
                    "point: {} actor(s) {} (one message per key's shard)",
                    kind(k),
                    keys.join(", ")
                )
            }
            Route::FanOut { kind: k } => {
                format!("fan-out: every {} actor on {} shards", kind(k), self.shards)
            }
        };
        let panes = if scan.window.pane_secs() == 1 {
            "1 s panes"
        } else {
            "1 min panes"
        };
        let filter = self
            .filter
            .as_ref()
            .map(|w| format!(", where {w}"))
            .unwrap_or_default();
        line(
            f,
            format!(
                "Scan {route}, window {} ({panes}){filter}",
                format_duration(scan.window.length_ms)
            ),
        )
    }
}
