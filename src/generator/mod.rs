//! Generator: seeded synthetic events in the five built-in presets of
//! `crate::event::PRESETS`, behind `tally gen`, the shell's demo data and
//! the benches.
//!
//! A [`Generator`] is an iterator of NDJSON lines; [`generate`] writes them
//! out. The same [`GenConfig`] (seed included) always gives byte-identical
//! output: time comes from the config, never the wall clock, and the random
//! numbers from a generator of our own.
//!
//! What the data looks like:
//!
//! - Events are spread evenly over `span_ms` from `start_ms`, in time order;
//!   `disorder_ms` moves each one back by a random amount up to that.
//! - Users (customers) and videos (items) are picked by popularity, with the
//!   hottest carrying the ids of the README's example reels event; a few
//!   reels videos have viral bursts, the last one running to the end of the
//!   span.
//! - `duplicates` repeats recent good lines verbatim (same id); `bad` mixes
//!   truncated JSON, a wrongly typed field, a missing required field, empty
//!   lines and garbage.
//!
//! This module only writes lines; reading them back is `crate::event`'s job.
//! Its files, from the bottom:
//!
//! - `rng`: the seeded random stream, and traits fixed by an actor's id;
//! - `popularity`: which user and video an event is about, and their ids;
//! - `digits`: numbers and timestamps written digit by digit;
//! - `formats`: the presets, one line writer each;
//! - `spoiling`: duplicates, bad lines and disorder.

mod digits;
mod formats;
mod popularity;
mod rng;
mod spoiling;

use std::io::Write;

use crate::error::{Error, Result};
use crate::time::Millis;
use formats::Preset;
use popularity::Actors;
use rng::Rng;
use spoiling::Recent;

pub use popularity::{LONG_TAIL, MAX_ACTORS};

/// 2025-01-15T00:00:00Z, the day of the README's example reels event.
pub const DEFAULT_START_MS: Millis = 1_736_899_200_000;

/// Year 10000 starts here; timestamps are written with four-digit years.
const MAX_MS: Millis = 253_402_300_800_000;

/// What to generate. Every field has a default; see [`GenConfig::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// The name of a built-in preset, one of [`crate::event::PRESETS`].
    pub preset: String,
    /// Lines to write, bad lines and duplicates included.
    pub events: u64,
    /// Distinct users (reels, clicks) or customers (shop).
    pub users: u64,
    /// Distinct videos (reels) or items (shop).
    pub items: u64,
    /// Zipf exponent of user and video/item popularity; 0 is uniform. The
    /// default 1.1 gives the hottest of 10,000 users about 12% of events.
    pub skew: f64,
    /// Time of the first event. Fixed, so output never depends on the clock.
    pub start_ms: Millis,
    /// Events are spread evenly over this span, in time order.
    pub span_ms: Millis,
    /// Each event's time is moved back by up to this: out-of-order lines.
    pub disorder_ms: Millis,
    /// Fraction of lines that repeat a recent line verbatim (same id), to
    /// exercise de-duplication.
    pub duplicates: f64,
    /// Fraction of lines that must be rejected: a mix of truncated JSON, a
    /// wrongly typed field, a missing required field, empty lines, garbage.
    pub bad: f64,
    /// Same seed and config, same bytes.
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            preset: "reels".into(),
            events: 100_000,
            users: 10_000,
            items: 1_000,
            skew: 1.1,
            start_ms: DEFAULT_START_MS,
            span_ms: 24 * 3_600_000,
            disorder_ms: 0,
            duplicates: 0.0,
            bad: 0.0,
            seed: 42,
        }
    }
}

impl GenConfig {
    /// Checks every setting, naming the flag and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidInput(msg));
        Preset::parse(&self.preset)?;
        for (name, n) in [("users", self.users), ("items", self.items)] {
            if n == 0 || n > MAX_ACTORS {
                return bad(format!(
                    "{name} must be between 1 and {MAX_ACTORS}, not {n}"
                ));
            }
        }
        if !self.skew.is_finite() || !(0.0..=10.0).contains(&self.skew) {
            return bad(format!(
                "skew must be a Zipf exponent between 0 (uniform) and 10, not {}",
                self.skew
            ));
        }
        if self.start_ms < 0 || self.span_ms < 0 || self.disorder_ms < 0 {
            return bad("start, span and disorder must not be negative".into());
        }
        if self.start_ms.saturating_add(self.span_ms) >= MAX_MS {
            return bad("start + span must end before the year 10000".into());
        }
        for (name, f) in [("duplicates", self.duplicates), ("bad", self.bad)] {
            if !f.is_finite() || !(0.0..=1.0).contains(&f) {
                return bad(format!(
                    "{name} must be a fraction between 0 and 1, not {f}"
                ));
            }
        }
        if self.duplicates + self.bad > 1.0 {
            return bad(format!(
                "duplicates + bad must not exceed 1 (got {} + {})",
                self.duplicates, self.bad
            ));
        }
        Ok(())
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// All lines, bad lines and duplicates included.
    pub lines: u64,
    /// Lines that repeat an earlier good line verbatim.
    pub duplicates: u64,
    /// Lines a reader must reject.
    pub bad: u64,
}

/// Writes the lines of `config`, one per `\n`, to `out`.
pub fn generate(config: &GenConfig, out: &mut dyn Write) -> Result<GenSummary> {
    let mut generator = Generator::new(config)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let failed = |e| Error::io("writing generated events", e);
    while let Some(line) = generator.next_line() {
        out.write_all(line.as_bytes()).map_err(failed)?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(generator.summary())
}

/// An iterator of generated NDJSON lines (no trailing newline). Use
/// [`Generator::next_line`] to borrow each line instead of allocating it.
#[derive(Debug, Clone)]
pub struct Generator {
    preset: Preset,
    config: GenConfig,
    rng: Rng,
    actors: Actors,
    /// Index of the next line, which fixes its time slot.
    slot: u64,
    /// Events generated so far (good or spoiled), the source of event ids.
    sequence: u64,
    /// The line being built, reused so that the hot path does not allocate.
    line: String,
    /// Recent good lines, for duplicates to repeat.
    recent: Recent,
    summary: GenSummary,
}

impl Generator {
    /// Validates the config and prepares the popularity laws.
    pub fn new(config: &GenConfig) -> Result<Generator> {
        config.validate()?;
        let preset = Preset::parse(&config.preset)?;
        let (users, items, skew) = (config.users, config.items, config.skew);
        let actors = if preset.has_viral_videos() {
            Actors::with_viral_videos(users, items, skew, config.start_ms, config.span_ms)
        } else {
            Actors::new(users, items, skew)
        };
        Ok(Generator {
            preset,
            config: config.clone(),
            rng: Rng::new(config.seed),
            actors,
            slot: 0,
            sequence: 0,
            line: String::with_capacity(512),
            recent: Recent::default(),
            summary: GenSummary::default(),
        })
    }

    /// What has been generated so far.
    pub fn summary(&self) -> GenSummary {
        self.summary
    }

    /// The next line, borrowed until the next call; `None` at the end.
    ///
    /// One draw decides what the line is (bad, duplicate or good); the order
    /// of every draw after it is part of the byte-for-byte contract.
    pub fn next_line(&mut self) -> Option<&str> {
        if self.slot >= self.config.events {
            return None;
        }
        let u = self.rng.f64();
        if u < self.config.bad {
            self.write_event();
            spoiling::spoil(&mut self.line, self.preset, &mut self.rng);
            self.summary.bad += 1;
        } else if u < self.config.bad + self.config.duplicates && self.repeat_recent() {
            self.summary.duplicates += 1;
        } else {
            self.write_event();
            if self.config.duplicates > 0.0 {
                self.recent.remember(&self.line);
            }
        }
        self.slot += 1;
        self.summary.lines += 1;
        Some(&self.line)
    }

    /// Copies a recent good line into `self.line`; false before the first
    /// (the line is then a good one).
    fn repeat_recent(&mut self) -> bool {
        match self.recent.repeat(&mut self.rng) {
            Some(old) => {
                self.line.clear();
                self.line.push_str(old);
                true
            }
            None => false,
        }
    }

    /// Writes the next well-formed event into `self.line`.
    fn write_event(&mut self) {
        self.sequence += 1;
        let micros = spoiling::disorder(self.slot_micros(), self.config.disorder_ms, &mut self.rng);
        self.preset.write(
            &mut self.line,
            &self.actors,
            &mut self.rng,
            self.sequence,
            micros,
        );
    }

    /// The time of the current slot in microseconds, before disorder.
    fn slot_micros(&self) -> i64 {
        let events = self.config.events.max(1) as i128;
        let offset = self.config.span_ms as i128 * 1000 * self.slot as i128 / events;
        self.config.start_ms * 1000 + offset as i64
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.next_line().map(str::to_owned)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.config.events.saturating_sub(self.slot);
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Schema, TimeSource, PRESETS};
    use formats::tests::is_good;
    use popularity::{USER_IDS, VIDEO_IDS};
    use serde_json::Value as Json;
    use std::collections::{HashMap, HashSet};

    fn config(preset: &str, events: u64) -> GenConfig {
        GenConfig {
            preset: preset.into(),
            events,
            ..GenConfig::default()
        }
    }

    fn lines(config: &GenConfig) -> Vec<String> {
        Generator::new(config).unwrap().collect()
    }

    #[test]
    fn same_config_same_bytes() {
        for preset in PRESETS {
            let c = GenConfig {
                disorder_ms: 5_000,
                duplicates: 0.05,
                bad: 0.05,
                ..config(preset, 2_000)
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let sa = generate(&c, &mut a).unwrap();
            let sb = generate(&c, &mut b).unwrap();
            assert_eq!(a, b, "{preset}");
            assert_eq!(sa, sb);
            assert_eq!(sa.lines, 2_000);
            let mut c2 = Vec::new();
            generate(
                &GenConfig {
                    seed: 7,
                    ..config(preset, 2_000)
                },
                &mut c2,
            )
            .unwrap();
            assert_ne!(a, c2, "{preset}: another seed gives other data");
            // The iterator yields the same lines as generate writes.
            let joined: String = lines(&c).iter().map(|l| format!("{l}\n")).collect();
            assert_eq!(joined.as_bytes(), a.as_slice());
        }
    }

    /// The bytes of every preset, pinned: a 64-bit hash of the whole output
    /// (2,000 lines) for a config that takes every path (duplicates, bad
    /// lines, disorder, viral bursts), and for an edge config (one user,
    /// five items, no skew, so no Zipf and no viral video). A change to any
    /// draw or any writer shows here; change the constants only when the
    /// stream is meant to change.
    #[test]
    fn same_seed_same_bytes_as_pinned() {
        const PINNED: [(&str, u64, u64); 5] = [
            ("reels", 0x5fea_3459_1cf6_d652, 0x7d15_25f4_12b4_ed97),
            ("shop", 0x86ea_b042_1cdd_faf2, 0x22cb_34c6_54f2_e20b),
            ("clicks", 0x0398_d0fe_2fce_dc5e, 0xda1f_1704_e6af_0e84),
            ("stats", 0x78fd_eb5e_531d_ca6f, 0x885d_7ea6_49fb_f955),
            ("ledger", 0x09c3_81e0_7783_9e4f, 0xaae0_1a2f_5900_d240),
        ];
        assert_eq!(PINNED.map(|(name, ..)| name), PRESETS, "one row per preset");
        let hash_of = |c: &GenConfig| {
            let mut out = Vec::new();
            let summary = generate(c, &mut out).unwrap();
            assert_eq!(summary.lines, 2_000);
            assert!(summary.duplicates > 0 && summary.bad > 0, "{c:?}");
            crate::hash::hash_bytes(&out)
        };
        for (preset, busy, edge) in PINNED {
            let busy_config = GenConfig {
                disorder_ms: 5_000,
                duplicates: 0.05,
                bad: 0.05,
                seed: 42,
                ..config(preset, 2_000)
            };
            let edge_config = GenConfig {
                users: 1,
                items: 5,
                skew: 0.0,
                disorder_ms: 60_000,
                duplicates: 0.2,
                bad: 0.2,
                seed: 7,
                ..config(preset, 2_000)
            };
            assert_eq!(hash_of(&busy_config), busy, "{preset}: the bytes changed");
            assert_eq!(hash_of(&edge_config), edge, "{preset}: the bytes changed");
        }
    }

    #[test]
    fn time_order_without_disorder_and_bounded_with_it() {
        for preset in PRESETS {
            let schema = Schema::preset(preset).unwrap();
            // A preset read on arrival (ledger) writes no time to check.
            let TimeSource::Field(field) = schema.time else {
                continue;
            };
            let times = |c: &GenConfig| -> Vec<Millis> {
                lines(c)
                    .iter()
                    .map(|l| {
                        let v: Json = serde_json::from_str(l).unwrap();
                        crate::time::parse_timestamp_str(v[&field].as_str().unwrap()).unwrap()
                    })
                    .collect()
            };
            let c = config(preset, 2_000);
            let sorted = times(&c);
            assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "{preset}");
            assert!(sorted[0] >= c.start_ms);
            assert!(*sorted.last().unwrap() <= c.start_ms + c.span_ms);
            let disordered = times(&GenConfig {
                disorder_ms: 60_000,
                ..c.clone()
            });
            assert!(disordered.windows(2).any(|w| w[0] > w[1]), "{preset}");
            for (d, s) in disordered.iter().zip(&sorted) {
                assert!(d <= s && s - d <= 60_000 + 1_000, "{preset}");
            }
        }
    }

    #[test]
    fn duplicate_and_bad_fractions_are_respected() {
        for preset in PRESETS {
            let schema = Schema::preset(preset).unwrap();
            let c = GenConfig {
                duplicates: 0.1,
                bad: 0.1,
                ..config(preset, 5_000)
            };
            let mut generator = Generator::new(&c).unwrap();
            let all: Vec<String> = generator.by_ref().collect();
            let summary = generator.summary();
            let mut seen = HashSet::new();
            let (mut bad, mut repeated) = (0, 0);
            for line in &all {
                if !is_good(&schema, line) {
                    bad += 1;
                } else if !seen.insert(line.clone()) {
                    repeated += 1;
                }
            }
            assert_eq!(summary.lines, 5_000);
            assert_eq!(bad, summary.bad, "{preset}: every spoiled line is bad");
            // Good lines are unique (ids or distinct times), so a repeat is
            // exactly a duplicate.
            assert_eq!(repeated, summary.duplicates, "{preset}");
            for (name, n) in [("bad", bad), ("duplicates", summary.duplicates)] {
                assert!((400..=600).contains(&n), "{preset}: {n} {name} of 5000");
            }
        }
    }

    #[test]
    fn the_hottest_user_gets_about_twelve_percent() {
        let events_per_user = |c: &GenConfig| {
            let mut counts: HashMap<u64, u64> = HashMap::new();
            for line in lines(c) {
                let v: Json = serde_json::from_str(&line).unwrap();
                *counts.entry(v["user_id"].as_u64().unwrap()).or_default() += 1;
            }
            counts
        };
        let counts = events_per_user(&config("reels", 20_000));
        let (&hottest, &n) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(hottest, USER_IDS.id(1));
        let share = n as f64 / 20_000.0;
        assert!((0.08..=0.16).contains(&share), "hottest user share {share}");
        let uniform = events_per_user(&GenConfig {
            skew: 0.0,
            ..config("reels", 20_000)
        });
        assert!(
            uniform.values().all(|&n| n < 20),
            "no hot user when uniform"
        );
    }

    #[test]
    fn viral_videos_out_share_their_views_at_the_end() {
        // 200k events over 24 h: the last 2 h hold about 16.7k events.
        let c = config("reels", 200_000);
        let now = c.start_ms + c.span_ms;
        let mut per_video: HashMap<u64, (u64, u64)> = HashMap::new();
        for line in Generator::new(&c).unwrap() {
            let v: Json = serde_json::from_str(&line).unwrap();
            let t = crate::time::parse_timestamp_str(v["timestamp"].as_str().unwrap()).unwrap();
            if t <= now - 2 * 3_600_000 {
                continue;
            }
            let entry = per_video
                .entry(v["video_id"].as_u64().unwrap())
                .or_default();
            match v["event_type"].as_str().unwrap() {
                "video_view" => entry.0 += 1,
                "share" | "comment" => entry.1 += 1,
                _ => {}
            }
        }
        let viral: Vec<_> = per_video
            .iter()
            .filter(|(_, (views, sc))| *views >= 100 && *sc as f64 > 1.5 * *views as f64)
            .collect();
        assert_eq!(viral.len(), 1, "{viral:?}");
        assert_eq!(*viral[0].0, VIDEO_IDS.id(c.items));
    }

    #[test]
    fn invalid_configs_are_input_errors() {
        let cases = [
            (config("tweets", 1), "unknown preset 'tweets'"),
            (
                GenConfig {
                    users: 0,
                    ..config("reels", 1)
                },
                "users",
            ),
            (
                GenConfig {
                    items: 0,
                    ..config("shop", 1)
                },
                "items",
            ),
            (
                GenConfig {
                    skew: f64::NAN,
                    ..config("reels", 1)
                },
                "skew",
            ),
            (
                GenConfig {
                    bad: 1.5,
                    ..config("reels", 1)
                },
                "bad",
            ),
            (
                GenConfig {
                    bad: 0.6,
                    duplicates: 0.6,
                    ..config("reels", 1)
                },
                "exceed 1",
            ),
            (
                GenConfig {
                    span_ms: -1,
                    ..config("reels", 1)
                },
                "negative",
            ),
            (
                GenConfig {
                    start_ms: i64::MAX,
                    ..config("reels", 1)
                },
                "10000",
            ),
        ];
        for (c, needle) in cases {
            match Generator::new(&c) {
                Err(Error::InvalidInput(msg)) => assert!(msg.contains(needle), "{msg}"),
                other => panic!("expected an input error for {c:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn edge_configs_do_not_panic() {
        for preset in PRESETS {
            for c in [
                GenConfig {
                    users: 1,
                    items: 1,
                    ..config(preset, 50)
                },
                GenConfig {
                    span_ms: 0,
                    disorder_ms: 1,
                    ..config(preset, 50)
                },
                GenConfig {
                    start_ms: 0,
                    disorder_ms: 10_000,
                    ..config(preset, 50)
                },
                GenConfig {
                    duplicates: 1.0,
                    ..config(preset, 50)
                },
                GenConfig {
                    skew: 10.0,
                    ..config(preset, 50)
                },
                config(preset, 0),
            ] {
                assert_eq!(lines(&c).len() as u64, c.events);
            }
        }
    }
}
