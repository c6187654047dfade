//! Who an event is about: the actors of a stream (users or customers,
//! videos or items), picked by popularity, and the ids their ranks carry.
//!
//! Popularity is a Zipf law of exponent `skew` over ranks, mixed with a
//! uniform long tail ([`LONG_TAIL`]), so that at the defaults the hottest
//! user has about 12% of all events, as in the seed data. Reels add a few
//! *viral* videos with bursts of their own. Rank 1 carries the ids of the
//! README's example reels event (user 987654321, video 567890123, creator
//! 123456789), so the README's example queries find data in the demo stream.
//! How an actor appears in a line is [`super::formats`]' job.

use super::rng::{fixed_by, Rng};
use crate::time::Millis;

/// Share of picks that ignore popularity and choose any user or video
/// uniformly: the casual long tail. With Zipf(1.1) over 10,000 users the
/// hottest would get 15% on its own; 80% of that is the 12% of the seed data.
pub const LONG_TAIL: f64 = 0.2;

/// Most users or items a config may ask for: user, video and creator ids
/// live in disjoint ranges of this size.
pub const MAX_ACTORS: u64 = 100_000_000;

/// Reels: how many viral videos at most, the share of all events one takes
/// during its burst, and the burst length as a fraction of the span. At 2 M
/// events a day, 3% of the last 2 h is 5,000 events, mostly shares and
/// comments (the viral mix of [`super::formats`]).
const VIRAL_VIDEOS: u64 = 3;
const VIRAL_SHARE: f64 = 0.03;
const VIRAL_BURST: f64 = 1.0 / 8.0;

/// The ids of one kind of actor: rank 1 (the hottest) gets the id of the
/// README's example event, every other rank `base + rank`.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdRange {
    hot: u64,
    base: u64,
}

impl IdRange {
    pub(super) fn id(self, rank: u64) -> u64 {
        if rank == 1 {
            self.hot
        } else {
            self.base + rank
        }
    }
}

pub(super) const USER_IDS: IdRange = IdRange {
    hot: 987_654_321,
    base: 100_000_000,
};
pub(super) const VIDEO_IDS: IdRange = IdRange {
    hot: 567_890_123,
    base: 400_000_000,
};
/// Creators are not picked but fixed by their videos (see
/// [`Actors::creator_id`]), so `base` starts their range but no rank is
/// added to it.
const CREATOR_IDS: IdRange = IdRange {
    hot: 123_456_789,
    base: 300_000_000,
};

/// The actors of one stream and how often each is picked.
#[derive(Debug, Clone)]
pub(super) struct Actors {
    users: Popularity,
    /// Popularity of the ordinary videos/items; viral videos rank after them.
    items: Popularity,
    /// All videos/items, viral ones included: creators are spread over them.
    item_count: u64,
    viral: Vec<ViralBurst>,
}

/// A reels video with a viral burst: extra events, mostly shares and comments.
#[derive(Debug, Clone, Copy)]
struct ViralBurst {
    rank: u64,
    from_ms: Millis,
    to_ms: Millis,
}

impl Actors {
    /// Users and items picked by popularity alone.
    pub(super) fn new(users: u64, items: u64, skew: f64) -> Actors {
        Actors::with_bursts(users, items, skew, Vec::new())
    }

    /// As [`Actors::new`], with the viral videos of reels: the last ranks of
    /// `items` (none if there are fewer than 10 videos), with bursts of an
    /// eighth of the span ending at its end, at 5/8 and at 1/4 of it. The
    /// last burst runs to the end so that job J7 (viral videos in the last
    /// 2 h) finds them "now".
    pub(super) fn with_viral_videos(
        users: u64,
        items: u64,
        skew: f64,
        start_ms: Millis,
        span_ms: Millis,
    ) -> Actors {
        let count = if items >= 10 { VIRAL_VIDEOS } else { 0 };
        let span = span_ms as f64;
        let bursts = (0..count)
            .map(|j| {
                let end = span * (1.0 - 3.0 * j as f64 / 8.0);
                let to = start_ms + end as Millis;
                ViralBurst {
                    rank: items - j,
                    from_ms: to - (span * VIRAL_BURST) as Millis,
                    to_ms: to,
                }
            })
            .collect();
        Actors::with_bursts(users, items, skew, bursts)
    }

    fn with_bursts(users: u64, items: u64, skew: f64, viral: Vec<ViralBurst>) -> Actors {
        Actors {
            users: Popularity::new(users, skew),
            items: Popularity::new(items - viral.len() as u64, skew),
            item_count: items,
            viral,
        }
    }

    /// The rank of a user (customer), 1 the hottest.
    pub(super) fn user(&self, rng: &mut Rng) -> u64 {
        self.users.sample(rng)
    }

    /// The rank of an ordinary video (item), 1 the hottest.
    pub(super) fn item(&self, rng: &mut Rng) -> u64 {
        self.items.sample(rng)
    }

    /// The rank of the viral video an event at `ms` goes to, if a burst is
    /// on and it wins the draw.
    pub(super) fn viral_video(&self, rng: &mut Rng, ms: Millis) -> Option<u64> {
        for burst in &self.viral {
            if (burst.from_ms..=burst.to_ms).contains(&ms) && rng.f64() < VIRAL_SHARE {
                return Some(burst.rank);
            }
        }
        None
    }

    /// The creator of a video: one per five videos, fixed by the video.
    pub(super) fn creator_id(&self, video_rank: u64) -> u64 {
        if video_rank == 1 {
            return CREATOR_IDS.hot;
        }
        let creators = self.item_count.div_ceil(5);
        CREATOR_IDS.base + 1 + fixed_by(video_rank, 0xc4ea, creators)
    }
}

/// Popularity over ranks 1..=n: Zipf of exponent `skew` mixed with a uniform
/// long tail ([`LONG_TAIL`]); uniform alone when `skew` is 0.
#[derive(Debug, Clone)]
struct Popularity {
    n: u64,
    zipf: Option<Zipf>,
}

impl Popularity {
    fn new(n: u64, skew: f64) -> Popularity {
        let zipf = (skew > 0.0 && n > 1).then(|| Zipf::new(n, skew));
        Popularity { n, zipf }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        match &self.zipf {
            Some(zipf) if rng.f64() >= LONG_TAIL => zipf.sample(rng),
            _ => 1 + rng.below(self.n),
        }
    }
}

/// Zipf sampling in O(1) memory by rejection-inversion (Hörmann and
/// Derflinger 1996, as in Apache Commons RNG): millions of users need no
/// table, and the expected number of tries is below 1.1. Kept by hand
/// rather than taken from `rand_distr::Zipf` (0.6), which draws from the
/// same PCG stream 5.7 times slower here (184 ns against 32 ns a draw over
/// a million ranks at exponent 1.1) and would pull in `rand` as well.
#[derive(Debug, Clone)]
struct Zipf {
    n: f64,
    s: f64,
    /// Constants of the method, computed once from `n` and `s`.
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            threshold: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n as f64 + 0.5);
        z.threshold = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// x^-s, the unnormalised weight.
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// ∫₁ˣ t^-s dt, stable at s = 1.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (log1p_over_x(t) * x).exp()
    }
}

/// ln(1 + x) / x, with its series near 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (eˣ − 1) / x, with its series near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_matches_its_law() {
        let mut rng = Rng::new(1);
        for (n, s) in [(1_000u64, 1.1), (50, 0.5), (10_000, 1.0), (100, 2.0)] {
            let zipf = Zipf::new(n, s);
            let h: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
            let draws = 100_000;
            let mut top = [0u32; 3];
            for _ in 0..draws {
                let k = zipf.sample(&mut rng);
                assert!((1..=n).contains(&k));
                if k <= 3 {
                    top[k as usize - 1] += 1;
                }
            }
            for (i, &count) in top.iter().enumerate() {
                let expected = ((i + 1) as f64).powf(-s) / h;
                let got = f64::from(count) / f64::from(draws);
                assert!(
                    (got - expected).abs() < 0.01,
                    "n={n} s={s} k={}: {got} vs {expected}",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn viral_videos_are_the_last_ranks_and_leave_the_ordinary_ones() {
        let day = 86_400_000;
        let actors = Actors::with_viral_videos(100, 20, 1.1, 0, day);
        assert_eq!(
            actors.viral.iter().map(|b| b.rank).collect::<Vec<_>>(),
            [20, 19, 18]
        );
        assert_eq!(actors.viral[0].to_ms, day, "the last burst runs to the end");
        assert_eq!(actors.items.n, 17);
        let mut rng = Rng::new(5);
        assert!((0..1_000).all(|_| actors.item(&mut rng) <= 17));
        assert_eq!(
            actors.viral_video(&mut rng, day * 2 / 5),
            None,
            "no burst at 09:36"
        );
        let few = Actors::with_viral_videos(100, 9, 1.1, 0, day);
        assert!(few.viral.is_empty() && few.items.n == 9);
    }

    #[test]
    fn ranks_carry_the_readme_ids_and_creators_are_fixed() {
        assert_eq!(USER_IDS.id(1), 987_654_321);
        assert_eq!(USER_IDS.id(2), 100_000_002);
        assert_eq!(VIDEO_IDS.id(1), 567_890_123);
        let actors = Actors::new(10, 50, 1.1);
        assert_eq!(actors.creator_id(1), 123_456_789);
        for rank in 2..=50 {
            let creator = actors.creator_id(rank);
            assert_eq!(creator, actors.creator_id(rank));
            assert!((300_000_001..=300_000_010).contains(&creator), "{creator}");
        }
    }
}
