//! Random streams: a few hundred events over a few hours, as raw lines.
//!
//! A stream is ingested in up to four inputs (separate `ingest_lines`
//! calls), and queried after each, so state is checked while it evolves.
//! Every stream ends (in time, not necessarily in arrival order) at an anchor
//! event at `final_ms`, so "now" is usually known in advance and some events
//! can be placed exactly on window and pane edges relative to it. Around the
//! events go the troublemakers: arrival disorder of up to five minutes,
//! exact duplicate lines, bad lines of every kind, late events near the
//! retention horizon, bursts of events far ahead of the stream (held, and
//! admitted when three come in a row), lines before the first event that
//! are far ahead of it or behind it (the start of the clock), and absurd
//! timestamps (2026, which only the stream-jump guard catches; 2031,
//! beyond the system clock).

use std::fmt;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value as Json};

use super::{Preset, PresetKind};

/// 2025-01-15T12:00:00Z.
const BASE_MS: i64 = 1_736_942_400_000;
/// 2026-01-01T00:00:00Z: far ahead of the stream, behind the system clock.
const YEAR_2026_MS: i64 = 1_767_225_600_000;
/// 2031-01-01T00:00:00Z: ahead of the system clock.
const YEAR_2031_MS: i64 = 1_924_992_000_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// A generated stream and the engine configuration to ingest it with.
#[derive(Clone)]
pub struct Scenario {
    pub preset: PresetKind,
    pub shards: usize,
    pub retention_ms: i64,
    pub max_jump_ms: i64,
    pub lines: Vec<String>,
    /// Where the lines are split into separate inputs (`ingest_lines`
    /// calls), each followed by the queries: ascending line indexes.
    pub cuts: Vec<usize>,
}

impl Scenario {
    /// The lines as the separate inputs they are ingested in.
    pub fn inputs(&self) -> Vec<&[String]> {
        let mut inputs = Vec::new();
        let mut from = 0;
        for &cut in self.cuts.iter().chain([&self.lines.len()]) {
            inputs.push(&self.lines[from..cut]);
            from = cut;
        }
        inputs
    }
}

/// One line per stream line, numbered, so a shrunk failure reads like the
/// file it is.
impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Scenario {{ preset: {:?}, shards: {}, retention: {}m, max_jump: {}m, lines:",
            self.preset,
            self.shards,
            self.retention_ms / MINUTE,
            self.max_jump_ms / MINUTE
        )?;
        for (i, line) in self.lines.iter().enumerate() {
            if self.cuts.contains(&i) {
                writeln!(f, "  ---- (next input)")?;
            }
            writeln!(f, "  {:>4} {line}", i + 1)?;
        }
        write!(f, "}}")
    }
}

/// Where an event's time lies, relative to the final time F.
#[derive(Debug, Clone)]
enum TimeSpec {
    /// Anywhere in the span before F (a fraction of it, out of 2^16).
    Spread(u16),
    /// The first millisecond a window of `window_s` seconds covers at now =
    /// F, plus `delta_ms`.
    WindowEdge { window_s: i64, delta_ms: i64 },
    /// Exactly `k` panes (seconds or minutes) before F's pane starts.
    PaneBoundary { minutes: bool, k: i64 },
}

/// How the time field is written.
#[derive(Debug, Clone, Copy)]
enum TimeFormat {
    RfcZ,
    RfcOffset,
    Naive,
    EpochMillis,
    EpochSeconds,
}

#[derive(Debug, Clone)]
struct EventSpec {
    time: TimeSpec,
    /// How late it arrives, in seconds (disorder).
    delay_s: i64,
    user: u8,
    video: u8,
    kind: u8,
    metric: Option<u32>,
    position: Option<u16>,
    device: Option<u8>,
    format: TimeFormat,
}

/// Ways to spoil a line.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    /// Cut short (somewhere in the line, as a fraction out of 2^16).
    Truncated(u16),
    Empty,
    Blank,
    Garbage(u8),
    /// The first actor key as a string.
    StringKey,
    FloatKey,
    HugeKey,
    MissingKey,
    MissingTime,
    MissingType,
    NullType,
    BadTime,
    MetricAsString,
    FloatMetric,
    BoolMetric,
    BadAttribute,
    /// Still valid: an unknown extra field.
    ExtraField,
    /// Still valid: no optional fields at all.
    Bare,
}

#[derive(Debug, Clone)]
enum Extra {
    /// The line of an earlier event, again.
    Duplicate { of: Index, at: Index },
    /// A spoiled copy of an event (with its own id).
    Bad { spoil: Spoil, of: Index, at: Index },
    /// One absurd future time.
    Absurd { year_2031: bool, at: Index },
    /// `n` events in a row, `ahead_s` ahead of the event they follow.
    Burst { n: usize, ahead_s: i64, at: Index },
    /// An event this far behind the one it follows, relative to retention.
    Late { behind: Behind, at: Index },
    /// `n` events before the first line, `ahead_s` ahead of the first
    /// event (negative: behind it): the first line the clock meets is then
    /// an outlier, or the first of a jump.
    Lead { n: usize, ahead_s: i64 },
}

#[derive(Debug, Clone, Copy)]
enum Behind {
    /// Retention plus this many milliseconds.
    Retention(i64),
    /// This many minutes.
    Minutes(i64),
}

#[derive(Debug, Clone)]
struct Shape {
    preset: PresetKind,
    shards: usize,
    retention_ms: i64,
    max_jump_ms: i64,
    /// F − BASE_MS.
    final_offset_ms: i64,
    span_ms: i64,
    types: u8,
    users: u8,
    videos: u8,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![3 => Just(PresetKind::Reels), 1 => Just(PresetKind::Shop)],
        1..=4usize,
        select(vec![30 * MINUTE, 2 * HOUR, 24 * HOUR]),
        select(vec![5 * MINUTE, HOUR]),
        0..HOUR,
        select(vec![10 * MINUTE, 5 * HOUR]),
        3..=5u8,
        1..=20u8,
        1..=10u8,
    )
        .prop_map(
            |(
                preset,
                shards,
                retention_ms,
                max_jump_ms,
                final_offset_ms,
                span_ms,
                types,
                users,
                videos,
            )| Shape {
                preset,
                shards,
                retention_ms,
                max_jump_ms,
                final_offset_ms: 6 * HOUR + final_offset_ms,
                span_ms,
                types,
                users,
                videos,
            },
        )
}

fn time_spec() -> impl Strategy<Value = TimeSpec> {
    prop_oneof![
        8 => any::<u16>().prop_map(TimeSpec::Spread),
        2 => (
            select(vec![1, 10, 59, 60, 61, 300, 3599, 3600, 3660, 7200, 86_400]),
            -1..=1i64
        )
            .prop_map(|(window_s, delta_ms)| TimeSpec::WindowEdge { window_s, delta_ms }),
        1 => (any::<bool>(), 0..150i64)
            .prop_map(|(minutes, k)| TimeSpec::PaneBoundary { minutes, k }),
    ]
}

fn event_spec() -> impl Strategy<Value = EventSpec> {
    (
        time_spec(),
        prop_oneof![7 => Just(0i64), 3 => 0..300i64],
        (any::<u8>(), any::<u8>(), any::<u8>()),
        proptest::option::weighted(0.9, 0..60_000u32),
        proptest::option::weighted(0.8, 0..=1000u16),
        proptest::option::weighted(0.8, 0..3u8),
        select(vec![
            TimeFormat::RfcZ,
            TimeFormat::RfcZ,
            TimeFormat::RfcOffset,
            TimeFormat::Naive,
            TimeFormat::EpochMillis,
            TimeFormat::EpochSeconds,
        ]),
    )
        .prop_map(
            |(time, delay_s, (user, video, kind), metric, position, device, format)| EventSpec {
                time,
                delay_s,
                user,
                video,
                kind,
                metric,
                position,
                device,
                format,
            },
        )
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        2 => any::<u16>().prop_map(Spoil::Truncated),
        1 => any::<u8>().prop_map(Spoil::Garbage),
        8 => select(vec![
            Spoil::Empty,
            Spoil::Blank,
            Spoil::StringKey,
            Spoil::FloatKey,
            Spoil::HugeKey,
            Spoil::MissingKey,
            Spoil::MissingTime,
            Spoil::MissingType,
            Spoil::NullType,
            Spoil::BadTime,
            Spoil::MetricAsString,
            Spoil::FloatMetric,
            Spoil::BoolMetric,
            Spoil::BadAttribute,
            Spoil::ExtraField,
            Spoil::Bare,
        ]),
    ]
}

fn extra() -> impl Strategy<Value = Extra> {
    prop_oneof![
        4 => (any::<Index>(), any::<Index>()).prop_map(|(of, at)| Extra::Duplicate { of, at }),
        6 => (spoil(), any::<Index>(), any::<Index>())
            .prop_map(|(spoil, of, at)| Extra::Bad { spoil, of, at }),
        1 => (any::<bool>(), any::<Index>())
            .prop_map(|(year_2031, at)| Extra::Absurd { year_2031, at }),
        1 => (1..=4usize, select(vec![301, 3601, 2 * 3600, 5 * 3600]), any::<Index>())
            .prop_map(|(n, ahead_s, at)| Extra::Burst { n, ahead_s, at }),
        2 => (
            prop_oneof![
                select(vec![-60_000, -1, 0, 1, 60_000]).prop_map(Behind::Retention),
                (1..=600i64).prop_map(Behind::Minutes),
            ],
            any::<Index>()
        )
            .prop_map(|(behind, at)| Extra::Late { behind, at }),
        1 => (1..=2usize, select(vec![150 * 86_400, 5 * 3600, 2 * 3600, 600, -5 * 3600, -30 * 3600]))
            .prop_map(|(n, ahead_s)| Extra::Lead { n, ahead_s }),
    ]
}

/// Streams of `events` events (plus extras) in both presets.
pub fn scenario(events: std::ops::Range<usize>) -> impl Strategy<Value = Scenario> {
    (
        shape(),
        proptest::collection::vec(event_spec(), events),
        proptest::collection::vec(extra(), 0..30),
        proptest::collection::vec(any::<Index>(), 0..4),
    )
        .prop_map(|(shape, events, extras, cuts)| build(&shape, &events, &extras, &cuts))
}

/// Streams for the admission property: every kind of trouble, more often.
pub fn troubled_scenario() -> impl Strategy<Value = Scenario> {
    (
        shape(),
        proptest::collection::vec(event_spec(), 1..200),
        proptest::collection::vec(extra(), 0..80),
        proptest::collection::vec(any::<Index>(), 0..4),
    )
        .prop_map(|(shape, events, extras, cuts)| build(&shape, &events, &extras, &cuts))
}

fn build(shape: &Shape, specs: &[EventSpec], extras: &[Extra], cuts: &[Index]) -> Scenario {
    let p = shape.preset.preset();
    let final_ms = BASE_MS + shape.final_offset_ms;
    // The first event is the anchor at F.
    let times: Vec<i64> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 {
                final_ms
            } else {
                event_time(&s.time, final_ms, shape.span_ms)
            }
        })
        .collect();
    // Arrival order: by time plus delay (stable).
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| times[i] + specs[i].delay_s * 1000);
    let arrived: Vec<(&EventSpec, i64)> = order.iter().map(|&i| (&specs[i], times[i])).collect();
    let n = arrived.len();
    let render = |spec: &EventSpec, ts: i64, id: &str| event_json(p, shape, spec, ts, id);

    // (position, tie-break, line): events at 2·rank + 2, extras after rank
    // `at`, leading extras at 0.
    let mut lines: Vec<(usize, usize, String)> = arrived
        .iter()
        .zip(&order)
        .enumerate()
        .map(|(rank, ((spec, ts), i))| {
            (
                2 * rank + 2,
                0,
                render(spec, *ts, &format!("evt_{i}")).to_string(),
            )
        })
        .collect();
    let mut lines_before_first: Vec<(usize, String)> = Vec::new();
    for (x, extra) in extras.iter().enumerate() {
        let mut extra_lines: Vec<(usize, String)> = Vec::new();
        let at = match extra {
            Extra::Duplicate { of, at } => {
                let of = of.index(n);
                extra_lines.push((0, lines[of].2.clone()));
                of + at.index(n - of)
            }
            Extra::Bad { spoil, of, at } => {
                let (spec, ts) = arrived[of.index(n)];
                let json = render(spec, ts, &format!("bad_{x}"));
                extra_lines.push((0, spoiled(p, json, *spoil)));
                at.index(n)
            }
            Extra::Absurd { year_2031, at } => {
                let at = at.index(n);
                let (spec, ts) = arrived[at];
                let base = if *year_2031 {
                    YEAR_2031_MS
                } else {
                    YEAR_2026_MS
                };
                let line = render(spec, base + ts % HOUR, &format!("absurd_{x}"));
                extra_lines.push((0, line.to_string()));
                at
            }
            Extra::Burst {
                n: count,
                ahead_s,
                at,
            } => {
                let at = at.index(n);
                let (spec, ts) = arrived[at];
                for k in 0..*count {
                    let ts = ts + ahead_s * 1000 + k as i64 * 1000;
                    let line = render(spec, ts, &format!("burst_{x}_{k}"));
                    extra_lines.push((k, line.to_string()));
                }
                at
            }
            Extra::Late { behind, at } => {
                let at = at.index(n);
                let (spec, ts) = arrived[at];
                let behind = match behind {
                    Behind::Retention(d) => shape.retention_ms + d,
                    Behind::Minutes(m) => m * MINUTE,
                };
                let line = render(spec, ts - behind, &format!("late_{x}"));
                extra_lines.push((0, line.to_string()));
                at
            }
            Extra::Lead { n: count, ahead_s } => {
                let (spec, ts) = arrived[0];
                for k in 0..*count {
                    let ts = ts + ahead_s * 1000 + k as i64 * 1000;
                    let line = render(spec, ts, &format!("lead_{x}_{k}"));
                    extra_lines.push((k, line.to_string()));
                }
                lines_before_first.extend(extra_lines.drain(..).map(|(k, l)| (x * 8 + k, l)));
                continue;
            }
        };
        let at = 2 * at + 3;
        for (k, line) in extra_lines {
            lines.push((at, x * 8 + k, line));
        }
    }
    lines.extend(lines_before_first.into_iter().map(|(k, l)| (0, k, l)));
    lines.sort_by_key(|(at, k, _)| (*at, *k));
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
    cuts.sort_unstable();
    Scenario {
        preset: shape.preset,
        shards: shape.shards,
        retention_ms: shape.retention_ms,
        max_jump_ms: shape.max_jump_ms,
        lines: lines.into_iter().map(|(_, _, l)| l).collect(),
        cuts,
    }
}

fn event_time(t: &TimeSpec, final_ms: i64, span_ms: i64) -> i64 {
    let ts = match *t {
        TimeSpec::Spread(f) => final_ms - span_ms * f as i64 / 65_536,
        TimeSpec::WindowEdge { window_s, delta_ms } => {
            let d = window_s * 1000;
            let pane = if d <= HOUR { 1000 } else { MINUTE };
            (final_ms.div_euclid(pane) - d / pane + 1) * pane + delta_ms
        }
        TimeSpec::PaneBoundary { minutes, k } => {
            let pane = if minutes { MINUTE } else { 1000 };
            (final_ms.div_euclid(pane) - k) * pane
        }
    };
    ts.min(final_ms)
}

fn time_json(ts: i64, format: TimeFormat) -> Json {
    let t = chrono::DateTime::from_timestamp_millis(ts).expect("a time in range");
    match format {
        TimeFormat::RfcZ => json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        TimeFormat::RfcOffset => {
            let east = chrono::FixedOffset::east_opt(3600).expect("an offset");
            json!(t.with_timezone(&east).to_rfc3339())
        }
        TimeFormat::Naive => json!(t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
        TimeFormat::EpochMillis => json!(ts),
        TimeFormat::EpochSeconds => json!(ts as f64 / 1000.0),
    }
}

fn event_json(p: &Preset, shape: &Shape, s: &EventSpec, ts: i64, id: &str) -> Json {
    let user = (s.user % shape.users) as i64 + 1;
    let video = (s.video % shape.videos) as i64 + 1;
    let kind = p.dim_values[0][(s.kind % shape.types) as usize];
    let time = time_json(ts, s.format);
    if p.name == "shop" {
        let mut e = json!({
            "event": kind,
            "timestamp": time,
            "item_id": video,
            "customer_id": user,
        });
        if let Some(cents) = s.metric {
            e["price"] = json!((cents % 50_000) as f64 / 100.0);
        }
        return e;
    }
    let mut metadata = serde_json::Map::new();
    if let Some(ms) = s.metric {
        metadata.insert("view_duration_ms".into(), json!(ms));
    }
    if let Some(pos) = s.position {
        metadata.insert("video_position".into(), json!(pos as f64 / 1000.0));
    }
    metadata.insert(
        "device_type".into(),
        match s.device {
            Some(d) => json!(p.dim_values[1][d as usize]),
            None => Json::Null,
        },
    );
    json!({
        "event_id": id,
        "event_type": kind,
        "user_id": user,
        "video_id": video,
        "creator_id": 9000 + video,
        "timestamp": time,
        "session_id": format!("sess_{user}"),
        "metadata": metadata,
    })
}

/// Replaces the value at a dotted path (`None` removes it).
fn set(json: &mut Json, path: &str, value: Option<Json>) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (
            json.pointer_mut(&format!("/{}", parent.replace('.', "/"))),
            last,
        ),
        None => (Some(json), path),
    };
    if let Some(Json::Object(map)) = parent {
        match value {
            Some(v) => {
                map.insert(last.to_string(), v);
            }
            None => {
                map.remove(last);
            }
        }
    }
}

fn spoiled(p: &Preset, mut json: Json, spoil: Spoil) -> String {
    let key = p.keys[0];
    let kind = p.dims[0].0;
    let metric = p.metrics[0].0;
    match spoil {
        Spoil::Truncated(f) => {
            let line = json.to_string();
            let cut = 1 + (line.len() - 1) * f as usize / 65_536;
            return line[..cut].to_string();
        }
        Spoil::Empty => return String::new(),
        Spoil::Blank => return "   ".into(),
        Spoil::Garbage(g) => {
            let garbage = [
                "garbage", "[1,2]", "42", "{", "null", "\"text\"", "{\"a\":}",
            ];
            return garbage[g as usize % garbage.len()].into();
        }
        Spoil::StringKey => {
            let text = json[key].to_string();
            set(&mut json, key, Some(json!(text)))
        }
        Spoil::FloatKey => set(&mut json, key, Some(json!(1.5))),
        Spoil::HugeKey => set(&mut json, key, Some(json!(u64::MAX))),
        Spoil::MissingKey => set(&mut json, p.keys[1], None),
        Spoil::MissingTime => set(&mut json, p.time, None),
        Spoil::MissingType => set(&mut json, kind, None),
        Spoil::NullType => set(&mut json, kind, Some(Json::Null)),
        Spoil::BadTime => set(&mut json, p.time, Some(json!("soon"))),
        Spoil::MetricAsString => set(&mut json, metric, Some(json!("15000"))),
        Spoil::FloatMetric => set(&mut json, metric, Some(json!(1.5))),
        Spoil::BoolMetric => set(&mut json, metric, Some(json!(true))),
        Spoil::BadAttribute => match p.attrs.first() {
            Some((attr, _)) => set(&mut json, attr, Some(json!("x"))),
            None => set(&mut json, metric, Some(json!([1]))),
        },
        Spoil::ExtraField => set(&mut json, "extra", Some(json!({"nested": [1, 2]}))),
        Spoil::Bare => {
            for (m, _) in p.metrics {
                set(&mut json, m, None);
            }
            for (d, required) in p.dims {
                if !required {
                    set(&mut json, d, None);
                }
            }
        }
    }
    json.to_string()
}
