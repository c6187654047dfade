//! The `tally` command line: the shell (the default), ingest, run, gen and
//! bench, parsed with clap.
//!
//! This is the top of the tree: it turns flags into an engine
//! [`Config`](crate::Config), opens the inputs, and hands over to the tools
//! below it ([`crate::shell`], [`crate::bench`], [`crate::generator`]). It
//! owns no behaviour of its own beyond that glue, and is built only with the
//! default `cli` feature, as are the tools and their dependencies: an
//! application that embeds the engine builds without them.
//!
//! Errors are `anyhow` here: this is tool glue. The exit status is 0 on
//! success, 1 when a command fails (clap exits with 2 on bad usage).

mod args;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::shell::Format;
use args::{EngineArgs, GenArgs};

/// Parses the command line, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Parser)]
#[command(
    name = "tally",
    version,
    about = "Rolling-window analytics over JSON event streams, with a SQL shell",
    long_about = "Rolling-window analytics over JSON event streams, with a SQL shell.\n\n\
        With no command, opens the shell over a generated demo stream of reels events."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// NDJSON files to ingest first (merged by time); `-` is stdin. Optional with
        /// --data, which answers from what the data directory holds
        #[arg(long, short, num_args = 1.., required_unless_present = "data")]
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
        command: crate::bench::BenchCommand,
    },
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        // Bare `tally` is `tally shell` with every default.
        None => run(Cli::parse_from(["tally", "shell"])),
        Some(Command::Shell {
            input,
            empty,
            follow,
            engine,
        }) => commands::shell(input, empty, follow, engine),
        Some(Command::Ingest { files, engine }) => commands::ingest(files, engine),
        Some(Command::Run {
            queries,
            input,
            format,
            params,
            engine,
        }) => commands::run(queries, input, format, params, engine),
        Some(Command::Gen(args)) => commands::gen(args),
        Some(Command::Bench { command }) => crate::bench::run(command),
    }
}
