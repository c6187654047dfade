//! Engine behaviour through the public API: activation and passivation of
//! entities, empty windows, and errors a query can meet.

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

fn stat(engine: &mut Engine, counter: &str) -> i64 {
    let stats = engine.execute("SHOW STATS").unwrap().remove(0);
    let row = stats
        .rows
        .iter()
        .find(|r| r[0] == Value::str(counter))
        .unwrap_or_else(|| panic!("no counter {counter}"));
    match row[1] {
        Value::Int(n) => n,
        ref other => panic!("{counter} = {other:?}"),
    }
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
    assert_eq!(stat(&mut e, "actors.customers"), 2);
    assert_eq!(stat(&mut e, "actors.items"), 1);
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
    assert_eq!(stat(&mut e, "accepted"), 5);
    assert_eq!(stat(&mut e, "actors.customers"), 1);
    assert_eq!(stat(&mut e, "actors.items"), 1);
    assert_eq!(stat(&mut e, "actors.passivated"), 3);
    let r = one(&mut e, "SELECT COUNT(*) FROM events WHERE customer_id = 1");
    assert_eq!(r.rows, vec![vec![Value::Int(0)]]);
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
    .contains("an integer key"));
    assert!(
        err(&mut e, "SELECT evnt, COUNT(*) FROM events GROUP BY evnt")
            .contains("did you mean 'event'")
    );
}
