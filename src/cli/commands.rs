//! What each command does, once its flags are parsed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use super::args::{open_inputs, start_engine, EngineArgs, GenArgs, ServeArgs};
use crate::count::thousands;
use crate::engine::Engine;
use crate::error::Error;
use crate::generator::{GenConfig, Generator};
use crate::ingest::Merge;
use crate::query::{param_value, Located, Params, Statement};
use crate::shell::{self, Format, ShellOptions};

/// Demo stream of the bare `tally`: a day of reels events.
const DEMO_EVENTS: u64 = 100_000;

pub fn shell(
    input: Vec<PathBuf>,
    empty: bool,
    follow: bool,
    args: EngineArgs,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    if follow && input.iter().any(|p| p.as_os_str() == "-") {
        return Err(
            Error::Usage("--follow reads files; standard input cannot be followed".into()).into(),
        );
    }
    // What `.output` may not overwrite: the files read, and those written.
    let reads: Vec<PathBuf> = input
        .iter()
        .cloned()
        .chain(args.schema.iter().map(PathBuf::from))
        .chain(args.rules.iter().cloned())
        .collect();
    let writes: Vec<(String, PathBuf)> =
        [("--reject-file", &args.reject_file), ("--emit", &args.emit)]
            .into_iter()
            .filter_map(|(flag, path)| Some((flag.to_string(), path.clone()?)))
            .collect();
    let banner;
    let mut engine;
    // A data directory answers from what it holds, never from a demo.
    if input.is_empty() && !empty && args.data.is_none() {
        let args = EngineArgs {
            schema: Some(args.schema.unwrap_or_else(|| "reels".into())),
            ..args
        };
        engine = start_engine(&args, &[], &[])?;
        let preset = engine.schema().name.clone();
        let started = Instant::now();
        let summary = load_demo(&mut engine)?;
        banner = format!(
            "tally {} — demo stream loaded: {} {preset} events over 24 h ({} rejected on purpose) in {:.0} ms.\n\
             Try: SELECT TOP 3 event_type FROM events WINDOW 1h;",
            env!("CARGO_PKG_VERSION"),
            thousands(summary.accepted),
            thousands(summary.lines - summary.accepted),
            started.elapsed().as_secs_f64() * 1000.0
        );
    } else {
        let (sample, merge) = open_inputs(&input)?;
        // Followed files that are still empty give nothing to detect from,
        // and guessing a preset would reject every line that comes later.
        if follow && args.schema.is_none() && sample.iter().all(|l| l.trim().is_empty()) {
            return Err(Error::Usage(
                "--follow: the input has no lines yet to detect the schema from; \
                 pass --schema PRESET (reels, shop, clicks, stats, ledger) or --schema FILE.json"
                    .into(),
            )
            .into());
        }
        engine = start_engine(&args, &input, &sample)?;
        if let Some(merge) = merge {
            // Followed files have not ended: the future guard keeps what
            // it holds for the lines still to come.
            let mut progress = shell::progress_printer();
            let summary = engine.ingest_until(merge, &mut progress, !follow)?;
            drop(progress);
            if interactive {
                eprintln!("{summary}");
            }
        }
        banner = format!(
            "tally {} — schema {}; {} events loaded.",
            env!("CARGO_PKG_VERSION"),
            engine.schema().name,
            thousands(engine.counters().accepted)
        );
    }
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".tally_history"));
    shell::run(
        &mut engine,
        ShellOptions {
            history,
            format: Format::Table,
            banner: Some(banner),
            reads,
            writes,
            follow: if follow { input } else { Vec::new() },
        },
    )?;
    Ok(())
}

/// Ingests the demo stream of the engine's preset: a day of generated
/// events, a few of them duplicates and bad lines on purpose.
fn load_demo(engine: &mut Engine) -> anyhow::Result<crate::ingest::IngestSummary> {
    let config = GenConfig {
        preset: engine.schema().name.clone(),
        events: DEMO_EVENTS,
        duplicates: 0.001,
        bad: 0.001,
        ..GenConfig::default()
    };
    let lines = Generator::new(&config)?;
    Ok(engine.ingest_lines("demo", lines)?)
}

/// `tally serve`: the engine behind HTTP until SIGTERM or Ctrl-C. The
/// clock is the wall's unless the events' own is needed: a data directory
/// is replayed, and the demo stream is from the past.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
        listen,
        queries,
        max_body,
        queue,
        workers,
        demo,
        mut engine,
    } = args;
    if demo && engine.clock.as_deref() == Some("wall") {
        return Err(Error::Usage(
            "--demo serves generated events from the past, on the event clock; drop --clock wall"
                .into(),
        )
        .into());
    }
    let event_clock = demo || engine.data.is_some();
    engine
        .clock
        .get_or_insert_with(|| if event_clock { "event" } else { "wall" }.into());
    if demo {
        engine.schema.get_or_insert_with(|| "reels".into());
    }
    let factory: crate::server::EngineFactory = Box::new(move || {
        let started = start_engine(&engine, &[], &[]).and_then(|mut e| {
            if demo {
                let summary = load_demo(&mut e)?;
                eprintln!("demo stream loaded: {summary}");
            }
            Ok(e)
        });
        // Keep tally's own error (its exit status depends on it).
        started.map_err(|e| match e.downcast::<Error>() {
            Ok(e) => e,
            Err(e) => Error::InvalidInput(format!("{e:#}")),
        })
    });
    let options = crate::server::ServeOptions {
        listen,
        max_body,
        queue,
        queries,
        workers,
        signals: true,
    };
    let server = crate::server::Server::start(options, factory)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.addr())
        .and_then(|()| out.flush())
        .context("writing to standard output")?;
    drop(out);
    server.join()?;
    eprintln!("tally serve: stopped");
    Ok(())
}

pub fn ingest(files: Vec<PathBuf>, args: EngineArgs) -> anyhow::Result<()> {
    let (sample, merge) = open_inputs(&files)?;
    let mut engine = start_engine(&args, &files, &sample)?;
    let summary = match merge {
        Some(merge) => Some(ingest_with_progress(&mut engine, merge)?),
        None => None,
    };
    // Written, not `println!`ed: a closed pipe or a full disk is an error
    // to report and exit 1 with, not a panic.
    let mut out = std::io::stdout().lock();
    let mut report = || -> std::io::Result<()> {
        if let Some(summary) = &summary {
            writeln!(out, "{summary}")?;
            if let Some(schema) = &summary.no_id_schema {
                eprintln!("note: {}", crate::ingest::cannot_deduplicate(schema));
            }
        }
        for (rule, hits) in engine.rule_hit_counts() {
            writeln!(out, "rule {rule}: {} hits", thousands(hits))?;
        }
        out.flush()
    };
    report().context("writing the summary to standard output")
}

pub fn run(
    queries: Vec<PathBuf>,
    input: Vec<PathBuf>,
    format: Format,
    params: Vec<String>,
    args: EngineArgs,
) -> anyhow::Result<()> {
    let mut values = Params::new();
    for p in &params {
        let Some((name, value)) = p.split_once('=') else {
            return Err(Error::Usage(format!("--param {p}: expected NAME=VALUE")).into());
        };
        values.insert(
            name.trim().trim_start_matches(':').to_string(),
            param_value(value),
        );
    }
    let (sample, merge) = open_inputs(&input)?;
    let mut engine = start_engine(&args, &input, &sample)?;
    // Parse every file before ingesting: a typo should not cost an ingest.
    // Each statement keeps its file and start, for an error found later.
    let mut texts = Vec::new();
    let mut statements = Vec::new();
    for path in &queries {
        let text = crate::files::read_file(path, "query file")?;
        let name = path.display().to_string();
        let parsed = crate::query::parse_located(&text, &values)
            .map_err(|e| anyhow::anyhow!(shell::render_file_error(&name, &e, &text)))?;
        statements.extend(parsed.into_iter().map(|s| (texts.len(), s)));
        texts.push((name, text));
    }
    let run_one = |engine: &mut Engine, (file, located): &(usize, Located)| {
        engine.run(&located.statement).map_err(|e| {
            let (name, text) = &texts[*file];
            let (line, column) = located.position_for(&e.to_string());
            anyhow::anyhow!(shell::render_statement_error(name, &e, text, line, column))
        })
    };
    // Rules must be in force before the input is ingested, or they would
    // see nothing: CREATE RULE and DROP RULE run first, in file order.
    let (rules, queries): (Vec<_>, Vec<_>) = statements.iter().partition(|(_, s)| {
        matches!(
            s.statement,
            Statement::CreateRule(_) | Statement::DropRule { .. }
        )
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for statement in rules {
        let result = run_one(&mut engine, statement)?;
        out.write_all(shell::render(&result, format).as_bytes())?;
    }
    if let Some(merge) = merge {
        let summary = ingest_with_progress(&mut engine, merge)?;
        if std::io::stderr().is_terminal() {
            eprintln!("{summary}");
        }
    }
    for statement in queries {
        let result = run_one(&mut engine, statement)?;
        out.write_all(shell::render(&result, format).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

pub fn gen(args: GenArgs) -> anyhow::Result<()> {
    let start_ms = crate::time::parse_timestamp_str(&args.start).ok_or_else(|| {
        Error::Usage(format!(
            "--start {}: expected an RFC 3339 time, like 2025-01-15T00:00:00Z",
            args.start
        ))
    })?;
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
            crate::generator::generate(&config, &mut file)?
        }
        None => crate::generator::generate(&config, &mut std::io::stdout().lock())?,
    };
    if args.out.is_some() || std::io::stderr().is_terminal() {
        eprintln!(
            "{} lines ({} duplicates, {} bad)",
            thousands(summary.lines),
            thousands(summary.duplicates),
            thousands(summary.bad)
        );
    }
    // Duplicates of a schema without ids are ordinary lines to ingest: say
    // so, whether or not the summary was printed.
    let has_id = crate::event::Schema::preset(&config.preset).is_ok_and(|s| s.id.is_some());
    if summary.duplicates > 0 && !has_id {
        eprintln!(
            "warning: {} duplicate lines written, but {}",
            summary.duplicates,
            crate::ingest::cannot_deduplicate(&config.preset)
        );
    }
    Ok(())
}

fn ingest_with_progress(
    engine: &mut Engine,
    merge: Merge,
) -> anyhow::Result<crate::ingest::IngestSummary> {
    let mut progress = shell::progress_printer();
    let summary = engine.ingest(merge, &mut progress);
    for note in engine.take_notes() {
        eprintln!("{note}");
    }
    Ok(summary?)
}
