//! Accumulators: the partial aggregates of a group, and their final values.
//!
//! Shards fill them ([`super::scan`]), the caller merges them across shards
//! ([`Accs::merge`]) and the finish reads each aggregate's value out of
//! them ([`AggSpec::value_with`]). This file owns what is accumulated and
//! how two partials combine, not which slots are read (the scan) nor what
//! is done with the values (the finish).

use std::collections::HashMap;

use crate::event::Key;
use crate::query::ast::AggFunc;
use crate::query::plan::{AggInput, AggSpec};
use crate::value::Value;
use crate::window::{Hll, MetricAgg, QuantileSketch};

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
    /// One per sketch aggregate (`AggInput::sketch_acc`); empty when the
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

impl AggSpec {
    /// The finished value of an accumulator.
    pub fn value(&self, acc: &MetricAgg) -> Value {
        self.value_of(self.func, acc)
    }

    /// The value of `func` over this aggregate's accumulator.
    fn value_of(&self, func: AggFunc, acc: &MetricAgg) -> Value {
        // An integer metric's aggregate is an integer when it is exact: the
        // values are f64, which hold every integer of magnitude below 2^53
        // exactly and round larger ones. A larger value, or a sum that may
        // have passed through a rounded partial, answers a float instead,
        // never an exact-looking wrong integer (and never an overflow).
        let typed = |x: f64, exact: bool| {
            if self.integer && exact && x.fract() == 0.0 && x.abs() <= MAX_EXACT_INTEGER {
                Value::Int(x as i64)
            } else {
                Value::Float(x)
            }
        };
        // Partials of float metrics are added in an order that depends on
        // the shards, which changes the last bits of a sum; SUM and AVG of
        // them are rounded to 12 significant digits, so that the answer
        // (printed exactly, as the shortest text that reads back) does not
        // depend on the shard count. Integer sums are exact below 2^53.
        let summed = |x: f64| {
            if self.integer {
                x
            } else {
                round_significant(x)
            }
        };
        match func {
            AggFunc::Count => Value::Int(acc.count as i64),
            _ if acc.count == 0 => Value::Null,
            AggFunc::Sum => typed(summed(acc.sum), sum_is_exact(acc)),
            AggFunc::Min => typed(acc.min, true),
            AggFunc::Max => typed(acc.max, true),
            AggFunc::Avg => Value::Float(summed(acc.sum / acc.count as f64)),
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
                // The ends of the distribution are known exactly: the
                // smallest and largest values seen, not a sketch bucket.
                let exact_end = match p {
                    _ if acc.count == 0 => None,
                    p if p >= 100.0 => Some(AggFunc::Max),
                    p if p <= 0.0 => Some(AggFunc::Min),
                    _ => None,
                };
                if let Some(func) = exact_end {
                    return self.value_of(func, acc);
                }
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

/// 2^53 − 1: every integer of at most this magnitude is exact as an f64,
/// and no other integer rounds to it (2^53 itself is also what 2^53 + 1
/// rounds to).
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Whether an f64 sum of integers is exact: each partial sum, in whatever
/// order the panes and shards added them, is at most the count times the
/// largest magnitude, so all of them are exact when that bound is.
fn sum_is_exact(acc: &MetricAgg) -> bool {
    let largest = acc.min.abs().max(acc.max.abs());
    largest <= MAX_EXACT_INTEGER
        && u128::from(acc.count) * largest as u128 <= MAX_EXACT_INTEGER as u128
}

/// `x` rounded to 12 significant digits (unchanged when not finite).
fn round_significant(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// A group: the entity key when grouping by it, and the index of the
/// combination of grouped dimension values.
pub type GroupKey = (Option<Key>, u32);

/// Partial aggregates by group.
pub type Groups = HashMap<GroupKey, Accs>;
