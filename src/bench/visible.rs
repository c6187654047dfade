//! `tally bench visible`: event-to-visible latency.
//!
//! Generated reels events are due at `--rate` per second on a fixed
//! schedule (generated into memory first). One thread drives the engine:
//! it hands every event due so far to the engine (at most 4,096 per call,
//! at least 1 ms worth unless the stream is ending), `Engine::ingest`
//! returns once the shards have applied them, and then a `COUNT(*)` over
//! the whole retention must equal the number of events accepted so far.
//! That query's completion is the moment the events became visible.
//!
//! - *corrected*: visible − the event's due time on the schedule. When the
//!   driver falls behind the rate, events wait, and this grows: it is what
//!   a producer handing events over at that rate would see.
//! - *uncorrected*: visible − the moment the event's chunk was handed over.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::feed::{check_in_memory, Recorded};
use super::histogram::Series;
use super::pace::{wait_until, Schedule};
use super::report::{per_second, thousands, Progress, Report};
use super::{positive, start_engine, CommonArgs};
use crate::event::Schema;
use crate::generator::{GenConfig, DEFAULT_START_MS};
use crate::query::Params;
use crate::time::Millis;
use crate::value::Value;

/// Most events handed over per call (the engine's batch size).
const MAX_CHUNK: usize = 4096;

#[derive(Args, Debug, Clone)]
pub struct VisibleArgs {
    /// Events per second handed to the engine
    #[arg(long, default_value = "500000", value_parser = positive)]
    pub rate: u64,
    /// How long the run lasts
    #[arg(long, default_value = "10s", value_parser = crate::time::parse_flag_duration)]
    pub duration: Duration,
    /// Distinct users of the generated events
    #[arg(long, default_value = "10000", value_parser = positive)]
    pub users: u64,
    /// Distinct videos of the generated events
    #[arg(long, default_value = "1000", value_parser = positive)]
    pub videos: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: &VisibleArgs) -> anyhow::Result<Report> {
    let mut engine = start_engine(Schema::preset("reels")?, &args.common)?;
    let mut progress = Progress::new();
    let events = (args.rate as f64 * args.duration.as_secs_f64()).ceil() as u64;
    check_in_memory(events, "--rate × --duration")?;
    progress.show(|| format!("generating {} events", thousands(events)));
    let live = Recorded::generate(
        &GenConfig {
            events,
            users: args.users,
            items: args.videos,
            start_ms: DEFAULT_START_MS,
            span_ms: args.duration.as_millis() as Millis,
            seed: args.common.seed,
            ..GenConfig::default()
        },
        false,
    )?;
    let count = engine
        .parse("SELECT COUNT(*) FROM events", &Params::new())?
        .remove(0);

    let mut corrected = Series::new("visible", "corrected");
    let mut uncorrected = Series::new("visible", "uncorrected");
    let start = Instant::now() + Duration::from_millis(1);
    let schedule = Schedule::new(start, args.rate as f64);
    let min_chunk = ((args.rate / 1000) as usize).max(1);
    let total = live.lines();
    let mut handed = 0usize;
    let mut chunks = 0u64;
    let mut largest_chunk = 0usize;
    while handed < total {
        let now = Instant::now();
        let due = (schedule.due_by(now) as usize).min(total);
        if due < handed + min_chunk && due < total {
            wait_until(schedule.due((handed + min_chunk - 1) as u64), false);
            continue;
        }
        let to = due.min(handed + MAX_CHUNK);
        let handed_at = Instant::now();
        engine.ingest(live.merge("live", handed, to), &mut |_| {})?;
        let rs = engine.run(&count).context("the visibility query")?;
        let visible = Instant::now();
        let seen = match rs.rows.first().and_then(|r| r.first()) {
            Some(Value::Int(n)) => *n as u64,
            other => bail!("COUNT(*) answered {other:?}"),
        };
        let accepted = engine.counters().accepted;
        if seen != accepted {
            bail!("after ingest returned, a query saw {seen} events of the {accepted} accepted");
        }
        for i in handed..to {
            corrected.record(visible.saturating_duration_since(schedule.due(i as u64)));
        }
        uncorrected.record_n(visible - handed_at, (to - handed) as u64);
        chunks += 1;
        largest_chunk = largest_chunk.max(to - handed);
        handed = to;
        progress.show(|| {
            format!(
                "visible: {:.1}/{:.0} s, {} events",
                (visible - start).as_secs_f64(),
                args.duration.as_secs_f64(),
                thousands(handed as u64)
            )
        });
    }
    let wall = start.elapsed();
    progress.clear();

    let mut report = Report::new("visible", "event-to-visible latency");
    report.fact(
        "events",
        format!(
            "{} generated reels events ({} users, {} videos, seed {}), due at {}/s for {:.0} s",
            thousands(total as u64),
            thousands(args.users),
            thousands(args.videos),
            args.common.seed,
            thousands(args.rate),
            args.duration.as_secs_f64()
        ),
    );
    report.fact(
        "achieved",
        format!(
            "{} events/s ({} chunks, up to {} events each) in {:.2} s",
            per_second(total as u64, wall),
            thousands(chunks),
            thousands(largest_chunk as u64),
            wall.as_secs_f64()
        ),
    );
    report.fact("shards", engine.config().shards.to_string());
    report.figure("due_per_s", args.rate as f64);
    report.figure(
        "achieved_per_s",
        total as f64 / wall.as_secs_f64().max(1e-9),
    );
    if wall.as_secs_f64() > args.duration.as_secs_f64() * 1.05 {
        report.warnings.push(format!(
            "the engine did not keep up with {}/s: the run took {:.2} s for {:.0} s of events, \
             so corrected latency grows with the length of the run",
            thousands(args.rate),
            wall.as_secs_f64(),
            args.duration.as_secs_f64()
        ));
    }
    report.method = vec![
        "One thread hands every event due so far to the engine (≥ 1 ms worth, ≤ 4,096 per call); \
         Engine::ingest returns when the shards have applied them."
            .into(),
        "Then SELECT COUNT(*) FROM events must equal the events accepted so far (checked): its \
         completion is when the events became visible."
            .into(),
        "corrected = visible − the event's due time on the schedule (includes waiting when the \
         driver falls behind); uncorrected = visible − when its chunk was handed over."
            .into(),
    ];
    report.table_caption = "Event-to-visible latency per event, µs:".into();
    report.series = vec![corrected, uncorrected];
    Ok(report)
}
