//! The percentile sketch: DDSketch-style logarithmic buckets.
//!
//! A value x > 0 falls in bucket i = ⌈log_γ x⌉, so x ∈ (γ^(i−1), γ^i], with
//! γ = (1 + α)/(1 − α). Every bucket answers with one representative,
//! 2γ^i/(γ + 1) = γ^i·(1 − α), which is within a relative error α of *every* value of the
//! bucket. Negative values use the buckets of |x| mirrored below zero, and
//! zero has its own bucket, so the whole real line is covered.
//!
//! Buckets are kept sparse: a sorted vector of (bucket, count), 8 bytes each. Merging two
//! sketches adds counts bucket by bucket, which is exactly the sketch of the
//! union of their values: the merge order never changes an answer.
//!
//! **Guarantee.** With n values, sorted ascending as v₁ ≤ … ≤ vₙ, the answer
//! for percentile p is the representative of the bucket holding v_r, the
//! value at the nearest rank r = max(1, ⌈p·n/100⌉), clamped into the exact
//! [min, max]; so |answer − v_r| ≤ α·|v_r|. p = 0 and p = 100 return the
//! exact min and max.

/// Relative accuracy of every answer: 1 %.
pub const ALPHA: f64 = 0.01;
/// ln γ, where γ = (1 + α)/(1 − α) is the ratio between consecutive
/// bucket bounds; written out because `ln` is not `const` (a test checks).
const LN_GAMMA: f64 = 0.020_000_666_706_669_435;
/// Every finite f64 magnitude (subnormals included: ln 4.9e-324 ≈ −744.4)
/// has a bucket index within ±37,300; beyond this it is clamped.
const MAX_INDEX: i32 = 40_000;
/// Offset that keeps positive and negative buckets apart in [`key_of`].
const BIAS: i32 = MAX_INDEX + 1;

/// The ordered bucket key of a value: monotone in x (negative keys for
/// negative values, 0 for zero), so sorting keys sorts values.
pub fn key_of(x: f64) -> i32 {
    let index = |a: f64| ((a.ln() / LN_GAMMA).ceil() as i32).clamp(-MAX_INDEX, MAX_INDEX);
    if x > 0.0 {
        index(x) + BIAS
    } else if x < 0.0 {
        -(index(-x) + BIAS)
    } else {
        0
    }
}

/// The representative value of a bucket key: within α of every value in it.
/// It is 2γ^i/(γ + 1) = γ^i·(1 − α), computed in logs so that the top
/// bucket does not overflow.
pub fn value_of(key: i32) -> f64 {
    let rep = |i: i32| {
        (f64::from(i) * LN_GAMMA + (1.0 - ALPHA).ln())
            .exp()
            .min(f64::MAX)
    };
    match key {
        0 => 0.0,
        k if k > 0 => rep(k - BIAS),
        k => -rep(-k - BIAS),
    }
}

/// The nearest rank of percentile `p` (0..=100) among `n` values, 1-based:
/// ⌈p·n/100⌉, at least 1.
pub fn nearest_rank(p: f64, n: u64) -> u64 {
    ((p * n as f64 / 100.0).ceil() as u64).clamp(1, n.max(1))
}

/// A mergeable percentile sketch; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SavedSketch")]
pub struct QuantileSketch {
    /// The buckets, sorted by key; no zero counts. A bucket whose count
    /// passes `u32::MAX` continues in another bin of the same key right
    /// after it, so a bin is 8 bytes, not 16: the global state holds one
    /// sketch per (minute, cell) for a day, hundreds of buckets each, and
    /// they were a sixth of the process's memory on a realistic stream
    /// (docs/state.md).
    bins: Vec<Bin>,
}

/// One bucket's key and (part of) its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Bin {
    key: i32,
    count: u32,
}

impl Bin {
    /// Adds `count` to this bin as far as it fits; returns what did not.
    fn fill(&mut self, count: u64) -> u64 {
        let room = u64::from(u32::MAX - self.count);
        let added = count.min(room);
        self.count += added as u32;
        count - added
    }
}

/// `count` as bins of `key`, each as full as a bin may be.
fn bins_of(key: i32, mut count: u64, into: &mut Vec<Bin>) {
    while count > 0 {
        let part = count.min(u64::from(u32::MAX));
        into.push(Bin {
            key,
            count: part as u32,
        });
        count -= part;
    }
}

impl QuantileSketch {
    /// Adds one value; NaN means absent and is ignored.
    pub fn add(&mut self, x: f64) {
        if !x.is_nan() {
            self.add_bucket(key_of(x), 1);
        }
    }

    fn add_bucket(&mut self, key: i32, count: u32) {
        // The last bin of `key`, which is the one with room if any has.
        let end = self.bins.partition_point(|b| b.key <= key);
        let rest = match end.checked_sub(1).map(|i| &mut self.bins[i]) {
            Some(bin) if bin.key == key => bin.fill(u64::from(count)),
            _ => u64::from(count),
        };
        if rest == 0 {
            return;
        }
        if self.bins.capacity() == self.bins.len() {
            // Panes usually hold few distinct buckets: grow gently from
            // one, not to Vec's default minimum of four.
            self.bins.reserve_exact(self.bins.len().max(1));
        }
        self.bins.insert(
            end,
            Bin {
                key,
                count: rest as u32,
            },
        );
    }

    /// Adds every value of `other` (the sketch of the union). Buckets this
    /// sketch already has are added in place; only new ones are merged in,
    /// so folding many panes into one accumulator does not reallocate.
    pub fn merge(&mut self, other: &QuantileSketch) {
        if self.bins.is_empty() {
            self.bins.clone_from(&other.bins);
            return;
        }
        let mut new = Vec::new();
        for bin in &other.bins {
            let end = self.bins.partition_point(|b| b.key <= bin.key);
            let rest = match end.checked_sub(1).map(|i| &mut self.bins[i]) {
                Some(last) if last.key == bin.key => last.fill(u64::from(bin.count)),
                _ => u64::from(bin.count),
            };
            bins_of(bin.key, rest, &mut new);
        }
        if new.is_empty() {
            return;
        }
        let a = std::mem::take(&mut self.bins);
        let mut merged = Vec::with_capacity(a.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < new.len() {
            // `<=`: a bin continuing a full one of the same key goes after it.
            if a[i].key <= new[j].key {
                merged.push(a[i]);
                i += 1;
            } else {
                merged.push(new[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&new[j..]);
        self.bins = merged;
    }

    /// Forgets every value, keeping the allocation (for reused scratch).
    pub fn clear(&mut self) {
        self.bins.clear();
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.bins.iter().map(|b| u64::from(b.count)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Bins held (8 bytes each; a bucket is one bin unless its count
    /// passed `u32::MAX`).
    pub fn buckets(&self) -> usize {
        self.bins.len()
    }

    /// The `p`-th percentile (0..=100) by the nearest-rank rule, clamped
    /// into `[min, max]` (the exact extremes, known from the panes); `None`
    /// over no values.
    pub fn percentile(&self, p: f64, min: f64, max: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        if p <= 0.0 {
            return Some(min);
        }
        if p >= 100.0 {
            return Some(max);
        }
        let rank = nearest_rank(p, n);
        let mut seen = 0;
        for bin in &self.bins {
            seen += u64::from(bin.count);
            if seen >= rank {
                return Some(value_of(bin.key).clamp(min.min(max), max.max(min)));
            }
        }
        Some(max)
    }
}

/// A sketch as a checkpoint keeps it, checked on load: keys ascending, no
/// zero counts, a key repeated only after a full bin of it.
#[derive(serde::Deserialize)]
struct SavedSketch {
    bins: Vec<Bin>,
}

impl TryFrom<SavedSketch> for QuantileSketch {
    type Error = String;

    fn try_from(saved: SavedSketch) -> Result<QuantileSketch, String> {
        let sorted = saved
            .bins
            .windows(2)
            .all(|w| w[0].key < w[1].key || (w[0].key == w[1].key && w[0].count == u32::MAX));
        if !sorted || saved.bins.iter().any(|b| b.count == 0) {
            return Err("a percentile sketch out of order".into());
        }
        Ok(QuantileSketch { bins: saved.bins })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: &[f64]) -> QuantileSketch {
        let mut s = QuantileSketch::default();
        values.iter().for_each(|&x| s.add(x));
        s
    }

    fn exact(values: &[f64], p: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        v[nearest_rank(p, v.len() as u64) as usize - 1]
    }

    fn minmax(values: &[f64]) -> (f64, f64) {
        values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            })
    }

    fn within(est: f64, exact: f64) -> bool {
        (est - exact).abs() <= ALPHA * exact.abs() * (1.0 + 1e-9)
    }

    #[test]
    fn ln_gamma_is_what_it_claims() {
        let gamma = (1.0 + ALPHA) / (1.0 - ALPHA);
        assert!((gamma.ln() - LN_GAMMA).abs() < 1e-17);
    }

    #[test]
    fn every_representative_is_within_alpha_of_its_values() {
        for x in [1e-300, 1e-9, 0.001, 0.75, 1.0, 2.0, 15_000.0, 1e12, 1.7e308] {
            for x in [x, -x] {
                let rep = value_of(key_of(x));
                assert!(within(rep, x), "{x} -> {rep}");
            }
        }
        assert_eq!(value_of(key_of(0.0)), 0.0);
        assert!(key_of(-2.0) < key_of(-1.0) && key_of(-1.0) < 0 && 0 < key_of(1e-300));
        assert!(
            key_of(f64::MIN_POSITIVE / 1e10) > 0,
            "subnormals have buckets"
        );
    }

    #[test]
    fn empty_and_one_value() {
        let empty = QuantileSketch::default();
        assert_eq!(empty.percentile(50.0, 0.0, 0.0), None);
        assert_eq!(empty.count(), 0);
        let one = sketch(&[42.0]);
        for p in [0.0, 1.0, 50.0, 99.0, 100.0] {
            assert_eq!(
                one.percentile(p, 42.0, 42.0),
                Some(42.0),
                "clamped to min = max"
            );
        }
    }

    #[test]
    fn negatives_and_zero() {
        let values = [-100.0, -5.0, -5.0, 0.0, 0.0, 0.0, 3.0, 7.5, 1000.0];
        let s = sketch(&values);
        let (min, max) = minmax(&values);
        for p in [0.0, 10.0, 25.0, 40.0, 50.0, 60.0, 75.0, 90.0, 100.0] {
            let est = s.percentile(p, min, max).unwrap();
            assert!(
                within(est, exact(&values, p)),
                "p{p}: {est} vs {}",
                exact(&values, p)
            );
        }
        assert_eq!(s.percentile(50.0, min, max), Some(0.0), "zero is exact");
        assert_eq!(s.percentile(0.0, min, max), Some(-100.0));
        assert_eq!(s.percentile(100.0, min, max), Some(1000.0));
    }

    #[test]
    fn merge_is_the_sketch_of_the_union_in_any_order() {
        let a: Vec<f64> = (1..=500).map(|i| f64::from(i) * 1.7).collect();
        let b: Vec<f64> = (1..=300).map(|i| -f64::from(i).powf(1.5)).collect();
        let c = [0.0, 0.5, 12345.0];
        let mut ab = sketch(&a);
        ab.merge(&sketch(&b));
        ab.merge(&sketch(&c));
        let mut cb = sketch(&c);
        cb.merge(&sketch(&b));
        cb.merge(&sketch(&a));
        let all: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
        assert_eq!(ab, cb);
        assert_eq!(ab, sketch(&all));
        assert_eq!(ab.count(), all.len() as u64);
        let (min, max) = minmax(&all);
        for p in (0..=100).map(f64::from).chain([99.9, 0.1]) {
            let est = ab.percentile(p, min, max).unwrap();
            assert!(within(est, exact(&all, p)), "p{p}");
        }
        let mut e = QuantileSketch::default();
        e.merge(&QuantileSketch::default());
        assert!(e.is_empty());
    }

    #[test]
    fn nearest_rank_rule() {
        assert_eq!(nearest_rank(50.0, 4), 2);
        assert_eq!(nearest_rank(50.0, 5), 3);
        assert_eq!(nearest_rank(99.0, 100), 99);
        assert_eq!(nearest_rank(0.0, 10), 1);
        assert_eq!(nearest_rank(100.0, 10), 10);
        assert_eq!(nearest_rank(0.1, 10), 1);
    }

    #[test]
    fn memory_stays_logarithmic_in_the_range() {
        // 1 ms .. 1 h in ms, a million values: buckets ~ log_γ(3.6e6) ≈ 757.
        let mut s = QuantileSketch::default();
        let mut x = 1u64;
        for _ in 0..1_000_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.add(1.0 + (x >> 11) as f64 % 3.6e6);
        }
        assert!(s.buckets() < 800, "{}", s.buckets());
    }

    /// A bucket counted past `u32::MAX` continues in a second bin of the
    /// same key: counts, ranks and merges stay exact.
    #[test]
    fn a_bucket_past_u32_counts_on_in_another_bin() {
        let full = |key: i32| QuantileSketch {
            bins: vec![Bin {
                key,
                count: u32::MAX,
            }],
        };
        let (one, two) = (key_of(1.0), key_of(2.0));
        let mut s = full(one);
        s.add(1.0);
        assert_eq!(s.count(), u64::from(u32::MAX) + 1);
        assert_eq!(s.buckets(), 2);
        s.add(2.0);
        let mut merged = full(one);
        merged.merge(&s);
        merged.merge(&full(two));
        assert_eq!(merged.count(), 3 * u64::from(u32::MAX) + 2);
        let keys: Vec<i32> = merged.bins.iter().map(|b| b.key).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        // Ranks: the 1.0 bucket holds 2·(2^32−1)+1 values, then 2.0's.
        let ones = 2 * u64::from(u32::MAX) + 1;
        let p_last_one = ones as f64 * 100.0 / merged.count() as f64;
        let at = |p: f64| merged.percentile(p, 1.0, 2.0).unwrap();
        assert!(within(at(p_last_one - 1e-9), 1.0), "{}", at(p_last_one));
        assert!(within(at(p_last_one + 1e-6), 2.0));
    }
}
