//! The `tally` command line, driven as a user drives it: the real binary
//! (assert_cmd), real files in a temporary directory, exact output.
//!
//! Covered: `gen` for every preset, `ingest` (summary, reject file, the
//! k-way merge of J10), `run` (formats, several statements, parameters and
//! the errors a query file can have), `shell` over piped stdin (results on
//! stdout, errors on stderr, sqlite3-like exit status, dot commands), the
//! bare `tally` demo, `shell` on a pseudo-terminal (lines typed ahead),
//! schema detection and custom schema files, and the `--retention` /
//! `--max-jump` flags.
//!
//! Deterministic: fixed 2025 timestamps, seeded `gen`, no sleeps. Summaries
//! carry a timing, so they are compared without it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value as Json;
use tempfile::TempDir;

mod bench;
mod completions;
mod exit_codes;
mod flags;
mod generate;
mod ingest;
mod rules;
mod run;
mod schemas;
mod shell;
#[cfg(unix)]
mod terminal;

/// Nine reels lines: five good ones, then one line for each of four reject
/// reasons (malformed, duplicate, invalid, missing), at lines 6 to 9.
const REELS: &str = r#"{"event_id":"e1","event_type":"video_view","user_id":1,"video_id":10,"timestamp":"2025-01-15T12:00:00Z","metadata":{"view_duration_ms":1000,"device_type":"mobile"}}
{"event_id":"e2","event_type":"like","user_id":1,"video_id":10,"timestamp":"2025-01-15T12:00:01Z"}
{"event_id":"e3","event_type":"video_view","user_id":2,"video_id":11,"timestamp":"2025-01-15T12:00:02Z","metadata":{"view_duration_ms":3000,"device_type":"desktop"}}
{"event_id":"e4","event_type":"video_view","user_id":2,"video_id":10,"timestamp":"2025-01-15T12:00:03Z","metadata":{"view_duration_ms":5000,"device_type":"mobile"}}
{"event_id":"e5","event_type":"share","user_id":3,"video_id":11,"timestamp":"2025-01-15T12:00:04Z"}
not json
{"event_id":"e5","event_type":"share","user_id":3,"video_id":11,"timestamp":"2025-01-15T12:00:04Z"}
{"event_id":"e6","event_type":"video_view","user_id":"3","video_id":11,"timestamp":"2025-01-15T12:00:05Z"}
{"event_id":"e7","user_id":3,"video_id":11,"timestamp":"2025-01-15T12:00:05Z"}
"#;

/// The ingest summary of [`REELS`], without its timing.
const REELS_SUMMARY: &str = "9 lines: 5 accepted, 4 rejected
  rejected.malformed_json: 1
  rejected.missing_field: 1
  rejected.invalid_field: 1
  rejected.duplicate: 1";

// -------------------------------------------------------------- helpers --

/// A temporary directory with files in it.
struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `text` to `name` and returns the path as a string argument.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        arg(&path)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

fn arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

/// What a run of the binary printed, and how it ended.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tally args...`, with `stdin` piped in (never a TTY), in `cwd`.
fn tally_in(cwd: Option<&Path>, args: &[&str], stdin: &str) -> Out {
    let mut cmd = Command::cargo_bin("tally").unwrap();
    cmd.args(args).write_stdin(stdin);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let out = cmd.output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(!out.stderr.contains("panicked"), "tally panicked: {out:?}");
    out
}

fn tally(args: &[&str], stdin: &str) -> Out {
    tally_in(None, args, stdin)
}

/// Runs `tally args...` and expects success.
#[track_caller]
fn ok(args: &[&str]) -> String {
    let out = tally(args, "");
    assert_eq!(out.code, 0, "tally {args:?} failed: {}", out.stderr);
    out.stdout
}

/// Runs `tally args...` and expects exit code 1 with nothing on stdout;
/// returns stderr.
#[track_caller]
fn fails(args: &[&str]) -> String {
    let out = tally(args, "");
    assert_eq!(out.code, 1, "tally {args:?}: {out:?}");
    assert_eq!(out.stdout, "", "tally {args:?}");
    out.stderr
}

/// Runs `tally args...` and expects exit code 2 (bad usage) with nothing
/// on stdout; returns stderr.
#[track_caller]
fn misused(args: &[&str]) -> String {
    let out = tally(args, "");
    assert_eq!(out.code, 2, "tally {args:?}: {out:?}");
    assert_eq!(out.stdout, "", "tally {args:?}");
    out.stderr
}

/// An ingest summary without the timing of its first line.
fn untimed(summary: &str) -> String {
    let mut lines = summary.lines();
    let first = lines.next().unwrap_or_default();
    let first = first.split(" in ").next().unwrap_or_default();
    std::iter::once(first)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses every line of an NDJSON text.
fn json_lines(text: &str) -> Vec<Json> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `SHOW STATS` in CSV as (counter, value) pairs.
fn stats_rows(csv: &str) -> Vec<(String, String)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("counter,value"));
    lines
        .map(|l| {
            let (c, v) = l.split_once(',').unwrap();
            (c.to_string(), v.to_string())
        })
        .collect()
}

fn stat(rows: &[(String, String)], name: &str) -> String {
    rows.iter()
        .find(|(c, _)| c == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:?}"))
        .1
        .clone()
}

/// `tally shell --input REELS` with `script` on stdin.
fn shell(dir: &Dir, script: &str) -> Out {
    let input = dir.file("reels.ndjson", REELS);
    tally_in(Some(dir.0.path()), &["shell", "--input", &input], script)
}
