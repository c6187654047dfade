//! The distinct-count sketch: HyperLogLog with a sparse start.
//!
//! Values are hashed to 64 bits ([`crate::hash`]: splitmix64's
//! finalizer, a bijection on integers, chained over 8-byte words for
//! strings). A sketch starts **sparse**: the top 32 bits of each hash, kept
//! as a set (exact up to the rare 32-bit collision: expected n²/2³³, 0.002
//! at n = 4,096). When the set would outgrow the dense form (or is a full
//! sparse set's three quarters unique) it turns
//! **dense**: 2¹⁴ one-byte registers (16 KiB), register = the most leading
//! zeros + 1 seen among the hashes that pick it. The dense estimate is
//! Ertl's improved estimator ("New cardinality estimation algorithms for
//! HyperLogLog sketches", 2017): no bias tables, a standard error of
//! 1.04/√2¹⁴ ≈ 0.81 % over the whole range.
//!
//! Merging is a union (sets, or registers by max), so panes, cells,
//! entities and shards merge in any order to the same sketch.

/// Register-index bits: 2¹⁴ registers, standard error ≈ 0.81 %.
pub const PRECISION: u32 = 14;
const REGISTERS: usize = 1 << PRECISION;
/// Sparse hashes (4 bytes each) beyond this would take more room than the
/// dense registers (1 byte each).
const SPARSE_MAX: usize = REGISTERS / 4;
/// The largest register value from a 64-bit hash: 64 − 14 bits + 1.
const MAX_RANK: usize = 64 - PRECISION as usize + 1;

/// A mergeable distinct-count sketch; see the module docs.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "SavedHll")]
pub enum Hll {
    /// Top 32 bits of each hash. Appended unsorted; sorted and de-duplicated
    /// when the vector is full, so an insert is amortised O(log n) and never
    /// shifts the whole set.
    Sparse(Vec<u32>),
    /// One register per index.
    Dense(Box<[u8]>),
}

impl Default for Hll {
    fn default() -> Self {
        Hll::Sparse(Vec::new())
    }
}

/// Equal when they hold the same set (sparse order and duplicates aside).
impl PartialEq for Hll {
    fn eq(&self, other: &Hll) -> bool {
        match (self, other) {
            (Hll::Sparse(a), Hll::Sparse(b)) => sorted_set(a) == sorted_set(b),
            (Hll::Dense(a), Hll::Dense(b)) => a == b,
            _ => false,
        }
    }
}

fn sorted_set(v: &[u32]) -> Vec<u32> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

impl Hll {
    /// Adds a 64-bit hash of a value.
    pub fn add_hash(&mut self, hash: u64) {
        match self {
            Hll::Sparse(_) => self.add_short((hash >> 32) as u32),
            Hll::Dense(r) => set_full(r, hash),
        }
    }

    /// Adds a sparse entry (the top 32 bits of a hash).
    fn add_short(&mut self, short: u32) {
        let Hll::Sparse(v) = self else {
            if let Hll::Dense(r) = self {
                set_short(r, short);
            }
            return;
        };
        if v.len() == v.capacity() {
            v.sort_unstable();
            v.dedup();
            // Still three quarters full of distinct hashes: grow (doubling,
            // up to the dense size), or go dense. Growing before the set is
            // quite full keeps each sort paid for by a quarter of the
            // capacity in new pushes (a set kept nearly full would be
            // sorted again on almost every push).
            if v.len() == v.capacity() || v.len() > v.capacity() / 4 * 3 {
                if v.capacity() >= SPARSE_MAX {
                    self.densify();
                    return self.add_short(short);
                }
                let target = (v.capacity() * 2).clamp(1, SPARSE_MAX);
                v.reserve_exact(target - v.len());
            }
        }
        v.push(short);
    }

    fn densify(&mut self) {
        if let Hll::Sparse(v) = self {
            let mut r = vec![0u8; REGISTERS].into_boxed_slice();
            for &s in v.iter() {
                set_short(&mut r, s);
            }
            *self = Hll::Dense(r);
        }
    }

    /// Adds every value of `other` (the sketch of the union).
    pub fn merge(&mut self, other: &Hll) {
        match other {
            Hll::Sparse(v) => {
                if let Hll::Sparse(mine) = self {
                    if mine.is_empty() {
                        mine.clone_from(v);
                        return;
                    }
                }
                for &s in v {
                    self.add_short(s);
                }
            }
            Hll::Dense(theirs) => {
                self.densify();
                if let Hll::Dense(mine) = self {
                    for (a, b) in mine.iter_mut().zip(theirs.iter()) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }

    /// Forgets every value; a sparse sketch keeps its allocation (for
    /// reused scratch).
    pub fn clear(&mut self) {
        match self {
            Hll::Sparse(v) => v.clear(),
            Hll::Dense(_) => *self = Hll::default(),
        }
    }

    /// Whether the sketch went dense (16 KiB).
    pub fn is_dense(&self) -> bool {
        matches!(self, Hll::Dense(_))
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hll::Sparse(v) => v.capacity() * 4,
            Hll::Dense(r) => r.len(),
        }
    }

    /// The estimated number of distinct values: the size of the set while
    /// sparse, Ertl's estimate once dense.
    pub fn estimate(&self) -> u64 {
        match self {
            Hll::Sparse(v) => sorted_set(v).len() as u64,
            Hll::Dense(r) => estimate_dense(r).round() as u64,
        }
    }
}

fn set_full(registers: &mut [u8], hash: u64) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rank = ((hash << PRECISION).leading_zeros() as usize + 1).min(MAX_RANK);
    let r = &mut registers[index];
    *r = (*r).max(rank as u8);
}

/// The register of a sparse entry: 18 bits remain after the index, so its
/// rank is at most 19 (a rank past 19 has odds 2⁻¹⁸ per value; losing it
/// biases nothing measurable).
fn set_short(registers: &mut [u8], short: u32) {
    let index = (short >> (32 - PRECISION)) as usize;
    let rank = ((short << PRECISION).leading_zeros() + 1).min(32 - PRECISION + 1);
    let r = &mut registers[index];
    *r = (*r).max(rank as u8);
}

/// Ertl's improved raw estimator (Algorithm 6 of the paper).
fn estimate_dense(registers: &[u8]) -> f64 {
    let m = registers.len() as f64;
    let q = MAX_RANK - 1;
    let mut c = [0u32; MAX_RANK + 1];
    for &r in registers {
        c[usize::from(r).min(MAX_RANK)] += 1;
    }
    let mut z = m * tau(1.0 - f64::from(c[q + 1]) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + f64::from(c[k]));
    }
    z += m * sigma(f64::from(c[0]) / m);
    let alpha_inf = 0.5 / std::f64::consts::LN_2;
    alpha_inf * m * m / z
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// A sketch as a checkpoint keeps it. A sparse set keeps its capacity,
/// because when it is sorted, grown or made dense depends on it (so a
/// restored sketch turns dense exactly when the original would have).
#[derive(serde::Deserialize)]
enum SavedHll {
    Sparse { capacity: u32, shorts: Vec<u32> },
    Dense(#[serde(with = "crate::codec::bytes")] Box<[u8]>),
}

/// [`SavedHll`] borrowed from a sketch: the same encoding, no copy.
#[derive(serde::Serialize)]
enum SavedHllRef<'a> {
    Sparse { capacity: u32, shorts: &'a [u32] },
    Dense(#[serde(with = "crate::codec::bytes")] &'a [u8]),
}

impl serde::Serialize for Hll {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Hll::Sparse(v) => SavedHllRef::Sparse {
                capacity: v.capacity() as u32,
                shorts: v,
            },
            Hll::Dense(r) => SavedHllRef::Dense(r),
        }
        .serialize(s)
    }
}

impl TryFrom<SavedHll> for Hll {
    type Error = String;

    fn try_from(saved: SavedHll) -> Result<Hll, String> {
        match saved {
            SavedHll::Sparse { capacity, shorts } => {
                let capacity = capacity as usize;
                if capacity > SPARSE_MAX || shorts.len() > capacity {
                    return Err("a sparse sketch past its bound".into());
                }
                let mut v = Vec::with_capacity(capacity);
                v.extend_from_slice(&shorts);
                Ok(Hll::Sparse(v))
            }
            SavedHll::Dense(r)
                if r.len() == REGISTERS && r.iter().all(|&x| usize::from(x) <= MAX_RANK) =>
            {
                Ok(Hll::Dense(r))
            }
            SavedHll::Dense(_) => Err("a dense sketch with wrong registers".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash_bytes, hash_int};

    fn hll(range: std::ops::Range<i64>) -> Hll {
        let mut h = Hll::default();
        range.for_each(|i| h.add_hash(hash_int(i)));
        h
    }

    fn rel_err(est: u64, exact: u64) -> f64 {
        (est as f64 - exact as f64).abs() / exact as f64
    }

    #[test]
    fn empty_and_one_value() {
        assert_eq!(Hll::default().estimate(), 0);
        let mut h = Hll::default();
        h.add_hash(hash_bytes(b"user8"));
        h.add_hash(hash_bytes(b"user8"));
        assert_eq!(h.estimate(), 1);
        assert!(!h.is_dense());
        assert!(
            h.heap_bytes() <= 8,
            "a tiny set costs bytes: {}",
            h.heap_bytes()
        );
    }

    #[test]
    fn sparse_is_exact_for_small_sets_and_goes_dense_past_its_size() {
        for n in [1, 2, 10, 100, 1000, 4000] {
            let h = hll(0..n);
            assert_eq!(h.estimate(), n as u64);
            assert!(!h.is_dense());
        }
        let h = hll(0..5000);
        assert!(h.is_dense());
        assert!(rel_err(h.estimate(), 5000) < 0.03, "{}", h.estimate());
        // Duplicates never push a sketch dense.
        let mut d = Hll::default();
        for _ in 0..100 {
            (0..100).for_each(|i| d.add_hash(hash_int(i)));
        }
        assert!(!d.is_dense());
        assert_eq!(d.estimate(), 100);
    }

    #[test]
    fn merge_is_union_in_any_order_and_across_forms() {
        let (a, b, c) = (hll(0..3000), hll(2000..9000), hll(8000..8100));
        let mut abc = a.clone();
        abc.merge(&b);
        abc.merge(&c);
        let mut cba = c.clone();
        cba.merge(&b);
        cba.merge(&a);
        assert_eq!(abc, cba);
        assert_eq!(abc, hll(0..9000));
        let mut small = hll(0..10);
        small.merge(&hll(5..20));
        assert_eq!(small.estimate(), 20);
        assert_eq!(small, hll(0..20));
        let mut e = Hll::default();
        e.merge(&Hll::default());
        assert_eq!(e.estimate(), 0);
    }

    #[test]
    fn within_two_percent_at_a_million() {
        let h = hll(0..1_000_000);
        let err = rel_err(h.estimate(), 1_000_000);
        assert!(err <= 0.02, "estimate {} error {err}", h.estimate());
        // Strings too, split across shards and merged.
        let mut parts = vec![Hll::default(); 4];
        for i in 0..1_000_000u32 {
            parts[(i % 4) as usize].add_hash(hash_bytes(format!("user{i}").as_bytes()));
        }
        let mut all = Hll::default();
        parts.iter().for_each(|p| all.merge(p));
        let err = rel_err(all.estimate(), 1_000_000);
        assert!(err <= 0.02, "estimate {} error {err}", all.estimate());
    }

    #[test]
    fn accurate_across_the_sparse_dense_transition() {
        for n in [4100, 10_000, 30_000, 100_000] {
            let err = rel_err(hll(0..n).estimate(), n as u64);
            assert!(err <= 0.03, "n = {n}: error {err}");
        }
    }

    #[test]
    fn hashes_spread() {
        assert_ne!(hash_int(0), hash_int(1));
        assert_eq!(hash_int(0), 0, "0 is hashed to 0; nonzero() moves it");
        assert!(hll(0..5000).heap_bytes() <= 16384);
    }
}
