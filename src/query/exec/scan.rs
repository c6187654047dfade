//! Running a [`Scan`] on one actor's (or the global) panes.
//!
//! This file owns what a shard does with a plan: fold the pane slots inside
//! the window into partial aggregates per group ([`Scan::accumulate`]), the
//! allocation-free single-group fold continuous rules use
//! ([`Scan::accumulate_group`]), and the per-cell and per-key admission
//! tests. It does not finish groups ([`super::finish`]) nor choose the
//! shards ([`crate::query::Route`] is followed by the engine).

use std::borrow::Cow;

use super::accs::{Accs, Groups, SketchAcc};
use crate::event::{CellId, Key};
use crate::query::plan::{AggInput, AggSpec, Buckets, Scan, NO_VALUE};
use crate::query::scalar::Row;
use crate::time::Millis;
use crate::value::Value;
use crate::window::{
    Agg, Detail, Hll, MetricAgg, PaneStore, QuantileSketch, WindowSpec, ALL_CELLS,
};

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
    /// A group's aggregate values while HAVING looks at them
    /// ([`Scan::accumulate_each`]), kept for its capacity.
    values: Vec<Value>,
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

impl Scan {
    /// Adds one store's slots inside the window to `groups`, one map
    /// update per group ([`Self::fold_store`] sums the slots first).
    pub fn accumulate(
        &self,
        store: &PaneStore,
        key: Option<&Key>,
        groups: &mut Groups,
        scratch: &mut Scratch,
    ) {
        self.fold_store(store, scratch);
        let n = self.aggs.len();
        let sketched = self.has_sketches();
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

    /// One store's groups handed to `f` straight from the scratch buffers,
    /// with no group map: `f(scan group, accumulators, sketch
    /// accumulators, a spare buffer for the group's values)`. A fan-out
    /// finished entity by entity (`Finish::entity_rows`) then costs no allocation for an entity whose groups HAVING drops,
    /// unless the query has sketches. The buffers are reset for the next
    /// store.
    pub fn accumulate_each(
        &self,
        store: &PaneStore,
        scratch: &mut Scratch,
        mut f: impl FnMut(u32, &[MetricAgg], &[SketchAcc], &mut Vec<Value>),
    ) {
        self.fold_store(store, scratch);
        let n = self.aggs.len();
        for g in 0..scratch.touched.len() {
            if !std::mem::take(&mut scratch.touched[g]) {
                continue;
            }
            let local = &mut scratch.accs[g * n..(g + 1) * n];
            let sketches = std::mem::take(&mut scratch.sketches[g]);
            f(g as u32, local, &sketches, &mut scratch.values);
            local.fill(MetricAgg::default());
        }
    }

    /// The first stage of both accumulations: the slots of `store` inside
    /// the window summed into `scratch`, per scan group. Slots are summed
    /// into a dense array indexed by group, so a store with many slots
    /// costs one map update per group, not one per slot.
    fn fold_store(&self, store: &PaneStore, scratch: &mut Scratch) {
        let n = self.aggs.len();
        let buckets = self.buckets.map_or(1, |b| b.count as usize);
        scratch.reset(self.dim_groups.len() * buckets, n);
        let sketched = self.has_sketches();
        let detail = self.detail();
        // A slot may span any time that no bucket edge cuts: an hour when the
        // bucket width is whole hours, a minute when it is whole minutes.
        let span_ms = match self.buckets {
            None => Millis::MAX,
            Some(b) => [3_600_000, 60_000]
                .into_iter()
                .find(|span| b.width_ms % span == 0)
                .unwrap_or(1000),
        };
        let merged = store.is_summarised().then(|| self.merged_group()).flatten();
        let mut slot = |start_ms: Millis, cell: CellId, agg: &Agg| {
            let g = match (cell, merged) {
                (ALL_CELLS, Some(g)) => g,
                _ => match self.cell_groups.get(cell as usize) {
                    Some(&Some(g)) => g,
                    _ => return,
                },
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
        };
        match merged {
            Some(_) => store.fold_spans_merged(&self.window, span_ms, detail, &mut slot),
            None => store.fold_spans(&self.window, span_ms, detail, &mut slot),
        }
    }

    /// The one group every cell goes to, when nothing the scan does tells
    /// cells apart: no WHERE or GROUP BY on dimensions, no FILTER or
    /// COUNT(dimension) by cell, no dimension values collected. A
    /// summarised store may then hand whole hours as one slot of all cells
    /// ([`PaneStore::fold_spans_merged`]).
    fn merged_group(&self) -> Option<u32> {
        let first = (*self.cell_groups.first()?)?;
        let one_group = self.cell_groups.iter().all(|g| *g == Some(first));
        let by_cell = self
            .aggs
            .iter()
            .any(|a| a.cells.is_some() || matches!(a.input, AggInput::DimValues { .. }));
        (one_group && !by_cell).then_some(first)
    }

    /// Whether any aggregate reads sketches (or collects dimension values).
    pub fn has_sketches(&self) -> bool {
        self.aggs.iter().any(|a| a.input.sketch_acc().is_some())
    }

    /// How much of each event's aggregate the scan reads: counts alone
    /// (COUNT(*) and its FILTERs), metrics too, or sketches too.
    fn detail(&self) -> Detail {
        let metrics =
            |a: &AggSpec| matches!(a.input, AggInput::Metric(_) | AggInput::Quantile { .. });
        match (self.has_sketches(), self.aggs.iter().any(metrics)) {
            (true, _) => Detail::Sketches,
            (false, true) => Detail::Metrics,
            (false, false) => Detail::Count,
        }
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
    pub fn group_values(&self, g: u32) -> Cow<'_, [Value]> {
        let dims = |d: usize| self.dim_groups.get(d).map_or(&[][..], |d| d);
        match self.buckets {
            None => Cow::Borrowed(dims(g as usize)),
            Some(b) => {
                let mut values = dims((g / b.count) as usize).to_vec();
                values.push(b.start(g % b.count));
                Cow::Owned(values)
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
