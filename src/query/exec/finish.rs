//! Finishing merged groups into result rows.
//!
//! This file owns the last stage of an aggregate query: each group's final
//! aggregate values, HAVING, the select list, ORDER BY (with a total order,
//! so that answers never depend on hash order or shard count), running
//! totals and LIMIT; and the per-group finish continuous rules call on
//! every event. It runs on shards when groups never span them, else on the
//! caller's thread after the merge. Raw-row queries reuse its sorting.

use super::accs::{Accs, GroupKey, Groups};
use super::scan::Scratch;
use crate::query::ast::{AggFunc, BinaryOp};
use crate::query::plan::{AggInput, Finish, Scan};
use crate::query::scalar::{Row, Scalar};
use crate::value::{ResultSet, Value};
use crate::window::{MetricAgg, PaneStore};

/// A finished row: its ORDER BY values, then its output values.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRow {
    pub sort: Vec<Value>,
    pub out: Vec<Value>,
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
        let rows = groups
            .into_iter()
            .filter_map(|((key, g), accs)| self.row(scan, key, g, &accs))
            .collect();
        self.sort_and_limit(rows)
    }

    /// Whether a shard may finish the groups of a fan-out one entity at a
    /// time ([`Self::entity_rows`]): every group belongs to one entity, and
    /// no group appears without events (one row for an empty answer, or
    /// empty time buckets filled in).
    pub fn finishes_per_entity(&self, scan: &Scan) -> bool {
        scan.group_by_key && !self.single_row && !scan.buckets.is_some_and(|b| b.fill_empty)
    }

    /// The fewest events an entity must hold for any of its groups to pass
    /// HAVING, so that a fan-out finished per entity may skip the entities
    /// that hold fewer without reading their state; 0 when HAVING sets no
    /// such floor, or the plan is not finished per entity
    /// ([`Self::finishes_per_entity`]). A floor comes from each top-level AND term
    /// that compares a count of events (`COUNT(*)` or `COUNT(metric)`,
    /// with or without FILTER) to a constant from below: `n >= 1000`,
    /// `n > 4`, `n = 3`, `10 <= n`. A group's count is at most its
    /// entity's events in the window, which are at most the events it
    /// holds.
    pub fn min_events(&self, scan: &Scan) -> u32 {
        if !self.finishes_per_entity(scan) {
            return 0;
        }
        let mut floor = 0;
        let mut terms: Vec<&Scalar> = self.having.iter().collect();
        while let Some(term) = terms.pop() {
            match term {
                Scalar::Binary(BinaryOp::And, l, r) => terms.extend([&**l, &**r]),
                Scalar::Binary(op, l, r) => {
                    let bound = match (&**l, op, &**r) {
                        (Scalar::Agg(i), op, Scalar::Literal(c)) => count_floor(scan, *i, *op, c),
                        (Scalar::Literal(c), op, Scalar::Agg(i)) => {
                            let flipped = match op {
                                BinaryOp::Lt => BinaryOp::Gt,
                                BinaryOp::LtEq => BinaryOp::GtEq,
                                BinaryOp::Eq => BinaryOp::Eq,
                                _ => continue,
                            };
                            count_floor(scan, *i, flipped, c)
                        }
                        _ => 0,
                    };
                    floor = floor.max(bound);
                }
                _ => {}
            }
        }
        floor
    }

    /// Finishes one entity's groups over `store` into `rows` (unsorted,
    /// unlimited: [`Self::sort_and_limit`] runs once over every entity's
    /// rows). A fan-out then holds only the rows that pass HAVING, never a
    /// map of every entity's groups; and the groups come straight from the
    /// scan's buffers ([`Scan::accumulate_each`]), so a group HAVING drops
    /// costs no allocation.
    pub fn entity_rows(
        &self,
        scan: &Scan,
        key: &crate::event::Key,
        store: &PaneStore,
        scratch: &mut Scratch,
        rows: &mut Vec<FinishedRow>,
    ) {
        let key = key.to_value();
        scan.accumulate_each(store, scratch, |g, plain, sketches, values| {
            values.clear();
            let aggs = scan.aggs.iter().zip(plain);
            values.extend(aggs.map(|(s, a)| s.value_with(a, sketches)));
            rows.extend(self.finished(scan, Some(&key), g, values));
        });
    }

    /// One group's row, or `None` when HAVING drops it.
    fn row(
        &self,
        scan: &Scan,
        key: Option<crate::event::Key>,
        dim_group: u32,
        accs: &Accs,
    ) -> Option<FinishedRow> {
        let aggs: Vec<Value> = scan
            .aggs
            .iter()
            .zip(&accs.plain)
            .map(|(s, a)| s.value_with(a, &accs.sketches))
            .collect();
        let key = key.map(|k| k.to_value());
        self.finished(scan, key.as_ref(), dim_group, &aggs)
    }

    /// A group's row from its key and aggregate values, or `None` when
    /// HAVING drops it.
    fn finished(
        &self,
        scan: &Scan,
        key: Option<&Value>,
        dim_group: u32,
        aggs: &[Value],
    ) -> Option<FinishedRow> {
        let dims = scan.group_values(dim_group);
        let row = Row {
            key,
            dims: &dims,
            aggs,
        };
        if let Some(having) = &self.having {
            if !having.eval(&row).is_true() {
                return None;
            }
        }
        Some(FinishedRow {
            sort: self.order.iter().map(|(e, _)| e.eval(&row)).collect(),
            out: self.outputs.iter().map(|e| e.eval(&row)).collect(),
        })
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

/// The fewest events that let aggregate `agg` of `scan` satisfy
/// `agg <op> c`, when it is a count of events; else 0.
fn count_floor(scan: &Scan, agg: usize, op: BinaryOp, c: &Value) -> u32 {
    let counts_events = scan.aggs.get(agg).is_some_and(|a| {
        a.func == AggFunc::Count && matches!(a.input, AggInput::Events | AggInput::Metric(_))
    });
    let Some(c) = c.as_f64().filter(|c| counts_events && !c.is_nan()) else {
        return 0;
    };
    let floor = match op {
        BinaryOp::GtEq | BinaryOp::Eq => c.ceil(),
        BinaryOp::Gt => c.floor() + 1.0,
        _ => return 0,
    };
    // `as` saturates: a negative floor is 0, one past u32::MAX is
    // u32::MAX, which an entity's saturated count still reaches.
    floor as u32
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

#[cfg(test)]
mod tests {
    use crate::query::plan;
    use crate::query::planner::test_support::{catalog, preset, select};

    /// The floor the fan-out `SELECT video_id, ... GROUP BY video_id
    /// HAVING <having> WINDOW 2h` prunes entities by, on the reels schema.
    fn floor(having: &str) -> u32 {
        let sql = format!(
            "SELECT video_id, COUNT(*) AS n, \
             COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, \
             COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS sc \
             FROM events GROUP BY video_id HAVING {having} WINDOW 2h"
        );
        let schema = preset("reels");
        let plan = plan(&select(&sql), &catalog(&schema)).expect("plans");
        assert!(plan.finish.finishes_per_entity(&plan.scan), "{sql}");
        plan.finish.min_events(&plan.scan)
    }

    #[test]
    fn having_a_count_from_below_sets_the_events_an_entity_needs() {
        for (having, expected) in [
            ("views >= 1000 AND sc / views > 1.5", 1000),
            ("sc / views > 1.5 AND views >= 1000", 1000),
            ("n > 4", 5),
            ("n > 4.5", 5),
            ("n >= 2.5", 3),
            ("n = 3", 3),
            ("10 <= n", 10),
            ("10 < n", 11),
            ("3 = n", 3),
            ("n >= 2 AND (n >= 7 AND views > 1)", 7),
            ("COUNT(metadata.view_duration_ms) > 7", 8),
            ("n > 99999999999", u32::MAX),
        ] {
            assert_eq!(floor(having), expected, "HAVING {having}");
        }
    }

    #[test]
    fn having_that_sets_no_floor_prunes_nothing() {
        for having in [
            "n > -3",
            "n < 5",
            "n <= 5",
            "5 > n",
            "n <> 4",
            "n > 2 OR views > 1",
            "NOT n < 5",
            "n + 1 > 10",
            "SUM(metadata.view_duration_ms) > 100",
            "MAX(metadata.view_duration_ms) >= 100",
            "COUNT(DISTINCT user_id) > 5",
            "n > NULL",
            "n > 'abc'",
        ] {
            assert_eq!(floor(having), 0, "HAVING {having}");
        }
    }
}
