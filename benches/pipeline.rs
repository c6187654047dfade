//! Criterion benches for each stage on its own, so a regression in any
//! stage shows by itself: generating a line per preset, parsing one, admission (clock and
//! de-duplication), routing a batch to shards, pane updates in and out of
//! order, finishing and merging TOP-k rows, ingesting a batch end to end,
//! and answering a global TOP-k and a point query. `tally bench` measures
//! latency under load; these time one stage in isolation.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tally::engine::split_batch;
use tally::event::{Event, Key, LineParser, Parsed, Schema, PRESETS};
use tally::generator::{GenConfig, Generator};
use tally::ingest::{Admission, Limits, Origin, Verdicts};
use tally::query::{Accs, FinishedRow, Groups, Statement};
use tally::value::Value;
use tally::window::{MetricAgg, PaneStore};
use tally::{Clock, Config, Engine};

/// Per-stage groups stay short: a few seconds each.
fn short<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group
}

fn lines(preset: &str, events: u64) -> Vec<String> {
    let config = GenConfig {
        preset: preset.into(),
        events,
        ..GenConfig::default()
    };
    Generator::new(&config).expect("valid config").collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for preset in PRESETS {
        let parser = LineParser::new(Arc::new(Schema::preset(preset).expect("preset")));
        let sample = lines(preset, 1000);
        group.throughput(Throughput::Elements(sample.len() as u64));
        group.bench_function(preset, |b| {
            b.iter(|| {
                for line in &sample {
                    let _ = black_box(parser.parse(line.as_bytes()));
                }
            })
        });
    }
    group.finish();
}

/// The generator's own cost per line (`tally gen`, and every bench that
/// feeds generated events): the random stream, the Zipf draws and the
/// formatting of each preset's line.
fn generate(c: &mut Criterion) {
    let mut group = short(c, "generate");
    const LINES: u64 = 10_000;
    group.throughput(Throughput::Elements(LINES));
    for preset in PRESETS {
        let config = GenConfig {
            preset: preset.into(),
            events: LINES,
            ..GenConfig::default()
        };
        group.bench_function(preset, |b| {
            b.iter(|| {
                let mut generator = Generator::new(&config).expect("valid config");
                let mut bytes = 0;
                while let Some(line) = generator.next_line() {
                    bytes += line.len();
                }
                black_box(bytes)
            })
        });
    }
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let sample = lines("reels", 50_000);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.sample_size(10);
    group.bench_function("reels_50k", |b| {
        b.iter(|| {
            let mut engine = Engine::start(Config::new(Schema::preset("reels").expect("preset")))
                .expect("start");
            black_box(engine.ingest_lines("bench", &sample).expect("ingest"));
        })
    });
    group.finish();
}

fn query(c: &mut Criterion) {
    let mut engine =
        Engine::start(Config::new(Schema::preset("reels").expect("preset"))).expect("start");
    engine
        .ingest_lines("bench", lines("reels", 200_000))
        .expect("ingest");
    let mut group = c.benchmark_group("query");
    for (name, sql) in [
        ("top3_1h", "SELECT TOP 3 event_type FROM events WINDOW 1h"),
        ("top3_24h", "SELECT TOP 3 event_type FROM events WINDOW 24h"),
        (
            "point_user_24h",
            "SELECT COUNT(*), SUM(metadata.view_duration_ms) FROM events WHERE user_id = 100000500 WINDOW 24h",
        ),
    ] {
        let statement = engine.parse(sql, &Default::default()).expect("parses").remove(0);
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine.run(&statement).expect("runs")))
        });
    }
    // What a query costs before it reaches a shard: SQL text to statement,
    // statement to plan.
    let sql = "SELECT COUNT(*), SUM(metadata.view_duration_ms) FROM events WHERE user_id = 100000500 WINDOW 24h";
    group.bench_function("parse_point", |b| {
        b.iter(|| black_box(engine.parse(sql, &Default::default()).expect("parses")))
    });
    let statement = engine
        .parse(sql, &Default::default())
        .expect("parses")
        .remove(0);
    let Statement::Select(select) = statement else {
        unreachable!("a SELECT")
    };
    group.bench_function("plan_point", |b| {
        b.iter(|| black_box(engine.plan(&select).expect("plans")))
    });
    group.finish();
}

/// Reels lines parsed (not yet admitted).
fn parsed(events: u64) -> Vec<Parsed> {
    let parser = LineParser::new(Arc::new(Schema::preset("reels").expect("preset")));
    lines("reels", events)
        .iter()
        .map(|l| parser.parse(l.as_bytes()).expect("generated lines parse"))
        .collect()
}

fn limits() -> Limits {
    Limits {
        clock: Clock::Event,
        retention_ms: 24 * 3_600_000,
        max_jump_ms: 3_600_000,
    }
}

/// Admits parsed lines with a fresh admission; returns the events.
fn admit(parsed: Vec<Parsed>) -> Vec<Event> {
    let mut admission = Admission::new(limits());
    let mut verdicts = Verdicts::default();
    let source: Arc<str> = Arc::from("bench");
    for (i, p) in parsed.into_iter().enumerate() {
        let origin = Origin {
            source: source.clone(),
            line: i as u64,
        };
        admission.offer(origin, p, b"", &mut verdicts);
    }
    admission.finish(&mut verdicts);
    verdicts.admitted
}

/// Admission: the future guard, the clock, de-duplication by id hash and
/// cell interning, for 10k reels events (a fresh id history each time).
fn admission(c: &mut Criterion) {
    let sample = parsed(10_000);
    let mut group = short(c, "admission");
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("reels_10k", |b| {
        b.iter_batched(
            || sample.clone(),
            |p| black_box(admit(p)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Routing: splitting one engine batch (4,096 events) by shard.
fn route(c: &mut Criterion) {
    let events = admit(parsed(4096));
    let mut group = short(c, "route");
    group.throughput(Throughput::Elements(events.len() as u64));
    for shards in [2, 8] {
        group.bench_function(format!("batch_4096_to_{shards}_shards"), |b| {
            b.iter_batched(
                || events.clone(),
                |e| black_box(split_batch(e, shards, &mut 0)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Pane updates: 10,000 events of one entity over ~17 minutes, in time
/// order, then shuffled within 5-minute blocks (out of order).
fn panes(c: &mut Criterion) {
    const T0: i64 = 1_736_899_200_000;
    let in_order: Vec<(i64, u32)> = (0..10_000i64)
        .map(|i| (T0 + i * 100, (i % 6) as u32))
        .collect();
    let mut shuffled = in_order.clone();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for block in shuffled.chunks_mut(3000) {
        for i in (1..block.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.swap(i, (state % (i as u64 + 1)) as usize);
        }
    }
    let metrics = [1500.0, 0.5];
    let mut group = short(c, "panes");
    group.throughput(Throughput::Elements(in_order.len() as u64));
    for (name, events) in [
        ("add_in_order_10k", &in_order),
        ("add_out_of_order_10k", &shuffled),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut store = PaneStore::default();
                let mut now = i64::MIN;
                for &(ts, cell) in events.iter() {
                    now = now.max(ts);
                    store.add(ts, cell, &metrics, now);
                }
                black_box(store.slots())
            })
        });
    }
    group.finish();
}

/// Finishing: a shard turning 10,000 user groups into sorted, limited rows
/// (`Finish::rows`), and the router merging two shards' sorted rows
/// (`Finish::sort_and_limit`), for a fan-out TOP 10.
fn finish(c: &mut Criterion) {
    let mut engine =
        Engine::start(Config::new(Schema::preset("reels").expect("preset"))).expect("start");
    engine
        .ingest_lines("bench", lines("reels", 1000))
        .expect("ingest");
    let sql = "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY n DESC LIMIT 10";
    let Statement::Select(select) = engine
        .parse(sql, &Default::default())
        .expect("parses")
        .remove(0)
    else {
        unreachable!("a SELECT")
    };
    let plan = engine.plan(&select).expect("plans");
    let aggs = plan.scan.aggs.len();
    let mut groups = Groups::new();
    for u in 0..10_000i64 {
        let acc = MetricAgg {
            count: ((u * 7919) % 1000) as u64,
            ..MetricAgg::default()
        };
        let accs = Accs {
            plain: vec![acc; aggs],
            sketches: Vec::new(),
        };
        groups.insert((Some(Key::Int(100_000_000 + u)), 0), accs);
    }
    let rows: Vec<FinishedRow> = (0..20_000i64)
        .map(|u| {
            let n = Value::Int((u * 7919) % 1000);
            FinishedRow {
                sort: vec![n.clone()],
                out: vec![Value::Int(u), n],
            }
        })
        .collect();
    let mut group = short(c, "finish");
    group.bench_function("rows_fanout_top10_of_10k_groups", |b| {
        b.iter_batched(
            || groups.clone(),
            |g| black_box(plan.finish.rows(&plan.scan, g)),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("sort_and_limit_top10_of_20k_rows", |b| {
        b.iter_batched(
            || rows.clone(),
            |r| black_box(plan.finish.sort_and_limit(r)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, generate, parse, admission, route, panes, finish, ingest, query);
criterion_main!(benches);
