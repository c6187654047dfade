//! `tally bench ingest`: end-to-end ingest throughput.
//!
//! Input is either files (read through the page cache like `tally ingest`
//! reads them) or events generated into memory *before* the clock starts.
//! The timed part is `Engine::ingest`: read, parse, admit, route, apply,
//! and the final wait until every shard has applied every batch. The
//! distribution is the time to ingest each MiB of input, so a stall (a
//! sweep, a map resize, a slow shard) shows in the tail.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;

use super::feed::{check_in_memory, Meter, Metered, Recorded};
use super::histogram::Series;
use super::report::{per_second, thousands, Progress, Report};
use super::rss::{self, mib, Rss};
use super::{positive, start_engine, CommonArgs};
use crate::event::Schema;
use crate::generator::GenConfig;
use crate::ingest::Merge;

/// Read buffer per input: small against a MiB, so the per-MiB samples are
/// not lumpy.
const READ_BUFFER: usize = 256 << 10;

#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// NDJSON files to ingest (k-way merged by time); none = generated events
    #[arg(long, short, num_args = 1.., conflicts_with_all = ["events", "preset"])]
    pub input: Vec<PathBuf>,
    /// Events to generate into memory first (not timed) [default: 2000000]
    #[arg(long, short = 'n', value_parser = positive)]
    pub events: Option<u64>,
    /// Preset of the generated events: reels, shop, clicks, stats, ledger
    #[arg(long)]
    pub preset: Option<String>,
    /// Schema of the input files: a preset or a schema file [default: detected]
    #[arg(long, short, requires = "input")]
    pub schema: Option<String>,
    /// A query to time on the ingested state, as NAME=SQL (repeatable): run
    /// back to back --repeat times after the ingest, each run timed
    #[arg(long = "sql", value_name = "NAME=SQL")]
    pub sql: Vec<String>,
    /// Runs of each --sql query (after 5 untimed warm-up runs)
    #[arg(long, default_value = "200", value_parser = positive)]
    pub repeat: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: &IngestArgs) -> anyhow::Result<Report> {
    let meter = Meter::shared("ingest");
    let mut readers: Vec<(Arc<str>, Box<dyn BufRead + Send>)> = Vec::new();
    let (schema, source) = if args.input.is_empty() {
        let preset = args.preset.clone().unwrap_or_else(|| "reels".into());
        let events = args.events.unwrap_or(2_000_000);
        check_in_memory(events, "--events")?;
        let config = GenConfig {
            preset: preset.clone(),
            events,
            seed: args.common.seed,
            ..GenConfig::default()
        };
        let recorded = Recorded::generate(&config, false)?;
        let source = format!(
            "{} generated {preset} events ({}, seed {}), in memory",
            thousands(recorded.lines() as u64),
            mib(Some(recorded.bytes() as u64)),
            args.common.seed
        );
        let reader = Metered::new(recorded.reader(0, recorded.lines()), meter.clone());
        readers.push((
            Arc::from("generated"),
            Box::new(BufReader::with_capacity(READ_BUFFER, reader)),
        ));
        (Schema::preset(&preset)?, source)
    } else {
        let schema = match &args.schema {
            Some(s) => Schema::load(s)?,
            None => {
                let (sample, _) = Merge::open_sampled(&args.input[..1])?;
                Schema::detect(sample.iter().map(String::as_str))?
            }
        };
        let mut bytes = 0;
        for path in &args.input {
            if path.as_os_str() == "-" {
                bail!(
                    "tally bench ingest reads files, not standard input: save it to a file first"
                );
            }
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            bytes += file.metadata().map_or(0, |m| m.len());
            let reader = Metered::new(file, meter.clone());
            readers.push((
                Arc::from(path.display().to_string()),
                Box::new(BufReader::with_capacity(READ_BUFFER, reader)),
            ));
        }
        let names: Vec<String> = args.input.iter().map(|p| p.display().to_string()).collect();
        (
            schema,
            format!("{} ({})", names.join(", "), mib(Some(bytes))),
        )
    };
    let schema_name = schema.name.clone();
    let mut engine = start_engine(schema, &args.common)?;
    let before = Rss::now();

    let mut progress = Progress::new();
    let mut show = |p: &crate::ingest::IngestProgress| {
        progress.show(|| {
            format!(
                "ingest: {} lines, {} lines/s",
                thousands(p.lines),
                per_second(p.lines, p.elapsed)
            )
        })
    };
    let peak_reset = Rss::reset_peak();
    if let Ok(mut m) = meter.lock() {
        m.start();
    }
    let started = Instant::now();
    let summary = engine.ingest(Merge::from_readers(readers), &mut show)?;
    let elapsed = started.elapsed();
    progress.clear();
    let after = Rss::now();
    let bytes = meter.lock().map_or(0, |m| m.bytes);

    let mut report = Report::new("ingest", "end-to-end ingest throughput");
    report.fact("input", source);
    report.fact("schema", schema_name);
    report.fact("shards", engine.config().shards.to_string());
    report.fact(
        "lines",
        format!(
            "{} ({} accepted, {} rejected)",
            thousands(summary.lines),
            thousands(summary.accepted),
            thousands(summary.lines - summary.accepted)
        ),
    );
    for (reason, n) in summary.rejected.iter().filter(|(_, n)| *n > 0) {
        report.fact(&format!("  rejected.{reason}"), thousands(*n));
    }
    report.fact("elapsed", format!("{:.3} s", elapsed.as_secs_f64()));
    let secs = elapsed.as_secs_f64().max(1e-9);
    report.figure("events_per_s", summary.lines as f64 / secs);
    report.figure("mb_per_s", bytes as f64 / 1e6 / secs);
    if let Some(after) = after {
        report.figure("peak_rss_bytes", after.peak as f64);
    }
    report.fact(
        "throughput",
        format!(
            "{} events/s ({} accepted/s), {:.1} MB/s",
            per_second(summary.lines, elapsed),
            per_second(summary.accepted, elapsed),
            bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
        ),
    );
    let note = match args.input.is_empty() {
        true => " (the generated input included; it is freed by the end)",
        false => "",
    };
    report.fact(
        "RSS",
        rss::describe(before, after, peak_reset, "ingest", note),
    );
    report.method = vec![
        "Timed: Engine::ingest over the whole input (read, parse, admit, route, apply), \
         up to the moment every shard has applied every batch."
            .into(),
        "Not timed: generating the events (done into memory first) and starting the engine.".into(),
        "Distribution: the time to ingest each MiB of input, sampled as the reader hands \
         out bytes (at most 8 batches of 4,096 events are in flight, so this includes \
         back-pressure from the shards)."
            .into(),
        "RSS: VmRSS / VmHWM of /proc/self/status; the peak is reset before ingest starts.".into(),
    ];
    report.table_caption = "Time to ingest each MiB of input, µs:".into();
    report.series.push(Meter::series_of(&meter)?);
    time_queries(&mut engine, args, &mut report)?;
    Ok(report)
}

/// Runs each `--sql` query `--repeat` times on the state the ingest left,
/// one after another, and adds its service times as a series.
fn time_queries(
    engine: &mut crate::Engine,
    args: &IngestArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    for named in &args.sql {
        let Some((name, sql)) = named.split_once('=') else {
            return Err(crate::Error::Usage(format!("--sql {named}: expected NAME=SQL")).into());
        };
        let statements = engine.parse(sql, &Default::default())?;
        let [statement] = &statements[..] else {
            bail!("--sql {name}: expected one statement");
        };
        let mut rows = 0;
        for _ in 0..5 {
            rows = engine
                .run(statement)
                .with_context(|| format!("query {name}"))?
                .rows
                .len();
        }
        let mut series = Series::new(name.trim(), "service time, back to back");
        for _ in 0..args.repeat {
            let t = Instant::now();
            engine.run(statement)?;
            series.record(t.elapsed());
        }
        report.fact(name.trim(), format!("{} ({rows} rows)", sql.trim()));
        report.series.push(series);
    }
    if !args.sql.is_empty() {
        report.method.push(format!(
            "Queries: each --sql query run 5 times untimed, then {} times back to back, \
             each run timed from the call to its answer (parse excluded).",
            args.repeat
        ));
    }
    Ok(())
}
