//! Criterion benches for each stage on its own: parsing a line per preset,
//! ingesting a batch end to end, and answering a global TOP-k and a point
//! query. `tally bench` (issue 4) measures latency under load; these catch a
//! regression in one stage.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tally::event::{LineParser, Schema, PRESETS};
use tally::gen::{GenConfig, Generator};
use tally::{Config, Engine};

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
    group.finish();
}

criterion_group!(benches, parse, ingest, query);
criterion_main!(benches);
