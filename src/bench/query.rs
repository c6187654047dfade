//! `tally bench query`: query latency while ingesting at a fixed rate.
//!
//! Set-up (not timed): a preload of generated reels events spread over the
//! last 24 h fills every window and both pane tiers; then the live stream
//! (the same generator, another seed, ids that cannot collide) is generated
//! into memory, its event times continuing where the preload ended at one
//! event-second per second.
//!
//! The run: one thread drives the engine, as an embedding application does
//! (`Engine` takes `&mut self`). Two fixed schedules interleave on it: live
//! events, due at `--rate` per second and ingested in chunks of at least
//! 1 ms of events (each chunk is applied by the shards before the call
//! returns), and queries, due at `--qps` per second, round-robin over the
//! chosen queries. Before a query runs, the events due before its intended
//! start are ingested, so it sees them. Latency is recorded twice:
//!
//! - *corrected*: completion − intended start. It includes waiting for the
//!   driver to finish an ingest chunk or an earlier slow query (coordinated
//!   omission corrected, as in wrk2).
//! - *uncorrected*: completion − actual start: the engine's service time.
//!
//! What this is not: queries do not race shards that are busy applying a
//! batch, because the driver hands a chunk over and waits for it before
//! it starts the next query. The cost of ingest shows in corrected latency.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::feed::{check_in_memory, streamed_generator, Recorded};
use super::histogram::Series;
use super::pace::{wait_until, Schedule};
use super::report::{per_second, thousands, Progress, Report};
use super::rss::{self, Rss};
use super::{positive, start_engine, CommonArgs};
use crate::event::Schema;
use crate::generator::{GenConfig, DEFAULT_START_MS};
use crate::ingest::Merge;
use crate::query::{Params, Statement};
use crate::time::Millis;
use crate::value::Value;
use crate::Engine;

/// The queries `--queries` can name, in the default order.
pub const QUERY_NAMES: [&str; 5] = [
    "j1_top3",
    "j6_user",
    "j6_hot_user",
    "j7_viral",
    "fanout_users",
];

/// Most events ingested in one call: the engine's batch size, so that a
/// driver that fell behind catches up in bounded steps.
const MAX_CHUNK: usize = 4096;

/// Runs of each query before the clock starts (caches, scratch buffers).
const WARM_UP_RUNS: usize = 5;

#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Live ingest rate of generated reels events, per second
    #[arg(long, default_value = "50000", value_parser = positive)]
    pub rate: u64,
    /// How long the measured run lasts
    #[arg(long, default_value = "10s", value_parser = crate::time::parse_flag_duration)]
    pub duration: Duration,
    /// Queries per second, all queries together (round-robin)
    #[arg(long, default_value = "50", value_parser = qps)]
    pub qps: u64,
    /// Queries to run, comma-separated: j1_top3, j6_user, j6_hot_user, j7_viral, fanout_users
    #[arg(long, value_delimiter = ',')]
    pub queries: Vec<String>,
    /// An extra query to measure (repeatable): any SELECT tally answers
    #[arg(long = "sql")]
    pub sql: Vec<String>,
    /// Events generated over the 24 h before the run, to fill the windows
    #[arg(long, default_value = "2000000")]
    pub preload: u64,
    /// Distinct users of the generated events
    #[arg(long, default_value = "10000", value_parser = positive)]
    pub users: u64,
    /// Distinct videos of the generated events
    #[arg(long, default_value = "1000", value_parser = positive)]
    pub videos: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// One measured query.
struct Measured {
    name: String,
    sql: String,
    statement: Statement,
    corrected: Series,
    uncorrected: Series,
    rows: usize,
}

pub fn run(args: &QueryArgs) -> anyhow::Result<Report> {
    let live_events = (args.rate as f64 * args.duration.as_secs_f64()).ceil() as u64;
    check_in_memory(live_events, "--rate × --duration")?;
    let mut engine = start_engine(Schema::preset("reels")?, &args.common)?;
    let mut progress = Progress::new();
    let day_ms: Millis = 24 * 3_600_000;
    let base = GenConfig {
        users: args.users,
        items: args.videos,
        ..GenConfig::default()
    };

    // Preload, streamed: 24 h of history ending where the live stream starts.
    let preload_started = Instant::now();
    if args.preload > 0 {
        let config = GenConfig {
            events: args.preload,
            start_ms: DEFAULT_START_MS,
            span_ms: day_ms,
            seed: args.common.seed,
            ..base.clone()
        };
        let reader = streamed_generator(&config)?;
        let merge = Merge::from_readers(vec![("preload".into(), Box::new(reader))]);
        engine.ingest(merge, &mut |p| {
            progress.show(|| format!("preload: {} events", thousands(p.lines)))
        })?;
    }
    let preload_time = preload_started.elapsed();

    // The live stream, in memory before the clock starts.
    progress.show(|| format!("generating {} live events", thousands(live_events)));
    let live = Recorded::generate(
        &GenConfig {
            events: live_events,
            start_ms: DEFAULT_START_MS + day_ms,
            span_ms: args.duration.as_millis() as Millis,
            seed: args.common.seed.wrapping_add(1),
            ..base
        },
        true,
    )?;

    let users = pick_users(&mut engine)?;
    let mut queries = choose_queries(&engine, args, &users)?;
    for q in &mut queries {
        for _ in 0..WARM_UP_RUNS {
            let rs = engine
                .run(&q.statement)
                .with_context(|| format!("query {}", q.name))?;
            q.rows = rs.rows.len();
        }
    }
    let rss_before = Rss::now();
    let peak_reset = Rss::reset_peak();

    let driven = drive(&mut engine, args, &live, &mut queries, &mut progress)?;
    progress.clear();
    let rss_after = Rss::now();
    let rss = rss::describe(rss_before, rss_after, peak_reset, "the run", "");
    Ok(report(
        args,
        &engine,
        &users,
        queries,
        preload_time,
        &driven,
        rss,
    ))
}

/// What the measured run did, for its report.
struct Driven {
    ingested: usize,
    issued: u64,
    ingest_calls: u64,
    ingest_time: Duration,
    query_time: Duration,
    wall: Duration,
}

/// The highest `--qps`: a query takes at least a microsecond, so a higher
/// rate only measures the backlog.
const MAX_QPS: u64 = 1_000_000;

fn qps(s: &str) -> Result<u64, String> {
    match positive(s)? {
        n if n > MAX_QPS => Err(format!(
            "{n} queries per second is more than tally can issue; at most {MAX_QPS}"
        )),
        n => Ok(n),
    }
}

/// Whether the query due at `intended` is still to be issued: it must be
/// due before the end of the run, and the run must not be over. A rate the
/// engine cannot keep up with falls ever further behind its schedule: the
/// run still stops at its duration, with the backlog left unissued (and
/// the corrected latencies show how far behind it was).
fn may_issue(intended: Instant, now: Instant, end: Instant) -> bool {
    intended < end && now < end
}

/// The measured run: live events at `--rate` and queries at `--qps`, each
/// on its own fixed schedule, from this one thread.
fn drive(
    engine: &mut Engine,
    args: &QueryArgs,
    live: &Recorded,
    queries: &mut [Measured],
    progress: &mut Progress,
) -> anyhow::Result<Driven> {
    let start = Instant::now() + Duration::from_millis(1);
    let end = start + args.duration;
    let events = Schedule::new(start, args.rate as f64);
    let query_schedule = Schedule::new(start, args.qps as f64);
    let min_chunk = ((args.rate / 1000) as usize).max(1);
    let total = live.lines();
    let (mut ingested, mut issued) = (0usize, 0u64);
    let (mut ingest_time, mut query_time) = (Duration::ZERO, Duration::ZERO);
    let mut ingest_calls = 0u64;
    let mut ingest_to = |engine: &mut Engine, from: usize, to: usize| -> anyhow::Result<()> {
        let mut at = from;
        while at < to {
            let upto = to.min(at + MAX_CHUNK);
            let t = Instant::now();
            engine.ingest(live.merge("live", at, upto), &mut |_| {})?;
            ingest_time += t.elapsed();
            ingest_calls += 1;
            at = upto;
        }
        Ok(())
    };
    loop {
        let now = Instant::now();
        let intended = query_schedule.due(issued);
        let queries_left = may_issue(intended, now, end);
        if queries_left && intended <= now {
            // Events intended before this query go in first.
            let due = (events.due_by(intended) as usize).min(total);
            if due > ingested {
                ingest_to(engine, ingested, due)?;
                ingested = due;
            }
            let which = issued as usize % queries.len();
            let q = &mut queries[which];
            let actual = Instant::now();
            let rs = engine
                .run(&q.statement)
                .with_context(|| format!("query {}", q.name))?;
            let done = Instant::now();
            q.rows = rs.rows.len();
            q.corrected.record(done - intended);
            q.uncorrected.record(done - actual);
            query_time += done - actual;
            issued += 1;
            progress.show(|| {
                format!(
                    "query: {:.1}/{:.0} s, {} queries, {} events",
                    (done - start).as_secs_f64(),
                    args.duration.as_secs_f64(),
                    thousands(issued),
                    thousands(ingested as u64)
                )
            });
            continue;
        }
        let due = (events.due_by(now) as usize).min(total);
        if due >= ingested + min_chunk || (due == total && due > ingested) {
            ingest_to(engine, ingested, due)?;
            ingested = due;
            continue;
        }
        if !queries_left && ingested == total {
            break;
        }
        let next_chunk = events.due((ingested + min_chunk - 1).min(total) as u64);
        match (queries_left, ingested < total) {
            (true, true) if intended <= next_chunk => wait_until(intended, true),
            (true, false) => wait_until(intended, true),
            _ => wait_until(next_chunk, false),
        }
    }
    Ok(Driven {
        ingested,
        issued,
        ingest_calls,
        ingest_time,
        query_time,
        wall: start.elapsed(),
    })
}

/// The report of a run: what was done, the method, and each query's
/// corrected and uncorrected series.
fn report(
    args: &QueryArgs,
    engine: &Engine,
    users: &Users,
    queries: Vec<Measured>,
    preload_time: Duration,
    driven: &Driven,
    rss: String,
) -> Report {
    let Driven {
        ingested,
        issued,
        ingest_calls,
        ingest_time,
        query_time,
        wall,
    } = *driven;
    let mut report = Report::new("query", "query latency while ingesting");
    report.fact(
        "preload",
        format!(
            "{} reels events over 24 h ({} users, {} videos, seed {}) in {:.1} s, not timed",
            thousands(args.preload),
            thousands(args.users),
            thousands(args.videos),
            args.common.seed,
            preload_time.as_secs_f64()
        ),
    );
    report.fact(
        "live ingest",
        format!(
            "{} events in {:.2} s: {} events/s achieved of {} targeted, {} calls",
            thousands(ingested as u64),
            wall.as_secs_f64(),
            per_second(ingested as u64, wall),
            thousands(args.rate),
            thousands(ingest_calls)
        ),
    );
    report.fact(
        "queries",
        format!(
            "{} in {:.2} s ({} per second targeted, round-robin)",
            thousands(issued),
            wall.as_secs_f64(),
            thousands(args.qps)
        ),
    );
    let share = |d: Duration| 100.0 * d.as_secs_f64() / wall.as_secs_f64().max(1e-9);
    report.fact(
        "driver thread",
        format!(
            "{:.0}% ingesting, {:.0}% querying, {:.0}% waiting for the schedule",
            share(ingest_time),
            share(query_time),
            (100.0 - share(ingest_time) - share(query_time)).max(0.0)
        ),
    );
    report.fact("shards", engine.config().shards.to_string());
    report.fact(
        "users",
        format!(
            "typical {} ({} events in 24 h), hot {} ({} events in 24 h)",
            users.typical.0, users.typical.1, users.hot.0, users.hot.1
        ),
    );
    report.fact(
        "RSS",
        format!("{} (the live stream in memory included)", rss),
    );
    for q in &queries {
        report.fact(&q.name, format!("{} ({} rows)", q.sql, q.rows));
    }
    if wall.as_secs_f64() > args.duration.as_secs_f64() * 1.05 {
        report.warnings.push(format!(
            "the schedule was not kept: {:.0} s of events and queries took {:.2} s (ingest at \
             {}/s plus queries at {}/s overload the driver), so corrected latency grows with \
             the length of the run; lower --qps or --rate",
            args.duration.as_secs_f64(),
            wall.as_secs_f64(),
            thousands(args.rate),
            thousands(args.qps)
        ));
    }
    report.method = vec![
        "One thread drives the engine (Engine takes &mut self), as an embedding application does.".into(),
        format!(
            "Live events are due at {}/s and ingested in chunks of ≥ 1 ms of events; each chunk is \
             applied by the shards before the call returns.",
            thousands(args.rate)
        ),
        format!(
            "Queries are due at {}/s on a fixed schedule; the events due before a query's intended \
             start are ingested before it runs, so it sees them.",
            thousands(args.qps)
        ),
        "corrected = completion − intended start (includes waiting for ingest or an earlier query: \
         coordinated omission corrected, as wrk2); uncorrected = completion − actual start."
            .into(),
        "Queries do not race shards busy with a batch: the driver hands a chunk over and waits for it."
            .into(),
    ];
    report.table_caption = "Query latency, µs:".into();
    for q in queries {
        report.series.push(q.corrected);
        report.series.push(q.uncorrected);
    }
    report
}

/// The users the point queries read: `(user_id, events in 24 h)`.
struct Users {
    typical: (i64, i64),
    hot: (i64, i64),
}

/// Finds the hottest user and a typical one (the median of users by event
/// count) from the engine itself, so no id is guessed.
fn pick_users(engine: &mut Engine) -> anyhow::Result<Users> {
    let rs = engine.execute(
        "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY n DESC WINDOW 24h",
    )?;
    let rows = rs.into_iter().next().map(|r| r.rows).unwrap_or_default();
    let pair = |row: &Vec<Value>| match (row.first(), row.get(1)) {
        (Some(Value::Int(u)), Some(Value::Int(n))) => Some((*u, *n)),
        _ => None,
    };
    let (Some(hot), Some(typical)) = (
        rows.first().and_then(pair),
        rows.get(rows.len() / 2).and_then(pair),
    ) else {
        bail!("no users after the preload: use --preload with at least a few thousand events");
    };
    Ok(Users { typical, hot })
}

/// The named queries, with the picked users, plus `--sql` ones.
fn choose_queries(
    engine: &Engine,
    args: &QueryArgs,
    users: &Users,
) -> anyhow::Result<Vec<Measured>> {
    let j6 = |user: i64| {
        format!(
            "SELECT COUNT(*) FILTER (WHERE event_type = 'video_view') AS videos_watched, \
             ROUND(SUM(metadata.view_duration_ms) / 60000.0, 2) AS engagement_minutes, \
             COUNT(*) FILTER (WHERE event_type = 'like') / COUNT(*) FILTER (WHERE event_type = 'video_view') AS engagement_rate \
             FROM events WHERE user_id = {user} WINDOW 24h"
        )
    };
    let named = |name: &str| -> Option<String> {
        Some(match name {
            "j1_top3" => "SELECT TOP 3 event_type FROM events WINDOW 24h".into(),
            "j6_user" => j6(users.typical.0),
            "j6_hot_user" => j6(users.hot.0),
            "j7_viral" => {
                "SELECT video_id, COUNT(*) FILTER (WHERE event_type = 'video_view') AS views, \
                 COUNT(*) FILTER (WHERE event_type IN ('share', 'comment')) AS shares_comments \
                 FROM events GROUP BY video_id \
                 HAVING views >= 1000 AND shares_comments / views > 1.5 \
                 ORDER BY video_id WINDOW 2h"
                    .into()
            }
            "fanout_users" => "SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id \
                 ORDER BY n DESC LIMIT 10 WINDOW 1h"
                .into(),
            _ => return None,
        })
    };
    let mut chosen: Vec<(String, String)> = Vec::new();
    let names: Vec<&str> = if args.queries.is_empty() && args.sql.is_empty() {
        QUERY_NAMES.to_vec()
    } else {
        args.queries
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for name in names {
        let Some(sql) = named(name) else {
            return Err(crate::Error::Usage(format!(
                "unknown query '{name}' in --queries; known: {} (or give your own with --sql)",
                QUERY_NAMES.join(", ")
            ))
            .into());
        };
        chosen.push((name.to_string(), sql));
    }
    for (i, sql) in args.sql.iter().enumerate() {
        chosen.push((
            format!("sql{}", i + 1),
            sql.trim().trim_end_matches(';').to_string(),
        ));
    }
    if chosen.is_empty() {
        return Err(crate::Error::Usage(
            "no query to run: name some with --queries or give one with --sql".into(),
        )
        .into());
    }
    let mut measured = Vec::new();
    for (name, sql) in chosen {
        let mut statements = engine
            .parse(&sql, &Params::new())
            .with_context(|| format!("query {name}"))?;
        if statements.len() != 1 || !matches!(statements[0], Statement::Select(_)) {
            bail!("query {name}: expected exactly one SELECT statement");
        }
        measured.push(Measured {
            corrected: Series::new(&name, "corrected"),
            uncorrected: Series::new(&name, "uncorrected"),
            statement: statements.remove(0),
            name,
            sql,
            rows: 0,
        });
    }
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 22 of the hostile-input issue: a schedule far behind (queries
    /// due long ago, before the end) stops at the end of the run, and
    /// absurd rates are refused.
    #[test]
    fn a_run_stops_at_its_duration_however_far_behind_its_queries_are() {
        let start = Instant::now();
        let end = start + Duration::from_secs(2);
        let behind = start + Duration::from_micros(5);
        assert!(may_issue(behind, start + Duration::from_secs(1), end));
        assert!(!may_issue(behind, end, end));
        assert!(!may_issue(behind, end + Duration::from_secs(60), end));
        assert!(!may_issue(end, start, end));
        assert_eq!(qps("1000000"), Ok(MAX_QPS));
        assert!(qps("1000000000").unwrap_err().contains("at most 1000000"));
        assert!(qps("1e9").is_err());
    }
}
