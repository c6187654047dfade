//! Gen: seeded synthetic events in the five shapes of SPEC §2, behind
//! `tally gen` and the shell's demo data.
//!
//! A [`Generator`] is an iterator of NDJSON lines; [`generate`] writes them
//! out. The same [`GenConfig`] (seed included) always gives byte-identical
//! output: time comes from the config, never the wall clock, and the random
//! numbers come from a small generator defined here rather than from a crate
//! whose streams may change between versions (rand says as much of `StdRng`).
//!
//! What the data looks like:
//!
//! - Events are spread evenly over `span_ms` from `start_ms`, in time order;
//!   `disorder_ms` moves each one back by a random amount up to that.
//! - Users (customers) and videos (items) are picked by popularity: a Zipf
//!   law of exponent `skew` over ranks, mixed with a uniform long tail
//!   ([`LONG_TAIL`]), so that at the defaults the hottest user has about 12%
//!   of all events, as in the seed data. Rank 1 carries the ids of the SPEC's
//!   example event (user 987654321, video 567890123, creator 123456789), so the
//!   SPEC's example queries find data in the demo stream.
//! - Reels: a few *viral* videos have bursts in which shares and comments
//!   outnumber views almost 2 to 1; the last burst runs to the end of the
//!   span, so job J7 (viral videos in the last 2 h) finds them "now".
//! - `duplicates` repeats recent good lines verbatim (same id); `bad` mixes
//!   truncated JSON, a wrongly typed field, a missing required field, empty
//!   lines and garbage.
//!
//! This module only writes lines; reading them back is `crate::event`'s job.

use std::io::Write;

use crate::error::{Error, Result};
use crate::event::PRESETS;
use crate::hash::{mix64, GOLDEN_GAMMA};
use crate::time::Millis;

/// Share of picks that ignore popularity and choose any user or video
/// uniformly: the casual long tail. With Zipf(1.1) over 10,000 users the
/// hottest would get 15% on its own; 80% of that is the 12% of the seed data.
pub const LONG_TAIL: f64 = 0.2;

/// 2025-01-15T00:00:00Z, the day of the SPEC's example reels event.
pub const DEFAULT_START_MS: Millis = 1_736_899_200_000;

/// Most users or items a config may ask for: user, video and creator ids
/// live in disjoint ranges of this size.
pub const MAX_ACTORS: u64 = 100_000_000;

/// Ids of the SPEC's example event, given to rank 1 (the hottest).
const HOT_USER_ID: u64 = 987_654_321;
const HOT_VIDEO_ID: u64 = 567_890_123;
const HOT_CREATOR_ID: u64 = 123_456_789;
/// Id ranges: `base + rank` for ranks above 1.
const USER_ID_BASE: u64 = 100_000_000;
const CREATOR_ID_BASE: u64 = 300_000_000;
const VIDEO_ID_BASE: u64 = 400_000_000;

/// Year 10000 starts here; timestamps are written with four-digit years.
const MAX_MS: Millis = 253_402_300_800_000;

/// How many recent good lines a duplicate may repeat: about 10 s of a 2 M/day
/// stream, well inside any de-duplication horizon.
const RECENT: usize = 256;

/// Reels: how many viral videos at most, the share of all events one takes
/// during its burst, and the burst length as a fraction of the span. At 2 M
/// events a day, 3% of the last 2 h is 5,000 events: 1,500 views, 2,750
/// shares and comments.
const VIRAL_VIDEOS: u64 = 3;
const VIRAL_SHARE: f64 = 0.03;
const VIRAL_BURST: f64 = 1.0 / 8.0;

/// What to generate. Every field has a default; see [`GenConfig::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Which shape of SPEC §2: reels, shop, clicks, stats or ledger.
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
    /// The presets `tally gen` can write, for help texts and completion.
    pub fn preset_names() -> &'static [&'static str] {
        &PRESETS
    }

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

/// The shapes of SPEC §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preset {
    Reels,
    Shop,
    Clicks,
    Stats,
    Ledger,
}

impl Preset {
    fn parse(name: &str) -> Result<Preset> {
        Ok(match name {
            "reels" => Preset::Reels,
            "shop" => Preset::Shop,
            "clicks" => Preset::Clicks,
            "stats" => Preset::Stats,
            "ledger" => Preset::Ledger,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown preset '{other}' for gen; presets: {}",
                    PRESETS.join(", ")
                )))
            }
        })
    }

    /// The top-level field a wrong-type bad line spoils, and how.
    fn wrong_type_field(self) -> (&'static str, Spoil) {
        match self {
            Preset::Reels => ("user_id", Spoil::Quote),
            Preset::Shop => ("customer_id", Spoil::Quote),
            Preset::Clicks => ("user", Spoil::Unquote),
            Preset::Stats | Preset::Ledger => ("value", Spoil::Quote),
        }
    }

    /// Required top-level fields a missing-field bad line may drop.
    fn required_fields(self) -> &'static [&'static str] {
        match self {
            Preset::Reels => &["user_id", "video_id", "event_type", "timestamp", "event_id"],
            Preset::Shop => &["event", "item_id", "customer_id", "timestamp"],
            Preset::Clicks => &["id", "user", "type", "ts"],
            Preset::Stats => &["value", "timestamp"],
            Preset::Ledger => &["category", "value"],
        }
    }
}

/// How a wrong-type bad line spoils its field.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    /// A number becomes a string: `"user_id":"987654321"`.
    Quote,
    /// A string becomes a number: `"user":"user8"` → `"user":8`.
    Unquote,
}

/// The kinds of bad line, picked uniformly.
#[derive(Debug, Clone, Copy)]
enum BadKind {
    Truncated,
    WrongType,
    MissingField,
    Empty,
    Garbage,
}

const BAD_KINDS: [BadKind; 5] = [
    BadKind::Truncated,
    BadKind::WrongType,
    BadKind::MissingField,
    BadKind::Empty,
    BadKind::Garbage,
];

/// A reels video with a viral burst: extra events, mostly shares and comments.
#[derive(Debug, Clone, Copy)]
struct ViralBurst {
    rank: u64,
    from_ms: Millis,
    to_ms: Millis,
}

/// An iterator of generated NDJSON lines (no trailing newline). Use
/// [`Generator::next_line`] to borrow each line instead of allocating it.
#[derive(Debug, Clone)]
pub struct Generator {
    preset: Preset,
    config: GenConfig,
    rng: Rng,
    users: Popularity,
    /// Popularity of the ordinary videos/items; viral videos come after them.
    items: Popularity,
    viral: Vec<ViralBurst>,
    /// Index of the next line, which fixes its time slot.
    slot: u64,
    /// Events generated so far (good or spoiled), the source of event ids.
    sequence: u64,
    /// The line being built, reused so that the hot path does not allocate.
    line: String,
    /// Ring of recent good lines that duplicates repeat.
    recent: Vec<String>,
    recent_next: usize,
    summary: GenSummary,
}

impl Generator {
    /// Validates the config and prepares the popularity laws.
    pub fn new(config: &GenConfig) -> Result<Generator> {
        config.validate()?;
        let preset = Preset::parse(&config.preset)?;
        let (ordinary_items, viral) = if preset == Preset::Reels {
            viral_bursts(config)
        } else {
            (config.items, Vec::new())
        };
        Ok(Generator {
            preset,
            config: config.clone(),
            rng: Rng::new(config.seed),
            users: Popularity::new(config.users, config.skew),
            items: Popularity::new(ordinary_items, config.skew),
            viral,
            slot: 0,
            sequence: 0,
            line: String::with_capacity(512),
            recent: Vec::new(),
            recent_next: 0,
            summary: GenSummary::default(),
        })
    }

    /// What has been generated so far.
    pub fn summary(&self) -> GenSummary {
        self.summary
    }

    /// The next line, borrowed until the next call; `None` at the end.
    pub fn next_line(&mut self) -> Option<&str> {
        if self.slot >= self.config.events {
            return None;
        }
        let u = self.rng.f64();
        if u < self.config.bad {
            self.write_event();
            self.spoil();
            self.summary.bad += 1;
        } else if u < self.config.bad + self.config.duplicates && !self.recent.is_empty() {
            let pick = self.rng.below(self.recent.len() as u64) as usize;
            self.line.clear();
            self.line.push_str(&self.recent[pick]);
            self.summary.duplicates += 1;
        } else {
            self.write_event();
            if self.config.duplicates > 0.0 {
                self.remember();
            }
        }
        self.slot += 1;
        self.summary.lines += 1;
        Some(&self.line)
    }

    /// Keeps the current line for later duplicates, reusing old buffers.
    fn remember(&mut self) {
        if self.recent.len() < RECENT {
            self.recent.push(self.line.clone());
        } else {
            let old = &mut self.recent[self.recent_next];
            old.clear();
            old.push_str(&self.line);
            self.recent_next = (self.recent_next + 1) % RECENT;
        }
    }

    /// The time of the current slot in microseconds, before disorder.
    fn slot_micros(&self) -> i64 {
        let events = self.config.events.max(1) as i128;
        let offset = self.config.span_ms as i128 * 1000 * self.slot as i128 / events;
        self.config.start_ms * 1000 + offset as i64
    }

    /// The event time of the current slot in microseconds, disorder applied.
    fn event_micros(&mut self) -> i64 {
        let mut t = self.slot_micros();
        if self.config.disorder_ms > 0 {
            let jitter = self.rng.below(self.config.disorder_ms as u64 * 1000 + 1) as i64;
            t = (t - jitter).max(0);
        }
        t
    }

    /// Writes one well-formed event of the preset into `self.line`.
    fn write_event(&mut self) {
        self.line.clear();
        self.sequence += 1;
        let micros = self.event_micros();
        match self.preset {
            Preset::Reels => self.write_reels(micros / 1000),
            Preset::Shop => self.write_shop(micros / 1000),
            Preset::Clicks => self.write_clicks(micros),
            Preset::Stats => self.write_stats(micros / 1000),
            Preset::Ledger => self.write_ledger(),
        }
    }

    fn write_reels(&mut self, ms: Millis) {
        // Normal traffic is mostly views; a viral burst is mostly shares and
        // comments: (30 + 25) / 30 ≈ 1.8 > 1.5.
        const NORMAL: &[(&str, u32)] = &[
            ("video_view", 70),
            ("like", 12),
            ("skip", 8),
            ("comment", 4),
            ("share", 3),
            ("follow", 3),
        ];
        const VIRAL: &[(&str, u32)] = &[
            ("video_view", 30),
            ("like", 15),
            ("share", 30),
            ("comment", 25),
        ];
        let user = self.users.sample(&mut self.rng);
        let viral = self.viral_video(ms);
        let (video, event_type) = match viral {
            Some(rank) => (rank, pick(&mut self.rng, VIRAL)),
            None => (
                self.items.sample(&mut self.rng),
                pick(&mut self.rng, NORMAL),
            ),
        };
        let b = &mut self.line;
        b.push_str("{\"event_id\":\"evt_");
        push_u64(b, self.sequence);
        b.push_str("\",\"event_type\":\"");
        b.push_str(event_type);
        b.push_str("\",\"user_id\":");
        push_u64(b, user_id(user));
        b.push_str(",\"video_id\":");
        push_u64(b, video_id(video));
        b.push_str(",\"creator_id\":");
        push_u64(b, creator_id(video, self.config.items));
        b.push_str(",\"timestamp\":\"");
        push_rfc3339(b, ms, true);
        b.push_str("\",\"session_id\":\"sess_");
        // A session is a user's half hour.
        push_u64(
            b,
            mix64(user ^ mix64((ms / 1_800_000) as u64)) % 1_000_000_000,
        );
        b.push_str("\",\"metadata\":{");
        match event_type {
            "video_view" => {
                // Video length 5–90 s from the video; 30% watch to the end.
                let length_ms = 5_000 + mix64(video) % 85_000;
                let hundredths = if self.rng.f64() < 0.3 {
                    100
                } else {
                    5 + self.rng.below(95)
                };
                b.push_str("\"view_duration_ms\":");
                push_u64(b, length_ms * hundredths / 100);
                b.push_str(",\"video_position\":");
                push_decimal(b, hundredths as i64, 2);
                b.push(',');
            }
            "skip" => {
                b.push_str("\"video_position\":");
                push_decimal(b, 1 + self.rng.below(20) as i64, 2);
                b.push(',');
            }
            _ => {}
        }
        b.push_str("\"device_type\":\"");
        b.push_str(device(user, &mut self.rng));
        b.push_str("\"}}");
    }

    /// The viral video this event goes to, if a burst is on and it wins.
    fn viral_video(&mut self, ms: Millis) -> Option<u64> {
        for burst in &self.viral {
            if (burst.from_ms..=burst.to_ms).contains(&ms) && self.rng.f64() < VIRAL_SHARE {
                return Some(burst.rank);
            }
        }
        None
    }

    fn write_shop(&mut self, ms: Millis) {
        const EVENTS: &[(&str, u32)] = &[("view", 75), ("add_to_cart", 18), ("purchase", 7)];
        let customer = self.users.sample(&mut self.rng);
        let item = self.items.sample(&mut self.rng);
        let event = pick(&mut self.rng, EVENTS);
        let b = &mut self.line;
        b.push_str("{\"event\":\"");
        b.push_str(event);
        b.push_str("\",\"timestamp\":\"");
        push_rfc3339(b, ms, false);
        b.push_str("\",\"item_id\":");
        push_u64(b, item);
        b.push_str(",\"customer_id\":");
        push_u64(b, customer);
        if event != "view" {
            b.push_str(",\"price\":");
            push_decimal(b, price_cents(item), 2);
        }
        b.push('}');
    }

    fn write_clicks(&mut self, micros: i64) {
        const TYPES: &[(&str, u32)] = &[
            ("VIEW", 40),
            ("CLICK", 30),
            ("SCROLL", 20),
            ("HOVER", 7),
            ("SUBMIT", 3),
        ];
        const NOTES: &[&str] = &[
            "...",
            "ok",
            "first visit",
            "returning",
            "slow page",
            "retry",
            "from email",
            "mobile web",
        ];
        let user = self.users.sample(&mut self.rng);
        let kind = pick(&mut self.rng, TYPES);
        let value = self.rng.below(1001);
        let notes = NOTES[self.rng.below(NOTES.len() as u64) as usize];
        let b = &mut self.line;
        b.push_str("{\"id\":");
        push_u64(b, self.sequence - 1);
        b.push_str(",\"ts\":\"");
        push_naive_micros(b, micros);
        b.push_str("\",\"user\":\"user");
        push_u64(b, user - 1);
        b.push_str("\",\"type\":\"");
        b.push_str(kind);
        b.push_str("\",\"payload\":{\"value\":");
        push_u64(b, value);
        b.push_str(",\"notes\":\"");
        b.push_str(notes);
        b.push_str("\"}}");
    }

    fn write_stats(&mut self, ms: Millis) {
        // A daily sine around 50 with roughly normal noise (σ ≈ 3).
        let day = 2.0 * std::f64::consts::PI * (ms % 86_400_000) as f64 / 86_400_000.0;
        let noise: f64 = (0..4).map(|_| self.rng.f64()).sum::<f64>() - 2.0;
        let value = 50.0 + 15.0 * day.sin() + 5.2 * noise;
        let b = &mut self.line;
        b.push_str("{\"timestamp\":\"");
        push_rfc3339(b, ms, false);
        b.push_str("\",\"value\":");
        push_decimal(b, (value * 100.0).round() as i64, 2);
        b.push('}');
    }

    fn write_ledger(&mut self) {
        const CATEGORIES: &[(&str, u32)] = &[("A", 35), ("B", 25), ("C", 20), ("D", 12), ("E", 8)];
        let category = pick(&mut self.rng, CATEGORIES);
        let tenths = 5 + self.rng.below(996) as i64;
        let b = &mut self.line;
        b.push_str("{\"id\":");
        push_u64(b, self.sequence);
        b.push_str(",\"category\":\"");
        b.push_str(category);
        b.push_str("\",\"value\":");
        push_decimal(b, tenths, 1);
        b.push('}');
    }

    /// Turns the well-formed line in `self.line` into a bad one.
    fn spoil(&mut self) {
        let kind = BAD_KINDS[self.rng.below(BAD_KINDS.len() as u64) as usize];
        match kind {
            BadKind::Truncated => {
                // Any proper prefix of an object lacks its closing brace.
                let cut = 1 + self.rng.below(self.line.len().saturating_sub(1) as u64) as usize;
                self.line.truncate(cut);
            }
            BadKind::WrongType => {
                let (field, how) = self.preset.wrong_type_field();
                respell_field(&mut self.line, field, how);
            }
            BadKind::MissingField => {
                let fields = self.preset.required_fields();
                let field = fields[self.rng.below(fields.len() as u64) as usize];
                remove_field(&mut self.line, field);
            }
            BadKind::Empty => self.line.clear(),
            BadKind::Garbage => {
                // A control character first, so it is never valid JSON; then
                // printable noise and a few non-ASCII characters.
                self.line.clear();
                self.line.push('\u{1}');
                for _ in 0..1 + self.rng.below(40) {
                    let c = match self.rng.below(10) {
                        0 => 'ÿ',
                        1 => '\u{fffd}',
                        _ => char::from(b' ' + self.rng.below(95) as u8),
                    };
                    self.line.push(c);
                }
            }
        }
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

/// Places the viral videos of a reels config: the last ranks of `items`
/// (none if there are fewer than 10 videos), with bursts of an eighth of the
/// span ending at the end of the span, at 5/8 and at 1/4 of it. Returns how
/// many ordinary videos remain.
fn viral_bursts(config: &GenConfig) -> (u64, Vec<ViralBurst>) {
    let count = if config.items >= 10 { VIRAL_VIDEOS } else { 0 };
    let span = config.span_ms as f64;
    let bursts = (0..count)
        .map(|j| {
            let end = span * (1.0 - 3.0 * j as f64 / 8.0);
            let to = config.start_ms + end as Millis;
            ViralBurst {
                rank: config.items - j,
                from_ms: to - (span * VIRAL_BURST) as Millis,
                to_ms: to,
            }
        })
        .collect();
    (config.items - count, bursts)
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
/// table, and the expected number of tries is below 1.1.
#[derive(Debug, Clone)]
struct Zipf {
    n: f64,
    s: f64,
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

/// xoshiro256** seeded by SplitMix64: fast, well tested, and ours, so the
/// stream for a seed never changes under us.
#[derive(Debug, Clone)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(GOLDEN_GAMMA);
            mix64(x)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (n > 0), by multiply-shift; the bias is below 2^-40
    /// for every n used here.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// Picks from a weighted list.
fn pick(rng: &mut Rng, choices: &[(&'static str, u32)]) -> &'static str {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(u64::from(total)) as u32;
    for &(name, weight) in choices {
        if r < weight {
            return name;
        }
        r -= weight;
    }
    choices.last().map_or("", |&(name, _)| name)
}

fn user_id(rank: u64) -> u64 {
    if rank == 1 {
        HOT_USER_ID
    } else {
        USER_ID_BASE + rank
    }
}

fn video_id(rank: u64) -> u64 {
    if rank == 1 {
        HOT_VIDEO_ID
    } else {
        VIDEO_ID_BASE + rank
    }
}

/// One creator per five videos, fixed by the video.
fn creator_id(video_rank: u64, videos: u64) -> u64 {
    if video_rank == 1 {
        return HOT_CREATOR_ID;
    }
    let creators = videos.div_ceil(5);
    CREATOR_ID_BASE + 1 + mix64(video_rank ^ 0xc4ea) % creators
}

/// Mostly the user's own device (60% of users on mobile, 30% desktop, 10%
/// tablet); one event in ten from any device.
fn device(user: u64, rng: &mut Rng) -> &'static str {
    const DEVICES: [&str; 10] = [
        "mobile", "mobile", "mobile", "mobile", "mobile", "mobile", "desktop", "desktop",
        "desktop", "tablet",
    ];
    let slot = if rng.below(10) == 0 {
        rng.below(10)
    } else {
        mix64(user ^ 0xde71ce) % 10
    };
    DEVICES[slot as usize]
}

/// A stable price per item in cents, log-uniform from $2 to $500, ending in
/// .99, .50 or .00.
fn price_cents(item: u64) -> i64 {
    let h = mix64(item ^ 0x9e1ce);
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let dollars = (2.0f64.ln() + u * (500.0f64 / 2.0).ln()).exp().floor() as i64;
    dollars * 100 + [99, 50, 0][(h % 3) as usize]
}

/// Appends an unsigned integer in decimal.
fn push_u64(buf: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        buf.push(char::from(d));
    }
}

/// Appends `n` zero-padded to `width` digits.
fn push_padded(buf: &mut String, n: u64, width: u32) {
    let mut div = 10u64.pow(width.saturating_sub(1));
    while div > 0 {
        buf.push(char::from(b'0' + (n / div % 10) as u8));
        div /= 10;
    }
}

/// Appends `scaled / 10^decimals` as a JSON number that always reads as a
/// float: trailing zeros dropped but one decimal kept (`129.5`, `12.0`).
fn push_decimal(buf: &mut String, scaled: i64, decimals: u32) {
    if scaled < 0 {
        buf.push('-');
    }
    let scaled = scaled.unsigned_abs();
    let unit = 10u64.pow(decimals);
    push_u64(buf, scaled / unit);
    buf.push('.');
    let mut frac = scaled % unit;
    let mut width = decimals;
    while width > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    push_padded(buf, frac, width);
}

/// Days since the epoch to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `YYYY-MM-DDTHH:MM:SS` for a time in microseconds (0 ≤ t < year
/// 10000, as validated), and returns the microseconds within the second.
/// The same text as chrono, without its formatting machinery per line.
fn push_date_time(buf: &mut String, micros: i64) -> u64 {
    let secs = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400) as u64;
    push_padded(buf, year.max(0) as u64, 4);
    buf.push('-');
    push_padded(buf, month, 2);
    buf.push('-');
    push_padded(buf, day, 2);
    buf.push('T');
    push_padded(buf, of_day / 3600, 2);
    buf.push(':');
    push_padded(buf, of_day / 60 % 60, 2);
    buf.push(':');
    push_padded(buf, of_day % 60, 2);
    micros.rem_euclid(1_000_000) as u64
}

/// RFC 3339 UTC: `2025-01-15T14:30:45.123Z` with millis, else `...45Z`.
fn push_rfc3339(buf: &mut String, ms: Millis, with_millis: bool) {
    let micros = push_date_time(buf, ms * 1000);
    if with_millis {
        buf.push('.');
        push_padded(buf, micros / 1000, 3);
    }
    buf.push('Z');
}

/// Naive ISO with microseconds, read as UTC: `2025-06-12T08:08:53.889057`.
fn push_naive_micros(buf: &mut String, micros: i64) {
    let frac = push_date_time(buf, micros);
    buf.push('.');
    push_padded(buf, frac, 6);
}

/// The byte range of the value of top-level `"field":` in a line we wrote
/// (scalar values, no escapes), or `None` if absent.
fn field_value(line: &str, field: &str) -> Option<(usize, usize, usize)> {
    let key = format!("\"{field}\":");
    let key_start = line.find(&key)?;
    let start = key_start + key.len();
    let rest = &line[start..];
    let len = if let Some(body) = rest.strip_prefix('"') {
        body.find('"')? + 2
    } else {
        rest.find([',', '}'])?
    };
    Some((key_start, start, start + len))
}

/// Changes the JSON type of a field's value (see [`Spoil`]).
fn respell_field(line: &mut String, field: &str, how: Spoil) {
    let Some((_, start, end)) = field_value(line, field) else {
        return;
    };
    let value = line[start..end].to_string();
    let respelled = match how {
        Spoil::Quote => format!("\"{value}\""),
        Spoil::Unquote => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                "0".to_string()
            } else {
                digits
            }
        }
    };
    line.replace_range(start..end, &respelled);
}

/// Removes `"field":value` and one neighbouring comma.
fn remove_field(line: &mut String, field: &str) {
    let Some((key_start, _, end)) = field_value(line, field) else {
        return;
    };
    if line[end..].starts_with(',') {
        line.replace_range(key_start..end + 1, "");
    } else if line[..key_start].ends_with(',') {
        line.replace_range(key_start - 1..end, "");
    } else {
        line.replace_range(key_start..end, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{lookup, FieldType, Schema, TimeSource};
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

    /// Whether a line is an event the preset must accept: a JSON object with
    /// every required field present and of the declared type.
    fn is_good(schema: &Schema, line: &str) -> bool {
        let Ok(value) = serde_json::from_str::<Json>(line) else {
            return false;
        };
        if !value.is_object() {
            return false;
        }
        let typed = |path: &str, ty: FieldType| {
            lookup(&value, path).map(|v| match ty {
                FieldType::Int => v.is_i64() || v.is_u64(),
                FieldType::Float => v.is_number(),
                FieldType::String => v.is_string(),
                FieldType::Bool => v.is_boolean(),
            })
        };
        let time_ok = match &schema.time {
            TimeSource::Field(t) => lookup(&value, t)
                .and_then(Json::as_str)
                .and_then(crate::time::parse_timestamp_str)
                .is_some(),
            TimeSource::Arrival => true,
        };
        let id_ok = schema
            .id
            .as_deref()
            .is_none_or(|id| lookup(&value, id).is_some());
        let actors_ok = schema
            .actors
            .iter()
            .all(|a| typed(&a.key, a.key_type) == Some(true));
        let fields_ok = schema
            .dimensions
            .iter()
            .chain(&schema.metrics)
            .chain(&schema.attributes)
            .all(|f| match typed(&f.field, f.ty) {
                None => !f.required,
                Some(ok) => ok,
            });
        time_ok && id_ok && actors_ok && fields_ok
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
            ("reels", 0x8ea6_5b89_6efd_e57c, 0xffc1_ce30_13cf_036e),
            ("shop", 0x9f4d_5e36_ea3d_ea26, 0xf028_f63b_81e8_c2cf),
            ("clicks", 0x4627_5598_4ae9_1608, 0x33ef_2dcf_5e12_7817),
            ("stats", 0x787f_7ff6_f8ab_814e, 0xa2df_80eb_4e6f_f857),
            ("ledger", 0xa6db_df2a_8dd4_a841, 0xf228_a91d_2ec2_836a),
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
    fn every_preset_is_detected_and_well_typed() {
        for preset in PRESETS {
            let schema = Schema::preset(preset).unwrap();
            for line in lines(&config(preset, 300)) {
                assert_eq!(
                    Schema::detect([line.as_str()]).unwrap().name,
                    preset,
                    "{line}"
                );
                assert!(is_good(&schema, &line), "{preset}: {line}");
            }
        }
    }

    #[test]
    fn reels_lines_have_the_seed_shape() {
        let mut types = HashMap::new();
        for line in lines(&config("reels", 3_000)) {
            let v: Json = serde_json::from_str(&line).unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "event_id",
                    "event_type",
                    "user_id",
                    "video_id",
                    "creator_id",
                    "timestamp",
                    "session_id",
                    "metadata"
                ]
            );
            assert!(v["event_id"].as_str().unwrap().starts_with("evt_"));
            assert!(v["session_id"].as_str().unwrap().starts_with("sess_"));
            let kind = v["event_type"].as_str().unwrap().to_string();
            let meta = &v["metadata"];
            assert!(
                ["mobile", "desktop", "tablet"].contains(&meta["device_type"].as_str().unwrap())
            );
            assert_eq!(
                meta.get("view_duration_ms").is_some(),
                kind == "video_view",
                "{line}"
            );
            if kind == "video_view" {
                assert!(meta["view_duration_ms"].is_u64());
                let p = meta["video_position"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&p));
            }
            *types.entry(kind).or_insert(0) += 1;
        }
        for kind in ["video_view", "like", "share", "comment", "follow", "skip"] {
            assert!(types.contains_key(kind), "{kind} missing: {types:?}");
        }
        let most = types.iter().max_by_key(|(_, n)| **n).unwrap().0;
        assert_eq!(most, "video_view");
    }

    #[test]
    fn creator_and_price_are_fixed_by_video_and_item() {
        let mut creators = HashMap::new();
        for line in lines(&config("reels", 3_000)) {
            let v: Json = serde_json::from_str(&line).unwrap();
            let old = creators.insert(v["video_id"].as_u64(), v["creator_id"].as_u64());
            assert!(old.is_none_or(|c| c == v["creator_id"].as_u64()));
        }
        let mut prices = HashMap::new();
        for line in lines(&config("shop", 3_000)) {
            let v: Json = serde_json::from_str(&line).unwrap();
            let event = v["event"].as_str().unwrap();
            assert_eq!(v.get("price").is_some(), event != "view", "{line}");
            if let Some(price) = v.get("price") {
                assert!(price.is_f64(), "{line}");
                let old = prices.insert(v["item_id"].as_u64(), price.as_f64());
                assert!(old.is_none_or(|p| p == price.as_f64()));
            }
        }
    }

    #[test]
    fn time_order_without_disorder_and_bounded_with_it() {
        for preset in ["reels", "shop", "clicks", "stats"] {
            let schema = Schema::preset(preset).unwrap();
            let TimeSource::Field(field) = schema.time else {
                unreachable!()
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
    fn bad_lines_mix_every_kind() {
        let c = GenConfig {
            bad: 1.0,
            ..config("reels", 500)
        };
        let all = lines(&c);
        assert!(all.iter().any(String::is_empty));
        assert!(all.iter().any(|l| l.starts_with('\u{1}')));
        assert!(all.iter().any(|l| l.contains("\"user_id\":\"")));
        let objects: Vec<Json> = all
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert!(objects.iter().any(|v| v.get("user_id").is_none()));
        assert!(all
            .iter()
            .any(|l| l.starts_with('{') && serde_json::from_str::<Json>(l).is_err()));
    }

    #[test]
    fn the_hottest_user_gets_about_twelve_percent() {
        let mut counts = HashMap::new();
        for line in lines(&config("reels", 20_000)) {
            let v: Json = serde_json::from_str(&line).unwrap();
            *counts.entry(v["user_id"].as_u64().unwrap()).or_insert(0u64) += 1;
        }
        let (&hottest, &n) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(hottest, HOT_USER_ID);
        let share = n as f64 / 20_000.0;
        assert!((0.08..=0.16).contains(&share), "hottest user share {share}");
        let uniform = lines(&GenConfig {
            skew: 0.0,
            ..config("reels", 20_000)
        });
        let mut counts = HashMap::new();
        for line in uniform {
            let v: Json = serde_json::from_str(&line).unwrap();
            *counts.entry(v["user_id"].as_u64().unwrap()).or_insert(0u64) += 1;
        }
        assert!(counts.values().all(|&n| n < 20), "no hot user when uniform");
    }

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
        assert_eq!(*viral[0].0, VIDEO_ID_BASE + c.items);
    }

    #[test]
    fn formatting_matches_chrono() {
        for ms in [
            0,
            DEFAULT_START_MS,
            1_736_951_445_123,
            951_782_400_000,
            4_102_444_799_999,
        ] {
            let mut buf = String::new();
            push_rfc3339(&mut buf, ms, true);
            assert_eq!(buf, crate::time::format_timestamp(ms));
        }
        let mut buf = String::new();
        push_naive_micros(&mut buf, 1_749_715_733_889_057);
        assert_eq!(buf, "2025-06-12T08:08:53.889057");
        let decimal = |n, d| {
            let mut b = String::new();
            push_decimal(&mut b, n, d);
            b
        };
        assert_eq!(decimal(12_950, 2), "129.5");
        assert_eq!(decimal(1_200, 2), "12.0");
        assert_eq!(decimal(1_234, 2), "12.34");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(35, 1), "3.5");
    }

    #[test]
    fn invalid_configs_are_input_errors() {
        let cases = [
            (
                config("tweets", 1),
                "presets: reels, shop, clicks, stats, ledger",
            ),
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
