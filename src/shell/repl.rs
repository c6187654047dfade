//! The read-eval-print loop: lines in, statements and dot commands run,
//! results out.
//!
//! On a terminal it is an interactive rustyline editor (history, completion,
//! continuation prompt, Ctrl-C cancels the input, Ctrl-D exits). Otherwise
//! stdin is a script: read line by line through the same [`Splitter`], every
//! input run in turn, errors reported and skipped, and the run fails at the
//! end if any input failed (like `sqlite3`).
//!
//! Where text goes:
//! - results (statements, `.schema`, `.stats`) go to stdout, or to the file
//!   of `.output`;
//! - errors and the `.load` summary (it holds timings, which would make
//!   piped output non-deterministic) go to stderr;
//! - `.help`, `.mode`, `.timer` answers and the `.timer` line go to stdout,
//!   never into an `.output` file, so an exported file holds only results.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Editor, Event, EventHandler};

use super::burst::Burst;
use super::command::{help_text, Command};
use super::complete::ShellHelper;
use super::diagnostic::render_error;
use super::follow::{Follower, SETTLE_AFTER};
use super::format::{format_elapsed, render, Format};
use super::hits::HitNotices;
use super::progress::progress_printer;
use super::splitter::{Input, Splitter, MAX_STATEMENT_BYTES};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ingest::read_line_bounded;
use crate::query::{Params, Statement};

const PROMPT: &str = "tally> ";
/// As wide as [`PROMPT`], so continued lines align with the first.
const CONTINUATION_PROMPT: &str = "  ...> ";

/// How the shell starts.
#[derive(Debug, Clone, Default)]
pub struct ShellOptions {
    /// The history file (e.g. `~/.tally_history`); `None` keeps no history.
    /// Its parent directories are created. Failing to read or write it is a
    /// warning, never an error.
    pub history: Option<PathBuf>,
    /// The initial output format (`.mode` changes it).
    pub format: Format,
    /// Printed once when an interactive session starts.
    pub banner: Option<String>,
    /// Files to follow (`--follow`): lines appended to them are ingested
    /// before each input and while `.watch` runs.
    pub follow: Vec<PathBuf>,
    /// Files the session reads (its inputs, schema, rules) and writes
    /// (`--reject-file`, `--emit`, by flag): `.output` may be none of them.
    pub reads: Vec<PathBuf>,
    pub writes: Vec<(String, PathBuf)>,
}

/// Runs the shell over `engine` until `.quit`, Ctrl-D or the end of stdin.
///
/// Interactive sessions return `Ok` whatever the statements did. A piped
/// script returns `Err` when any input failed, after running all of them,
/// so `echo bad | tally shell` exits non-zero.
pub fn run(engine: &mut Engine, options: ShellOptions) -> Result<()> {
    let notices = HitNotices::install(engine);
    let mut session = Session::new(engine, options.format, notices);
    session.reads = options.reads.clone();
    session.writes = options.writes.clone();
    if !options.follow.is_empty() {
        session.follower = Some(Follower::new(&options.follow)?);
    }
    let outcome = if std::io::stdin().is_terminal() {
        interactive(&mut session, &options)
    } else {
        script(&mut session)
    };
    session.engine.set_hit_listener(None);
    outcome
}

/// Whether to go on after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// The state a session keeps between inputs.
struct Session<'e> {
    engine: &'e mut Engine,
    format: Format,
    /// `.timer on`: print the run time after each statement.
    timer: bool,
    /// The file of `.output FILE`; `None` means stdout.
    output: Option<(PathBuf, BufWriter<File>)>,
    /// Inputs run and inputs failed, for a script's exit status.
    inputs: usize,
    failures: usize,
    /// Rule hits printed as they happen, summed up after each input.
    notices: HitNotices,
    follower: Option<Follower>,
    /// Files read (inputs, `.load`ed files) and written by flag, which
    /// `.output` must not overwrite.
    reads: Vec<PathBuf>,
    writes: Vec<(String, PathBuf)>,
}

impl<'e> Session<'e> {
    fn new(engine: &'e mut Engine, format: Format, notices: HitNotices) -> Session<'e> {
        Session {
            engine,
            format,
            timer: false,
            output: None,
            inputs: 0,
            failures: 0,
            notices,
            follower: None,
            reads: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Ingests what the followed files gained; rejected lines are counted
    /// as usual (see `SHOW STATS`).
    fn follow(&mut self) -> Result<()> {
        let Some(follower) = &mut self.follower else {
            return Ok(());
        };
        for appended in follower.poll()? {
            if let Some(what) = appended.restarted {
                eprintln!(
                    "{}: {what}; reading it again from the start",
                    appended.source
                );
            }
            self.engine
                .ingest_more(&appended.source, appended.bytes, appended.lines_before)?;
        }
        // Quiet files end a piece: the first events, held until a piece
        // ends, are settled (see follow.rs).
        if follower.quiet_for() >= SETTLE_AFTER && self.engine.holds_first_events() {
            if let Some((source, lines)) = follower.first_source() {
                self.engine.ingest_piece(&source, Vec::new(), lines)?;
            }
        }
        Ok(())
    }

    /// `.watch`: runs `sql` every `every`, writing the result when it
    /// differs from the last one, `times` runs or until Ctrl-C. `offset`:
    /// the characters before `sql` on the `.watch` line, so that a syntax
    /// error's caret points into the SQL on that line.
    fn watch(&mut self, every: Duration, times: Option<u64>, sql: &str, offset: u64) -> Result<()> {
        let statements = self
            .engine
            .parse(sql, &Params::new())
            .map_err(|e| match e {
                Error::Syntax(mut s) if s.line == 1 => {
                    s.column += offset;
                    Error::Syntax(s)
                }
                other => other,
            })?;
        // A watched statement runs again and again: one that changes state
        // would fail (or act) on its second run.
        if let Some(s) = statements
            .iter()
            .find(|s| matches!(s, Statement::CreateRule(_) | Statement::DropRule { .. }))
        {
            let what = match s {
                Statement::CreateRule(_) => "CREATE RULE",
                _ => "DROP RULE",
            };
            return Err(Error::Query(format!(
                ".watch re-runs queries; {what} changes state, so run it once, outside .watch"
            )));
        }
        let interrupted = watch_interrupts();
        let result = self.watch_loop(every, times, &statements, interrupted);
        WATCHING.store(false, Ordering::SeqCst);
        result
    }

    fn watch_loop(
        &mut self,
        every: Duration,
        times: Option<u64>,
        statements: &[Statement],
        interrupted: &AtomicBool,
    ) -> Result<()> {
        let mut last: Option<String> = None;
        let mut runs = 0;
        let mut next = Instant::now();
        while !interrupted.swap(false, Ordering::SeqCst) {
            self.follow()?;
            let mut text = String::new();
            for statement in statements {
                text += &render(&self.engine.run(statement)?, self.format);
            }
            if last.as_ref() != Some(&text) {
                if self.output.is_none() && std::io::stdout().is_terminal() {
                    let now = chrono::Local::now().format("%H:%M:%S");
                    println!("-- {now}, every {:?}; Ctrl-C stops", every);
                }
                self.write_result(&text)?;
                last = Some(text);
            }
            runs += 1;
            if times.is_some_and(|t| runs >= t) {
                break;
            }
            next += every;
            // Sleep in short steps so Ctrl-C and followed lines are not kept waiting.
            while Instant::now() < next && !interrupted.load(Ordering::SeqCst) {
                let left = next.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        }
        Ok(())
    }

    /// Runs one input; an error is reported on stderr and counted.
    fn handle(&mut self, input: &Input) -> Flow {
        self.inputs += 1;
        let (result, source) = match input {
            Input::Statement(sql) => (
                self.follow()
                    .and_then(|()| self.statement(sql))
                    .map(|()| Flow::Continue),
                sql,
            ),
            Input::Command(line) => (
                self.follow()
                    .and_then(|()| self.command(Command::parse(line))),
                line,
            ),
            Input::TooLong => (
                Err(Error::InvalidInput(format!(
                    "statement skipped: longer than {} MiB, the most the shell reads \
                     (a line that long is skipped with the statement it is part of)",
                    MAX_STATEMENT_BYTES >> 20
                ))),
                &String::new(),
            ),
        };
        self.notices.end_input();
        match result {
            Ok(flow) => flow,
            // The reader of our stdout went away (`| head`): stop quietly.
            Err(Error::Io { cause: e, .. })
                if e.kind() == std::io::ErrorKind::BrokenPipe && self.output.is_none() =>
            {
                Flow::Quit
            }
            Err(e) => {
                self.failures += 1;
                eprintln!("{}", render_error(&e, source));
                Flow::Continue
            }
        }
    }

    fn statement(&mut self, sql: &str) -> Result<()> {
        let started = Instant::now();
        let statements = self.engine.parse(sql, &Params::new())?;
        self.run_statements(&statements, started)
    }

    /// Runs parsed statements in order, printing each result (and the time
    /// from `started`, then from the end of the previous one).
    fn run_statements(&mut self, statements: &[Statement], mut started: Instant) -> Result<()> {
        for statement in statements {
            let result = self.engine.run(statement)?;
            let elapsed = started.elapsed();
            self.write_result(&render(&result, self.format))?;
            if self.timer {
                println!("{}", format_elapsed(elapsed));
            }
            started = Instant::now();
        }
        Ok(())
    }

    fn command(&mut self, command: Command) -> Result<Flow> {
        match command {
            Command::Help => print!("{}", help_text()),
            Command::Schema => {
                let mut schema = self.engine.schema().to_string();
                if !schema.ends_with('\n') {
                    schema.push('\n');
                }
                self.write_result(&schema)?;
            }
            Command::Stats => self.run_statements(&[Statement::ShowStats], Instant::now())?,
            Command::Mode(None) => println!("output mode: {}", self.format),
            Command::Mode(Some(format)) => self.format = format,
            Command::Timer(None) => println!("timer: {}", if self.timer { "on" } else { "off" }),
            Command::Timer(Some(on)) => self.timer = on,
            Command::Load(files) => {
                // The progress line is erased when the printer is dropped,
                // before the summary is printed.
                let summary = {
                    let mut progress = progress_printer();
                    self.engine.ingest_files(&files, &mut progress)?
                };
                self.reads.extend(files);
                eprintln!("{summary}");
            }
            Command::Output(target) => self.redirect(target.as_deref())?,
            Command::Watch {
                every,
                times,
                sql,
                offset,
            } => self.watch(every, times, &sql, offset)?,
            Command::Quit => return Ok(Flow::Quit),
            Command::Usage { problem, usage } => {
                return Err(Error::InvalidInput(format!("{problem}\nUsage: {usage}")))
            }
            Command::Unknown(name) => {
                return Err(Error::InvalidInput(format!(
                    "unknown command {name}; try .help"
                )))
            }
        }
        Ok(Flow::Continue)
    }

    /// `.output`: results go to `path` (created or truncated), or back to
    /// stdout for `None`.
    fn redirect(&mut self, path: Option<&Path>) -> Result<()> {
        if let Some((old, mut file)) = self.output.take() {
            file.flush()
                .map_err(|e| Error::io(format!("writing {}", old.display()), e))?;
        }
        if let Some(path) = path {
            let mut outputs: Vec<(&str, &Path)> = self
                .writes
                .iter()
                .map(|(f, p)| (f.as_str(), p.as_path()))
                .collect();
            outputs.push((".output", path));
            crate::files::check_outputs(&self.reads, &outputs)?;
            let file = File::create(path)
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
            self.output = Some((path.to_path_buf(), BufWriter::new(file)));
        }
        Ok(())
    }

    /// Writes rendered results to the current output. Flushed at once: a
    /// user watching a file (or a killed session) sees complete results.
    fn write_result(&mut self, text: &str) -> Result<()> {
        match &mut self.output {
            Some((path, file)) => file
                .write_all(text.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|e| Error::io(format!("writing {}", path.display()), e)),
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|e| Error::io("writing to stdout", e))
            }
        }
    }

    /// Flushes an `.output` file at the end of the session.
    fn close(&mut self) -> Result<()> {
        self.redirect(None)
    }
}

/// Set while `.watch` runs: Ctrl-C then stops the watch, not the shell.
static WATCHING: AtomicBool = AtomicBool::new(false);
/// Set by Ctrl-C during `.watch`.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Arms Ctrl-C for a `.watch` and returns the flag it sets. Outside a
/// watch, Ctrl-C keeps its usual effect (the line editor reads it as a key;
/// anywhere else it ends the process, as without a handler).
fn watch_interrupts() -> &'static AtomicBool {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let handler = || {
            if WATCHING.load(Ordering::SeqCst) {
                INTERRUPTED.store(true, Ordering::SeqCst);
            } else {
                std::process::exit(130);
            }
        };
        if let Err(e) = ctrlc::set_handler(handler) {
            eprintln!("Warning: Ctrl-C will end tally, not just the watch: {e}");
        }
    });
    INTERRUPTED.store(false, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    &INTERRUPTED
}

/// Piped stdin: run every input, keep going after errors, fail at the end
/// if any input failed.
fn script(session: &mut Session) -> Result<()> {
    let mut splitter = Splitter::new();
    let mut flow = Flow::Continue;
    let mut stdin = std::io::stdin().lock();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        let (n, overlong) = read_line_bounded(&mut stdin, &mut bytes)
            .map_err(|e| Error::io("reading statements from stdin", e))?;
        if n == 0 {
            break;
        }
        let inputs = if overlong {
            // Its end, and so the statement's, is unknown: skip both.
            splitter.clear();
            vec![Input::TooLong]
        } else {
            let line = String::from_utf8_lossy(&bytes);
            splitter.push_line(line.trim_end_matches(['\n', '\r']))
        };
        for input in inputs {
            flow = session.handle(&input);
            if flow == Flow::Quit {
                break;
            }
        }
        if flow == Flow::Quit {
            break;
        }
    }
    if flow == Flow::Continue {
        if let Some(input) = splitter.finish() {
            session.handle(&input);
        }
    }
    session.close()?;
    match session.failures {
        0 => Ok(()),
        n => Err(Error::InvalidInput(format!(
            "{n} of {} inputs failed",
            session.inputs
        ))),
    }
}

/// A terminal: the rustyline editor loop.
fn interactive(session: &mut Session, options: &ShellOptions) -> Result<()> {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(10_000))
        .map_err(|e| editor_error("configuring the line editor", e))?
        .completion_type(CompletionType::List)
        // A paste arrives as one insertion and one redraw, not one per
        // character (each of which redraws the whole line once it wraps:
        // quadratic in the pasted text). On by default; said here because
        // a paste's cost depends on it.
        .bracketed_paste(true)
        .build();
    let mut editor: Editor<ShellHelper, FileHistory> =
        Editor::with_config(config).map_err(|e| editor_error("starting the line editor", e))?;
    editor.set_helper(Some(ShellHelper::new(session.engine.schema().columns())));
    // Every key passes the burst test first (an unpasted long line).
    let burst = Burst::default();
    editor.bind_sequence(
        Event::Any,
        EventHandler::Conditional(Box::new(burst.clone())),
    );
    if let Some(path) = &options.history {
        load_history(&mut editor, path);
    }

    if let Some(banner) = &options.banner {
        println!("{banner}");
    }
    println!("Enter \".help\" for usage hints.");

    let mut splitter = Splitter::new();
    let outcome = loop {
        let columns = editor.dimensions().map(|(columns, _)| columns);
        if let Some(helper) = editor.helper_mut() {
            helper.pending = splitter.pending();
        }
        let prompt = if splitter.is_pending() {
            CONTINUATION_PROMPT
        } else {
            PROMPT
        };
        burst.start_line(columns, prompt);
        let text = match editor.readline(prompt) {
            Ok(text) => text + &burst.take_aside(),
            // Ctrl-C: drop the statement being typed, start afresh.
            Err(ReadlineError::Interrupted) => {
                splitter.clear();
                continue;
            }
            // Ctrl-D ends the shell; a statement still being typed runs
            // first, as an unterminated last statement of a script does.
            Err(ReadlineError::Eof) => {
                if let Some(input) = splitter.finish() {
                    session.handle(&input);
                }
                break Ok(());
            }
            Err(e) => break Err(editor_error("reading input", e)),
        };
        // A recalled multi-line entry or a paste holds several lines.
        let inputs: Vec<Input> = text.lines().flat_map(|l| splitter.push_line(l)).collect();
        let mut flow = Flow::Continue;
        for input in &inputs {
            // Whole statements go into history, even when typed over lines.
            if let Input::Statement(entry) | Input::Command(entry) = input {
                let _ = editor.add_history_entry(entry.as_str());
            }
            flow = session.handle(input);
            if flow == Flow::Quit {
                break;
            }
        }
        if flow == Flow::Quit {
            break Ok(());
        }
    };
    if let Some(path) = &options.history {
        if let Err(e) = editor.save_history(path) {
            eprintln!("Warning: cannot save history to {}: {e}", path.display());
        }
    }
    session.close()?;
    outcome
}

/// Loads the history file, creating its directory first; problems are
/// warnings (a read-only home must not keep the shell from starting).
fn load_history(editor: &mut Editor<ShellHelper, FileHistory>, path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("Warning: cannot create {}: {e}", dir.display());
            return;
        }
    }
    if path.exists() {
        if let Err(e) = editor.load_history(path) {
            eprintln!("Warning: cannot read history {}: {e}", path.display());
        }
    }
}

fn editor_error(context: &str, e: ReadlineError) -> Error {
    match e {
        ReadlineError::Io(e) => Error::io(context, e),
        e => Error::Internal(format!("{context}: {e}")),
    }
}
