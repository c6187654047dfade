//! Percentiles and distinct counts, end to end: the engine's answers on
//! random reels streams against exact answers computed here by brute force.
//!
//! What is checked is the documented guarantee, not a tolerance picked to
//! pass:
//!
//! - `PERCENTILE(x, p)` / `MEDIAN(x)`: with the window's n values sorted
//!   ascending, v_r at the nearest rank r = max(1, ⌈p·n/100⌉), the answer
//!   is within α = 1 % of v_r: |answer − v_r| ≤ α·|v_r| (the DDSketch
//!   bound: v_r's bucket answers with a value within α of everything in it).
//!   p = 0 and p = 100 are the exact min and max. NULL over no values.
//! - `COUNT(DISTINCT key or attribute)`: exact while the sketch is sparse,
//!   which is every case here (under 4,096 values, and the test checks that
//!   its value domains have no 32-bit hash collision, the only source of
//!   error in sparse mode). Dense mode is checked at 100k users: ≤ 2 %.
//! - `COUNT(DISTINCT dimension)`: always exact.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tally::event::Schema;
use tally::hash::hash_int;
use tally::window::ALPHA;
use tally::{Config, Engine, Value};

const T0_MS: i64 = 1_736_899_200_000; // 2025-01-15T00:00:00Z

#[derive(Debug, Clone)]
struct Ev {
    ts_ms: i64,
    user: i64,
    video: i64,
    creator: Option<i64>,
    event_type: &'static str,
    device: Option<&'static str>,
    duration: Option<i64>,
    position: Option<f64>,
}

const TYPES: [&str; 3] = ["video_view", "like", "share"];
const DEVICES: [&str; 2] = ["mobile", "desktop"];
const USERS: std::ops::Range<i64> = 1..40;
const VIDEOS: std::ops::Range<i64> = 100..130;
const CREATORS: std::ops::Range<i64> = 7000..7010;

impl Ev {
    fn line(&self, id: usize) -> String {
        let ts = chrono::DateTime::from_timestamp_millis(self.ts_ms)
            .expect("a valid time")
            .format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let mut metadata = Vec::new();
        if let Some(d) = self.duration {
            metadata.push(format!(r#""view_duration_ms":{d}"#));
        }
        if let Some(p) = self.position {
            metadata.push(format!(r#""video_position":{p:?}"#));
        }
        if let Some(d) = self.device {
            metadata.push(format!(r#""device_type":"{d}""#));
        }
        let creator = self
            .creator
            .map(|c| format!(r#""creator_id":{c},"#))
            .unwrap_or_default();
        format!(
            r#"{{"event_id":"e{id}","event_type":"{}","user_id":{},"video_id":{},{creator}"timestamp":"{ts}","metadata":{{{}}}}}"#,
            self.event_type,
            self.user,
            self.video,
            metadata.join(",")
        )
    }
}

fn event() -> impl Strategy<Value = (i64, Ev)> {
    (
        0i64..10_000,
        USERS,
        VIDEOS,
        prop::option::weighted(0.8, CREATORS),
        prop::sample::select(&TYPES[..]),
        prop::option::weighted(0.8, prop::sample::select(&DEVICES[..])),
        prop::option::weighted(0.9, -2_000i64..200_000),
        prop::option::weighted(0.9, prop_oneof![Just(0.0), -1.0f64..1.0, 0.0f64..1e6]),
    )
        .prop_map(
            |(gap_ms, user, video, creator, event_type, device, duration, position)| {
                (
                    gap_ms,
                    Ev {
                        ts_ms: 0,
                        user,
                        video,
                        creator,
                        event_type,
                        device,
                        duration,
                        position,
                    },
                )
            },
        )
}

/// Streams in time order (gaps up to 10 s, so up to ~3 h: both pane tiers
/// and the folding of seconds into minutes are exercised).
fn stream() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec(event(), 1..600).prop_map(|evs| {
        let mut t = T0_MS;
        evs.into_iter()
            .map(|(gap, mut e)| {
                t += gap * (1 + i64::from(gap % 7 == 0) * 20);
                e.ts_ms = t;
                e
            })
            .collect()
    })
}

fn window() -> impl Strategy<Value = i64> {
    prop::sample::select(vec![1, 10, 60, 300, 1800, 3600, 7200, 10_800, 86_400])
        .prop_map(|s| s * 1000)
}

fn percent() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(50.0),
        Just(99.0),
        Just(100.0),
        (0u32..=1000).prop_map(|p| f64::from(p) / 10.0),
    ]
}

/// The events inside `WINDOW length_ms` at the clock `now`, by the window
/// rule (docs/windows.md).
fn in_window(evs: &[Ev], length_ms: i64) -> Vec<&Ev> {
    let now = evs.iter().map(|e| e.ts_ms).max().unwrap_or(0);
    let p = if length_ms <= 3_600_000 { 1000 } else { 60_000 };
    let first = now.div_euclid(p) - length_ms / p + 1;
    evs.iter()
        .filter(|e| e.ts_ms.div_euclid(p) >= first && e.ts_ms <= now)
        .collect()
}

fn engine(evs: &[Ev], shards: usize) -> Engine {
    // Actors keep percentile sketches only when their kind asks for them.
    let mut schema = Schema::preset("reels").unwrap();
    for actor in &mut schema.actors {
        actor.percentiles = true;
    }
    let mut config = Config::new(schema);
    config.shards = shards;
    let mut engine = Engine::start(config).unwrap();
    let lines: Vec<String> = evs.iter().enumerate().map(|(i, e)| e.line(i)).collect();
    let summary = engine.ingest_lines("test", &lines).unwrap();
    assert_eq!(summary.accepted as usize, evs.len(), "every line is valid");
    engine
}

fn query(engine: &mut Engine, sql: &str) -> Vec<Vec<Value>> {
    engine
        .execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .remove(0)
        .rows
}

/// The exact value at the nearest rank, or None over no values.
fn exact_percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as u64;
    let rank = ((p * n as f64 / 100.0).ceil() as u64).clamp(1, n);
    Some(values[rank as usize - 1])
}

fn check_percentile(got: &Value, exact: Option<f64>, what: &str) -> Result<(), TestCaseError> {
    match (got, exact) {
        (Value::Null, None) => Ok(()),
        (Value::Float(est), Some(x)) => {
            prop_assert!(
                (est - x).abs() <= ALPHA * x.abs() * (1.0 + 1e-9),
                "{what}: {est} is not within 1% of the exact {x}"
            );
            Ok(())
        }
        // Integer metrics: the estimate rounded to the nearest integer.
        (Value::Int(est), Some(x)) => {
            let est = *est as f64;
            prop_assert!(
                (est - x).abs() <= ALPHA * x.abs() * (1.0 + 1e-9) + 0.5,
                "{what}: {est} is not within 1% (and rounding) of the exact {x}"
            );
            Ok(())
        }
        (got, exact) => Err(TestCaseError::fail(format!(
            "{what}: got {got:?}, exact {exact:?}"
        ))),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    }
}

fn durations<'a>(evs: impl Iterator<Item = &'a &'a Ev>) -> Vec<f64> {
    evs.filter_map(|e| e.duration.map(|d| d as f64)).collect()
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

#[test]
fn value_domains_have_no_sparse_hash_collision() {
    // Sparse sketches keep the top 32 bits of each hash; in these domains
    // no two values share them, so sparse answers here must be exact.
    for domain in [USERS, VIDEOS, CREATORS] {
        let tops: BTreeSet<u64> = domain.clone().map(|i| hash_int(i) >> 32).collect();
        assert_eq!(tops.len(), domain.count());
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn global_percentiles_and_distinct_counts(
        evs in stream(),
        window_ms in window(),
        p in percent(),
        shards in 1usize..4,
    ) {
        let mut e = engine(&evs, shards);
        let sql = format!(
            "SELECT PERCENTILE(metadata.view_duration_ms, {p}), MEDIAN(metadata.video_position), \
             COUNT(DISTINCT user_id), APPROX_COUNT_DISTINCT(video_id), COUNT(DISTINCT creator_id), \
             COUNT(DISTINCT event_type), COUNT(DISTINCT metadata.device_type), \
             PERCENTILE(metadata.view_duration_ms, {p}) FILTER (WHERE event_type = 'like') \
             FROM events WINDOW {}s",
            window_ms / 1000
        );
        let rows = query(&mut e, &sql);
        let w = in_window(&evs, window_ms);
        check_percentile(&rows[0][0], exact_percentile(durations(w.iter()), p), "duration")?;
        let positions = w.iter().filter_map(|e| e.position).collect();
        check_percentile(&rows[0][1], exact_percentile(positions, 50.0), "median position")?;
        let distinct = |f: &dyn Fn(&Ev) -> Option<String>| {
            w.iter().filter_map(|e| f(e)).collect::<BTreeSet<_>>().len() as i64
        };
        prop_assert_eq!(int(&rows[0][2]), distinct(&|e| Some(e.user.to_string())));
        prop_assert_eq!(int(&rows[0][3]), distinct(&|e| Some(e.video.to_string())));
        prop_assert_eq!(int(&rows[0][4]), distinct(&|e| e.creator.map(|c| c.to_string())));
        prop_assert_eq!(int(&rows[0][5]), distinct(&|e| Some(e.event_type.to_string())));
        prop_assert_eq!(int(&rows[0][6]), distinct(&|e| e.device.map(str::to_string)));
        let likes = durations(w.iter().filter(|e| e.event_type == "like"));
        check_percentile(&rows[0][7], exact_percentile(likes, p), "filtered")?;
    }

    #[test]
    fn per_video_viewers_and_percentiles(
        evs in stream(),
        window_ms in window(),
        p in percent(),
        shards in 1usize..4,
    ) {
        let mut e = engine(&evs, shards);
        let sql = format!(
            "SELECT video_id, COUNT(DISTINCT user_id) AS viewers, \
             PERCENTILE(metadata.video_position, {p}) AS pos, \
             COUNT(DISTINCT user_id) FILTER (WHERE event_type = 'video_view') AS watchers, \
             COUNT(DISTINCT video_id) AS one \
             FROM events GROUP BY video_id WINDOW {}s",
            window_ms / 1000
        );
        let rows = query(&mut e, &sql);
        let w = in_window(&evs, window_ms);
        let mut by_video: BTreeMap<i64, Vec<&Ev>> = BTreeMap::new();
        for ev in &w {
            by_video.entry(ev.video).or_default().push(ev);
        }
        prop_assert_eq!(rows.len(), by_video.len());
        for row in rows {
            let video = int(&row[0]);
            let evs = &by_video[&video];
            let users: BTreeSet<i64> = evs.iter().map(|e| e.user).collect();
            prop_assert_eq!(int(&row[1]), users.len() as i64);
            let positions = evs.iter().filter_map(|e| e.position).collect();
            check_percentile(&row[2], exact_percentile(positions, p), "position")?;
            let watchers: BTreeSet<i64> = evs
                .iter()
                .filter(|e| e.event_type == "video_view")
                .map(|e| e.user)
                .collect();
            prop_assert_eq!(int(&row[3]), watchers.len() as i64);
            prop_assert_eq!(int(&row[4]), 1);
        }
    }

    #[test]
    fn one_users_videos_and_median(
        evs in stream(),
        window_ms in window(),
        user in USERS,
        shards in 1usize..4,
    ) {
        let mut e = engine(&evs, shards);
        let sql = format!(
            "SELECT COUNT(DISTINCT video_id), MEDIAN(metadata.view_duration_ms), \
             COUNT(DISTINCT event_type) FROM events WHERE user_id = {user} WINDOW {}s",
            window_ms / 1000
        );
        let rows = query(&mut e, &sql);
        let w: Vec<&Ev> = in_window(&evs, window_ms)
            .into_iter()
            .filter(|e| e.user == user)
            .collect();
        let videos: BTreeSet<i64> = w.iter().map(|e| e.video).collect();
        prop_assert_eq!(int(&rows[0][0]), videos.len() as i64);
        check_percentile(&rows[0][1], exact_percentile(durations(w.iter()), 50.0), "median")?;
        let types: BTreeSet<&str> = w.iter().map(|e| e.event_type).collect();
        prop_assert_eq!(int(&rows[0][2]), types.len() as i64);
    }
}

#[test]
fn distinct_users_at_scale_are_within_two_percent() {
    // 100k distinct users (dense sketches, merged across panes and shards).
    let mut config = Config::new(Schema::preset("reels").unwrap());
    config.shards = 2;
    let mut engine = Engine::start(config).unwrap();
    let n = 100_000;
    let lines = (0..n).map(|i| {
        Ev {
            ts_ms: T0_MS + i * 30,
            user: 1_000_000 + i * 7919,
            video: i % 1000,
            creator: Some(i % 5000),
            event_type: "video_view",
            device: None,
            duration: Some(i % 60_000),
            position: None,
        }
        .line(i as usize)
    });
    engine.ingest_lines("scale", lines).unwrap();
    let rows = query(
        &mut engine,
        "SELECT COUNT(DISTINCT user_id), COUNT(DISTINCT video_id), COUNT(DISTINCT creator_id), \
         PERCENTILE(metadata.view_duration_ms, 90) FROM events",
    );
    let err = |got: &Value, exact: f64| (int(got) as f64 - exact).abs() / exact;
    assert!(err(&rows[0][0], n as f64) <= 0.02, "{:?}", rows[0][0]);
    assert_eq!(int(&rows[0][1]), 1000, "sparse: exact");
    assert!(err(&rows[0][2], 5000.0) <= 0.02, "{:?}", rows[0][2]);
    let values: Vec<f64> = (0..n).map(|i| (i % 60_000) as f64).collect();
    check_percentile(&rows[0][3], exact_percentile(values, 90.0), "p90").unwrap();
}

#[test]
fn preset_actors_keep_no_percentile_sketches_and_say_so() {
    let mut engine = Engine::start(Config::new(Schema::preset("reels").unwrap())).unwrap();
    let err = engine
        .execute("SELECT MEDIAN(metadata.view_duration_ms) FROM events WHERE user_id = 1")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("users actors keep no percentile sketches"),
        "{err}"
    );
    assert!(err.contains("\"percentiles\": true"), "{err}");
    // Global percentiles and per-actor distinct counts are kept.
    engine
        .execute("SELECT MEDIAN(metadata.view_duration_ms) FROM events")
        .unwrap();
    engine
        .execute("SELECT COUNT(DISTINCT video_id) FROM events WHERE user_id = 1")
        .unwrap();
}
