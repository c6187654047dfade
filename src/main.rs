//! The `tally` command line: the shell (the default), ingest, run, gen, bench.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use tally::event::Schema;
use tally::generator::{GenConfig, Generator};
use tally::ingest::Merge;
use tally::query::{param_value, Params, Statement};
use tally::shell::{self, Format, ShellOptions};
use tally::{Clock, Config, Engine};

#[derive(Parser)]
#[command(
    name = "tally",
    version,
    about = "Rolling-window analytics over JSON event streams, with a SQL shell",
    long_about = "Rolling-window analytics over JSON event streams, with a SQL shell.\n\n\
        With no command, opens the shell over a generated demo stream of reels events."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive SQL shell (reads statements from stdin when it is not a terminal)
    Shell {
        /// NDJSON files to load first (merged by time); none = the demo stream
        #[arg(long, short, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Start empty instead of loading the demo stream
        #[arg(long)]
        empty: bool,
        /// Keep reading lines appended to the input files (like tail -f)
        #[arg(long, requires = "input")]
        follow: bool,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Ingest NDJSON files (k-way merged by time) and print a summary
    Ingest {
        /// Files to ingest; `-` is standard input
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Run saved query files against ingested input
    Run {
        /// Query files (one or more statements each, separated by `;`)
        #[arg(required = true)]
        queries: Vec<PathBuf>,
        /// NDJSON files to ingest first (merged by time); `-` is stdin
        #[arg(long, short, num_args = 1.., required = true)]
        input: Vec<PathBuf>,
        /// Output format
        #[arg(long, short, default_value = "table")]
        format: Format,
        /// Values for `:name` placeholders, as name=value
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Write seeded synthetic events (NDJSON) for any preset
    Gen(GenArgs),
    /// Measure throughput, latency and memory (HDR percentiles, .hgrm files, an SVG plot)
    Bench {
        #[command(subcommand)]
        command: tally::bench::BenchCommand,
    },
}

/// Settings shared by every command that runs an engine.
#[derive(Args, Clone)]
struct EngineArgs {
    /// Schema: a preset (reels, shop, clicks, stats, ledger) or a schema file (.json);
    /// detected from the first lines of input when omitted
    #[arg(long, short)]
    schema: Option<String>,
    /// Shard actors, each on its own thread [default: number of cores]
    #[arg(long)]
    shards: Option<usize>,
    /// How long state is kept; older events are rejected as too_late
    #[arg(long, default_value = "24h", value_parser = duration)]
    retention: Duration,
    /// What "now" is: the largest event time accepted (event), or the system clock (wall)
    #[arg(long, default_value = "event", value_parser = ["event", "wall"])]
    clock: String,
    /// Future guard: events further ahead of the clock are held until 3 in a row confirm the jump
    #[arg(long, default_value = "1h", value_parser = duration)]
    max_jump: Duration,
    /// Write every rejected line, with its source, line number and reason, to this file (NDJSON)
    #[arg(long)]
    reject_file: Option<PathBuf>,
    /// Write every rule hit to this file, one JSON object per line (NDJSON)
    #[arg(long, value_name = "FILE")]
    emit: Option<PathBuf>,
    /// CREATE RULE statements to put in force before any input is ingested
    #[arg(long, value_name = "FILE.sql")]
    rules: Option<PathBuf>,
    /// Recent accepted events kept for raw-row queries (SELECT without aggregates; at most 64 MiB of text); 0 keeps none
    #[arg(long, default_value_t = tally::engine::DEFAULT_RECENT_EVENTS)]
    recent_events: usize,
}

#[derive(Args)]
struct GenArgs {
    /// reels, shop, clicks, stats or ledger
    #[arg(long, default_value = "reels")]
    preset: String,
    /// Lines to write (bad lines and duplicates included)
    #[arg(long, short = 'n', default_value_t = 100_000)]
    events: u64,
    /// Distinct users (customers)
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Distinct videos (items)
    #[arg(long, default_value_t = 1_000)]
    items: u64,
    /// Zipf exponent of user and video popularity (0 = uniform)
    #[arg(long, default_value_t = 1.1)]
    skew: f64,
    /// First event time (RFC 3339)
    #[arg(long, default_value = "2025-01-15T00:00:00Z")]
    start: String,
    /// Time span the events cover
    #[arg(long, default_value = "24h", value_parser = duration)]
    span: Duration,
    /// Shift each event back in time by up to this much (out-of-order lines)
    #[arg(long, default_value = "0s", value_parser = duration_or_zero)]
    disorder: Duration,
    /// Fraction of lines that repeat an earlier line (same id)
    #[arg(long, default_value_t = 0.0)]
    duplicates: f64,
    /// Fraction of bad lines (malformed JSON, wrong types, missing fields)
    #[arg(long, default_value_t = 0.0)]
    bad: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file (default: stdout)
    #[arg(long, short)]
    out: Option<PathBuf>,
}

fn duration(s: &str) -> Result<Duration, String> {
    tally::time::parse_duration(s)
        .map(|ms| Duration::from_millis(ms as u64))
        .map_err(|e| e.to_string())
}

fn duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim_start_matches('0').chars().all(|c| c.is_alphabetic()) {
        return Ok(Duration::ZERO);
    }
    duration(s)
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // Bare `tally` is `tally shell` with every default.
        None => run(Cli::parse_from(["tally", "shell"])),
        Some(Command::Shell {
            input,
            empty,
            follow,
            engine,
        }) => shell_command(input, empty, follow, engine),
        Some(Command::Ingest { files, engine }) => ingest_command(files, engine),
        Some(Command::Run {
            queries,
            input,
            format,
            params,
            engine,
        }) => run_command(queries, input, format, params, engine),
        Some(Command::Gen(args)) => gen_command(args),
        Some(Command::Bench { command }) => tally::bench::run(command),
    }
}

/// Demo stream of the bare `tally`: a day of reels events.
const DEMO_EVENTS: u64 = 100_000;

fn shell_command(
    input: Vec<PathBuf>,
    empty: bool,
    follow: bool,
    args: EngineArgs,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if follow && input.iter().any(|p| p.as_os_str() == "-") {
        bail!("--follow reads files; standard input cannot be followed");
    }
    let banner;
    let mut engine;
    if input.is_empty() && !empty {
        let args = EngineArgs {
            schema: Some(args.schema.unwrap_or_else(|| "reels".into())),
            ..args
        };
        engine = start_engine(&args, &[])?;
        let preset = engine.schema().name.clone();
        let started = Instant::now();
        let config = GenConfig {
            preset: preset.clone(),
            events: DEMO_EVENTS,
            duplicates: 0.001,
            bad: 0.001,
            ..GenConfig::default()
        };
        let lines = Generator::new(&config)?;
        let summary = engine.ingest_lines("demo", lines)?;
        banner = format!(
            "tally {} — demo stream loaded: {} {preset} events over 24 h ({} rejected on purpose) in {:.0} ms.\n\
             Try: SELECT TOP 3 event_type FROM events WINDOW 1h;",
            env!("CARGO_PKG_VERSION"),
            summary.accepted,
            summary.lines - summary.accepted,
            started.elapsed().as_secs_f64() * 1000.0
        );
    } else {
        let (sample, merge) = open_inputs(&input)?;
        engine = start_engine(&args, &sample)?;
        if let Some(merge) = merge {
            let summary = ingest_with_progress(&mut engine, merge)?;
            if interactive {
                eprintln!("{summary}");
            }
        }
        banner = format!(
            "tally {} — schema {}; {} events loaded.",
            env!("CARGO_PKG_VERSION"),
            engine.schema().name,
            engine.counters().accepted
        );
    }
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".tally_history"));
    shell::run(
        &mut engine,
        ShellOptions {
            history,
            format: Format::Table,
            banner: Some(banner),
            follow: if follow { input } else { Vec::new() },
        },
    )?;
    Ok(())
}

fn ingest_command(files: Vec<PathBuf>, args: EngineArgs) -> anyhow::Result<()> {
    let (sample, merge) = open_inputs(&files)?;
    let mut engine = start_engine(&args, &sample)?;
    if let Some(merge) = merge {
        let summary = ingest_with_progress(&mut engine, merge)?;
        println!("{summary}");
    }
    for (rule, hits) in engine.rule_hit_counts() {
        println!("rule {rule}: {hits} hits");
    }
    Ok(())
}

fn run_command(
    queries: Vec<PathBuf>,
    input: Vec<PathBuf>,
    format: Format,
    params: Vec<String>,
    args: EngineArgs,
) -> anyhow::Result<()> {
    let mut values = Params::new();
    for p in &params {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--param {p}: expected NAME=VALUE");
        };
        values.insert(
            name.trim().trim_start_matches(':').to_string(),
            param_value(value),
        );
    }
    let (sample, merge) = open_inputs(&input)?;
    let mut engine = start_engine(&args, &sample)?;
    // Parse every file before ingesting: a typo should not cost an ingest.
    let mut statements = Vec::new();
    for path in &queries {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let parsed = engine
            .parse(&text, &values)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        statements.extend(parsed);
    }
    // Rules must be in force before the input is ingested, or they would
    // see nothing: CREATE RULE and DROP RULE run first, in file order.
    let (rules, queries): (Vec<&Statement>, Vec<&Statement>) = statements
        .iter()
        .partition(|s| matches!(s, Statement::CreateRule(_) | Statement::DropRule(_)));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for statement in rules {
        let result = engine.run(statement)?;
        out.write_all(shell::render(&result, format).as_bytes())?;
    }
    if let Some(merge) = merge {
        let summary = ingest_with_progress(&mut engine, merge)?;
        if std::io::stderr().is_terminal() {
            eprintln!("{summary}");
        }
    }
    for statement in queries {
        let result = engine.run(statement)?;
        out.write_all(shell::render(&result, format).as_bytes())?;
    }
    Ok(())
}

fn gen_command(args: GenArgs) -> anyhow::Result<()> {
    let start_ms = tally::time::parse_timestamp_str(&args.start)
        .with_context(|| format!("--start {}: expected an RFC 3339 time", args.start))?;
    let config = GenConfig {
        preset: args.preset,
        events: args.events,
        users: args.users,
        items: args.items,
        skew: args.skew,
        start_ms,
        span_ms: args.span.as_millis() as i64,
        disorder_ms: args.disorder.as_millis() as i64,
        duplicates: args.duplicates,
        bad: args.bad,
        seed: args.seed,
    };
    let summary = match &args.out {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            tally::generator::generate(&config, &mut file)?
        }
        None => tally::generator::generate(&config, &mut std::io::stdout().lock())?,
    };
    if args.out.is_some() || std::io::stderr().is_terminal() {
        eprintln!(
            "{} lines ({} duplicates, {} bad)",
            summary.lines, summary.duplicates, summary.bad
        );
    }
    Ok(())
}

/// Lines read ahead from the first input to detect the schema.
const SAMPLE_LINES: usize = 64;

/// Opens inputs as one merged stream, with the first lines of the first
/// input for schema detection.
fn open_inputs(paths: &[PathBuf]) -> anyhow::Result<(Vec<String>, Option<Merge>)> {
    if paths.is_empty() {
        return Ok((Vec::new(), None));
    }
    let (sample, merge) = Merge::open_sampled(paths, SAMPLE_LINES)?;
    Ok((sample, Some(merge)))
}

fn start_engine(args: &EngineArgs, sample: &[String]) -> anyhow::Result<Engine> {
    let schema = match &args.schema {
        Some(s) => Schema::load(s)?,
        None if sample.is_empty() => Schema::preset("reels")?,
        None => Schema::detect(sample.iter().map(String::as_str))?,
    };
    let mut config = Config::new(schema);
    if let Some(n) = args.shards {
        config.shards = n;
    }
    config.retention = args.retention;
    config.clock = if args.clock == "wall" {
        Clock::Wall
    } else {
        Clock::Event
    };
    config.max_jump = args.max_jump;
    config.reject_file = args.reject_file.clone();
    config.emit = args.emit.clone();
    config.recent_events = args.recent_events;
    let mut engine = Engine::start(config)?;
    if let Some(path) = &args.rules {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let statements = engine
            .parse(&text, &Params::new())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for statement in &statements {
            if !matches!(statement, Statement::CreateRule(_)) {
                bail!(
                    "{}: --rules files hold CREATE RULE statements only",
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

fn ingest_with_progress(
    engine: &mut Engine,
    merge: Merge,
) -> anyhow::Result<tally::ingest::IngestSummary> {
    let mut progress = shell::progress_printer();
    Ok(engine.ingest(merge, &mut progress)?)
}
