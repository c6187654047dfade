//! Randomness, drawn and fixed: the generator's own pseudo-random stream
//! ([`Rng`]), and the traits fixed by an actor's id rather than drawn
//! ([`fixed_by`]).
//!
//! The stream is PCG's 128-bit multiplicative generator with the XSL RR
//! output (`pcg64_fast`, rand_pcg's [`Pcg64Mcg`]), seeded by SplitMix64. The
//! same seed must give the same bytes forever, so the stream is pinned
//! twice: rand_pcg is pinned to one exact version in Cargo.toml, and the
//! generator's bytes are pinned by a test (`same_seed_same_bytes_as_pinned`
//! in this folder's mod.rs). The seeding is ours rather than rand_core's
//! `seed_from_u64`, so a rand_core release cannot move it either. Measured
//! by the `generate` group of `cargo bench --bench pipeline`, it is as fast
//! as the xoshiro256** it replaced. What the numbers mean (popularity,
//! event shapes, bad lines) is the other files' business.

use rand_pcg::rand_core::Rng as _;
use rand_pcg::Pcg64Mcg;

use crate::hash::{mix64, GOLDEN_GAMMA};

/// The generator's random stream: one PCG state, seeded by SplitMix64.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    pcg: Pcg64Mcg,
}

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(GOLDEN_GAMMA);
            u128::from(mix64(x))
        };
        let state = next() << 64 | next();
        Rng {
            pcg: Pcg64Mcg::new(state),
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.pcg.next_u64()
    }

    /// Uniform in [0, 1).
    pub(super) fn f64(&mut self) -> f64 {
        unit_interval(self.next_u64())
    }

    /// Uniform in 0..n (n > 0), by multiply-shift; the bias is below 2^-40
    /// for every n used here.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// One of `choices` (not empty), uniformly.
    pub(super) fn choose<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[self.below(choices.len() as u64) as usize]
    }

    /// One of `choices` (not empty), in proportion to its weight.
    pub(super) fn pick(&mut self, choices: &[(&'static str, u32)]) -> &'static str {
        let total: u32 = choices.iter().map(|(_, w)| w).sum();
        let mut r = self.below(u64::from(total)) as u32;
        for &(name, weight) in choices {
            if r < weight {
                return name;
            }
            r -= weight;
        }
        choices.last().map_or("", |&(name, _)| name)
    }
}

/// The top 53 bits of `bits` as a number in [0, 1): exact, and uniform when
/// the bits are.
pub(super) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A trait in 0..n that an actor keeps for the whole stream (a user's
/// device, a video's creator or length): a hash of its id, not a draw, so it
/// costs no state and does not shift the random stream. `salt` keeps the
/// traits of one actor independent of each other.
pub(super) fn fixed_by(actor: u64, salt: u64, n: u64) -> u64 {
    mix64(actor ^ salt) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_and_follow_their_weights() {
        let mut rng = Rng::new(3);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            assert!(rng.below(7) < 7);
            let u = rng.f64();
            assert!((0.0..1.0).contains(&u));
            let name = rng.pick(&[("a", 1), ("b", 2), ("c", 0)]);
            counts[usize::from(name.as_bytes()[0] - b'a')] += 1;
            assert!(["x", "y"].contains(rng.choose(&["x", "y"])));
        }
        assert_eq!(counts[2], 0, "a weight of 0 is never picked");
        let share_b = f64::from(counts[1]) / 30_000.0;
        assert!((share_b - 2.0 / 3.0).abs() < 0.02, "{share_b}");
    }

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(9), Rng::new(9), Rng::new(10));
        let draws = |r: &mut Rng| (0..8).map(|_| r.below(u64::MAX)).collect::<Vec<_>>();
        assert_eq!(draws(&mut a), draws(&mut b));
        assert_ne!(draws(&mut a), draws(&mut c));
        assert_eq!(fixed_by(5, 1, 10), fixed_by(5, 1, 10));
    }
}
