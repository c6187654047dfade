//! The `tally` command line: the shell (the default), ingest, run, serve,
//! gen and bench, parsed with clap.
//!
//! This is the top of the tree: it turns flags into an engine
//! [`Config`](crate::Config), opens the inputs, and hands over to the tools
//! below it ([`crate::shell`], [`crate::server`], [`crate::bench`],
//! [`crate::generator`]). It
//! owns no behaviour of its own beyond that glue, and is built only with the
//! default `cli` feature, as are the tools and their dependencies: an
//! application that embeds the engine builds without them.
//!
//! Errors are `anyhow` here: this is tool glue. Every command exits with
//! the same statuses: 0 on success, 1 when a statement, an input file or the
//! engine fails, 2 on bad usage (a flag clap refuses, or a combination of
//! flags refused later as [`Error::Usage`](crate::Error::Usage)). Results go
//! to stdout, diagnostics (errors, warnings, progress) to stderr.

mod args;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::shell::Format;
use args::{EngineArgs, GenArgs, ServeArgs};

/// Parses the command line, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = matches!(e.downcast_ref(), Some(crate::Error::Usage(_)));
            eprintln!("Error: {e:#}");
            if usage {
                eprintln!("For more information, try '--help'.");
                ExitCode::from(USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The exit status of bad usage, the one clap uses.
const USAGE: u8 = 2;

/// `tally --version`: the crate's version and the git commit it was built
/// from ("unknown" when built outside a repository; see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("TALLY_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "tally",
    version = VERSION,
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
    /// Serve the engine over HTTP: POST /events, POST /query, GET /queries/NAME, /health,
    /// /metrics, /hits (docs/serve.md)
    Serve(ServeArgs),
    /// Write seeded synthetic events (NDJSON) for any preset
    Gen(GenArgs),
    /// Measure throughput, latency and memory (HDR percentiles, .hgrm files, an SVG plot)
    Bench {
        #[command(subcommand)]
        command: crate::bench::BenchCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell)
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), for `man -l -` or a man directory
    Man,
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
        Some(Command::Serve(args)) => commands::serve(args),
        Some(Command::Gen(args)) => commands::gen(args),
        Some(Command::Bench { command }) => crate::bench::run(command),
        Some(Command::Completions { shell }) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "tally", &mut out);
            Ok(())
        }
        Some(Command::Man) => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            Ok(())
        }
    }
}
