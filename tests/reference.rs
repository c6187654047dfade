//! The engine against a brute-force reference, on random streams.
//!
//! `reference_model` re-implements tally's contract in the plainest way
//! possible: it reads every raw line itself (schema checks, duplicates by id,
//! too late, the future guard of `src/ingest/admission.rs`), keeps the accepted events in a
//! `Vec`, and answers each query by filtering that `Vec` by the window rule
//! (`src/window/spec.rs`, restated here on its own) and the WHERE clause, grouping, aggregating, applying HAVING,
//! sorting and limiting. The properties below feed the same random stream —
//! out of order, with duplicates, bad lines, events on window edges, late
//! and far-future events — to an engine with 1 to 4 shards, in up to four
//! inputs (`ingest_lines` calls), and require after each input:
//!
//! - the same admission: lines, accepted, every `rejected.<reason>` of the
//!   engine's counters (`SHOW STATS`), and the same clock;
//! - the same answers, row for row, to global counts with WHERE on
//!   dimensions, `TOP k`, fan-out `GROUP BY` an actor key with HAVING /
//!   ORDER BY / LIMIT, point queries with `FILTER`, and `GROUP BY` a
//!   dimension with metric aggregates;
//! - the same answers on 1 and 3 shards, and on streams longer than one
//!   ingest batch.
//!
//! Floats compare to a relative 1e-9 (sums of the same values in another
//! order differ in the last bits); everything else, types included, exactly.
//! Row order counts when the query has ORDER BY or TOP. Engine bugs found
//! here stay as plain `#[test]`s at the end of the file.

mod reference_model;

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use tally::event::Schema;
use tally::{Config, Engine, ResultSet, Value};

use reference_model::admission::{Admitted, Limits, REASONS};
use reference_model::query::{
    compare_rows, same_rows, Arg, Col, Cond, DimTest, Func, Item, Query, Reference, TestOp,
};
use reference_model::stream::{scenario, troubled_scenario, Scenario};

/// Cases per property: the whole file runs in seconds in release. Set
/// `PROPTEST_CASES` for a longer soak.
const CASES: u32 = 64;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        // Streams are long; shrinking them to a few lines takes many steps.
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Running both sides

fn start_engine(s: &Scenario, shards: usize, recent_events: usize) -> Engine {
    let mut config = Config::new(Schema::preset(s.preset.preset().name).expect("a preset"));
    config.shards = shards;
    config.recent_events = recent_events;
    config.retention = Duration::from_millis(s.retention_ms as u64);
    config.max_jump = Duration::from_millis(s.max_jump_ms as u64);
    Engine::start(config).expect("the engine starts")
}

fn limits(s: &Scenario) -> Limits {
    Limits {
        retention_ms: s.retention_ms,
        max_jump_ms: s.max_jump_ms,
        wall_ms: tally::time::wall_clock_ms(),
    }
}

/// Feeds the scenario's inputs one by one to a fresh engine and to the
/// reference, calling `check` after each.
fn replay(
    s: &Scenario,
    shards: usize,
    check: impl FnMut(&mut Engine, &Admitted) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    replay_keeping(s, shards, tally::engine::DEFAULT_RECENT_EVENTS, check)
}

/// [`replay`] on an engine whose ring keeps `recent_events` raw events.
fn replay_keeping(
    s: &Scenario,
    shards: usize,
    recent_events: usize,
    mut check: impl FnMut(&mut Engine, &Admitted) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut engine = start_engine(s, shards, recent_events);
    let mut admitted = Admitted::default();
    for input in s.inputs() {
        engine.ingest_lines("gen", input).expect("ingest");
        admitted.ingest(s.preset.preset(), limits(s), input);
        prop_assert_eq!(engine.now_ms(), admitted.now, "the clock");
        check(&mut engine, &admitted)?;
    }
    Ok(())
}

fn show(rows: &[Vec<Value>]) -> String {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
            format!("    {}", cells.join(" | "))
        })
        .collect();
    if lines.is_empty() {
        "    (no rows)".into()
    } else {
        lines.join("\n")
    }
}

fn run(engine: &mut Engine, sql: &str) -> Result<ResultSet, TestCaseError> {
    let mut results = engine
        .execute(sql)
        .map_err(|e| TestCaseError::fail(format!("{sql}\n  failed: {e}")))?;
    results
        .pop()
        .ok_or_else(|| TestCaseError::fail(format!("{sql}\n  gave no result")))
}

/// The rows in a canonical order when the query leaves the order open.
fn canonical(q: &Query, mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    if !q.ordered() {
        rows.sort_by(|a, b| compare_rows(a, b));
    }
    rows
}

/// Runs every query after each input, on an engine with `shards` shards
/// and on the reference.
fn check_queries(s: &Scenario, shards: usize, queries: &[Query]) -> Result<(), TestCaseError> {
    replay(s, shards, |engine, admitted| {
        let reference = Reference {
            preset: s.preset.preset(),
            admitted,
            retention_ms: s.retention_ms,
        };
        for q in queries {
            let sql = q.sql(s.preset.preset(), s.retention_ms);
            let got = run(engine, &sql)?;
            let columns = if q.top.is_some() { 2 } else { q.items.len() };
            prop_assert_eq!(got.columns.len(), columns, "{}", sql);
            let got = canonical(q, got.rows);
            let want = canonical(q, reference.answer(q));
            prop_assert!(
                same_rows(&got, &want),
                "{}\n  on {} shards, after {} lines, now = {:?}\n  expected:\n{}\n  got:\n{}",
                sql,
                shards,
                admitted.lines,
                admitted.now.map(tally::time::format_timestamp),
                show(&want),
                show(&got)
            );
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Query strategies

fn window() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => select(vec![
            1_000, 10_000, 59_000, 60_000, 61_000, 300_000, 3_599_000, 3_600_000,
            3_660_000, 7_200_000, 10_800_000, 86_400_000,
        ]),
        1 => (1..=3600i64).prop_map(|s| s * 1000),
        1 => (61..=1440i64).prop_map(|m| m * 60_000),
    ]
}

fn dim_test() -> impl Strategy<Value = DimTest> {
    (
        prop_oneof![3 => Just(0u8), 1 => Just(1u8)],
        select(vec![
            TestOp::Eq,
            TestOp::Ne,
            TestOp::NotEq,
            TestOp::In,
            TestOp::NotIn,
        ]),
        proptest::collection::vec(0..6u8, 1..=3),
    )
        .prop_map(|(dim, op, values)| DimTest { dim, op, values })
}

fn col() -> impl Strategy<Value = Col> {
    prop_oneof![
        3 => Just(Col::Dim(0)),
        1 => Just(Col::Dim(1)),
        1 => Just(Col::Key(0)),
        1 => Just(Col::Key(1)),
    ]
}

fn agg(func: Func, arg: Arg, filter: Option<DimTest>) -> Item {
    Item::Agg {
        func,
        arg,
        filter,
        alias: None,
    }
}

fn plain(items: Vec<Item>, window_ms: i64) -> Query {
    Query {
        top: None,
        items,
        filter: Vec::new(),
        group_by: None,
        having: None,
        order_by: Vec::new(),
        limit: None,
        window_ms,
    }
}

/// `SELECT COUNT(*) FROM events [WHERE dim tests] WINDOW d`.
fn count_query() -> impl Strategy<Value = Query> {
    (window(), proptest::collection::vec(dim_test(), 0..=2)).prop_map(|(w, tests)| Query {
        filter: tests.into_iter().map(Cond::Dim).collect(),
        ..plain(vec![Item::count_star()], w)
    })
}

/// `SELECT TOP k col FROM events [WHERE dim test] WINDOW d`.
fn top_query() -> impl Strategy<Value = Query> {
    (1..=6u64, col(), proptest::option::of(dim_test()), window()).prop_map(|(k, c, test, w)| {
        Query {
            top: Some(k),
            filter: test.into_iter().map(Cond::Dim).collect(),
            ..plain(vec![Item::Col(c)], w)
        }
    })
}

/// `SELECT key, COUNT(*) AS n FROM events [WHERE ...] GROUP BY key
/// [HAVING n > x] ORDER BY n DESC, key [LIMIT l] WINDOW d`.
fn key_group_query() -> impl Strategy<Value = Query> {
    let key_cond = prop_oneof![
        proptest::collection::vec(0..=21i64, 1..=3).prop_map(|ids| (true, ids)),
        (0..=21i64).prop_map(|x| (false, vec![x])),
    ];
    (
        0..2u8,
        proptest::option::of(0..40i64),
        proptest::option::of(1..=10u64),
        proptest::option::weighted(0.3, key_cond),
        proptest::option::weighted(0.3, dim_test()),
        window(),
    )
        .prop_map(|(k, having, limit, key_cond, test, w)| {
            let mut filter: Vec<Cond> = test.into_iter().map(Cond::Dim).collect();
            filter.extend(key_cond.map(|(is_in, ids)| {
                if is_in {
                    Cond::KeyIn(k, ids)
                } else {
                    Cond::KeyGt(k, ids[0])
                }
            }));
            let n = Item::Agg {
                func: Func::Count,
                arg: Arg::Star,
                filter: None,
                alias: Some("n"),
            };
            Query {
                filter,
                group_by: Some(Col::Key(k)),
                having: having.map(|x| (1, x)),
                order_by: vec![(1, true), (0, false)],
                limit,
                ..plain(vec![Item::Col(Col::Key(k)), n], w)
            }
        })
}

/// `SELECT COUNT(*), COUNT(*) FILTER (...), SUM(m) FILTER (...), MIN, MAX,
/// AVG, COUNT(m), COUNT(device) FROM events WHERE key = U [AND dim test]
/// WINDOW d`.
fn point_query() -> impl Strategy<Value = Query> {
    (
        prop_oneof![3 => Just(0u8), 1 => Just(1u8)],
        proptest::collection::vec(0..=21i64, 1..=2),
        0..2u8,
        proptest::option::of(dim_test()),
        proptest::option::weighted(0.3, dim_test()),
        window(),
    )
        .prop_map(|(k, ids, m, agg_filter, test, w)| {
            let f = || agg_filter.clone();
            let items = vec![
                Item::count_star(),
                agg(Func::Count, Arg::Star, f()),
                agg(Func::Sum, Arg::Metric(m), f()),
                agg(Func::Min, Arg::Metric(m), f()),
                agg(Func::Max, Arg::Metric(m), f()),
                agg(Func::Avg, Arg::Metric(m), f()),
                agg(Func::Count, Arg::Metric(m), f()),
                agg(Func::Count, Arg::Dim(1), f()),
            ];
            let mut filter = vec![Cond::KeyIn(k, ids)];
            filter.extend(test.map(Cond::Dim));
            Query {
                filter,
                ..plain(items, w)
            }
        })
}

/// `SELECT dim, COUNT(*), SUM(m), AVG(m), MIN(m), COUNT(other dim) FROM events
/// [WHERE ...]
/// GROUP BY dim [ORDER BY dim [DESC]] WINDOW d`.
fn dim_group_query() -> impl Strategy<Value = Query> {
    (
        prop_oneof![3 => Just(0u8), 1 => Just(1u8)],
        0..2u8,
        proptest::option::weighted(0.3, dim_test()),
        proptest::option::of(any::<bool>()),
        window(),
    )
        .prop_map(|(d, m, test, order, w)| {
            let items = vec![
                Item::Col(Col::Dim(d)),
                Item::count_star(),
                agg(Func::Sum, Arg::Metric(m), None),
                agg(Func::Avg, Arg::Metric(m), None),
                agg(Func::Min, Arg::Metric(m), None),
                agg(Func::Count, Arg::Dim(1 - d), None),
            ];
            Query {
                filter: test.into_iter().map(Cond::Dim).collect(),
                group_by: Some(Col::Dim(d)),
                order_by: order.into_iter().map(|desc| (0, desc)).collect(),
                ..plain(items, w)
            }
        })
}

fn any_query() -> impl Strategy<Value = Query> {
    prop_oneof![
        count_query(),
        top_query(),
        key_group_query(),
        point_query(),
        dim_group_query(),
    ]
}

fn queries(q: impl Strategy<Value = Query>) -> impl Strategy<Value = Vec<Query>> {
    proptest::collection::vec(q, 1..8)
}

/// Raw-event queries (no aggregates) read the ring of the last
/// `recent_events` accepted events: the reference keeps every accepted
/// event in admission order, so the ring is its tail.
fn check_raw_queries(
    s: &Scenario,
    recent_events: usize,
    window_ms: i64,
    limit: u64,
) -> Result<(), TestCaseError> {
    let window_ms = window_ms.min(s.retention_ms);
    let p = s.preset.preset();
    let (time, user, item, kind) = (p.time, p.keys[0], p.keys[1], p.dims[0].0);
    let unordered = format!(
        "SELECT {time}, {user}, {item}, {kind} FROM events WINDOW {}s",
        window_ms / 1000
    );
    let ordered = format!(
        "SELECT {time}, {user}, {item}, {kind} FROM events \
         ORDER BY {time} DESC, {user} LIMIT {limit} WINDOW {}s",
        window_ms / 1000
    );
    replay_keeping(s, s.shards, recent_events, |engine, admitted| {
        let Some(now) = admitted.now else {
            return Ok(());
        };
        let kept = &admitted.events[admitted.events.len().saturating_sub(recent_events)..];
        let rows: Vec<(i64, Vec<Value>)> = kept
            .iter()
            .filter(|e| reference_model::query::in_window(e.ts, now, window_ms))
            .map(|e| {
                let kind = e.dims[0].as_deref().map_or(Value::Null, Value::str);
                let row = vec![
                    Value::str(&tally::time::format_timestamp(e.ts)),
                    Value::Int(e.keys[0]),
                    Value::Int(e.keys[1]),
                    kind,
                ];
                (e.ts, row)
            })
            .collect();
        let want: Vec<Vec<Value>> = rows.iter().map(|(_, r)| r.clone()).collect();
        let got = run(engine, &unordered)?.rows;
        prop_assert!(
            got == want,
            "{}\n  expected:\n{}\n  got:\n{}",
            unordered,
            show(&want),
            show(&got)
        );

        let mut sorted = rows;
        // Stable: ties keep arrival order, as the engine promises.
        sorted.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then(a[1].total_cmp(&b[1])));
        let want: Vec<Vec<Value>> = sorted
            .into_iter()
            .take(limit as usize)
            .map(|(_, r)| r)
            .collect();
        let got = run(engine, &ordered)?.rows;
        prop_assert!(
            got == want,
            "{}\n  expected:\n{}\n  got:\n{}",
            ordered,
            show(&want),
            show(&got)
        );
        Ok(())
    })
}

/// `GROUP BY TIME_BUCKET(w, time)` with a running total, against counting
/// events per bucket by hand: every bucket from the one holding the
/// window's first pane to the one holding now, empty ones included.
fn check_bucket_queries(s: &Scenario, window_ms: i64, widths: &[i64]) -> Result<(), TestCaseError> {
    let window_ms = window_ms.min(s.retention_ms);
    let pane = if window_ms <= 3_600_000 { 1000 } else { 60_000 };
    let time = s.preset.preset().time;
    replay(s, s.shards, |engine, admitted| {
        for &w in widths {
            let width = w * pane;
            let sql = format!(
                "SELECT TIME_BUCKET('{}s', {time}) AS b, COUNT(*) AS n, CUMULATIVE(n) AS c \
                 FROM events GROUP BY b ORDER BY b WINDOW {}s",
                width / 1000,
                window_ms / 1000
            );
            let mut want = Vec::new();
            if let Some(now) = admitted.now {
                let first_pane_ms = (now.div_euclid(pane) - window_ms / pane + 1) * pane;
                let (first, last) = (first_pane_ms.div_euclid(width), now.div_euclid(width));
                let mut running = 0;
                for b in first..=last {
                    let n = admitted
                        .events
                        .iter()
                        .filter(|e| reference_model::query::in_window(e.ts, now, window_ms))
                        .filter(|e| e.ts.div_euclid(width) == b)
                        .count() as i64;
                    running += n;
                    want.push(vec![
                        Value::str(&tally::time::format_timestamp(b * width)),
                        Value::Int(n),
                        Value::Int(running),
                    ]);
                }
            }
            let got = run(engine, &sql)?.rows;
            prop_assert!(
                got == want,
                "{}\n  now = {:?}\n  expected:\n{}\n  got:\n{}",
                sql,
                admitted.now.map(tally::time::format_timestamp),
                show(&want),
                show(&got)
            );
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config())]

    #[test]
    fn admission_counts_match_the_reference(s in troubled_scenario()) {
        replay(&s, s.shards, |engine, admitted| {
            let stats = engine
                .stats()
                .map_err(|e| TestCaseError::fail(format!("stats failed: {e}")))?;
            prop_assert_eq!(stats.lines, admitted.lines);
            prop_assert_eq!(stats.accepted, admitted.accepted());
            let rejected: Vec<(&str, u64)> =
                stats.rejected.iter().map(|(r, n)| (r.name(), *n)).collect();
            let expected: Vec<(&str, u64)> = REASONS.iter().copied().zip(admitted.rejected).collect();
            prop_assert_eq!(rejected, expected, "rejected.<reason>");
            Ok(())
        })?;
    }

    #[test]
    fn counts_in_windows_match(s in scenario(1..300), qs in queries(count_query())) {
        check_queries(&s, s.shards, &qs)?;
    }

    #[test]
    fn top_k_matches(s in scenario(1..300), qs in queries(top_query())) {
        check_queries(&s, s.shards, &qs)?;
    }

    #[test]
    fn grouped_by_actor_key_matches(s in scenario(1..300), qs in queries(key_group_query())) {
        check_queries(&s, s.shards, &qs)?;
    }

    #[test]
    fn point_queries_match(s in scenario(1..300), qs in queries(point_query())) {
        check_queries(&s, s.shards, &qs)?;
    }

    #[test]
    fn grouped_by_dimension_matches(s in scenario(1..300), qs in queries(dim_group_query())) {
        check_queries(&s, s.shards, &qs)?;
    }

    #[test]
    fn raw_event_queries_match(
        s in scenario(1..300),
        recent in select(vec![1usize, 7, 60, 100_000]),
        window_ms in window(),
        limit in 0u64..12,
    ) {
        check_raw_queries(&s, recent, window_ms, limit)?;
    }

    #[test]
    fn time_buckets_match(
        s in scenario(1..300),
        window_ms in window(),
        widths in proptest::collection::vec(select(vec![1i64, 7, 60, 120]), 1..3),
    ) {
        check_bucket_queries(&s, window_ms, &widths)?;
    }

    #[test]
    fn answers_do_not_depend_on_the_shard_count(
        s in scenario(1..300),
        qs in queries(any_query()),
    ) {
        check_queries(&s, 1, &qs)?;
        check_queries(&s, 3, &qs)?;
    }
}

proptest! {
    // Streams longer than one ingest batch (4096 events), so several
    // batches are in flight and the shards see the clock move within an input.
    #![proptest_config(ProptestConfig { cases: config().cases / 8, ..config() })]

    #[test]
    fn long_streams_match(s in scenario(4000..6000), qs in queries(any_query())) {
        check_queries(&s, s.shards, &qs)?;
    }
}
