//! Partial aggregates: what one pane keeps per cell, mergeable in any order.

use super::sketch::{SketchInput, Sketches};

/// Count, sum, min and max of one metric. Merging two is exact for count,
/// min and max, and for sums up to 2⁵³ when the inputs are integers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricAgg {
    /// Events that carried the metric (absent values are not counted).
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for MetricAgg {
    fn default() -> Self {
        MetricAgg {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl MetricAgg {
    /// Adds one value; NaN means absent and is ignored.
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.count += 1;
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    pub fn merge(&mut self, other: &MetricAgg) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Metric aggregates kept inline in an [`Agg`]: every preset has at most this many.
const INLINE_METRICS: usize = 2;

/// The metric aggregates of one slot. Up to [`INLINE_METRICS`] live in the
/// slot itself, so the common slot costs no allocation of its own (one
/// `malloc` per slot was a quarter of ingest time); more go to the heap.
/// Reads and writes go through the slice it derefs to.
#[derive(Debug, Clone)]
pub enum MetricAggs {
    Inline {
        len: u8,
        items: [MetricAgg; INLINE_METRICS],
    },
    Heap(Box<[MetricAgg]>),
}

impl MetricAggs {
    pub fn new(n: usize) -> MetricAggs {
        match u8::try_from(n) {
            Ok(len) if n <= INLINE_METRICS => MetricAggs::Inline {
                len,
                items: [MetricAgg::default(); INLINE_METRICS],
            },
            _ => MetricAggs::Heap(vec![MetricAgg::default(); n].into_boxed_slice()),
        }
    }
}

impl std::ops::Deref for MetricAggs {
    type Target = [MetricAgg];

    fn deref(&self) -> &[MetricAgg] {
        match self {
            MetricAggs::Inline { len, items } => &items[..usize::from(*len)],
            MetricAggs::Heap(items) => items,
        }
    }
}

impl std::ops::DerefMut for MetricAggs {
    fn deref_mut(&mut self) -> &mut [MetricAgg] {
        match self {
            MetricAggs::Inline { len, items } => &mut items[..usize::from(*len)],
            MetricAggs::Heap(items) => items,
        }
    }
}

/// Equal when the metrics are, however they are kept.
impl PartialEq for MetricAggs {
    fn eq(&self, other: &MetricAggs) -> bool {
        **self == **other
    }
}

/// How much of each one-event [`Agg`] a fold over a packed store fills
/// in: a reader that needs less spares decoding it for every event (a
/// fan-out of counts over 100 k logs decodes no metric at all). Slots of
/// panes are handed whole whatever is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    /// The count only: no metrics (an empty list), no sketches.
    Count,
    /// The count and the metrics, no sketches.
    Metrics,
    /// Everything, sketches included.
    Sketches,
}

/// The partial aggregate of one cell in one pane: the number of events,
/// one [`MetricAgg`] per schema metric, and the sketches its store keeps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Agg {
    pub count: u64,
    pub metrics: MetricAggs,
    /// Percentile and distinct sketches, laid out by the store's
    /// [`super::SketchLayout`]; `None` in stores that keep none, so those
    /// pay one pointer per slot.
    pub sketches: Option<Box<Sketches>>,
}

impl Agg {
    pub fn new(metrics: usize) -> Agg {
        Agg {
            count: 0,
            metrics: MetricAggs::new(metrics),
            sketches: None,
        }
    }

    /// Adds one event, and its values to the sketches the store keeps.
    pub fn add_sketched(&mut self, metrics: &[f64], input: SketchInput) {
        self.add(metrics);
        if !input.layout.is_empty() {
            self.sketches
                .get_or_insert_with(|| Box::new(Sketches::new(input.layout)))
                .add(input, metrics);
        }
    }

    pub fn add(&mut self, metrics: &[f64]) {
        self.count += 1;
        for (m, &x) in self.metrics.iter_mut().zip(metrics) {
            m.add(x);
        }
    }

    pub fn merge(&mut self, other: &Agg) {
        self.count += other.count;
        for (m, o) in self.metrics.iter_mut().zip(other.metrics.iter()) {
            m.merge(o);
        }
        if let Some(theirs) = &other.sketches {
            match &mut self.sketches {
                Some(mine) => mine.merge(theirs),
                None => self.sketches = Some(theirs.clone()),
            }
        }
    }
}

/// A checkpoint keeps the metrics as a list, however they are kept here.
impl serde::Serialize for MetricAggs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for MetricAggs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MetricAggs, D::Error> {
        let items = Vec::<MetricAgg>::deserialize(d)?;
        let mut aggs = MetricAggs::new(items.len());
        aggs.copy_from_slice(&items);
        Ok(aggs)
    }
}
