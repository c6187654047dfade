//! Bench: `tally bench`, the user-facing latency and throughput tool.
//!
//! The benches measure tally's performance targets (docs/performance.md),
//! each printing a wrk2-style
//! HDR percentile table (p50, p90, p99, p99.9, max, count, in µs) and
//! writing `.hgrm` percentile distributions and an SVG plot under `--out`:
//!
//! - `ingest`: end-to-end throughput from files or generated events, with
//!   the time to ingest each MiB as the distribution, and peak RSS.
//! - `query`: latency of chosen queries while generated events are ingested
//!   at a fixed rate, corrected for coordinated omission ([`pace`]).
//! - `visible`: event-to-visible latency, from the time an event is due
//!   until a query sees it.
//! - `memory`: resident memory for N users × k events, streamed in.
//! - `serve`: `tally serve` under N posting clients and a querying one:
//!   post and query latency over HTTP, events/s against the same events
//!   ingested without the server.
//! - `targets`: all of the above, each `--runs` times in a fresh process,
//!   the medians beside the targets ([`targets`]).
//!
//! `--json` prints a bench's report as one JSON object instead of the
//! table, with its headline figures as numbers.
//!
//! This module owns the measurement and its presentation, not the engine:
//! it drives a [`crate::Engine`] through its public API only, as an
//! embedding application would. `criterion` benches of single stages live
//! in `benches/`. Errors are `anyhow` here: this is tool glue.
mod feed;
mod histogram;
mod ingest;
mod memory;
mod pace;
mod plot;
mod query;
mod report;
mod rss;
mod serve;
mod targets;
mod visible;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::event::Schema;
use crate::{Config, Engine};

pub use histogram::Series;
pub use rss::Rss;

/// `tally bench <what>`.
#[derive(Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// End-to-end ingest throughput from files or generated events (events/s, MB/s, peak RSS)
    Ingest(ingest::IngestArgs),
    /// Query latency while ingesting at a fixed rate, corrected for coordinated omission
    Query(query::QueryArgs),
    /// Event-to-visible latency: from an event's due time until a query sees it
    Visible(visible::VisibleArgs),
    /// Resident memory for N distinct users × k events each, streamed in
    Memory(memory::MemoryArgs),
    /// `tally serve` under load: N clients posting NDJSON batches while queries run
    Serve(serve::ServeBenchArgs),
    /// Every performance target, each bench run --runs times in a fresh process; medians vs targets
    Targets(targets::TargetsArgs),
}

/// Flags every bench takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Directory for the .hgrm percentile distributions and the SVG plot
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Shard actors, each on its own thread [default: number of cores]
    #[arg(long)]
    pub shards: Option<usize>,
    /// Seed of the generated events: the same seed, the same events
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the report as one JSON object (figures, facts, percentiles)
    #[arg(long)]
    pub json: bool,
}

/// Runs one bench and prints its report.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    let (report, common) = match command {
        BenchCommand::Ingest(args) => (ingest::run(&args)?, args.common),
        BenchCommand::Query(args) => (query::run(&args)?, args.common),
        BenchCommand::Visible(args) => (visible::run(&args)?, args.common),
        BenchCommand::Memory(args) => (memory::run(&args)?, args.common),
        BenchCommand::Serve(args) => (serve::run(&args)?, args.common),
        BenchCommand::Targets(args) => {
            print!("{}", targets::run(&args)?);
            return Ok(());
        }
    };
    report.finish(&common.out, common.json)
}

/// Starts an engine on `schema` with the bench's shard count.
fn start_engine(schema: Schema, common: &CommonArgs) -> anyhow::Result<Engine> {
    let mut config = Config::new(schema);
    if let Some(n) = common.shards {
        config.shards = n;
    }
    Ok(Engine::start(config)?)
}

/// A clap parser for rates and counts that must be positive.
fn positive(s: &str) -> Result<u64, String> {
    match s.replace('_', "").parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s}: expected a positive whole number")),
    }
}
