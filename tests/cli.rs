//! The `tally` command line, driven as a user drives it: the real binary
//! (assert_cmd), real files in a temporary directory, exact output.
//!
//! Covered: `gen` for every preset, `ingest` (summary, reject file, the
//! k-way merge of J10), `run` (formats, several statements, parameters and
//! the errors a query file can have), `shell` over piped stdin (results on
//! stdout, errors on stderr, sqlite3-like exit status, dot commands), the
//! bare `tally` demo, schema detection and custom schema files, and the
//! `--retention` / `--max-jump` flags.
//!
//! Deterministic: fixed 2025 timestamps, seeded `gen`, no sleeps. Summaries
//! carry a timing, so they are compared without it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value as Json;
use tempfile::TempDir;

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

// ------------------------------------------------------------------ gen --

const PRESETS: [&str; 5] = ["reels", "shop", "clicks", "stats", "ledger"];

#[test]
fn gen_writes_n_json_objects_for_every_preset() {
    for preset in PRESETS {
        let out = ok(&["gen", "--preset", preset, "-n", "200", "--seed", "7"]);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 200, "{preset}");
        assert!(lines.iter().all(Json::is_object), "{preset}");
        assert!(out.ends_with('\n'));
    }
}

#[test]
fn gen_is_deterministic_for_a_seed() {
    for preset in PRESETS {
        let args = |seed| ["gen", "--preset", preset, "-n", "100", "--seed", seed];
        let a = ok(&args("1"));
        assert_eq!(a, ok(&args("1")), "{preset}: same seed, other output");
        assert_ne!(a, ok(&args("2")), "{preset}: the seed changes nothing");
    }
}

#[test]
fn gen_out_writes_the_same_lines_to_a_file() {
    let dir = Dir::new();
    for preset in PRESETS {
        let file = arg(&dir.path(&format!("{preset}.ndjson")));
        let stdout = ok(&["gen", "--preset", preset, "-n", "50", "--out", &file]);
        assert_eq!(stdout, "", "{preset}: --out also wrote to stdout");
        let expected = ok(&["gen", "--preset", preset, "-n", "50"]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    }
}

/// What `gen` writes, `ingest` reads back: every preset is detected and
/// every line accepted (no bad lines or duplicates were asked for).
#[test]
fn gen_output_ingests_cleanly_under_its_detected_preset() {
    let dir = Dir::new();
    for preset in PRESETS {
        let file = arg(&dir.path(&format!("{preset}.ndjson")));
        ok(&["gen", "--preset", preset, "-n", "300", "--out", &file]);
        let summary = ok(&["ingest", &file]);
        assert_eq!(
            untimed(&summary),
            "300 lines: 300 accepted, 0 rejected",
            "{preset}"
        );
        let schema = tally(&["shell", "--input", &file], ".schema\n");
        assert_eq!(schema.code, 0, "{preset}: {}", schema.stderr);
        assert_eq!(
            schema.stdout.lines().next(),
            Some(format!("schema {preset}").as_str())
        );
    }
}

#[test]
fn gen_bad_and_duplicate_lines_are_rejected_on_ingest() {
    let dir = Dir::new();
    let file = arg(&dir.path("bad.ndjson"));
    ok(&[
        "gen",
        "-n",
        "1000",
        "--bad",
        "0.05",
        "--duplicates",
        "0.02",
        "--seed",
        "3",
        "--out",
        &file,
    ]);
    let summary = ok(&["ingest", &file, "--schema", "reels"]);
    let head = untimed(&summary);
    let head = head.lines().next().unwrap();
    assert!(head.starts_with("1000 lines: "), "{summary}");
    assert!(!head.ends_with(" 0 rejected"), "{summary}");
    assert!(summary.contains("rejected.duplicate: "), "{summary}");
    assert!(summary.contains("rejected.malformed_json: "), "{summary}");
}

#[test]
fn gen_unknown_preset_lists_the_presets() {
    let err = fails(&["gen", "--preset", "nope", "-n", "3"]);
    assert!(err.contains("'nope'"), "{err}");
    assert!(err.contains("reels, shop, clicks, stats, ledger"), "{err}");
}

#[test]
fn gen_refuses_a_disorder_that_is_not_a_duration() {
    // `abc` used to mean "no disorder"; only a real zero may.
    let out = tally(&["gen", "--disorder", "abc", "-n", "3"], "");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("invalid duration 'abc'"), "{out:?}");
    for zero in ["0", "0s"] {
        let lines = ok(&["gen", "--disorder", zero, "-n", "3"]);
        assert_eq!(lines.lines().count(), 3);
    }
}

// --------------------------------------------------------------- ingest --

#[test]
fn ingest_prints_a_summary_by_reason() {
    let dir = Dir::new();
    let file = dir.file("reels.ndjson", REELS);
    let out = ok(&["ingest", &file]);
    assert_eq!(untimed(&out), REELS_SUMMARY);
    let first = out.lines().next().unwrap();
    assert!(first.ends_with(" lines/s)"), "{first}");
}

#[test]
fn ingest_reject_file_has_one_record_per_rejected_line() {
    let dir = Dir::new();
    let file = dir.file("reels.ndjson", REELS);
    let rejects = arg(&dir.path("rejects.ndjson"));
    ok(&["ingest", &file, "--reject-file", &rejects]);
    let records = json_lines(&dir.read("rejects.ndjson"));
    let source_lines: Vec<&str> = REELS.lines().collect();
    let expected = [
        (6, "malformed_json"),
        (7, "duplicate"),
        (8, "invalid_field"),
        (9, "missing_field"),
    ];
    assert_eq!(records.len(), expected.len(), "{records:?}");
    for (record, (line, reason)) in records.iter().zip(expected) {
        let keys: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["source", "line", "reason", "detail", "text"]);
        assert_eq!(record["source"], file.as_str());
        assert_eq!(record["line"], line);
        assert_eq!(record["reason"], reason);
        assert_eq!(record["text"], source_lines[line - 1]);
        assert!(!record["detail"].as_str().unwrap().is_empty(), "{record}");
    }
    assert_eq!(
        records[2]["detail"],
        "user_id: expected an integer, got \"3\""
    );
    assert_eq!(records[3]["detail"], "event_type is missing");
}

/// A stats line at minute `m` after 10:00 with value `v`.
fn stat_line(m: u32, v: u32) -> String {
    format!(
        "{{\"timestamp\":\"2025-01-15T{:02}:{:02}:00Z\",\"value\":{v}}}\n",
        10 + m / 60,
        m % 60
    )
}

/// Three time-sorted files that interleave over three hours. With a 1 h
/// retention, reading them one after the other would reject the start of
/// the second and third files as too late: only a merge by time keeps all.
/// File b has a bad line at its line 2, file c at its line 3.
fn three_sorted_files(dir: &Dir) -> [String; 3] {
    let mut a = String::new();
    let mut b = String::new();
    let mut c = String::new();
    for i in 0..18u32 {
        a.push_str(&stat_line(i * 10, 1));
        b.push_str(&stat_line(i * 10 + 3, 10));
        c.push_str(&stat_line(i * 10 + 7, 100));
        if i == 0 {
            b.push_str("{\"timestamp\":\n");
        }
        if i == 1 {
            c.push_str("{\"timestamp\":\"2025-01-15T10:20:00Z\"}\n");
        }
    }
    [
        dir.file("a.ndjson", &a),
        dir.file("b.ndjson", &b),
        dir.file("c.ndjson", &c),
    ]
}

#[test]
fn ingest_merges_time_sorted_files_by_time() {
    let dir = Dir::new();
    let [a, b, c] = three_sorted_files(&dir);
    let rejects = arg(&dir.path("rejects.ndjson"));
    let out = ok(&[
        "ingest",
        &a,
        &b,
        &c,
        "--retention",
        "1h",
        "--reject-file",
        &rejects,
    ]);
    assert_eq!(
        untimed(&out),
        "56 lines: 54 accepted, 2 rejected\n  \
         rejected.malformed_json: 1\n  \
         rejected.missing_field: 1"
    );
    // Line numbers are each file's own.
    let records = json_lines(&dir.read("rejects.ndjson"));
    let found: Vec<(String, u64, String)> = records
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_string(),
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (b.clone(), 2, "malformed_json".to_string()),
            (c.clone(), 3, "missing_field".to_string()),
        ]
    );

    // `tally run` over the same merge: with a 1 h retention nothing is too
    // late, and the last hour (1 s panes: 11:57 < t ≤ 12:57) holds 12:00,
    // 12:03, 12:07, ..., 12:57 — 18 events. A query without WINDOW covers
    // the retention, so it sees the same 18.
    let q = dir.file(
        "merged.sql",
        "SHOW STATS;\nSELECT COUNT(*) AS n FROM events WINDOW 1h;\n",
    );
    let out = ok(&[
        "run",
        &q,
        "--input",
        &a,
        &b,
        &c,
        "--retention",
        "1h",
        "--format",
        "csv",
    ]);
    let (stats, hour) = out.split_once("n\n").unwrap();
    let rows = stats_rows(stats);
    assert_eq!(stat(&rows, "accepted"), "54");
    assert_eq!(stat(&rows, "rejected.too_late"), "0");
    assert_eq!(stat(&rows, "rejected.too_far_in_future"), "0");
    assert_eq!(hour, "18\n");
    // With the default 24 h retention every event is in the window:
    // 18 × (1 + 10 + 100) = 1998.
    let q = dir.file(
        "sum.sql",
        "SELECT COUNT(*) AS n, SUM(value) AS s FROM events WINDOW 24h;\n",
    );
    let out = ok(&["run", &q, "--input", &a, &b, &c, "--format", "csv"]);
    assert_eq!(out, "n,s\n54,1998.0\n");
}

#[test]
fn ingest_errors_name_the_file() {
    let dir = Dir::new();
    let missing = arg(&dir.path("missing.ndjson"));
    let err = fails(&["ingest", &missing]);
    assert!(err.contains(&missing), "{err}");
    // A directory opens on Linux but cannot be read: still say which.
    let folder = arg(dir.0.path());
    let err = fails(&["ingest", &folder]);
    assert!(err.contains(&folder), "{err}");
}

// ------------------------------------------------------------------ run --

const MULTI: &str = "-- three statements, one of them over two lines
SELECT COUNT(*) AS n, SUM(metadata.view_duration_ms) AS ms FROM events WINDOW 1h;
SELECT TOP 2 event_type
  FROM events WINDOW 1h;
SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY user_id WINDOW 1h;
";

fn run_multi(format: &str) -> String {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file("multi.sql", MULTI);
    ok(&["run", &q, "--input", &input, "--format", format])
}

#[test]
fn run_prints_every_statement_as_json() {
    assert_eq!(
        run_multi("json"),
        r#"[{"n":5,"ms":9000}]
[{"event_type":"video_view","count":3},{"event_type":"like","count":1}]
[{"user_id":1,"n":2},{"user_id":2,"n":2},{"user_id":3,"n":1}]
"#
    );
}

#[test]
fn run_prints_every_statement_as_csv() {
    assert_eq!(
        run_multi("csv"),
        "n,ms\n5,9000\n\
         event_type,count\nvideo_view,3\nlike,1\n\
         user_id,n\n1,2\n2,2\n3,1\n"
    );
}

#[test]
fn run_prints_every_statement_as_a_table() {
    assert_eq!(
        run_multi("table"),
        "┌───┬──────┐
│ n │   ms │
├───┼──────┤
│ 5 │ 9000 │
└───┴──────┘
(1 row)
┌────────────┬───────┐
│ event_type │ count │
├────────────┼───────┤
│ video_view │     3 │
│ like       │     1 │
└────────────┴───────┘
(2 rows)
┌─────────┬───┐
│ user_id │ n │
├─────────┼───┤
│       1 │ 2 │
│       2 │ 2 │
│       3 │ 1 │
└─────────┴───┘
(3 rows)
"
    );
}

#[test]
fn run_runs_several_query_files_in_order() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q1 = dir.file("1.sql", "SELECT COUNT(*) AS n FROM events;");
    let q2 = dir.file(
        "2.sql",
        "SELECT MAX(metadata.view_duration_ms) AS m FROM events;",
    );
    let out = ok(&["run", &q1, &q2, "-i", &input, "-f", "csv"]);
    assert_eq!(out, "n\n5\nm\n5000\n");
}

#[test]
fn run_substitutes_params() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file(
        "user.sql",
        "SELECT COUNT(*) AS n FROM events WHERE user_id = :user WINDOW 1h;\n\
         SELECT COUNT(*) AS n FROM events WHERE event_type = :kind AND user_id = :user WINDOW 1h;\n",
    );
    let run = |user: &str| {
        ok(&[
            "run",
            &q,
            "--input",
            &input,
            "--format",
            "csv",
            "--param",
            &format!("user={user}"),
            "-p",
            "kind=video_view",
        ])
    };
    assert_eq!(run("1"), "n\n2\nn\n1\n");
    assert_eq!(run("2"), "n\n2\nn\n2\n");
    assert_eq!(run("42"), "n\n0\nn\n0\n");
}

#[test]
fn run_missing_param_is_an_error() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file(
        "user.sql",
        "SELECT COUNT(*) FROM events WHERE user_id = :user;",
    );
    let err = fails(&["run", &q, "--input", &input]);
    assert_eq!(
        err,
        format!("Error: {q}: missing value for parameter :user; pass --param user=VALUE\n")
    );
    let err = fails(&["run", &q, "--input", &input, "--param", "user"]);
    assert_eq!(err, "Error: --param user: expected NAME=VALUE\n");
}

#[test]
fn run_syntax_error_names_the_file_line_and_column() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file(
        "bad.sql",
        "SELECT COUNT(*) FROM events;\nSELECT COUNT(*)\n  FROM events\n  WHERE WINDOW 1h;\n",
    );
    let err = fails(&["run", &q, "--input", &input]);
    assert!(
        err.starts_with(&format!("Error: {q}: syntax error at line 4, column 8: ")),
        "{err}"
    );
    // Nothing ran: the first, valid statement printed nothing either.
}

#[test]
fn run_unknown_column_suggests_the_closest() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file("typo.sql", "SELECT COUNT(*) FROM events WHERE usr_id = 1;");
    let err = fails(&["run", &q, "--input", &input]);
    assert!(err.contains("unknown column 'usr_id'"), "{err}");
    assert!(err.contains("did you mean 'user_id'?"), "{err}");
    assert!(
        err.contains("known columns: timestamp, event_id, user_id"),
        "{err}"
    );
}

#[test]
fn run_missing_input_file_is_an_error() {
    let dir = Dir::new();
    let q = dir.file("q.sql", "SELECT COUNT(*) FROM events;");
    let missing = arg(&dir.path("missing.ndjson"));
    let err = fails(&["run", &q, "--input", &missing]);
    assert!(err.contains(&format!("opening {missing}")), "{err}");
}

// ---------------------------------------------------------------- shell --

/// `tally shell --input REELS` with `script` on stdin.
fn shell(dir: &Dir, script: &str) -> Out {
    let input = dir.file("reels.ndjson", REELS);
    tally_in(Some(dir.0.path()), &["shell", "--input", &input], script)
}

#[test]
fn shell_reads_statements_from_stdin() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        "SELECT COUNT(*) AS n\n  FROM events\n  WINDOW 1h;\nSELECT TOP 1 event_type FROM events WINDOW 1h;\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert_eq!(
        out.stdout,
        "┌───┐\n│ n │\n├───┤\n│ 5 │\n└───┘\n(1 row)\n\
         ┌────────────┬───────┐\n│ event_type │ count │\n├────────────┼───────┤\n\
         │ video_view │     3 │\n└────────────┴───────┘\n(1 row)\n"
    );
}

#[test]
fn shell_errors_go_to_stderr_and_fail_the_run() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode csv\n\
         SELECT COUNT(*) AS n FROM events;\n\
         SELECT usr_id, COUNT(*) FROM events GROUP BY usr_id;\n\
         SELECT COUNT(*) FROM events WINDOW 5 fortnights;\n\
         .nope\n\
         SELECT COUNT(*) AS after FROM events;\n",
    );
    // Like sqlite3: every input runs, the run fails at the end.
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "n\n5\nafter\n5\n");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(errors.len(), 4, "{}", out.stderr);
    assert!(errors[0].contains("did you mean 'user_id'?"), "{errors:?}");
    assert_eq!(errors[2], "Error: unknown command .nope; try .help");
    assert_eq!(errors[3], "Error: 3 of 6 inputs failed");
}

#[test]
fn shell_without_errors_exits_0() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode json\nSELECT COUNT(*) AS n FROM events;\n.mode\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "[{\"n\":5}]\noutput mode: json\n");
}

#[test]
fn shell_syntax_error_points_at_the_column() {
    let dir = Dir::new();
    let out = shell(&dir, "SELECT COUNT(*) FROM events WINDOW;\n");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("Error: syntax error at line 1, column "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\nLINE 1: SELECT COUNT(*) FROM events WINDOW;\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn shell_output_writes_results_to_a_file() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode csv\n\
         .output export.csv\n\
         SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY user_id;\n\
         .help\n\
         .output\n\
         SELECT COUNT(*) AS n FROM events;\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Results went to the file; .help and later results to stdout.
    assert_eq!(dir.read("export.csv"), "user_id,n\n1,2\n2,2\n3,1\n");
    assert!(out.stdout.starts_with("Commands:\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with("n\n5\n"), "{}", out.stdout);
}

#[test]
fn raw_events_export_to_csv_from_the_shell_and_run() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode csv\n\
         .output raw.csv\n\
         SELECT event_id, user_id, metadata.device_type FROM events \
         WHERE event_type = 'video_view' ORDER BY user_id DESC, event_id;\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        dir.read("raw.csv"),
        "event_id,user_id,metadata.device_type\ne3,2,desktop\ne4,2,mobile\ne1,1,mobile\n"
    );
    // Arrival order without ORDER BY; the time field is normalized.
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file("raw.sql", "SELECT timestamp, event_id FROM events LIMIT 2;");
    assert_eq!(
        ok(&["run", &q, "--input", &input, "--format", "csv"]),
        "timestamp,event_id\n2025-01-15T12:00:00.000Z,e1\n2025-01-15T12:00:01.000Z,e2\n"
    );
    // The ring's bound: only the newest events are kept.
    let q = dir.file("all.sql", "SELECT event_id FROM events;");
    assert_eq!(
        ok(&[
            "run",
            &q,
            "--input",
            &input,
            "--format",
            "csv",
            "--recent-events",
            "2"
        ]),
        "event_id\ne4\ne5\n"
    );
    let err = fails(&["run", &q, "--input", &input, "--recent-events", "0"]);
    assert!(err.contains("--recent-events 0"), "{err}");
}

#[test]
fn shell_watch_prints_a_result_only_when_it_changes() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".watch 0.05 3 SELECT COUNT(*) AS n FROM events;\n\
         .watch 0.05 0 SELECT 1;\n",
    );
    // Three runs, one unchanged result: printed once (no header off a TTY).
    assert_eq!(out.stdout, "┌───┐\n│ n │\n├───┤\n│ 5 │\n└───┘\n(1 row)\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("TIMES is a positive number"),
        "{}",
        out.stderr
    );
    let err = fails(&["shell", "--input", "-", "--follow"]);
    assert!(err.contains("standard input cannot be followed"), "{err}");
}

#[test]
fn shell_schema_describes_the_columns() {
    let dir = Dir::new();
    let out = shell(&dir, ".schema\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], "schema reels");
    for (column, role) in [
        ("timestamp", "time"),
        ("event_id", "id (de-duplication)"),
        ("user_id", "int key of actor kind 'users'"),
        ("video_id", "int key of actor kind 'videos'"),
        ("event_type", "string type dimension"),
        ("metadata.view_duration_ms", "int metric"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")
                    == format!("{column} {role}")),
            "no '{column} {role}' in {lines:?}"
        );
    }
}

#[test]
fn shell_stats_and_show_stats_count_by_reason() {
    let dir = Dir::new();
    let out = shell(&dir, ".mode csv\n.stats\nSHOW STATS;\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let half = out.stdout.len() / 2;
    let (dot, show) = out.stdout.split_at(half);
    assert_eq!(dot, show, ".stats and SHOW STATS differ");
    let rows = stats_rows(dot);
    for (counter, value) in [
        ("lines", "9"),
        ("accepted", "5"),
        ("rejected", "4"),
        ("rejected.malformed_json", "1"),
        ("rejected.missing_field", "1"),
        ("rejected.invalid_field", "1"),
        ("rejected.duplicate", "1"),
        ("rejected.too_late", "0"),
        ("rejected.too_far_in_future", "0"),
        ("actors.users", "3"),
        ("actors.videos", "2"),
        ("clock.now", "2025-01-15T12:00:04.000Z"),
    ] {
        assert_eq!(stat(&rows, counter), value, "{counter}");
    }
}

#[test]
fn shell_help_lists_the_dot_commands() {
    let dir = Dir::new();
    let out = shell(&dir, ".help\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for command in [
        ".help", ".schema", ".stats", ".mode", ".timer", ".load", ".output", ".quit",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "{command} missing from .help:\n{}",
            out.stdout
        );
    }
}

#[test]
fn shell_quit_stops_reading() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode csv\nSELECT COUNT(*) AS n FROM events;\n.quit\nSELECT nope FROM events;\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "n\n5\n");
}

#[test]
fn shell_load_ingests_more_files() {
    let dir = Dir::new();
    let more = dir.file(
        "more.ndjson",
        r#"{"event_id":"e9","event_type":"like","user_id":4,"video_id":12,"timestamp":"2025-01-15T12:00:09Z"}
"#,
    );
    let out = shell(
        &dir,
        &format!(".mode csv\n.load {more}\nSELECT COUNT(*) AS n FROM events;\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "n\n6\n");
    assert_eq!(untimed(&out.stderr), "1 lines: 1 accepted, 0 rejected");
}

#[test]
fn bare_tally_answers_from_the_demo_stream() {
    let out = tally(&[], "SELECT COUNT(*) FROM events;\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let count: i64 = out
        .stdout
        .lines()
        .find_map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count in {}", out.stdout));
    assert!(count > 0 && count <= 100_000, "{count}");
    // The same demo stream every time.
    let again = tally(&[], "SELECT COUNT(*) FROM events;\n");
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn bare_tally_demo_has_reels_actors() {
    let out = tally(&[], ".mode csv\nSHOW STATS;\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = stats_rows(&out.stdout);
    let users: i64 = stat(&rows, "actors.users").parse().unwrap();
    let accepted: i64 = stat(&rows, "accepted").parse().unwrap();
    let malformed: i64 = stat(&rows, "rejected.malformed_json").parse().unwrap();
    assert!(users > 0 && accepted > 0, "{rows:?}");
    assert!(malformed > 0, "the demo's bad lines: {rows:?}");
    let lines: i64 = stat(&rows, "lines").parse().unwrap();
    let rejected: i64 = stat(&rows, "rejected").parse().unwrap();
    assert_eq!(lines, accepted + rejected);
}

// -------------------------------------------------------------- schemas --

/// Runs `sql` over a file of `lines` with the schema detected, as CSV;
/// also checks that `.schema` names `preset`.
fn detect_and_query(preset: &str, lines: &str, sql: &str) -> String {
    let dir = Dir::new();
    let input = dir.file("events.ndjson", lines);
    let schema = tally(&["shell", "--input", &input], ".schema\n");
    assert_eq!(schema.code, 0, "{preset}: {}", schema.stderr);
    assert_eq!(
        schema.stdout.lines().next(),
        Some(format!("schema {preset}").as_str())
    );
    let q = dir.file("q.sql", sql);
    ok(&["run", &q, "--input", &input, "--format", "csv"])
}

#[test]
fn detects_shop_events() {
    let out = detect_and_query(
        "shop",
        r#"{"event":"view","timestamp":"2025-01-15T14:30:40Z","item_id":3,"customer_id":17}
{"event":"add_to_cart","timestamp":"2025-01-15T14:30:45Z","item_id":3,"customer_id":17,"price":129.5}
{"event":"purchase","timestamp":"2025-01-15T14:31:00Z","item_id":3,"customer_id":17,"price":129.5}
{"event":"purchase","timestamp":"2025-01-15T14:32:00Z","item_id":4,"customer_id":18,"price":10}
"#,
        "SELECT item_id, SUM(price) AS revenue FROM events WHERE event = 'purchase' \
         GROUP BY item_id ORDER BY revenue DESC WINDOW 24h;",
    );
    assert_eq!(out, "item_id,revenue\n3,129.5\n4,10.0\n");
}

#[test]
fn detects_clicks_events() {
    let out = detect_and_query(
        "clicks",
        r#"{"id":0,"ts":"2025-06-12T08:08:53.889057","user":"user8","type":"CLICK","payload":{"value":760,"notes":"..."}}
{"id":1,"ts":"2025-06-12T08:09:00.000001","user":"user2","type":"VIEW","payload":{"value":40,"notes":""}}
{"id":2,"ts":"2025-06-12T08:09:10","user":"user8","type":"CLICK","payload":{"value":200,"notes":"x"}}
"#,
        "SELECT user, COUNT(*) AS n, SUM(payload.value) AS v FROM events GROUP BY user ORDER BY user WINDOW 1h;",
    );
    assert_eq!(out, "user,n,v\nuser2,1,40.0\nuser8,2,960.0\n");
}

#[test]
fn detects_stats_events() {
    let out = detect_and_query(
        "stats",
        r#"{"timestamp":"2025-06-26T14:30:00Z","value":12.5}
{"timestamp":"2025-06-26T14:31:00Z","value":7.5}
{"timestamp":"2025-06-26T14:32:00Z","value":20}
"#,
        "SELECT COUNT(*) AS n, MIN(value) AS lo, MAX(value) AS hi, AVG(value) AS mean FROM events WINDOW 1h;",
    );
    assert_eq!(out, "n,lo,hi,mean\n3,7.5,20.0,13.3333333333\n");
}

#[test]
fn detects_ledger_events() {
    let out = detect_and_query(
        "ledger",
        r#"{"id":7,"category":"A","value":3.5}
{"id":8,"category":"B","value":1}
{"id":9,"category":"A","value":1.5}
{"id":9,"category":"A","value":100}
"#,
        "SELECT category, COUNT(*) AS n, SUM(value) AS total FROM events GROUP BY category ORDER BY category;",
    );
    assert_eq!(out, "category,n,total\nA,2,5.0\nB,1,1.0\n");
}

const CUSTOM_SCHEMA: &str = r#"{
  "name": "sensors",
  "time": {"field": "ts"},
  "id": "rid",
  "type": "kind",
  "actors": [{"name": "devices", "key": "dev", "type": "int"}],
  "dimensions": [{"field": "kind", "type": "string", "required": true}],
  "metrics": [{"field": "temp", "type": "float"}]
}"#;

const SENSORS: &str = r#"{"rid":"a","ts":"2025-03-01T10:00:00Z","dev":1,"kind":"temp","temp":20.5}
{"rid":"b","ts":"2025-03-01T10:00:01Z","dev":2,"kind":"temp","temp":21.5}
{"rid":"c","ts":"2025-03-01T10:00:02Z","dev":1,"kind":"hum","temp":1}
{"rid":"c","ts":"2025-03-01T10:00:03Z","dev":1,"kind":"hum","temp":1}
{"rid":"d","ts":"2025-03-01T10:00:04Z","dev":"x","kind":"hum","temp":1}
"#;

#[test]
fn a_custom_schema_file_works() {
    let dir = Dir::new();
    let schema = dir.file("sensors.json", CUSTOM_SCHEMA);
    let input = dir.file("sensors.ndjson", SENSORS);
    let q = dir.file(
        "q.sql",
        "SELECT dev, COUNT(*) AS n, SUM(temp) AS s FROM events GROUP BY dev ORDER BY dev WINDOW 1h;\n\
         SELECT TOP 1 kind FROM events WINDOW 1h;\n",
    );
    let out = ok(&["run", &q, "-i", &input, "--schema", &schema, "-f", "csv"]);
    assert_eq!(out, "dev,n,s\n1,2,21.5\n2,1,21.5\nkind,count\ntemp,2\n");
    let summary = ok(&["ingest", &input, "--schema", &schema]);
    assert_eq!(
        untimed(&summary),
        "5 lines: 3 accepted, 2 rejected\n  \
         rejected.invalid_field: 1\n  \
         rejected.duplicate: 1"
    );
    let shown = tally(&["shell", "-i", &input, "--schema", &schema], ".schema\n");
    assert_eq!(shown.stdout.lines().next(), Some("schema sensors"));
    // Without the schema file, nothing fits.
    let err = fails(&["run", &q, "-i", &input]);
    assert!(err.contains("cannot detect the schema"), "{err}");
    assert!(err.contains("--schema"), "{err}");
}

#[test]
fn a_broken_schema_file_is_an_error() {
    let dir = Dir::new();
    let input = dir.file("sensors.ndjson", SENSORS);
    let schema = dir.file("broken.json", "{\"name\": \"x\"");
    let err = fails(&["ingest", &input, "--schema", &schema]);
    assert!(err.contains(&format!("schema file {schema}")), "{err}");
    let schema = dir.file(
        "bad.json",
        &CUSTOM_SCHEMA.replace("\"type\": \"kind\"", "\"type\": \"nope\""),
    );
    let err = fails(&["ingest", &input, "--schema", &schema]);
    assert!(err.contains("type field 'nope'"), "{err}");
}

#[test]
fn an_unknown_preset_lists_the_presets() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let err = fails(&["ingest", &input, "--schema", "bogus"]);
    assert_eq!(
        err,
        "Error: unknown schema preset 'bogus'; presets: reels, shop, clicks, stats, ledger; \
         or pass a schema file (.json)\n"
    );
}

// ---------------------------------------------------------------- flags --

/// 10:00, 12:00, then 10:30 (late by 1 h 30 m) and 11:30.
const JUMPY: &str = r#"{"timestamp":"2025-03-01T10:00:00Z","value":1}
{"timestamp":"2025-03-01T12:00:00Z","value":2}
{"timestamp":"2025-03-01T10:30:00Z","value":3}
{"timestamp":"2025-03-01T11:30:00Z","value":4}
"#;

#[test]
fn retention_rejects_too_late_events() {
    let dir = Dir::new();
    let input = dir.file("jumpy.ndjson", JUMPY);
    let out = ok(&["ingest", &input, "--retention", "1h", "--max-jump", "3h"]);
    assert_eq!(
        untimed(&out),
        "4 lines: 3 accepted, 1 rejected\n  rejected.too_late: 1"
    );
    let q = dir.file(
        "q.sql",
        "SHOW STATS;\nSELECT SUM(value) AS s FROM events WINDOW 1h;\n",
    );
    let out = ok(&[
        "run",
        &q,
        "-i",
        &input,
        "--retention",
        "1h",
        "--max-jump",
        "3h",
        "-f",
        "csv",
    ]);
    let (stats, sum) = out.split_once("s\n").unwrap();
    let rows = stats_rows(stats);
    assert_eq!(stat(&rows, "rejected.too_late"), "1");
    assert_eq!(stat(&rows, "accepted"), "3");
    assert_eq!(sum, "6.0\n");
    // The default retention (24 h) keeps the late one.
    let out = ok(&["ingest", &input, "--max-jump", "3h"]);
    assert_eq!(untimed(&out), "4 lines: 4 accepted, 0 rejected");
}

#[test]
fn max_jump_guards_against_a_single_jump() {
    let dir = Dir::new();
    let input = dir.file("jumpy.ndjson", JUMPY);
    // Default 1 h: the 12:00 event is held, then refuted by 10:30.
    let out = ok(&["ingest", &input]);
    assert_eq!(
        untimed(&out),
        "4 lines: 3 accepted, 1 rejected\n  rejected.too_far_in_future: 1"
    );
    let out = ok(&["ingest", &input, "--max-jump", "2h"]);
    assert_eq!(untimed(&out), "4 lines: 4 accepted, 0 rejected");
}

#[test]
fn bad_flag_values_are_errors() {
    let dir = Dir::new();
    let input = dir.file("jumpy.ndjson", JUMPY);
    let err = fails(&["ingest", &input, "--retention", "30s"]);
    assert!(err.contains("--retention"), "{err}");
    let out = tally(&["ingest", &input, "--retention", "soon"], "");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("invalid duration 'soon'"),
        "{}",
        out.stderr
    );
    let q = dir.file("q.sql", "SELECT COUNT(*) FROM events;");
    let out = tally(&["run", &q, "-i", &input, "--format", "xml"], "");
    assert_eq!(out.code, 2, "{out:?}");
}

// ---------------------------------------------------------------- rules --

/// A rule that [`REELS`] breaks twice: users 1 and 2 each send two events
/// within a second.
const PAIR_RULE: &str = "CREATE RULE pairs AS SELECT user_id, COUNT(*) AS n FROM events \
                         GROUP BY user_id HAVING n >= 2 WINDOW 10s;\n";

const PAIR_HITS: [&str; 2] = [
    r#"{"rule":"pairs","kind":"users","key":1,"window_end":"2025-01-15T12:00:02.000Z","user_id":1,"n":2}"#,
    r#"{"rule":"pairs","kind":"users","key":2,"window_end":"2025-01-15T12:00:04.000Z","user_id":2,"n":2}"#,
];

#[test]
fn run_creates_rules_before_ingesting_and_emits_hits() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    // SHOW RULES comes first in the file but runs after the input; the rule
    // after it still runs before the input.
    let queries = dir.file("rules.sql", &format!("SHOW RULES;\n{PAIR_RULE}"));
    let emit = arg(&dir.path("hits.ndjson"));
    let out = ok(&[
        "run", &queries, "--input", &input, "--format", "csv", "--emit", &emit,
    ]);
    assert_eq!(
        out,
        "rule,kind,window,condition\npairs,users,10s,n >= 2\n\
         rule,kind,window,condition,hits\npairs,users,10s,n >= 2,2\n"
    );
    assert_eq!(
        dir.read("hits.ndjson"),
        format!("{}\n{}\n", PAIR_HITS[0], PAIR_HITS[1])
    );
}

#[test]
fn ingest_with_rules_counts_and_emits_hits() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let rules = dir.file("rules.sql", PAIR_RULE);
    let emit = arg(&dir.path("hits.ndjson"));
    let out = ok(&["ingest", &input, "--rules", &rules, "--emit", &emit]);
    assert_eq!(
        untimed(&out),
        format!("{REELS_SUMMARY}\nrule pairs: 2 hits")
    );
    assert_eq!(json_lines(&dir.read("hits.ndjson")).len(), 2);
}

#[test]
fn shell_prints_hits_as_they_happen() {
    let dir = Dir::new();
    let more = dir.file(
        "more.ndjson",
        r#"{"event_id":"e9","event_type":"like","user_id":3,"video_id":12,"timestamp":"2025-01-15T12:00:09Z"}
"#,
    );
    let out = shell(
        &dir,
        &format!(
            ".mode csv\n{PAIR_RULE}.load {more}\nSHOW RULES;\nDROP RULE pairs;\nDROP RULE pairs;\n"
        ),
    );
    assert_eq!(out.code, 1, "the second DROP fails: {out:?}");
    assert_eq!(
        out.stdout,
        "rule,kind,window,condition\npairs,users,10s,n >= 2\n\
         rule,kind,window,condition,hits\npairs,users,10s,n >= 2,1\n\
         dropped,hits\npairs,1\n"
    );
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        stderr[0],
        "[hit] pairs users 3 window_end=2025-01-15T12:00:10.000Z user_id=3 n=2"
    );
    assert_eq!(untimed(stderr[1]), "1 lines: 1 accepted, 0 rejected");
    assert!(
        out.stderr
            .contains("unknown rule 'pairs'; there are no rules"),
        "{}",
        out.stderr
    );
}

#[test]
fn rule_errors_name_the_file_and_the_problem() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let bad = dir.file(
        "bad.sql",
        "CREATE RULE r AS SELECT COUNT(*) AS n FROM events HAVING n > 1 WINDOW 1m;",
    );
    let err = fails(&["run", &bad, "--input", &input]);
    assert!(
        err.contains("rule 'r': a rule must GROUP BY one actor key (user_id, video_id)"),
        "{err}"
    );
    let select = dir.file("select.sql", "SELECT COUNT(*) FROM events;");
    let err = fails(&["ingest", &input, "--rules", &select]);
    assert!(
        err.contains("select.sql: --rules files hold CREATE RULE statements only"),
        "{err}"
    );
    let nowhere = arg(&dir.path("no/such/dir/hits.ndjson"));
    let err = fails(&["ingest", &input, "--emit", &nowhere]);
    assert!(
        err.contains("cannot create") && err.contains("no/such/dir"),
        "{err}"
    );
    let syntax = dir.file("syntax.sql", "CREATE RULE r SELECT 1;");
    let err = fails(&["run", &syntax, "--input", &input]);
    assert!(err.contains("line 1, column 15: expected AS"), "{err}");
}

// ---------------------------------------------------------------- bench --
//
// Each bench on a tiny configuration: the table has its columns, the counts
// are the ones the schedule fixes, and the .hgrm and SVG files parse. No
// assertion depends on how fast anything ran.

/// The percentile table of a bench report as (name, measure, count) rows.
fn bench_table(stdout: &str) -> Vec<(String, String, u64)> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("name "));
    let header: Vec<&str> = lines.next().expect("a table").split_whitespace().collect();
    assert_eq!(
        header,
        ["name", "measure", "p50", "p90", "p99", "p99.9", "max", "count"]
    );
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            let n = cells.len();
            assert!(n >= 8, "{l}");
            for value in &cells[n - 6..n - 1] {
                let v: f64 = value.parse().unwrap_or_else(|_| panic!("{l}"));
                assert!(v >= 0.0);
            }
            // Names have no spaces; a measure may ("per MiB").
            (
                cells[0].to_string(),
                cells[1..n - 6].join(" "),
                cells[n - 1].parse().unwrap(),
            )
        })
        .collect()
}

/// Checks an .hgrm file: HdrHistogram's header, rising rows, a 100% row
/// with every count, the footer. Returns the total count.
fn check_hgrm(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert_eq!(lines.next(), Some(""));
    let rows: Vec<Vec<f64>> = lines
        .by_ref()
        .take_while(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    for w in rows.windows(2) {
        assert!(
            w[0][0] <= w[1][0] && w[0][1] <= w[1][1] && w[0][2] <= w[1][2],
            "{path:?}"
        );
    }
    let last = rows
        .last()
        .unwrap_or_else(|| panic!("{path:?} has no rows"));
    assert_eq!(last[1], 1.0, "{path:?}");
    assert!(text.contains("#[Max     ="), "{path:?}");
    let total = text
        .lines()
        .find_map(|l| l.split("Total count    =").nth(1))
        .and_then(|rest| rest.trim().trim_end_matches(']').trim().parse().ok())
        .unwrap();
    assert_eq!(last[2] as u64, total);
    total
}

/// Checks an SVG plot: one document with a line per non-empty series.
fn check_svg(path: &Path, lines: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.trim_end().ends_with("</svg>"));
    assert_eq!(text.matches("<polyline").count(), lines, "{path:?}");
}

#[test]
fn bench_ingest_generated_events() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench", "ingest", "--events", "20000", "--out", &out, "--shards", "2",
    ]);
    assert!(
        stdout.contains("20,000 (20,000 accepted, 0 rejected)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("events/s") && stdout.contains("MB/s"),
        "{stdout}"
    );
    assert!(stdout.contains("peak"), "{stdout}");
    let table = bench_table(&stdout);
    assert_eq!(table.len(), 1);
    assert_eq!(
        (table[0].0.as_str(), table[0].1.as_str()),
        ("ingest", "per MiB")
    );
    // 20,000 reels lines are about 5 MiB: one sample per whole MiB.
    let total = check_hgrm(&dir.path("out/ingest-ingest-per_MiB.hgrm"));
    assert_eq!(total, table[0].2);
    assert!((3..=6).contains(&total), "{total}");
    check_svg(&dir.path("out/ingest.svg"), 1);
}

#[test]
fn bench_ingest_reads_files() {
    let dir = Dir::new();
    let file = arg(&dir.path("reels.ndjson"));
    ok(&["gen", "-n", "5000", "--bad", "0.01", "-o", &file]);
    let out = arg(&dir.path("out"));
    let stdout = ok(&["bench", "ingest", "--input", &file, "--out", &out]);
    let schema = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("schema "))
        .unwrap();
    assert_eq!(schema.split_whitespace().nth(1), Some("reels"), "{stdout}");
    let rejected = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("lines "))
        .unwrap();
    assert!(rejected.contains("5,000 ("), "{rejected}");
    assert!(
        !rejected.contains(" 0 rejected"),
        "bad lines are counted: {rejected}"
    );
    assert!(dir.path("out/ingest.svg").exists());
    let missing = fails(&["bench", "ingest", "--input", "/no/such/file.ndjson"]);
    assert!(missing.contains("/no/such/file.ndjson"), "{missing}");
}

#[test]
fn bench_query_measures_each_query_corrected_and_not() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "query",
        "--duration",
        "1s",
        "--rate",
        "2000",
        "--qps",
        "50",
        "--preload",
        "20000",
        "--queries",
        "j1_top3,j6_hot_user",
        "--out",
        &out,
    ]);
    assert!(
        stdout.contains("corrected = completion − intended start"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hot 987654321"),
        "the generator's hottest user: {stdout}"
    );
    let table = bench_table(&stdout);
    let names: Vec<(&str, &str)> = table
        .iter()
        .map(|(n, m, _)| (n.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("j1_top3", "corrected"),
            ("j1_top3", "uncorrected"),
            ("j6_hot_user", "corrected"),
            ("j6_hot_user", "uncorrected"),
        ]
    );
    // 50 queries are due in 1 s, taking turns: 25 each, however slow.
    for (name, measure, count) in &table {
        assert_eq!(*count, 25, "{name} {measure}");
        let file = dir.path(&format!("out/query-{name}-{measure}.hgrm"));
        assert_eq!(check_hgrm(&file), 25);
    }
    check_svg(&dir.path("out/query.svg"), 4);
}

#[test]
fn bench_query_takes_custom_sql_and_rejects_unknown_names() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "query",
        "--duration",
        "1s",
        "--rate",
        "1000",
        "--qps",
        "10",
        "--preload",
        "5000",
        "--sql",
        "SELECT COUNT(*) FROM events WINDOW 5m",
        "--out",
        &out,
    ]);
    let table = bench_table(&stdout);
    assert_eq!(table.len(), 2);
    assert_eq!(table[0].0, "sql1");
    assert_eq!(table[0].2, 10);
    let err = fails(&["bench", "query", "--queries", "j1_top3,nope"]);
    assert!(err.contains("unknown query 'nope'"), "{err}");
    assert!(
        err.contains("j1_top3, j6_user, j6_hot_user, j7_viral, fanout_users"),
        "{err}"
    );
    let err = fails(&[
        "bench",
        "query",
        "--preload",
        "100",
        "--sql",
        "SELECT nope FROM events",
    ]);
    assert!(err.contains("sql1") && err.contains("nope"), "{err}");
}

#[test]
fn bench_visible_sees_every_event() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "visible",
        "--rate",
        "5000",
        "--duration",
        "1s",
        "--out",
        &out,
    ]);
    assert!(
        stdout.contains("SELECT COUNT(*) FROM events must equal"),
        "{stdout}"
    );
    let table = bench_table(&stdout);
    let rows: Vec<(&str, &str, u64)> = table
        .iter()
        .map(|(n, m, c)| (n.as_str(), m.as_str(), *c))
        .collect();
    // One sample per event.
    assert_eq!(
        rows,
        [
            ("visible", "corrected", 5000),
            ("visible", "uncorrected", 5000)
        ]
    );
    assert_eq!(
        check_hgrm(&dir.path("out/visible-visible-corrected.hgrm")),
        5000
    );
    assert_eq!(
        check_hgrm(&dir.path("out/visible-visible-uncorrected.hgrm")),
        5000
    );
    check_svg(&dir.path("out/visible.svg"), 2);
}

#[test]
fn bench_memory_counts_users_and_rss() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "memory",
        "--users",
        "5000",
        "--events-per-user",
        "4",
        "--out",
        &out,
    ]);
    assert!(
        stdout.contains("5,000 users × 4 events = 20,000 over 24h"),
        "{stdout}"
    );
    assert!(
        stdout.contains("20,000 accepted of 20,000 lines"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5,000 users, 100 videos (actors)"),
        "{stdout}"
    );
    assert!(stdout.contains("20,000 remembered ids"), "{stdout}");
    assert!(stdout.contains("B of RSS growth per user"), "{stdout}");
    let table = bench_table(&stdout);
    assert_eq!(table[0].1, "per MiB");
    // About 3.8 MiB of generated lines: a sample per whole MiB.
    assert_eq!(
        check_hgrm(&dir.path("out/memory-ingest-per_MiB.hgrm")),
        table[0].2
    );
    assert!((2..=4).contains(&table[0].2), "{table:?}");
    check_svg(&dir.path("out/memory.svg"), 1);
    let err = fails(&["bench", "memory", "--users", "10", "--span", "48h"]);
    assert!(err.contains("--span must be at most 24h"), "{err}");
}

#[test]
fn bench_json_reports_figures_and_percentiles() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench", "ingest", "--events", "20000", "--out", &out, "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(report["bench"], "ingest");
    assert!(report["figures"]["events_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["figures"]["peak_rss_bytes"].as_f64().unwrap() > 0.0);
    let series = report["latency_us"].as_array().unwrap();
    assert_eq!(series[0]["measure"], "per MiB");
    let (p50, p99) = (series[0]["p50"].as_f64(), series[0]["p99"].as_f64());
    assert!(p50.unwrap() <= p99.unwrap());
    assert_eq!(
        report["facts"]["lines"],
        "20,000 (20,000 accepted, 0 rejected)"
    );
}

#[test]
fn bench_targets_runs_every_target_and_takes_medians() {
    let dir = Dir::new();
    let input = dir.path("reels.ndjson");
    let gen = ok(&["gen", "--preset", "reels", "-n", "5000"]);
    std::fs::write(&input, gen).unwrap();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "targets",
        "--runs",
        "2",
        "--input",
        &arg(&input),
        "--users",
        "2000",
        "--duration",
        "300ms",
        "--preload",
        "5000",
        "--out",
        &out,
    ]);
    assert!(stdout.contains("median of 2 runs"), "{stdout}");
    let rows: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("what "))
        .take_while(|l| !l.is_empty())
        .collect();
    // The header, then every target; each target row shows both runs and
    // a verdict.
    assert_eq!(rows.len(), 12, "{stdout}");
    for row in rows.iter().skip(1).filter(|r| !r.starts_with(' ')) {
        assert!(
            row.ends_with("yes") || row.ends_with("NO"),
            "{row}\n{stdout}"
        );
    }
    // Ingest: the target, the median and the two runs, all rates.
    let ingest = rows[1];
    assert!(ingest.starts_with("ingest, reels NDJSON file"), "{stdout}");
    assert_eq!(ingest.matches("/s").count(), 4, "{ingest}");
    assert!(
        stdout.contains("point query, hottest user: p99"),
        "{stdout}"
    );
    // Each run left its reports behind, and the summary was saved.
    for run in ["run-1", "run-2"] {
        check_hgrm(&dir.path(&format!("out/{run}/query-j1_top3-corrected.hgrm")));
        check_hgrm(&dir.path(&format!("out/{run}/visible-visible-corrected.hgrm")));
        let memory = std::fs::read_to_string(dir.path(&format!("out/{run}/memory.json"))).unwrap();
        let memory: serde_json::Value = serde_json::from_str(&memory).unwrap();
        assert!(memory["figures"]["bytes_per_user"].as_f64().is_some());
    }
    let saved = std::fs::read_to_string(dir.path("out/targets.txt")).unwrap();
    assert!(saved.contains("median of 2 runs"));
    let err = fails(&["bench", "targets", "--input", "/no/such/file.ndjson"]);
    assert!(err.contains("/no/such/file.ndjson: no such file"), "{err}");
}

#[test]
fn bench_flags_are_checked() {
    let out = tally(&["bench", "query", "--rate", "0"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("must be at least 1"), "{}", out.stderr);
    let out = tally(&["bench", "visible", "--duration", "soon"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid duration"), "{}", out.stderr);
    let out = tally(
        &["bench", "ingest", "--input", "a.ndjson", "--events", "5"],
        "",
    );
    assert_eq!(out.code, 2, "--input and --events conflict");
}

#[test]
fn bench_refuses_to_generate_more_than_memory_holds() {
    let err = fails(&[
        "bench",
        "visible",
        "--rate",
        "100000000",
        "--duration",
        "1h",
    ]);
    assert!(err.contains("at most 20000000"), "{err}");
    let err = fails(&["bench", "query", "--rate", "100000000"]);
    assert!(err.contains("--rate × --duration"), "{err}");
    let err = fails(&["bench", "ingest", "--events", "30000000"]);
    assert!(err.contains("tally gen"), "{err}");
    let err = fails(&["bench", "query", "--queries", ",", "--preload", "10"]);
    assert!(err.contains("no query to run"), "{err}");
}
