//! Engine behaviour through the public API: activation and passivation of
//! entities, empty windows, and errors a query can meet.

use tally::engine::Stats;
use tally::event::Schema;
use tally::{Config, Engine, ResultSet, Value};

fn engine(shards: usize) -> Engine {
    let mut config = Config::new(Schema::preset("shop").unwrap());
    config.shards = shards;
    Engine::start(config).unwrap()
}

fn line(time: &str, customer: i64, item: i64, event: &str) -> String {
    format!(
        r#"{{"event":"{event}","timestamp":"{time}","item_id":{item},"customer_id":{customer},"price":10.0}}"#
    )
}

fn stats(engine: &mut Engine) -> Stats {
    engine.stats().unwrap()
}

fn one(engine: &mut Engine, sql: &str) -> ResultSet {
    engine.execute(sql).unwrap().remove(0)
}

#[test]
fn entities_are_activated_by_events_and_passivated_after_retention() {
    let mut e = engine(2);
    e.ingest_lines(
        "t",
        [
            line("2025-01-15T00:00:00Z", 1, 10, "view"),
            line("2025-01-15T00:00:01Z", 2, 10, "view"),
        ],
    )
    .unwrap();
    let s = stats(&mut e);
    assert_eq!(s.entities_of("customers"), Some(2));
    assert_eq!(s.entities_of("items"), Some(1));
    // A day and more later (three events confirm the jump of the clock):
    // customers 1 and 2 leave retention and are passivated.
    e.ingest_lines(
        "t",
        [
            line("2025-01-16T01:00:00Z", 3, 11, "view"),
            line("2025-01-16T01:00:01Z", 3, 11, "view"),
            line("2025-01-16T01:00:02Z", 3, 11, "view"),
        ],
    )
    .unwrap();
    let s = stats(&mut e);
    assert_eq!(s.accepted, 5);
    assert_eq!(s.entities_of("customers"), Some(1));
    assert_eq!(s.entities_of("items"), Some(1));
    assert_eq!(s.passivated, 3);
    let r = one(&mut e, "SELECT COUNT(*) FROM events WHERE customer_id = 1");
    assert_eq!(r.rows, vec![vec![Value::Int(0)]]);
}

#[test]
fn show_stats_shows_every_counter_as_a_row_in_order() {
    let mut e = engine(2);
    e.ingest_lines(
        "t",
        [
            line("2025-01-15T00:00:00Z", 1, 10, "view"),
            line("2025-01-15T00:00:01Z", 2, 11, "purchase"),
            "not json".to_string(),
        ],
    )
    .unwrap();
    let s = stats(&mut e);
    let shown = one(&mut e, "SHOW STATS");
    assert_eq!(shown.columns, ["counter", "value"]);
    let rows: Vec<(String, String)> = shown
        .rows
        .iter()
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect();
    let row = |name: &str, value: &dyn ToString| (name.to_string(), value.to_string());
    let expected = vec![
        row("lines", &s.lines),
        row("accepted", &s.accepted),
        row("rejected", &s.rejected_total()),
        row("rejected.malformed_json", &1),
        row("rejected.missing_field", &0),
        row("rejected.invalid_field", &0),
        row("rejected.duplicate", &0),
        row("rejected.too_late", &0),
        row("rejected.too_far_in_future", &0),
        row("actors.customers", &s.entities_of("customers").unwrap()),
        row("actors.items", &s.entities_of("items").unwrap()),
        row("actors.passivated", &s.passivated),
        row("state.pane_slots", &s.pane_slots),
        row("state.cells", &s.cells),
        row("state.remembered_ids", &s.remembered_ids),
        row("state.id_history_bytes", &s.id_history_bytes),
        row("state.recent_events", &s.recent_events),
        row("shards", &2),
        row("clock.now", &"2025-01-15T00:00:01.000Z"),
    ];
    assert_eq!(rows, expected);
    assert_eq!((s.lines, s.accepted, s.rejected_total()), (3, 2, 1));
    assert_eq!(s.entities_of("customers"), Some(2));
    assert_eq!(s.recent_events, 2);
}

#[test]
fn queries_before_any_event_answer_empty() {
    let mut e = engine(1);
    let r = one(&mut e, "SELECT COUNT(*), SUM(price) FROM events WINDOW 1h");
    assert_eq!(r.rows, vec![vec![Value::Int(0), Value::Null]]);
    let r = one(&mut e, "SELECT TOP 3 event FROM events");
    assert!(r.rows.is_empty());
}

#[test]
fn each_query_sees_every_event_ingested_before_it() {
    let mut e = engine(3);
    for i in 0..50 {
        let t = format!("2025-01-15T00:00:{:02}Z", i);
        e.ingest_lines("t", [line(&t, i % 7, i % 5, "view")])
            .unwrap();
        let r = one(&mut e, "SELECT COUNT(*) FROM events");
        assert_eq!(r.rows, vec![vec![Value::Int(i + 1)]]);
    }
}

#[test]
fn errors_say_what_to_do() {
    let mut e = engine(1);
    let err = |e: &mut Engine, sql: &str| e.execute(sql).unwrap_err().to_string();
    assert!(err(&mut e, "SELECT COUNT(*) FROM events WINDOW 48h").contains("--retention 2d"));
    assert!(err(&mut e, "SELECT COUNT(*) FROM events WINDOW 61m 30s").contains("syntax error"));
    assert!(err(&mut e, "SELECT COUNT(*) FROM events WHERE price > 5").contains("HAVING"));
    assert!(err(
        &mut e,
        "SELECT COUNT(*) FROM events WHERE customer_id = 1 AND item_id = 2"
    )
    .contains("no actor holds both"));
    assert!(err(&mut e, "SELECT customer_id, COUNT(*) FROM events").contains("GROUP BY"));
    assert!(err(&mut e, "SELECT COUNT(*) FROM orders").contains("FROM events"));
    assert!(err(
        &mut e,
        "SELECT COUNT(*) FROM events WHERE customer_id = 'x'"
    )
    .contains("an integer column"));
    assert!(
        err(&mut e, "SELECT evnt, COUNT(*) FROM events GROUP BY evnt")
            .contains("did you mean 'event'")
    );
}

fn rows(set: &ResultSet) -> Vec<Vec<String>> {
    set.rows
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect()
}

#[test]
fn time_buckets_show_empty_buckets_and_running_totals() {
    let mut e = engine(2);
    e.ingest_lines(
        "t",
        [
            line("2025-01-15T00:10:00Z", 1, 10, "view"),
            line("2025-01-15T00:20:00Z", 2, 10, "purchase"),
            // Nothing in the 01:00 and 02:00 hours.
            line("2025-01-15T03:05:00Z", 1, 11, "view"),
            line("2025-01-15T03:30:00Z", 3, 11, "view"),
            line("2025-01-15T03:30:00Z", 3, 12, "purchase"),
        ],
    )
    .unwrap();
    let sql = "SELECT TIME_BUCKET(1h, timestamp) AS hour, COUNT(*) AS n, \
               SUM(price) AS revenue, CUMULATIVE(n) AS running \
               FROM events GROUP BY hour ORDER BY hour WINDOW 4h";
    let got = one(&mut e, sql);
    assert_eq!(got.columns, ["hour", "n", "revenue", "running"]);
    // The window starts at 23:31 (4 h of minute panes back from 03:30), so
    // the first bucket is partial and, like 01:00 and 02:00, empty.
    assert_eq!(
        rows(&got),
        [
            ["2025-01-14T23:00:00.000Z", "0", "NULL", "0"],
            ["2025-01-15T00:00:00.000Z", "2", "20.0", "2"],
            ["2025-01-15T01:00:00.000Z", "0", "NULL", "2"],
            ["2025-01-15T02:00:00.000Z", "0", "NULL", "2"],
            ["2025-01-15T03:00:00.000Z", "3", "30.0", "5"]
        ]
    );
    // Descending order runs the total from the newest bucket; LIMIT cuts
    // after the totals are computed.
    let sql = "SELECT TIME_BUCKET(1h, timestamp) AS hour, COUNT(*) AS n, CUMULATIVE(n) AS running \
               FROM events GROUP BY hour ORDER BY hour DESC LIMIT 2 WINDOW 4h";
    assert_eq!(
        rows(&one(&mut e, sql)),
        [
            ["2025-01-15T03:00:00.000Z", "3", "3"],
            ["2025-01-15T02:00:00.000Z", "0", "3"]
        ]
    );
    // Grouped by another column too: only buckets with events appear.
    let sql = "SELECT event, TIME_BUCKET(1h, timestamp) AS hour, COUNT(*) AS n \
               FROM events GROUP BY event, hour ORDER BY event, hour WINDOW 4h";
    assert_eq!(
        rows(&one(&mut e, sql)),
        [
            ["purchase", "2025-01-15T00:00:00.000Z", "1"],
            ["purchase", "2025-01-15T03:00:00.000Z", "1"],
            ["view", "2025-01-15T00:00:00.000Z", "1"],
            ["view", "2025-01-15T03:00:00.000Z", "2"]
        ]
    );
    // Per customer (fan-out): the router finishes, so running totals span shards.
    let sql = "SELECT customer_id, TIME_BUCKET(1h, timestamp) AS hour, COUNT(*) AS n, \
               CUMULATIVE(n) AS running FROM events GROUP BY customer_id, hour \
               ORDER BY hour, customer_id WINDOW 4h";
    assert_eq!(
        rows(&one(&mut e, sql)),
        [
            ["1", "2025-01-15T00:00:00.000Z", "1", "1"],
            ["2", "2025-01-15T00:00:00.000Z", "1", "2"],
            ["1", "2025-01-15T03:00:00.000Z", "1", "3"],
            ["3", "2025-01-15T03:00:00.000Z", "2", "5"]
        ]
    );
}

#[test]
fn time_bucket_errors_say_what_to_write() {
    let mut e = engine(1);
    e.ingest_lines("t", [line("2025-01-15T00:10:00Z", 1, 10, "view")])
        .unwrap();
    for (sql, want) in [
        (
            "SELECT TIME_BUCKET(30s, timestamp) AS b, COUNT(*) FROM events GROUP BY b WINDOW 2h",
            "whole number of the window's 1m panes",
        ),
        (
            "SELECT TIME_BUCKET(1h, price) AS b, COUNT(*) FROM events GROUP BY b",
            "TIME_BUCKET(width, timestamp)",
        ),
        (
            "SELECT TIME_BUCKET(1h, timestamp), COUNT(*) FROM events",
            "must appear in GROUP BY",
        ),
        (
            "SELECT TIME_BUCKET(1s, timestamp) AS b, COUNT(*) FROM events GROUP BY b WINDOW 24h",
            "whole number of the window's 1m panes",
        ),
        (
            "SELECT COUNT(*) AS n, CUMULATIVE(n) + 1 FROM events",
            "select-list column of its own",
        ),
    ] {
        let err = e.execute(sql).unwrap_err().to_string();
        assert!(err.contains(want), "{sql}: {err}");
    }
}

#[test]
fn raw_aggregate_and_rule_queries_refuse_the_same_windows() {
    let mut e = engine(1);
    e.ingest_lines("t", [line("2025-01-15T00:00:00Z", 1, 10, "view")])
        .unwrap();
    // 5430 s is 90.5 minutes: over an hour windows use 1-minute panes, so
    // it is not a whole number of panes, whatever reads it.
    for sql in [
        "SELECT * FROM events WINDOW 5430s",
        "SELECT COUNT(*) FROM events WINDOW 5430s",
        "CREATE RULE r AS SELECT customer_id, COUNT(*) AS n FROM events \
         GROUP BY customer_id HAVING n > 1 WINDOW 5430s",
    ] {
        let err = e.execute(sql).unwrap_err().to_string();
        assert!(err.contains("whole number of minutes"), "{sql}: {err}");
    }
    assert_eq!(one(&mut e, "SELECT * FROM events WINDOW 90m").rows.len(), 1);
}

#[test]
fn item_9_float_dimensions_group_and_filter_by_value() {
    let schema: Schema = serde_json::from_str(
        r#"{"name":"levels","time":{"field":"t"},
            "dimensions":[{"field":"level","type":"float"}],
            "metrics":[{"field":"v","type":"int"}]}"#,
    )
    .unwrap();
    schema.validate().unwrap();
    let mut e = Engine::start(Config::new(schema)).unwrap();
    let lines = [0.5, 1.5, 0.5, 1.0, 1.0, -0.0, 0.0]
        .iter()
        .enumerate()
        .map(|(i, l)| format!(r#"{{"t":"2025-01-15T00:00:0{i}Z","level":{l:?},"v":1}}"#))
        .chain([r#"{"t":"2025-01-15T00:00:08Z","level":1,"v":1}"#.to_string()]);
    e.ingest_lines("t", lines).unwrap();
    let r = one(
        &mut e,
        "SELECT level, COUNT(*) FROM events GROUP BY level ORDER BY level",
    );
    let got: Vec<(f64, i64)> = r
        .rows
        .iter()
        .map(|row| match (&row[0], &row[1]) {
            (Value::Float(l), Value::Int(n)) => (*l, *n),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, [(0.0, 2), (0.5, 2), (1.0, 3), (1.5, 1)]);
    let r = one(&mut e, "SELECT COUNT(*) FROM events WHERE level = 0.5");
    assert_eq!(r.rows, vec![vec![Value::Int(2)]]);
    let r = one(&mut e, "SELECT COUNT(*) FROM events WHERE level = 1");
    assert_eq!(r.rows, vec![vec![Value::Int(3)]]);
}

/// Item 5 of the hostile-input issue: the same bytes give the same counts
/// and reject line numbers whether they arrive at once or in chunks (as a
/// followed file's appends do), empty lines included.
#[test]
fn the_same_bytes_count_alike_at_once_or_in_chunks() {
    let lines = [
        line("2025-01-15T12:00:00Z", 1, 1, "view"),
        String::new(),
        line("2025-01-15T12:00:01Z", 2, 1, "view"),
        "not json".into(),
        String::new(),
        line("2025-01-15T12:00:02Z", 1, 2, "purchase"),
        line("2025-01-15T12:00:03Z", 3, 2, "view"),
        "{}".into(),
        String::new(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let run = |chunks: &[usize], name: &str| {
        let rejects = dir.path().join(name);
        let mut config = Config::new(Schema::preset("shop").unwrap());
        config.reject_file = Some(rejects.clone());
        let mut engine = Engine::start(config).unwrap();
        let mut at = 0;
        for &n in chunks {
            let bytes: Vec<u8> = lines[at..at + n]
                .iter()
                .flat_map(|l| format!("{l}\n").into_bytes())
                .collect();
            engine.ingest_more("f", bytes, at as u64).unwrap();
            at += n;
        }
        one(&mut engine, "SELECT COUNT(*) FROM events");
        let counters = engine.counters().clone();
        drop(engine);
        let numbers: Vec<u64> = std::fs::read_to_string(&rejects)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        (
            counters.lines,
            counters.accepted,
            counters.rejected,
            numbers,
        )
    };
    let at_once = run(&[lines.len()], "once.ndjson");
    assert_eq!(at_once.0, 9);
    assert_eq!(at_once.3, [2, 4, 5, 8, 9]);
    assert_eq!(run(&[1, 2, 3, 1, 2], "chunks.ndjson"), at_once);
    assert_eq!(run(&[1; 9], "ones.ndjson"), at_once);
}

/// Item 6 of the hostile-input issue: queries between appends are not the
/// end of the input: a real jump confirmed across appends is admitted.
#[test]
fn a_jump_confirmed_across_appends_and_queries_is_admitted() {
    let mut engine = engine(2);
    let mut at = 0u64;
    let mut append = |engine: &mut Engine, l: String| {
        engine
            .ingest_more("f", format!("{l}\n").into_bytes(), at)
            .unwrap();
        at += 1;
    };
    append(&mut engine, line("2025-01-15T12:00:00Z", 1, 1, "view"));
    for second in 0..3 {
        append(
            &mut engine,
            line(&format!("2025-01-15T20:00:0{second}Z"), 2, 1, "view"),
        );
        one(&mut engine, "SELECT COUNT(*) FROM events");
    }
    assert_eq!(engine.counters().accepted, 4);
    assert_eq!(engine.counters().rejected.iter().sum::<u64>(), 0);
    let n = one(&mut engine, "SELECT COUNT(*) FROM events WINDOW 1m");
    assert_eq!(n.rows[0][0], Value::Int(3));
}
