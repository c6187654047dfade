//! Queries as small structs: rendered to SQL for the engine, answered by
//! brute force for the reference.
//!
//! A query names columns by role (the type, a dimension, an actor key, a
//! metric) and values by index, so one generated query fits both presets;
//! [`Query::sql`] and [`Reference::answer`] resolve them against a preset.

use std::cmp::Ordering;
use std::fmt;

use tally::Value;

use super::admission::{Admitted, Event};
use super::{Kind, Preset};

/// A column a query groups by or selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Dimension `i` of the preset (modulo the preset's dimensions; 0 is
    /// the event type).
    Dim(u8),
    /// Actor key 0 (users, customers) or 1 (videos, items).
    Key(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// One item of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Col(Col),
    Agg {
        func: Func,
        arg: Arg,
        filter: Option<DimTest>,
        alias: Option<&'static str>,
    },
}

/// What an aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// `COUNT(*)`.
    Star,
    /// Metric `i` (modulo the preset's metrics).
    Metric(u8),
    /// Dimension `i`, for `COUNT(dim)`: the events where it is not NULL.
    Dim(u8),
}

impl Item {
    pub fn count_star() -> Item {
        Item::Agg {
            func: Func::Count,
            arg: Arg::Star,
            filter: None,
            alias: None,
        }
    }
}

/// A test of one dimension against literal values (indexes into the
/// preset's values for that dimension; the last never occurs).
#[derive(Debug, Clone, PartialEq)]
pub struct DimTest {
    pub dim: u8,
    pub op: TestOp,
    pub values: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOp {
    /// `d = v`
    Eq,
    /// `d <> v`
    Ne,
    /// `NOT (d = v)`
    NotEq,
    /// `d IN (v, ...)`
    In,
    /// `d NOT IN (v, ...)`
    NotIn,
}

/// One conjunct of WHERE.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Dim(DimTest),
    /// `key IN (ids)` (`key = id` when there is one id).
    KeyIn(u8, Vec<i64>),
    /// `key > id`
    KeyGt(u8, i64),
}

/// `SELECT [TOP k] items FROM events [WHERE a AND b] [GROUP BY col]
/// [HAVING item > x] [ORDER BY item [DESC], ...] [LIMIT n] WINDOW d`.
#[derive(Clone, PartialEq)]
pub struct Query {
    /// `TOP k` over the single column item.
    pub top: Option<u64>,
    pub items: Vec<Item>,
    pub filter: Vec<Cond>,
    pub group_by: Option<Col>,
    /// `HAVING <item i> > x`.
    pub having: Option<(usize, i64)>,
    /// Item index and whether descending.
    pub order_by: Vec<(usize, bool)>,
    pub limit: Option<u64>,
    /// The window asked for; longer than the retention means the retention.
    pub window_ms: i64,
}

impl Query {
    /// The window actually queried: at most the retention.
    pub fn window(&self, retention_ms: i64) -> i64 {
        self.window_ms.min(retention_ms)
    }

    /// Whether the answer's row order is defined (ORDER BY or TOP).
    pub fn ordered(&self) -> bool {
        self.top.is_some() || !self.order_by.is_empty()
    }

    /// The query as tally SQL.
    pub fn sql(&self, p: &Preset, retention_ms: i64) -> String {
        let items: Vec<String> = self.items.iter().map(|i| item_sql(p, i, true)).collect();
        let mut sql = match self.top {
            Some(k) => format!("SELECT TOP {k} {} FROM events", items.join(", ")),
            None => format!("SELECT {} FROM events", items.join(", ")),
        };
        if !self.filter.is_empty() {
            let conds: Vec<String> = self.filter.iter().map(|c| cond_sql(p, c)).collect();
            sql += &format!(" WHERE {}", conds.join(" AND "));
        }
        if let Some(col) = self.group_by {
            sql += &format!(" GROUP BY {}", col_name(p, col));
        }
        if let Some((i, x)) = self.having {
            sql += &format!(" HAVING {} > {x}", item_sql(p, &self.items[i], false));
        }
        if !self.order_by.is_empty() {
            let order: Vec<String> = self
                .order_by
                .iter()
                .map(|&(i, desc)| {
                    let item = item_sql(p, &self.items[i], false);
                    if desc {
                        format!("{item} DESC")
                    } else {
                        item
                    }
                })
                .collect();
            sql += &format!(" ORDER BY {}", order.join(", "));
        }
        if let Some(n) = self.limit {
            sql += &format!(" LIMIT {n}");
        }
        sql + &format!(" WINDOW {}", duration_sql(self.window(retention_ms)))
    }

    /// `TOP k col` spelled out, as docs/sql.md defines it: the k values of col
    /// with the largest COUNT(*), ties broken by col ascending.
    fn desugared(&self) -> Query {
        let Some(k) = self.top else {
            return self.clone();
        };
        let Some(Item::Col(col)) = self.items.first() else {
            panic!("TOP k takes one column: {self:?}");
        };
        Query {
            top: None,
            items: vec![Item::Col(*col), Item::count_star()],
            group_by: Some(*col),
            order_by: vec![(1, true), (0, false)],
            limit: Some(k),
            ..self.clone()
        }
    }
}

/// Shown as its SQL under the reels preset, so shrunk failures stay short.
impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Query({})", self.sql(&super::REELS, i64::MAX))
    }
}

fn col_name(p: &Preset, col: Col) -> &'static str {
    match col {
        Col::Dim(d) => p.dims[d as usize % p.dims.len()].0,
        Col::Key(k) => p.keys[k as usize % 2],
    }
}

fn metric_of(p: &Preset, m: u8) -> (usize, &'static str, Kind) {
    let i = m as usize % p.metrics.len();
    (i, p.metrics[i].0, p.metrics[i].1)
}

fn dim_value(p: &Preset, dim: u8, v: u8) -> &'static str {
    let values = p.dim_values[dim as usize % p.dims.len()];
    values[v as usize % values.len()]
}

/// An item as written in the select list (`with_alias`) or referred to
/// later (by its alias if it has one).
fn item_sql(p: &Preset, item: &Item, with_alias: bool) -> String {
    match item {
        Item::Col(c) => col_name(p, *c).to_string(),
        Item::Agg {
            func,
            arg,
            filter,
            alias,
        } => {
            if let (Some(a), false) = (alias, with_alias) {
                return a.to_string();
            }
            let name = match func {
                Func::Count => "COUNT",
                Func::Sum => "SUM",
                Func::Min => "MIN",
                Func::Max => "MAX",
                Func::Avg => "AVG",
            };
            let arg = match arg {
                Arg::Star => "*",
                Arg::Metric(m) => metric_of(p, *m).1,
                Arg::Dim(d) => col_name(p, Col::Dim(*d)),
            };
            let mut s = format!("{name}({arg})");
            if let Some(f) = filter {
                s += &format!(" FILTER (WHERE {})", test_sql(p, f));
            }
            if let (Some(a), true) = (alias, with_alias) {
                s += &format!(" AS {a}");
            }
            s
        }
    }
}

fn test_sql(p: &Preset, t: &DimTest) -> String {
    let col = col_name(p, Col::Dim(t.dim));
    let quoted: Vec<String> = t
        .values
        .iter()
        .map(|&v| format!("'{}'", dim_value(p, t.dim, v)))
        .collect();
    let first = &quoted[0];
    match t.op {
        TestOp::Eq => format!("{col} = {first}"),
        TestOp::Ne => format!("{col} <> {first}"),
        TestOp::NotEq => format!("NOT ({col} = {first})"),
        TestOp::In => format!("{col} IN ({})", quoted.join(", ")),
        TestOp::NotIn => format!("{col} NOT IN ({})", quoted.join(", ")),
    }
}

fn cond_sql(p: &Preset, c: &Cond) -> String {
    match c {
        Cond::Dim(t) => test_sql(p, t),
        Cond::KeyIn(k, ids) if ids.len() == 1 => {
            format!("{} = {}", col_name(p, Col::Key(*k)), ids[0])
        }
        Cond::KeyIn(k, ids) => {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("{} IN ({})", col_name(p, Col::Key(*k)), ids.join(", "))
        }
        Cond::KeyGt(k, x) => format!("{} > {x}", col_name(p, Col::Key(*k))),
    }
}

/// A window length as SQL, in the largest unit that divides it.
fn duration_sql(ms: i64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1000)
}

/// The window rule: with pane size P (1 s for windows up to 1 h, 1 min beyond), an
/// event counts when floor(ts/P) > floor(now/P) − d/P, and ts ≤ now.
pub fn in_window(ts: i64, now: i64, window_ms: i64) -> bool {
    let pane = if window_ms <= 3_600_000 { 1000 } else { 60_000 };
    ts.div_euclid(pane) > now.div_euclid(pane) - window_ms / pane && ts <= now
}

/// The brute-force answerer over a plain list of accepted events.
pub struct Reference<'a> {
    pub preset: &'static Preset,
    pub admitted: &'a Admitted,
    pub retention_ms: i64,
}

impl Reference<'_> {
    /// Filter by window and WHERE, group, aggregate, HAVING, sort, limit.
    pub fn answer(&self, query: &Query) -> Vec<Vec<Value>> {
        let q = query.desugared();
        let window = q.window(self.retention_ms);
        let events: Vec<&Event> = match self.admitted.now {
            None => Vec::new(),
            Some(now) => self
                .admitted
                .events
                .iter()
                .filter(|e| in_window(e.ts, now, window))
                .filter(|e| q.filter.iter().all(|c| self.holds(c, e)))
                .collect(),
        };
        let mut groups: Vec<(Value, Vec<&Event>)> = Vec::new();
        match q.group_by {
            // Without GROUP BY there is exactly one row, even over nothing.
            None => groups.push((Value::Null, events)),
            Some(col) => {
                for e in events {
                    let key = self.column(col, e);
                    match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, members)) => members.push(e),
                        None => groups.push((key, vec![e])),
                    }
                }
            }
        }
        let mut rows: Vec<Vec<Value>> = groups
            .iter()
            .map(|(key, members)| {
                q.items
                    .iter()
                    .map(|item| match item {
                        Item::Col(_) => key.clone(),
                        Item::Agg {
                            func, arg, filter, ..
                        } => {
                            let members: Vec<&Event> = members
                                .iter()
                                .copied()
                                .filter(|e| filter.as_ref().is_none_or(|t| self.passes(t, e)))
                                .collect();
                            self.aggregate(*func, *arg, &members)
                        }
                    })
                    .collect()
            })
            .filter(|row: &Vec<Value>| match q.having {
                None => true,
                Some((i, x)) => matches!(row[i], Value::Int(n) if n > x),
            })
            .collect();
        rows.sort_by(|a, b| {
            for &(i, desc) in &q.order_by {
                let o = a[i].total_cmp(&b[i]);
                if o != Ordering::Equal {
                    return if desc { o.reverse() } else { o };
                }
            }
            compare_rows(a, b)
        });
        if let Some(n) = q.limit {
            rows.truncate(n as usize);
        }
        rows
    }

    fn column(&self, col: Col, e: &Event) -> Value {
        match col {
            Col::Dim(d) => match &e.dims[d as usize % self.preset.dims.len()] {
                Some(s) => Value::str(s),
                None => Value::Null,
            },
            Col::Key(k) => Value::Int(e.keys[k as usize % 2]),
        }
    }

    fn holds(&self, c: &Cond, e: &Event) -> bool {
        match c {
            Cond::Dim(t) => self.passes(t, e),
            Cond::KeyIn(k, ids) => ids.contains(&e.keys[*k as usize % 2]),
            Cond::KeyGt(k, x) => e.keys[*k as usize % 2] > *x,
        }
    }

    /// SQL three-valued logic: every test of a NULL dimension is NULL, which
    /// does not pass (not even under NOT).
    fn passes(&self, t: &DimTest, e: &Event) -> bool {
        let Some(v) = &e.dims[t.dim as usize % self.preset.dims.len()] else {
            return false;
        };
        let mut values = t.values.iter().map(|&i| dim_value(self.preset, t.dim, i));
        match t.op {
            TestOp::Eq => values.next() == Some(v.as_str()),
            TestOp::Ne | TestOp::NotEq => values.next() != Some(v.as_str()),
            TestOp::In => values.any(|x| x == v),
            TestOp::NotIn => !values.any(|x| x == v),
        }
    }

    /// COUNT is an integer (of events, or of non-NULL values); SUM, MIN and MAX keep the metric's type; AVG is
    /// a float; all but COUNT are NULL over no values.
    fn aggregate(&self, func: Func, arg: Arg, events: &[&Event]) -> Value {
        let m = match arg {
            Arg::Star => return Value::Int(events.len() as i64),
            Arg::Dim(d) => {
                let d = d as usize % self.preset.dims.len();
                return Value::Int(events.iter().filter(|e| e.dims[d].is_some()).count() as i64);
            }
            Arg::Metric(m) => m,
        };
        let (i, _, kind) = metric_of(self.preset, m);
        let values: Vec<f64> = events.iter().filter_map(|e| e.metrics[i]).collect();
        let typed = |x: f64| match kind {
            Kind::Int => Value::Int(x as i64),
            _ => Value::Float(x),
        };
        if func == Func::Count {
            return Value::Int(values.len() as i64);
        }
        if values.is_empty() {
            return Value::Null;
        }
        let sum: f64 = values.iter().sum();
        match func {
            Func::Count => unreachable!(),
            Func::Sum => typed(sum),
            Func::Min => typed(values.iter().copied().fold(f64::INFINITY, f64::min)),
            Func::Max => typed(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            Func::Avg => Value::Float(sum / values.len() as f64),
        }
    }
}

/// Rows in the total order of `Value::total_cmp`, column by column.
pub fn compare_rows(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(a.len().cmp(&b.len()))
}

/// Equal, with floats equal up to a relative 1e-9: sums of the same floats
/// in another order (panes, shards) differ in the last bits.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

pub fn same_rows(a: &[Vec<Value>], b: &[Vec<Value>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| same_value(u, v)))
}
