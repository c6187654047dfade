//! Which sketches a store keeps, and the sketches of one pane slot.
//!
//! Sketches cost memory, so a store keeps only those its schema declares
//! (`percentiles` and `distinct` in [`Schema`]) and that make sense for it:
//!
//! - the **global** state keeps a percentile sketch of every declared
//!   metric and a distinct sketch of every declared actor key or attribute;
//! - an **entity** keeps the percentile sketches, and distinct sketches of
//!   the *other* actor keys only (a user counts the videos it watched; its
//!   own key is one value).
//!
//! Distinct counts of dimensions need no sketch (the planner counts the
//! distinct values of the cells a window touched), so no layout lists them.
//! A slot's sketches live behind one `Option<Box<_>>`: a store that keeps
//! none pays 8 bytes per slot.

use super::distinct::Hll;
use super::quantile::QuantileSketch;
use crate::event::{DistinctSource, Key, Schema};
use crate::hash::{hash_bytes, hash_int, nonzero};

/// The sketches one kind of store keeps. Indices are the schema's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SketchLayout {
    /// Metrics (by schema index) with a percentile sketch.
    pub percentiles: Vec<usize>,
    /// Distinct columns (by index into [`Schema::distinct_sources`]) with a
    /// HyperLogLog.
    pub distinct: Vec<usize>,
    /// Whether a promoted store keeps minute and hour summaries beside its
    /// seconds (see `tiers.rs`): the global partials, read by every global
    /// query over every window.
    pub summarised: bool,
}

impl SketchLayout {
    /// What the shards' global partials keep.
    pub fn global(schema: &Schema) -> SketchLayout {
        SketchLayout {
            percentiles: schema.percentile_metrics(),
            distinct: (0..schema.distinct_sources().len()).collect(),
            summarised: true,
        }
    }

    /// What an entity of actor kind `kind` keeps.
    pub fn entity(schema: &Schema, kind: usize) -> SketchLayout {
        let percentiles = schema.actors.get(kind).is_some_and(|a| a.percentiles);
        SketchLayout {
            percentiles: match percentiles {
                true => schema.percentile_metrics(),
                false => Vec::new(),
            },
            distinct: schema
                .distinct_sources()
                .iter()
                .enumerate()
                .filter(|(_, (_, s))| matches!(s, DistinctSource::Key(k) if *k != kind))
                .map(|(i, _)| i)
                .collect(),
            summarised: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.percentiles.is_empty() && self.distinct.is_empty()
    }

    /// Position of metric `m`'s percentile sketch in a slot, if kept.
    pub fn percentile_of(&self, metric: usize) -> Option<usize> {
        self.percentiles.iter().position(|&p| p == metric)
    }

    /// Position of distinct column `d`'s sketch in a slot, if kept.
    pub fn distinct_of(&self, source: usize) -> Option<usize> {
        self.distinct.iter().position(|&s| s == source)
    }
}

/// The hash of an actor key, as distinct sketches see it.
pub fn hash_key(key: &Key) -> u64 {
    nonzero(match key {
        Key::Int(i) => hash_int(*i),
        Key::Str(s) => hash_bytes(s.as_bytes()),
    })
}

/// What one event gives a store's sketches.
#[derive(Debug, Clone, Copy)]
pub struct SketchInput<'a> {
    pub layout: &'a SketchLayout,
    /// Per distinct source of the schema: the value's hash, 0 when absent.
    pub hashes: &'a [u64],
}

/// The sketches of one slot, parallel to its store's [`SketchLayout`].
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Sketches {
    pub quantiles: Box<[QuantileSketch]>,
    pub distinct: Box<[Hll]>,
}

impl Sketches {
    pub fn new(layout: &SketchLayout) -> Sketches {
        Sketches::with_sizes(layout.percentiles.len(), layout.distinct.len())
    }

    /// Empty sketches: `quantiles` percentile and `distinct` distinct ones.
    pub fn with_sizes(quantiles: usize, distinct: usize) -> Sketches {
        Sketches {
            quantiles: vec![QuantileSketch::default(); quantiles].into(),
            distinct: vec![Hll::default(); distinct].into(),
        }
    }

    /// Adds one event's values (NaN metrics and 0 hashes are absent).
    pub fn add(&mut self, input: SketchInput, metrics: &[f64]) {
        for (q, &m) in self.quantiles.iter_mut().zip(&input.layout.percentiles) {
            if let Some(&x) = metrics.get(m) {
                q.add(x);
            }
        }
        for (h, &d) in self.distinct.iter_mut().zip(&input.layout.distinct) {
            match input.hashes.get(d) {
                Some(&hash) if hash != 0 => h.add_hash(hash),
                _ => {}
            }
        }
    }

    pub fn merge(&mut self, other: &Sketches) {
        for (a, b) in self.quantiles.iter_mut().zip(other.quantiles.iter()) {
            a.merge(b);
        }
        for (a, b) in self.distinct.iter_mut().zip(other.distinct.iter()) {
            a.merge(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_schema() {
        let reels = Schema::preset("reels").unwrap();
        let sources = reels.distinct_sources();
        let names: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["user_id", "video_id", "creator_id"]);
        let global = SketchLayout::global(&reels);
        assert_eq!(global.percentiles, [0, 1]);
        assert_eq!(global.distinct, [0, 1, 2]);
        // Users count videos, videos count users; neither keeps creators.
        assert_eq!(SketchLayout::entity(&reels, 0).distinct, [1]);
        assert_eq!(SketchLayout::entity(&reels, 1).distinct, [0]);
        let stats = Schema::preset("stats").unwrap();
        assert_eq!(SketchLayout::global(&stats).percentiles, [0]);
        assert!(SketchLayout::global(&stats).distinct.is_empty());
    }

    #[test]
    fn slot_sketches_add_and_merge() {
        let layout = SketchLayout {
            percentiles: vec![1],
            distinct: vec![0],
            ..SketchLayout::default()
        };
        let input = |hashes: &'static [u64]| SketchInput {
            layout: &layout,
            hashes,
        };
        let mut a = Sketches::new(&layout);
        a.add(input(&[u64::MAX / 3]), &[f64::NAN, 2.0]);
        a.add(input(&[0]), &[1.0, f64::NAN]);
        let mut b = Sketches::new(&layout);
        b.add(input(&[u64::MAX / 5]), &[5.0, 4.0]);
        a.merge(&b);
        assert_eq!(a.quantiles[0].count(), 2);
        assert_eq!(a.distinct[0].estimate(), 2);
    }
}
