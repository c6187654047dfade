//! Golden scripts for tally's language: every statement in
//! `tests/language/*.txt` runs through the public [`Engine`] API, and its
//! output — a result table, an `EXPLAIN` tree or an error message — must
//! match the text recorded under it, exactly.
//!
//! The scripts use the [goldenscript] format (as toydb does): commands, a
//! `---` line, the expected output, a blank line. `#` starts a comment.
//!
//! ```text
//! # One case: a statement and what it answers.
//! > SELECT COUNT(*) AS n FROM events WINDOW 1h
//! ---
//! n
//! -
//! 6
//!
//! # A refusal: `!` expects an error, and the message is the output.
//! ! > SELECT user_id FROM events GROUP BY video_id
//! ---
//! Error: column 'user_id' must appear in GROUP BY or be used in an aggregate
//! ```
//!
//! Commands:
//!
//! - `engine PRESET [shards=N] [retention=D] [recent_events=N]
//!   [percentiles=a,b] [actor_percentiles=true]` starts a fresh engine on a
//!   schema preset (2 shards by default, so that fan-out and merge are
//!   exercised; results never depend on the count). `percentiles=` replaces
//!   the preset's list of metrics with percentile sketches (empty: none);
//!   `actor_percentiles=true` keeps them in every actor too.
//! - `load 'JSON' ['JSON' ...]` ingests event lines, in order, on the event
//!   clock. The block prints one summary of what its `load`s accepted and
//!   rejected.
//! - `> STATEMENT` runs the rest of the line through [`Engine::execute`]; a
//!   line ending in `\` continues on the next one (joined as is, so keep a
//!   blank before the `\`). Each result prints as a table; an `EXPLAIN` as
//!   its tree.
//! - `sql "TEXT"` does the same for text that must span lines (`\n` in the
//!   quoted string), to check line numbers in syntax errors.
//!
//! After an intended change of output (a reworded message, a new case),
//! regenerate the expected outputs in place and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test --test language
//! git diff tests/language/
//! ```
//!
//! A new case is written as its commands and an empty `---` block; the
//! update fills it in. Without the update, a mismatch fails with the script,
//! the line and the statement of each block that differs, and a diff of its
//! output.
//!
//! [goldenscript]: https://docs.rs/goldenscript

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tally::event::Schema;
use tally::{Config, Engine, ResultSet};

/// One `#[test]` per script, so that each is named in the test output and
/// the scripts run in parallel. [`every_script_is_listed`] keeps the list
/// and the folder in step.
macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        const SCRIPTS: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                run_script(stringify!($name));
            }
        )*
    };
}

scripts!(
    parse_errors,
    unsupported,
    refusals,
    windows,
    explain,
    raw,
    rules,
    show
);

#[test]
fn every_script_is_listed() {
    let mut found: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("tests/language/ exists")
        .filter_map(|entry| {
            let path = entry.expect("readable entry").path();
            let stem = path.file_stem()?.to_str()?.to_string();
            (path.extension()? == "txt").then_some(stem)
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = SCRIPTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "add each script of tests/language/ to scripts!(...)"
    );
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/language")
}

/// Runs one script and compares its output with the script itself; with
/// `UPDATE_GOLDEN` set (or goldenscript's own `UPDATE_GOLDENFILES`), writes
/// the new output over it instead.
fn run_script(name: &str) {
    let path = scripts_dir().join(format!("{name}.txt"));
    let input = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut runner = Language::default();
    let output = goldenscript::generate(&mut runner, &input)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if output == input {
        return;
    }
    let update = ["UPDATE_GOLDEN", "UPDATE_GOLDENFILES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if update {
        std::fs::write(&path, &output)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    panic!(
        "{}",
        mismatch(&format!("tests/language/{name}.txt"), &input, &output)
    );
}

// ---------------------------------------------------------------------------
// The runner: an engine, and the commands that drive it
// ---------------------------------------------------------------------------

/// The state of one script: the engine its `engine` command started, and
/// what the current block's `load`s did.
#[derive(Default)]
struct Language {
    engine: Option<Engine>,
    loaded: Loaded,
}

/// Totals of the `load`s of one block, printed at its end.
#[derive(Default)]
struct Loaded {
    lines: u64,
    accepted: u64,
    rejected: Vec<(&'static str, u64)>,
}

impl goldenscript::Runner for Language {
    fn run(&mut self, command: &goldenscript::Command) -> Result<String, Box<dyn Error>> {
        match command.name.as_str() {
            "engine" => self.start(command),
            "load" => self.load(command),
            "sql" => {
                let mut args = command.consume_args();
                let text = args.next_pos().ok_or("sql takes the statement text")?;
                let text = text.value.clone();
                args.reject_rest()?;
                self.execute(&text)
            }
            // A `>` line: the whole line is the statement.
            statement => {
                if !command.args.is_empty() {
                    return Err(
                        format!("unknown command {statement:?}; write SQL after `> `").into(),
                    );
                }
                self.execute(statement)
            }
        }
    }

    fn end_block(&mut self) -> Result<String, Box<dyn Error>> {
        let loaded = std::mem::take(&mut self.loaded);
        if loaded.lines == 0 {
            return Ok(String::new());
        }
        let mut out = format!(
            "loaded {} line{}: {} accepted, {} rejected",
            loaded.lines,
            if loaded.lines == 1 { "" } else { "s" },
            loaded.accepted,
            loaded.rejected.iter().map(|(_, n)| n).sum::<u64>()
        );
        for (reason, n) in loaded.rejected {
            write!(out, "\n  rejected.{reason}: {n}")?;
        }
        Ok(out)
    }
}

impl Language {
    /// `engine PRESET [shards=N] [retention=D] [recent_events=N]
    /// [percentiles=a,b] [actor_percentiles=true]`.
    fn start(&mut self, command: &goldenscript::Command) -> Result<String, Box<dyn Error>> {
        let mut args = command.consume_args();
        let preset = args.next_pos().ok_or("engine takes a schema preset")?;
        let mut schema = Schema::preset(&preset.value)?;
        if let Some(list) = args.lookup("percentiles") {
            schema.percentiles = list
                .value
                .split(',')
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect();
        }
        if args.lookup_parse::<bool>("actor_percentiles")? == Some(true) {
            schema.actors.iter_mut().for_each(|a| a.percentiles = true);
        }
        let mut config = Config::new(schema);
        config.shards = args.lookup_parse("shards")?.unwrap_or(2);
        if let Some(retention) = args.lookup("retention") {
            let ms = tally::time::parse_duration(&retention.value)?;
            config.retention = Duration::from_millis(ms as u64);
        }
        if let Some(n) = args.lookup_parse("recent_events")? {
            config.recent_events = n;
        }
        args.reject_rest()?;
        // The old engine stops before the new one starts.
        self.engine = None;
        self.engine = Some(Engine::start(config)?);
        Ok(String::new())
    }

    /// `load 'JSON' ...`: one source of lines, ingested in order.
    fn load(&mut self, command: &goldenscript::Command) -> Result<String, Box<dyn Error>> {
        let mut args = command.consume_args();
        let lines: Vec<String> = args.rest_pos().iter().map(|a| a.value.clone()).collect();
        args.reject_rest()?;
        let summary = self.engine()?.ingest_lines("script", &lines)?;
        let loaded = &mut self.loaded;
        loaded.lines += summary.lines;
        loaded.accepted += summary.accepted;
        for (reason, n) in summary.rejected.into_iter().filter(|(_, n)| *n > 0) {
            match loaded.rejected.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += n,
                None => loaded.rejected.push((reason, n)),
            }
        }
        Ok(String::new())
    }

    fn execute(&mut self, sql: &str) -> Result<String, Box<dyn Error>> {
        let results = self.engine()?.execute(sql)?;
        let mut out = String::new();
        for result in &results {
            out.push_str(&render(result));
        }
        Ok(out)
    }

    fn engine(&mut self) -> Result<&mut Engine, Box<dyn Error>> {
        self.engine
            .as_mut()
            .ok_or_else(|| "no engine: start one first with `engine PRESET`".into())
    }
}

/// A result as text. `EXPLAIN` answers one `plan` column, a line of the tree
/// per row: it prints as the tree. Anything else is a table: a header, a
/// rule, one line per row, columns padded to their widest value.
fn render(result: &ResultSet) -> String {
    let cells = |row: &[tally::Value]| row.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    if result.columns == ["plan"] {
        return result
            .rows
            .iter()
            .map(|row| cells(row).join("") + "\n")
            .collect();
    }
    let rows: Vec<Vec<String>> = result.rows.iter().map(|r| cells(r)).collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join(" | ").trim_end().to_string() + "\n"
    };
    let mut out = line(&result.columns);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&(rule.join("-+-") + "\n"));
    if rows.is_empty() {
        out.push_str("(no rows)\n");
    }
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

// ---------------------------------------------------------------------------
// Mismatch report: which blocks differ, and how
// ---------------------------------------------------------------------------

/// One input/output block of a script.
struct Block<'t> {
    /// The 1-based line of its first command.
    line: usize,
    /// Its command lines (comments and blank lines left out).
    commands: Vec<&'t str>,
    output: Vec<&'t str>,
}

/// Splits a script into blocks: commands, `---`, output up to a blank line.
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut commands: Vec<(usize, &str)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if line != "---" {
            let trimmed = line.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with("//") {
                commands.push((i + 1, line));
            }
            continue;
        }
        let output = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.is_empty())
            .collect();
        blocks.push(Block {
            line: commands.first().map_or(i + 1, |(n, _)| *n),
            commands: commands.drain(..).map(|(_, c)| c).collect(),
            output,
        });
    }
    blocks
}

/// The failure message: every block whose output differs, with a diff.
fn mismatch(script: &str, want: &str, got: &str) -> String {
    let (want_blocks, got_blocks) = (blocks(want), blocks(got));
    let hint = "if the change is intended, run `UPDATE_GOLDEN=1 cargo test --test language` \
                and review `git diff tests/language/`";
    let aligned = want_blocks.len() == got_blocks.len()
        && want_blocks
            .iter()
            .zip(&got_blocks)
            .all(|(w, g)| w.commands == g.commands);
    if !aligned {
        return format!(
            "{script}: the output does not match (- expected, + actual):\n{}\n{hint}",
            diff(
                &want.lines().collect::<Vec<_>>(),
                &got.lines().collect::<Vec<_>>()
            )
        );
    }
    let mut report = String::new();
    let mut differ = 0;
    for (w, g) in want_blocks.iter().zip(&got_blocks) {
        if w.output == g.output {
            continue;
        }
        differ += 1;
        let _ = writeln!(report, "{script}:{}:", w.line);
        for c in &w.commands {
            let _ = writeln!(report, "    {c}");
        }
        let _ = writeln!(report, "  output differs (- expected, + actual):");
        report.push_str(&diff(&w.output, &g.output));
        report.push('\n');
    }
    format!("{differ} block(s) of {script} differ:\n\n{report}{hint}")
}

/// A line diff (longest common subsequence), indented for the report.
fn diff(want: &[&str], got: &[&str]) -> String {
    let (n, m) = (want.len(), got.len());
    // lcs[i][j]: the longest common subsequence of want[i..] and got[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if want[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && want[i] == got[j] {
            let _ = writeln!(out, "      {}", want[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "    - {}", want[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "    + {}", got[j]);
            j += 1;
        }
    }
    out
}
