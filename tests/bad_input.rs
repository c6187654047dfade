//! Bad input never stops ingestion and never crashes anything (docs/events.md).
//!
//! Each test feeds one family of nasty lines — truncated JSON, wrong types,
//! huge numbers, absurd nesting, broken UTF-8, huge lines, BOMs, CRLF,
//! missing fields, duplicates, late and far-future events — through the real
//! ingest path (a file on disk, [`Engine::ingest_files`]) and checks three
//! things: nothing panics, every line is accounted for
//! (`lines == accepted + Σ rejected`), and the engine's counters (what
//! `SHOW STATS` shows) have the exact count for every reject reason. A few
//! of the files also go through the `tally` binary, which must exit 0 and
//! print the same counts.
//!
//! Times are fixed in 2025 (before the wall clock, so the "ahead of the
//! system clock" guard only catches the year 9999).

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value as Json};
use tally::engine::Stats;
use tally::event::Schema;
use tally::ingest::IngestSummary;
use tally::time::format_timestamp;
use tally::{Config, Engine, Value};

/// 2025-01-15T12:00:00Z in epoch milliseconds.
const T0: i64 = 1_736_942_400_000;
const SECOND: i64 = 1_000;
const HOUR: i64 = 3_600 * SECOND;

/// Every reject reason, in `SHOW STATS` order.
const REASONS: [&str; 6] = [
    "malformed_json",
    "missing_field",
    "invalid_field",
    "duplicate",
    "too_late",
    "too_far_in_future",
];

// ---------------------------------------------------------------- lines --

/// A valid reels event `evt_<id>`, `id` seconds after [`T0`].
fn event(id: i64) -> Json {
    json!({
        "event_id": format!("evt_{id}"),
        "event_type": "video_view",
        "user_id": 1000 + id % 7,
        "video_id": 5000 + id % 3,
        "creator_id": 123456789,
        "timestamp": format_timestamp(T0 + id * SECOND),
        "session_id": "sess_1",
        "metadata": {
            "view_duration_ms": 15000,
            "video_position": 0.75,
            "device_type": "mobile",
        },
    })
}

fn good(id: i64) -> String {
    event(id).to_string()
}

/// Event `id` with the field at JSON `pointer` (`/metadata/x`) set to the
/// raw JSON text `raw`, which need not be valid JSON (`1e400`, `NaN`).
fn with_raw(id: i64, pointer: &str, raw: &str) -> String {
    let mut e = event(id);
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let object = e.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    object.insert(name.to_string(), json!("@RAW@"));
    e.to_string().replace("\"@RAW@\"", raw)
}

/// Event `id` without the field at `pointer`.
fn without(id: i64, pointer: &str) -> String {
    let mut e = event(id);
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let object = e.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    assert!(object.remove(name).is_some(), "{pointer} not in the event");
    e.to_string()
}

/// Event `id` at an explicit time.
fn at(id: i64, ts: &str) -> String {
    with_raw(id, "/timestamp", &json!(ts).to_string())
}

/// Lines joined with `\n`, with a trailing newline.
fn file_of(lines: &[String]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

// --------------------------------------------------------------- engine --

/// An engine over `preset` with two shards, optionally writing rejects.
fn engine(preset: &str, reject_file: Option<&Path>) -> Engine {
    let mut config = Config::new(Schema::preset(preset).unwrap());
    config.shards = 2;
    config.reject_file = reject_file.map(Path::to_path_buf);
    Engine::start(config).unwrap()
}

/// Writes `bytes` to a file and ingests it: the real path, readers and all.
fn ingest(engine: &mut Engine, bytes: &[u8]) -> IngestSummary {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, bytes).unwrap();
    let summary = engine.ingest_files(&[path], &mut |_| {}).unwrap();
    let rejected: u64 = summary.rejected.iter().map(|(_, n)| n).sum();
    assert_eq!(
        summary.lines,
        summary.accepted + rejected,
        "summary loses lines: {summary}"
    );
    summary
}

/// The engine's counters ([`Engine::stats`], what `SHOW STATS` shows).
fn stats(engine: &mut Engine) -> Stats {
    engine.stats().unwrap()
}

/// Checks the counters: `lines`, `accepted`, the exact count of every
/// reason (those not listed must be 0), and that nothing is lost.
#[track_caller]
fn assert_counts(engine: &mut Engine, lines: u64, accepted: u64, rejected: &[(&str, u64)]) {
    for (reason, _) in rejected {
        assert!(REASONS.contains(reason), "unknown reason {reason}");
    }
    let stats = stats(engine);
    let actual: Vec<(&str, u64)> = stats
        .rejected
        .iter()
        .map(|(reason, n)| (reason.name(), *n))
        .collect();
    let expected: Vec<(&str, u64)> = REASONS
        .iter()
        .map(|r| {
            let n = rejected.iter().find(|(x, _)| x == r).map_or(0, |(_, n)| *n);
            (*r, n)
        })
        .collect();
    assert_eq!(actual, expected, "reject counts");
    assert_eq!(stats.lines, lines, "lines");
    assert_eq!(stats.accepted, accepted, "accepted");
    let total: u64 = actual.iter().map(|(_, n)| n).sum();
    assert_eq!(stats.rejected_total(), total, "rejected total");
    assert_eq!(lines, accepted + total, "every line is accounted for");
}

/// A fresh reels engine that ingested `bytes`.
fn reels_after(bytes: &[u8]) -> Engine {
    let mut e = engine("reels", None);
    ingest(&mut e, bytes);
    e
}

/// The single integer a one-cell query answers.
fn scalar(engine: &mut Engine, sql: &str) -> i64 {
    let results = engine.execute(sql).unwrap();
    match results[0].rows.as_slice() {
        [row] => match &row[..] {
            [Value::Int(n)] => *n,
            other => panic!("{sql}: {other:?}"),
        },
        rows => panic!("{sql}: {rows:?}"),
    }
}

fn count_1h(engine: &mut Engine) -> i64 {
    scalar(engine, "SELECT COUNT(*) FROM events WINDOW 1h")
}

/// Reject file records as (line, reason), in file order.
fn reject_records(path: &Path) -> Vec<Json> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------- cases --

#[test]
fn good_lines_are_all_accepted() {
    let lines: Vec<String> = (0..100).map(good).collect();
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 100, 100, &[]);
    assert_eq!(count_1h(&mut e), 100);
}

#[test]
fn truncated_json_is_malformed() {
    let full = good(1);
    let lines = vec![
        good(0),
        full[..full.len() / 2].to_string(),
        full[..full.len() - 1].to_string(), // the closing brace
        "{".into(),
        "{\"event_id\":".into(),
        "{\"event_id\":\"evt_9".into(),
        good(2),
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 7, 2, &[("malformed_json", 5)]);
}

#[test]
fn wrong_types_are_invalid_fields() {
    let lines = vec![
        with_raw(1, "/user_id", "\"1001\""),   // string key
        with_raw(2, "/user_id", "{\"id\":1}"), // object key
        with_raw(3, "/user_id", "1.5"),        // float key
        with_raw(4, "/video_id", "[5000]"),    // array key
        with_raw(5, "/metadata/view_duration_ms", "\"15000\""), // string metric
        with_raw(6, "/metadata/view_duration_ms", "{\"ms\":1}"), // object metric
        with_raw(7, "/metadata/video_position", "true"), // bool metric
        with_raw(8, "/event_type", "42"),      // number dimension
        with_raw(9, "/timestamp", "\"soon\""), // not a time
        with_raw(10, "/timestamp", "true"),
        with_raw(11, "/timestamp", "\"2025-13-45T25:61:00Z\""),
        with_raw(12, "/creator_id", "\"x\""), // attribute
        with_raw(13, "/event_id", "{}"),      // id
        good(14),
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 14, 1, &[("invalid_field", 13)]);
}

#[test]
fn huge_numbers_are_rejected_not_wrapped() {
    let lines = vec![
        with_raw(1, "/user_id", "99999999999999999999999"), // beyond i64 and u64
        with_raw(2, "/user_id", "9223372036854775808"),     // i64::MAX + 1
        with_raw(3, "/user_id", "-9223372036854775809"),    // i64::MIN - 1
        with_raw(4, "/metadata/view_duration_ms", "18446744073709551616"),
        // Valid JSON grammar, but beyond f64: serde_json refuses the line.
        with_raw(5, "/metadata/video_position", "1e400"),
        with_raw(6, "/metadata/video_position", "-1e400"),
        // The extremes that do fit are fine.
        with_raw(7, "/user_id", "9223372036854775807"),
        with_raw(8, "/user_id", "-9223372036854775808"),
        with_raw(9, "/metadata/video_position", "1.7976931348623157e308"),
        with_raw(10, "/metadata/video_position", "5e-324"),
        with_raw(11, "/timestamp", "1e300"), // epoch number out of range
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(
        &mut e,
        11,
        4,
        &[("invalid_field", 5), ("malformed_json", 2)],
    );
    assert_eq!(
        scalar(
            &mut e,
            "SELECT COUNT(*) FROM events WHERE user_id = 9223372036854775807 WINDOW 1h"
        ),
        1
    );
}

#[test]
fn nan_and_infinity_are_not_json() {
    let lines = vec![
        with_raw(1, "/metadata/video_position", "NaN"),
        with_raw(2, "/metadata/video_position", "Infinity"),
        with_raw(3, "/metadata/video_position", "-Infinity"),
        with_raw(4, "/metadata/view_duration_ms", "nan"),
        with_raw(5, "/user_id", "0x10"),
        with_raw(6, "/user_id", "+5"),
        with_raw(7, "/user_id", "01"),
        good(8),
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 8, 1, &[("malformed_json", 7)]);
}

#[test]
fn deep_nesting_neither_overflows_the_stack_nor_passes() {
    const DEPTH: usize = 100_000;
    let lines = vec![
        "[".repeat(DEPTH),
        format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
        "{\"a\":".repeat(DEPTH),
        format!("{}1{}", "{\"a\":".repeat(DEPTH), "}".repeat(DEPTH)),
        with_raw(1, "/session_id", &"[".repeat(DEPTH)),
        with_raw(
            2,
            "/metadata/extra",
            &format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH)),
        ),
        // Moderate nesting in a field the schema does not read is fine.
        with_raw(
            3,
            "/extra",
            &format!("{}{}", "[".repeat(50), "]".repeat(50)),
        ),
    ];
    // A line may nest 128 deep at most, as serde_json allows, whether or not
    // tally reads the deep field: the event seen by aggregates is the event
    // seen by `SELECT *`, which keeps the whole line. So lines 1-6 are
    // malformed (lines 4 and 6 are complete but too deep) and only line 7,
    // 50 deep in a field nobody reads, is accepted.
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 7, 1, &[("malformed_json", 6)]);
}

#[test]
fn empty_and_whitespace_lines_are_counted_as_malformed() {
    let bytes = [
        good(1).as_bytes(),
        b"\n\n",
        b"   \n",
        b"\t \t\n",
        b"\r\n",
        b" \r\n",
        good(2).as_bytes(),
        b"\n",
    ]
    .concat();
    let mut e = reels_after(&bytes);
    // good, "", "   ", "\t \t", "" (CRLF), " " (CRLF), good
    assert_counts(&mut e, 7, 2, &[("malformed_json", 5)]);
}

#[test]
fn invalid_utf8_is_malformed() {
    let valid = good(3);
    let in_string = valid.replace("video_view", "video\u{1}view").into_bytes();
    let in_string: Vec<u8> = in_string
        .iter()
        .map(|&b| if b == 1 { 0xff } else { b })
        .collect();
    let bytes = [
        good(1).as_bytes(),
        b"\n",
        b"\xff\xfe\xfd\n",
        &in_string,
        b"\n",
        b"{\"event_id\":\"\xc0\xaf\"}\n", // overlong encoding
        b"\x80\n",
        good(2).as_bytes(),
        b"\n",
    ]
    .concat();
    let mut e = reels_after(&bytes);
    assert_counts(&mut e, 6, 2, &[("malformed_json", 4)]);
}

#[test]
fn a_two_mib_line_is_rejected_and_the_next_line_still_read() {
    let huge = with_raw(1, "/session_id", &json!("x".repeat(2 << 20)).to_string());
    let large = with_raw(2, "/session_id", &json!("y".repeat(900_000)).to_string());
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let mut e = engine("reels", Some(&rejects));
    ingest(&mut e, &file_of(&[good(0), huge, good(3), large, good(4)]));
    assert_counts(&mut e, 5, 4, &[("malformed_json", 1)]);
    let records = reject_records(&rejects);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["line"], 2);
    assert_eq!(records[0]["reason"], "malformed_json");
}

#[test]
fn json_that_is_not_an_object_is_malformed() {
    let lines: Vec<String> = [
        "[1,2,3]",
        "[]",
        "42",
        "-1.5e3",
        "\"a string\"",
        "null",
        "true",
        &format!("[{}]", good(9)),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([good(1)])
    .collect();
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 9, 1, &[("malformed_json", 8)]);
}

#[test]
fn a_utf8_bom_at_the_start_of_a_file_is_skipped() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(file_of(&[good(1), good(2), good(3)]));
    let mut e = reels_after(&bytes);
    assert_counts(&mut e, 3, 3, &[]);
    // Windows Notepad: a BOM and CRLF together, no newline at the end.
    let mut notepad = b"\xEF\xBB\xBF".to_vec();
    notepad.extend(format!("{}\r\n{}", good(20), good(21)).into_bytes());
    let mut e = reels_after(&notepad);
    assert_counts(&mut e, 2, 2, &[]);
    // A BOM anywhere else is not JSON whitespace.
    let mut e = reels_after(
        &[
            file_of(&[good(1)]),
            b"\xEF\xBB\xBF".to_vec(),
            file_of(&[good(2)]),
        ]
        .concat(),
    );
    assert_counts(&mut e, 2, 1, &[("malformed_json", 1)]);
}

#[test]
fn crlf_line_endings_are_accepted() {
    let bytes: Vec<u8> = (0..10)
        .flat_map(|i| format!("{}\r\n", good(i)).into_bytes())
        .collect();
    let mut e = reels_after(&bytes);
    assert_counts(&mut e, 10, 10, &[]);
}

#[test]
fn missing_required_fields_are_counted() {
    let lines = vec![
        without(1, "/event_type"),
        with_raw(2, "/event_type", "null"),
        without(3, "/user_id"),
        without(4, "/video_id"),
        without(5, "/timestamp"),
        without(6, "/event_id"),
        "{}".into(),
        // Optional fields may be absent.
        without(7, "/metadata"),
        without(8, "/creator_id"),
        with_raw(9, "/metadata/view_duration_ms", "null"),
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 10, 3, &[("missing_field", 7)]);
}

#[test]
fn duplicate_ids_are_counted_once() {
    let mut lines = vec![good(1), good(2), good(1), good(1)];
    // Same id, different content: still a duplicate.
    lines.push(with_raw(2, "/user_id", "77"));
    lines.push(good(3));
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 6, 3, &[("duplicate", 3)]);
    assert_eq!(count_1h(&mut e), 3);
}

#[test]
fn events_older_than_retention_are_too_late() {
    let lines = vec![
        good(0),
        at(1, &format_timestamp(T0 - 24 * HOUR)), // exactly at the edge
        at(2, &format_timestamp(T0 - 25 * HOUR)),
        at(3, "2020-01-01T00:00:00Z"),
        at(4, "1970-01-01T00:00:00Z"),
        at(5, &format_timestamp(T0 - 24 * HOUR + SECOND)), // just inside
        at(6, &format_timestamp(T0 - 30 * 60 * SECOND)),   // out of order
    ];
    let mut e = reels_after(&file_of(&lines));
    assert_counts(&mut e, 7, 3, &[("too_late", 4)]);
    assert_eq!(count_1h(&mut e), 2);
    assert_eq!(stats(&mut e).now_ms, Some(T0));
}

#[test]
fn the_year_9999_does_not_wipe_windows() {
    let lines: Vec<String> = (0..50).map(good).collect();
    let mut e = reels_after(&file_of(&lines));
    assert_eq!(count_1h(&mut e), 50);
    let now = stats(&mut e).now_ms;

    // Three in a row cannot confirm a jump past the system clock.
    let future = vec![
        at(100, "9999-12-31T23:59:59Z"),
        at(101, "9999-12-31T23:59:59.999Z"),
        with_raw(102, "/timestamp", "253402300799000"), // epoch millis
    ];
    ingest(&mut e, &file_of(&future));
    assert_counts(&mut e, 53, 50, &[("too_far_in_future", 3)]);
    assert_eq!(count_1h(&mut e), 50, "a far-future event wiped the window");
    assert_eq!(stats(&mut e).now_ms, now);

    // Events after it still land in the same window.
    ingest(&mut e, &file_of(&[good(60)]));
    assert_counts(&mut e, 54, 51, &[("too_far_in_future", 3)]);
    assert_eq!(count_1h(&mut e), 51);
}

#[test]
fn a_single_jump_ahead_of_the_stream_is_rejected_when_not_confirmed() {
    let month = 30 * 24 * HOUR;
    let lines = vec![
        good(0),
        good(1),
        at(2, &format_timestamp(T0 + month)), // held, then refuted by the next
        good(3),
        at(4, &format_timestamp(T0 + month)), // held at the end of input
    ];
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let mut e = engine("reels", Some(&rejects));
    ingest(&mut e, &file_of(&lines));
    assert_counts(&mut e, 5, 3, &[("too_far_in_future", 2)]);
    assert_eq!(count_1h(&mut e), 3);
    assert_eq!(stats(&mut e).now_ms, Some(T0 + 3 * SECOND));
    // Held lines are rejected later, but still written with their own
    // line number and text.
    let records = reject_records(&rejects);
    let found: Vec<(&Json, &Json, &Json)> = records
        .iter()
        .map(|r| (&r["line"], &r["reason"], &r["text"]))
        .collect();
    assert_eq!(
        found,
        [
            (&json!(3), &json!("too_far_in_future"), &json!(lines[2])),
            (&json!(5), &json!("too_far_in_future"), &json!(lines[4])),
        ]
    );
}

/// Item 7 of the hostile-input issue: a first line dated five months
/// later than the 9,889 lines after it does not start the clock alone. It
/// is the one rejected line, with its own line number and text; the
/// others are all accepted.
#[test]
fn a_first_line_months_ahead_is_one_outlier_not_the_clock() {
    let mut lines = vec![at(0, &format_timestamp(T0 + 150 * 24 * HOUR))];
    lines.extend((1..9_890).map(good));
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let mut e = engine("reels", Some(&rejects));
    ingest(&mut e, &file_of(&lines));
    assert_counts(&mut e, 9_890, 9_889, &[("too_far_in_future", 1)]);
    assert_eq!(stats(&mut e).now_ms, Some(T0 + 9_889 * SECOND));
    let records = reject_records(&rejects);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["line"], json!(1));
    assert_eq!(records[0]["text"], json!(lines[0]));
}

#[test]
fn a_file_without_a_trailing_newline_keeps_its_last_line() {
    let bytes = format!("{}\n{}", good(1), good(2)).into_bytes();
    let mut e = reels_after(&bytes);
    assert_counts(&mut e, 2, 2, &[]);
    let mut e = reels_after(good(3).as_bytes());
    assert_counts(&mut e, 1, 1, &[]);
    let mut e = reels_after(b"");
    assert_counts(&mut e, 0, 0, &[]);
}

#[test]
fn other_presets_check_their_own_types() {
    let shop = [
        r#"{"event":"view","timestamp":"2025-01-15T12:00:00Z","item_id":3,"customer_id":17}"#,
        r#"{"event":"purchase","timestamp":"2025-01-15T12:00:01Z","item_id":3,"customer_id":17,"price":"9.5"}"#,
        r#"{"event":"purchase","timestamp":"2025-01-15T12:00:02Z","item_id":"3","customer_id":17,"price":9.5}"#,
        r#"{"timestamp":"2025-01-15T12:00:03Z","item_id":3,"customer_id":17}"#,
    ];
    let mut e = engine("shop", None);
    ingest(&mut e, &file_of(&shop.map(String::from)));
    assert_counts(&mut e, 4, 1, &[("invalid_field", 2), ("missing_field", 1)]);

    let clicks = [
        r#"{"id":0,"ts":"2025-06-12T08:08:53.889057","user":"user8","type":"CLICK","payload":{"value":760}}"#,
        r#"{"id":1,"ts":"2025-06-12T08:08:54","user":8,"type":"CLICK","payload":{"value":760}}"#,
        r#"{"id":2,"ts":"2025-06-12T08:08:55","user":"user8","type":"CLICK","payload":{"value":"760"}}"#,
        r#"{"id":0,"ts":"2025-06-12T08:08:56","user":"user8","type":"CLICK"}"#,
    ];
    let mut e = engine("clicks", None);
    ingest(&mut e, &file_of(&clicks.map(String::from)));
    assert_counts(&mut e, 4, 1, &[("invalid_field", 2), ("duplicate", 1)]);

    let stats = [
        r#"{"timestamp":"2025-06-26T14:30:00Z","value":12.34}"#,
        r#"{"timestamp":"2025-06-26T14:30:01Z"}"#,
        r#"{"timestamp":"2025-06-26T14:30:02Z","value":null}"#,
        r#"{"timestamp":1750948203,"value":1}"#, // epoch seconds
        r#"{"timestamp":1750948204000,"value":2}"#, // epoch millis
    ];
    let mut e = engine("stats", None);
    ingest(&mut e, &file_of(&stats.map(String::from)));
    assert_counts(&mut e, 5, 3, &[("missing_field", 2)]);
}

/// Every family in one file: the counts add up and the reject file names
/// the right line for each rejected one, with its text.
#[test]
fn a_mixed_file_accounts_for_every_line_in_the_reject_file() {
    let lines: Vec<(String, Option<&str>)> = vec![
        (good(0), None),
        ("{\"event_id\":".into(), Some("malformed_json")),
        (with_raw(1, "/user_id", "\"1\""), Some("invalid_field")),
        (without(2, "/event_type"), Some("missing_field")),
        (good(3), None),
        (good(3), Some("duplicate")),
        (at(4, "2024-01-01T00:00:00Z"), Some("too_late")),
        (at(5, "9999-01-01T00:00:00Z"), Some("too_far_in_future")),
        (String::new(), Some("malformed_json")),
        ("[1]".into(), Some("malformed_json")),
        (
            at(6, &format_timestamp(T0 + 48 * HOUR)),
            Some("too_far_in_future"),
        ),
        (good(7), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let mut e = engine("reels", Some(&rejects));
    let text: Vec<String> = lines.iter().map(|(l, _)| l.clone()).collect();
    ingest(&mut e, &file_of(&text));
    assert_counts(
        &mut e,
        12,
        3,
        &[
            ("malformed_json", 3),
            ("invalid_field", 1),
            ("missing_field", 1),
            ("duplicate", 1),
            ("too_late", 1),
            ("too_far_in_future", 2),
        ],
    );
    let mut expected: Vec<(u64, &str, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, (l, r))| r.map(|r| (i as u64 + 1, r, l.as_str())))
        .collect();
    let mut records: Vec<(u64, String, String)> = reject_records(&rejects)
        .iter()
        .map(|r| {
            assert!(r["source"].as_str().unwrap().ends_with("events.ndjson"));
            assert!(r["detail"].is_string(), "{r}");
            let text = r["text"].as_str().unwrap_or_else(|| {
                panic!("reject record without the line's text: {r}");
            });
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
                text.to_string(),
            )
        })
        .collect();
    expected.sort();
    records.sort();
    let records: Vec<(u64, &str, &str)> = records
        .iter()
        .map(|(l, r, t)| (*l, r.as_str(), t.as_str()))
        .collect();
    assert_eq!(records, expected);
}

// --------------------------------------------------------------- binary --

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(bytes).unwrap();
    path
}

/// `tally ingest FILE --schema reels`: exit 0, and the summary's counts.
fn ingest_with_binary(path: &Path, extra: &[&str]) -> String {
    let out = Command::cargo_bin("tally")
        .unwrap()
        .arg("ingest")
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}: {stderr}",
        out.status.code()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// The summary without its timing: `N lines: A accepted, R rejected` and
/// the reason lines.
fn summary_counts(stdout: &str) -> String {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    let head = first.split(" in ").next().unwrap_or_default();
    std::iter::once(head)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_binary_survives_nasty_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut nasty = file_of(&[
        good(0),
        "[".repeat(100_000),
        with_raw(1, "/metadata/video_position", "1e400"),
        "NaN".into(),
        with_raw(2, "/user_id", "99999999999999999999999"),
        String::new(),
        at(3, "9999-12-31T23:59:59Z"),
        good(4),
    ]);
    nasty.extend_from_slice(b"\xff\xfe garbage\r\n");
    nasty.extend_from_slice(good(5).as_bytes()); // no trailing newline
    let path = write(dir.path(), "nasty.ndjson", &nasty);
    let rejects = dir.path().join("rejects.ndjson");
    let stdout = ingest_with_binary(
        &path,
        &[
            "--schema",
            "reels",
            "--reject-file",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(
        summary_counts(&stdout),
        "10 lines: 3 accepted, 7 rejected\n  \
         rejected.malformed_json: 5\n  \
         rejected.invalid_field: 1\n  \
         rejected.too_far_in_future: 1"
    );
    let lines: Vec<u64> = reject_records(&rejects)
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9]);
    // Invalid UTF-8 is kept, replaced, in the reject file's text.
    let last = &reject_records(&rejects)[6];
    assert_eq!(last["text"], "\u{fffd}\u{fffd} garbage");
}

#[test]
fn the_binary_detects_the_schema_of_a_bom_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(format!("{}\r\n", good(1)).into_bytes());
    let path = write(dir.path(), "bom.ndjson", &bytes);
    let stdout = ingest_with_binary(&path, &[]);
    assert_eq!(summary_counts(&stdout), "1 lines: 1 accepted, 0 rejected");
}

#[test]
fn the_binary_survives_a_huge_line_and_binary_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = file_of(&[good(0)]);
    bytes.extend(std::iter::repeat_n(b'{', 2 << 20));
    bytes.push(b'\n');
    bytes.extend((0..=255u8).cycle().take(10_000).filter(|b| *b != b'\n'));
    bytes.push(b'\n');
    bytes.extend(file_of(&[good(1)]));
    let path = write(dir.path(), "huge.ndjson", &bytes);
    let stdout = ingest_with_binary(&path, &["--schema", "reels"]);
    assert_eq!(
        summary_counts(&stdout),
        "4 lines: 2 accepted, 2 rejected\n  rejected.malformed_json: 2"
    );
}
