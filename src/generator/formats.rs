//! The five built-in presets of `crate::event::PRESETS`, as lines: one
//! writer per preset that turns an event's draws into a well-formed NDJSON
//! line of that preset's shape (field order, time format, numbers that
//! read as floats where the schema says float).
//!
//! Each writer decides what its events look like (the event-type mix, a
//! video's length, an item's price, a user's device); who the event is
//! about comes from [`super::popularity`], and spoiling a line is
//! [`super::spoiling`]'s job. The lines are written by hand into a reused
//! buffer ([`super::digits`]), not through serde, so the hot path does not
//! allocate.

use super::digits::{push_decimal, push_naive_micros, push_rfc3339, push_u64};
use super::popularity::{Actors, USER_IDS, VIDEO_IDS};
use super::rng::{fixed_by, unit_interval, Rng};
use crate::error::{Error, Result};
use crate::event::PRESETS;
use crate::hash::mix64;
use crate::time::Millis;

/// A built-in preset, by the shape of its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Preset {
    Reels,
    Shop,
    Clicks,
    Stats,
    Ledger,
}

/// Every preset, in the order of [`PRESETS`], which names them: the length
/// is checked by the compiler, the order by the tests (each preset's lines
/// are detected as the schema of its name).
const ALL: [Preset; PRESETS.len()] = [
    Preset::Reels,
    Preset::Shop,
    Preset::Clicks,
    Preset::Stats,
    Preset::Ledger,
];

impl Preset {
    /// The preset of a name of [`PRESETS`].
    pub(super) fn parse(name: &str) -> Result<Preset> {
        match PRESETS.iter().position(|&p| p == name) {
            Some(i) => Ok(ALL[i]),
            None => Err(Error::InvalidInput(format!(
                "unknown preset '{name}' for gen; presets: {}",
                PRESETS.join(", ")
            ))),
        }
    }

    /// Whether some videos of this preset go viral (see
    /// [`Actors::with_viral_videos`]).
    pub(super) fn has_viral_videos(self) -> bool {
        self == Preset::Reels
    }

    /// Writes event number `sequence` (counted from 1) at `micros` into
    /// `line`, which is cleared first.
    pub(super) fn write(
        self,
        line: &mut String,
        actors: &Actors,
        rng: &mut Rng,
        sequence: u64,
        micros: i64,
    ) {
        line.clear();
        let ms = micros / 1000;
        match self {
            Preset::Reels => write_reels(line, actors, rng, sequence, ms),
            Preset::Shop => write_shop(line, actors, rng, ms),
            Preset::Clicks => write_clicks(line, actors, rng, sequence, micros),
            Preset::Stats => write_stats(line, rng, ms),
            Preset::Ledger => write_ledger(line, rng, sequence),
        }
    }
}

/// Reels: `{"event_id":"evt_1","event_type":"video_view","user_id":…,
/// "video_id":…,"creator_id":…,"timestamp":"…Z","session_id":"sess_…",
/// "metadata":{…,"device_type":"mobile"}}`, the README's example event.
fn write_reels(b: &mut String, actors: &Actors, rng: &mut Rng, sequence: u64, ms: Millis) {
    // Normal traffic is mostly views; a viral burst is mostly shares and
    // comments: (30 + 25) / 30 ≈ 1.8 > 1.5, the ratio job J7 looks for.
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
    let user = actors.user(rng);
    let (video, event_type) = match actors.viral_video(rng, ms) {
        Some(rank) => (rank, rng.pick(VIRAL)),
        None => (actors.item(rng), rng.pick(NORMAL)),
    };
    b.push_str("{\"event_id\":\"evt_");
    push_u64(b, sequence);
    b.push_str("\",\"event_type\":\"");
    b.push_str(event_type);
    b.push_str("\",\"user_id\":");
    push_u64(b, USER_IDS.id(user));
    b.push_str(",\"video_id\":");
    push_u64(b, VIDEO_IDS.id(video));
    b.push_str(",\"creator_id\":");
    push_u64(b, actors.creator_id(video));
    b.push_str(",\"timestamp\":\"");
    push_rfc3339(b, ms, true);
    b.push_str("\",\"session_id\":\"sess_");
    // A session is a user's half hour.
    push_u64(
        b,
        fixed_by(user, mix64((ms / 1_800_000) as u64), 1_000_000_000),
    );
    b.push_str("\",\"metadata\":{");
    match event_type {
        "video_view" => {
            // Video length 5–90 s from the video; 30% watch to the end.
            let length_ms = 5_000 + fixed_by(video, 0, 85_000);
            let hundredths = if rng.f64() < 0.3 {
                100
            } else {
                5 + rng.below(95)
            };
            b.push_str("\"view_duration_ms\":");
            push_u64(b, length_ms * hundredths / 100);
            b.push_str(",\"video_position\":");
            push_decimal(b, hundredths as i64, 2);
            b.push(',');
        }
        "skip" => {
            b.push_str("\"video_position\":");
            push_decimal(b, 1 + rng.below(20) as i64, 2);
            b.push(',');
        }
        _ => {}
    }
    b.push_str("\"device_type\":\"");
    b.push_str(device(user, rng));
    b.push_str("\"}}");
}

/// Shop: `{"event":"add_to_cart","timestamp":"…Z","item_id":3,
/// "customer_id":17,"price":129.5}`, a price on all but views.
fn write_shop(b: &mut String, actors: &Actors, rng: &mut Rng, ms: Millis) {
    const EVENTS: &[(&str, u32)] = &[("view", 75), ("add_to_cart", 18), ("purchase", 7)];
    let customer = actors.user(rng);
    let item = actors.item(rng);
    let event = rng.pick(EVENTS);
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

/// Clicks: `{"id":0,"ts":"…889057","user":"user8","type":"CLICK",
/// "payload":{"value":…,"notes":"…"}}`, ids from 0 and naive timestamps in
/// microseconds.
fn write_clicks(b: &mut String, actors: &Actors, rng: &mut Rng, sequence: u64, micros: i64) {
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
    let user = actors.user(rng);
    let kind = rng.pick(TYPES);
    let value = rng.below(1001);
    let notes = rng.choose(NOTES);
    b.push_str("{\"id\":");
    push_u64(b, sequence - 1);
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

/// Stats: `{"timestamp":"…Z","value":50.2}`, a daily sine around 50 with
/// roughly normal noise (σ ≈ 3).
fn write_stats(b: &mut String, rng: &mut Rng, ms: Millis) {
    let day = 2.0 * std::f64::consts::PI * (ms % 86_400_000) as f64 / 86_400_000.0;
    let noise: f64 = (0..4).map(|_| rng.f64()).sum::<f64>() - 2.0;
    let value = 50.0 + 15.0 * day.sin() + 5.2 * noise;
    b.push_str("{\"timestamp\":\"");
    push_rfc3339(b, ms, false);
    b.push_str("\",\"value\":");
    push_decimal(b, (value * 100.0).round() as i64, 2);
    b.push('}');
}

/// Ledger: `{"id":1,"category":"A","value":12.5}`, no time (read on arrival).
fn write_ledger(b: &mut String, rng: &mut Rng, sequence: u64) {
    const CATEGORIES: &[(&str, u32)] = &[("A", 35), ("B", 25), ("C", 20), ("D", 12), ("E", 8)];
    let category = rng.pick(CATEGORIES);
    let tenths = 5 + rng.below(996) as i64;
    b.push_str("{\"id\":");
    push_u64(b, sequence);
    b.push_str(",\"category\":\"");
    b.push_str(category);
    b.push_str("\",\"value\":");
    push_decimal(b, tenths, 1);
    b.push('}');
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
        fixed_by(user, 0xde71ce, 10)
    };
    DEVICES[slot as usize]
}

/// A stable price per item in cents, log-uniform from $2 to $500, ending in
/// .99, .50 or .00.
fn price_cents(item: u64) -> i64 {
    let h = mix64(item ^ 0x9e1ce);
    let u = unit_interval(h);
    let dollars = (2.0f64.ln() + u * (500.0f64 / 2.0).ln()).exp().floor() as i64;
    dollars * 100 + [99, 50, 0][(h % 3) as usize]
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::event::{lookup, FieldType, Schema, TimeSource};
    use crate::generator::DEFAULT_START_MS;
    use serde_json::Value as Json;
    use std::collections::HashMap;

    /// `n` events of a preset spread over a day, as the generator spreads
    /// them, with the default actors and no spoiling.
    fn good_lines(name: &str, n: u64) -> Vec<String> {
        let preset = Preset::parse(name).unwrap();
        let day = 86_400_000;
        let actors = if preset.has_viral_videos() {
            Actors::with_viral_videos(10_000, 1_000, 1.1, DEFAULT_START_MS, day)
        } else {
            Actors::new(10_000, 1_000, 1.1)
        };
        let mut rng = Rng::new(42);
        (1..=n)
            .map(|sequence| {
                let micros = (DEFAULT_START_MS + day * sequence as i64 / n as i64) * 1000;
                let mut line = String::new();
                preset.write(&mut line, &actors, &mut rng, sequence, micros);
                line
            })
            .collect()
    }

    /// Whether a line is an event the preset must accept: a JSON object with
    /// every required field present and of the declared type.
    pub(in crate::generator) fn is_good(schema: &Schema, line: &str) -> bool {
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
    fn every_preset_is_detected_and_well_typed() {
        for preset in PRESETS {
            let schema = Schema::preset(preset).unwrap();
            for line in good_lines(preset, 300) {
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
        for line in good_lines("reels", 3_000) {
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
        for line in good_lines("reels", 3_000) {
            let v: Json = serde_json::from_str(&line).unwrap();
            let old = creators.insert(v["video_id"].as_u64(), v["creator_id"].as_u64());
            assert!(old.is_none_or(|c| c == v["creator_id"].as_u64()));
        }
        let mut prices = HashMap::new();
        for line in good_lines("shop", 3_000) {
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
    fn every_preset_name_parses_and_others_are_refused() {
        for (name, preset) in PRESETS.iter().zip(ALL) {
            assert_eq!(Preset::parse(name).unwrap(), preset);
        }
        let Err(Error::InvalidInput(msg)) = Preset::parse("tweets") else {
            panic!("tweets is no preset");
        };
        assert!(msg.contains(&PRESETS.join(", ")), "{msg}");
    }
}
