//! Dimension combinations are freed once no window can read their events
//! (docs/events.md, "Dimensions"): after 65,536 distinct `event_type`
//! values have left retention, new ones are accepted, and no answer shows
//! the old combinations or their counts under the reused ids.

use std::time::Duration;

use assert_cmd::Command;
use serde_json::json;
use tally::event::Schema;
use tally::{Config, Engine, Value};

/// 2025-01-15T12:00:00Z, on an hour.
const T0: i64 = 1_736_942_400_000;
const HOUR: i64 = 3_600_000;
const CAP: usize = 65_536;
const NEW: usize = 50;

fn line(id: &str, ty: &str, user: usize, ts: i64) -> String {
    json!({"event_id": id, "event_type": ty, "user_id": 1000 + user % 7, "video_id": 7,
           "timestamp": tally::time::format_timestamp(ts)})
    .to_string()
}

/// `CAP` old types at `T0` (type `old_i` at `T0 + i ms`), then `NEW` new
/// types two events each, `gap` after.
fn lines(gap: i64) -> (Vec<String>, Vec<String>) {
    let old = (0..CAP)
        .map(|i| {
            line(
                &format!("o{i}"),
                &format!("old_{i}"),
                i,
                T0 + i as i64 % 1000,
            )
        })
        .collect();
    let new = (0..2 * NEW)
        .map(|i| {
            line(
                &format!("n{i}"),
                &format!("new_{}", i % NEW),
                i,
                T0 + gap + i as i64,
            )
        })
        .collect();
    (old, new)
}

fn engine() -> Engine {
    let mut config = Config::new(Schema::preset("reels").expect("a preset"));
    config.shards = 2;
    config.retention = Duration::from_secs(3600);
    config.max_jump = Duration::from_secs(3 * 86_400);
    Engine::start(config).expect("the engine starts")
}

fn rows(engine: &mut Engine, sql: &str) -> Vec<Vec<Value>> {
    engine.execute(sql).expect(sql).remove(0).rows
}

fn name(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => panic!("{other:?}"),
    }
}

/// Every query over the whole retention sees only the new types, each
/// with its own two events; a rule planned for an old type fires no more,
/// one for a new type fires.
fn check_only_new(gap: i64) {
    let mut e = engine();
    let (old, new) = lines(gap);
    e.ingest_lines("old", old).expect("ingest");
    assert_eq!(e.stats().expect("stats").accepted, CAP as u64);
    for ty in ["old_5", "new_3"] {
        let sql = format!(
            "CREATE RULE r_{ty} AS SELECT user_id, COUNT(*) AS n FROM events \
             WHERE event_type = '{ty}' GROUP BY user_id HAVING n >= 1 WINDOW 1m"
        );
        e.execute(&sql).expect("rule");
    }
    let hits_before = e.rule_hits().expect("hits").len();
    e.ingest_lines("new", new).expect("ingest");
    let stats = e.stats().expect("stats");
    assert_eq!(stats.accepted, (CAP + 2 * NEW) as u64, "{stats:?}");
    assert_eq!(stats.rejected_total(), 0, "{stats:?}");

    let top = rows(&mut e, "SELECT TOP 100 event_type FROM events WINDOW 1h");
    assert_eq!(top.len(), NEW, "{top:?}");
    let counts = rows(
        &mut e,
        "SELECT event_type, COUNT(*) FROM events GROUP BY event_type WINDOW 1h",
    );
    assert_eq!(counts.len(), NEW, "{counts:?}");
    for row in &counts {
        assert!(name(&row[0]).starts_with("new_"), "{row:?}");
        assert_eq!(row[1], Value::Int(2), "{row:?}");
    }
    let by_user = rows(
        &mut e,
        "SELECT user_id, event_type, COUNT(*) FROM events GROUP BY user_id, event_type WINDOW 1h",
    );
    let total: i64 = by_user
        .iter()
        .map(|r| match r[2] {
            Value::Int(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 2 * NEW as i64, "{by_user:?}");
    assert!(
        by_user.iter().all(|r| name(&r[1]).starts_with("new_")),
        "{by_user:?}"
    );
    let buckets = rows(
        &mut e,
        "SELECT TIME_BUCKET(5m, timestamp) AS m, event_type, COUNT(*) AS n FROM events \
         GROUP BY m, event_type WINDOW 1h",
    );
    let counted: Vec<&Vec<Value>> = buckets.iter().filter(|r| r[2] != Value::Int(0)).collect();
    let total: i64 = counted
        .iter()
        .map(|r| match r[2] {
            Value::Int(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 2 * NEW as i64, "{buckets:?}");
    assert!(
        counted.iter().all(|r| name(&r[1]).starts_with("new_")),
        "{buckets:?}"
    );

    let hits = e.rule_hits().expect("hits");
    let rules: Vec<&str> = hits.iter().skip(hits_before).map(|h| &*h.rule).collect();
    assert!(
        !rules.is_empty() && rules.iter().all(|r| *r == "r_new_3"),
        "{rules:?}"
    );
}

#[test]
fn two_days_later_new_types_take_the_freed_cells() {
    check_only_new(2 * 24 * HOUR);
}

/// The narrowest gap that frees them: the old events' hour slot ends just
/// before the 1 h window of the new clock begins.
#[test]
fn just_past_retention_and_an_hour_new_types_take_the_freed_cells() {
    check_only_new(2 * HOUR + 1000);
}

/// Inside retention + an hour, the old cells are still live: new types
/// are rejected, and the detail says when combinations are freed.
#[test]
fn within_retention_and_an_hour_the_cap_still_holds() {
    let mut e = engine();
    let (old, new) = lines(HOUR + 30 * 60_000);
    e.ingest_lines("old", old).expect("ingest");
    e.ingest_lines("new", new).expect("ingest");
    let stats = e.stats().expect("stats");
    assert_eq!(stats.accepted, CAP as u64);
    assert_eq!(stats.rejected_total(), 2 * NEW as u64);
}

/// The reproduction through the binary: `--retention 1h`, 65,536
/// types, then new types two days later are accepted.
#[test]
fn the_binary_accepts_new_types_after_old_ones_left_retention() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (mut all, new) = lines(2 * 24 * HOUR);
    all.extend(new);
    let path = dir.path().join("types.ndjson");
    std::fs::write(&path, all.join("\n") + "\n").expect("written");
    let out = Command::cargo_bin("tally")
        .expect("the binary")
        .args(["ingest", "--retention", "1h", "--max-jump", "3d"])
        .arg(&path)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!(
        "{} accepted, 0 rejected",
        tally::count::thousands((CAP + 2 * NEW) as u64)
    );
    assert!(stdout.contains(&want), "{stdout}");
}
