//! The flags: the settings every engine-running command shares, the
//! generator's, and how they become a started [`Engine`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Args;

use crate::event::Schema;
use crate::ingest::Merge;
use crate::query::{Params, Statement};
use crate::storage::{CheckpointEvery, Fsync, Manifest};
use crate::time::{parse_flag_duration, parse_flag_duration_or_zero};
use crate::{Clock, Config, Engine};

/// Settings shared by every command that runs an engine.
#[derive(Args, Clone)]
pub struct EngineArgs {
    /// Schema: a preset (reels, shop, clicks, stats, ledger) or a schema file (.json);
    /// detected from the first lines of input when omitted
    #[arg(long, short)]
    pub schema: Option<String>,
    /// Shard actors, each on its own thread [default: number of cores]
    #[arg(long)]
    pub shards: Option<usize>,
    /// How long state is kept; older events are rejected as too_late
    #[arg(long, default_value = "24h", value_parser = parse_flag_duration)]
    pub retention: Duration,
    /// What "now" is: the largest event time accepted (event), or the system clock (wall)
    /// [default: event; `serve` without --data or --demo: wall]
    #[arg(long, value_parser = ["event", "wall"])]
    pub clock: Option<String>,
    /// Future guard: events further ahead of the clock are held until 3 in a row confirm the jump
    #[arg(long, default_value = "1h", value_parser = parse_flag_duration)]
    pub max_jump: Duration,
    /// Write every rejected line, with its source, line number and reason, to this file (NDJSON)
    #[arg(long)]
    pub reject_file: Option<PathBuf>,
    /// Write every rule hit to this file, one JSON object per line (NDJSON)
    #[arg(long, value_name = "FILE")]
    pub emit: Option<PathBuf>,
    /// CREATE RULE and DROP RULE statements to run before any input is ingested (a rule already in force with the same definition is left unchanged)
    #[arg(long, value_name = "FILE.sql")]
    pub rules: Option<PathBuf>,
    /// Recent accepted events kept for raw-row queries (SELECT without aggregates; at most 64 MiB of text); 0 keeps none. With --data raw queries read every event within retention from DIR/events instead, and no ring is kept
    #[arg(long, default_value_t = crate::engine::DEFAULT_RECENT_EVENTS)]
    pub recent_events: usize,
    /// Data directory: every line is committed to a write-ahead log there and replayed at
    /// start, so a restart (even after kill -9) keeps the state and a rerun ingest resumes
    /// each file where it stopped (docs/durability.md)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// When the log is fsynced: after every line (always), once per batch of 4,096 lines
    /// (batch), or at most once a second (interval); always at the end of an ingest
    #[arg(long, default_value = "batch", value_parser = ["always", "batch", "interval"])]
    pub fsync: String,
    /// With --data: write a checkpoint of the whole state after this many lines (5000000) or
    /// this long (5m), and at a clean exit; a restart loads it and replays only the log after
    /// it. The default bounds a restart's replay to about a minute of ingest, for a few percent
    /// of ingest time spent writing checkpoints (docs/durability.md)
    #[arg(long, default_value = "5000000", value_name = "LINES|DURATION")]
    pub checkpoint_every: String,
}

/// `tally serve`'s own flags.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT; port 0 picks a free port (the first line
    /// printed says which)
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: String,
    /// Directory of saved queries served as GET /queries/NAME (NAME.sql)
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Largest request body (bytes, or with KiB, MiB, GiB, KB, MB, GB); larger gets 413
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Requests queued for the engine before the next is answered 503 (Retry-After)
    #[arg(long, default_value_t = crate::server::DEFAULT_QUEUE)]
    pub queue: usize,
    /// HTTP worker threads [default: one per core]
    #[arg(long)]
    pub workers: Option<usize>,
    /// Serve the shell's demo stream (a day of generated events, on the event clock)
    #[arg(long, conflicts_with = "data")]
    pub demo: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A size flag: bytes, or a number with a unit (`64MiB`, `1.5GB`, `512k`).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text}: expected a size like 65536, 512KiB or 64MiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        other => {
            return Err(format!(
                "{text}: unknown unit {other:?} (KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    let bytes = number * scale;
    if !(1.0..=(usize::MAX as f64)).contains(&bytes) {
        return Err(format!("{text}: the size must be at least one byte"));
    }
    Ok(bytes as usize)
}

#[derive(Args)]
pub struct GenArgs {
    /// reels, shop, clicks, stats or ledger
    #[arg(long, default_value = "reels")]
    pub preset: String,
    /// Lines to write (bad lines and duplicates included)
    #[arg(long, short = 'n', default_value_t = 100_000)]
    pub events: u64,
    /// Distinct users (customers)
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    /// Distinct videos (items)
    #[arg(long, default_value_t = 1_000)]
    pub items: u64,
    /// Zipf exponent of user and video popularity (0 = uniform)
    #[arg(long, default_value_t = 1.1)]
    pub skew: f64,
    /// First event time (RFC 3339)
    #[arg(long, default_value = "2025-01-15T00:00:00Z")]
    pub start: String,
    /// Time span the events cover
    #[arg(long, default_value = "24h", value_parser = parse_flag_duration)]
    pub span: Duration,
    /// Shift each event back in time by up to this much (out-of-order lines)
    #[arg(long, default_value = "0s", value_parser = parse_flag_duration_or_zero)]
    pub disorder: Duration,
    /// Fraction of lines that repeat an earlier line (same id)
    #[arg(long, default_value_t = 0.0)]
    pub duplicates: f64,
    /// Fraction of bad lines (malformed JSON, wrong types, missing fields)
    #[arg(long, default_value_t = 0.0)]
    pub bad: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output file (default: stdout)
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Opens inputs as one merged stream, with the first lines of the first
/// input for schema detection.
pub fn open_inputs(paths: &[PathBuf]) -> anyhow::Result<(Vec<String>, Option<Merge>)> {
    if paths.is_empty() {
        return Ok((Vec::new(), None));
    }
    let (sample, merge) = Merge::open_sampled(paths)?;
    Ok((sample, Some(merge)))
}

/// Starts the engine of a command reading `inputs`. Its output files are
/// checked first (they are created when the engine starts): none may be an
/// input (the event files, the schema file, the rules file) or another
/// output.
pub fn start_engine(
    args: &EngineArgs,
    inputs: &[PathBuf],
    sample: &[String],
) -> anyhow::Result<Engine> {
    let mut read: Vec<PathBuf> = inputs.to_vec();
    read.extend(args.schema.iter().map(PathBuf::from));
    read.extend(args.rules.iter().cloned());
    let mut outputs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(path) = &args.reject_file {
        outputs.push(("--reject-file", path));
    }
    if let Some(path) = &args.emit {
        outputs.push(("--emit", path));
    }
    crate::files::check_outputs(&read, &outputs)?;
    // A data directory knows its schema; detection is only a guess.
    let recorded = match &args.data {
        Some(dir) if args.schema.is_none() => Manifest::read(dir)?.map(|m| m.schema),
        _ => None,
    };
    let schema = match (&args.schema, recorded) {
        (Some(s), _) => Schema::load(s)?,
        (None, Some(schema)) => schema,
        (None, None) if sample.is_empty() => Schema::preset("reels")?,
        (None, None) => Schema::detect(sample.iter().map(String::as_str))?,
    };
    let mut config = Config::new(schema);
    if let Some(n) = args.shards {
        config.shards = n;
    }
    config.retention = args.retention;
    config.clock = if args.clock.as_deref() == Some("wall") {
        Clock::Wall
    } else {
        Clock::Event
    };
    config.max_jump = args.max_jump;
    config.reject_file = args.reject_file.clone();
    config.emit = args.emit.clone();
    config.recent_events = args.recent_events;
    config.data = args.data.clone();
    config.fsync = Fsync::parse(&args.fsync)?;
    config.checkpoint_every = CheckpointEvery::parse(&args.checkpoint_every)?;
    let mut engine = Engine::start(config)?;
    for note in engine.take_notes() {
        eprintln!("{note}");
    }
    if let Some(path) = &args.rules {
        let text = crate::files::read_file(path, "rules file")?;
        let statements = engine
            .parse(&text, &Params::new())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for statement in &statements {
            if !matches!(
                statement,
                Statement::CreateRule(_) | Statement::DropRule { .. }
            ) {
                bail!(
                    "{}: --rules files hold CREATE RULE and DROP RULE statements only",
                    path.display()
                );
            }
            engine
                .run(statement)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
    }
    Ok(engine)
}
