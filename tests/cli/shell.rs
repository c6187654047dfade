//! `tally shell` over piped stdin: results on stdout, errors on stderr, exit status, dot commands; the bare `tally` demo.

use super::*;

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

/// A `.watch` statement's syntax error points into the SQL on the
/// `.watch` line, not at its first column.
#[test]
fn watch_syntax_error_points_into_its_sql() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".watch 0.05 2 SELECT COUNT(*) FROM events WINDOW 5x\n",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("Error: syntax error at line 1, column 50: "),
        "{}",
        out.stderr
    );
    let caret = format!("\n{}^\n", " ".repeat("LINE 1: ".len() + 49));
    assert!(out.stderr.contains(&caret), "{}", out.stderr);
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
    let err = misused(&["shell", "--input", "-", "--follow"]);
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

/// `type` and `time` name the schema's type and time fields: the first
/// query of the README works as a newcomer types it, EXPLAIN shows the real
/// column, and an unknown column is matched by its words.
#[test]
fn type_and_time_are_aliases_of_the_schema_roles() {
    let dir = Dir::new();
    let out = shell(
        &dir,
        ".mode csv\n\
         SELECT TOP 3 type FROM events WINDOW 1h;\n\
         SELECT TOP 3 event_type FROM events WINDOW 1h;\n\
         SELECT COUNT(*) AS n FROM events WHERE type = 'like' WINDOW 1h;\n\
         SELECT event_id FROM events WHERE type = 'share' ORDER BY time DESC LIMIT 1;\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let blocks: Vec<&str> = out.stdout.split("event_type,count\n").collect();
    assert_eq!(blocks.len(), 3, "{}", out.stdout);
    let (by_alias, rest) = (blocks[1], blocks[2]);
    assert_eq!(by_alias, "video_view,3\nlike,1\nshare,1\n");
    assert!(rest.starts_with(by_alias), "{}", out.stdout);
    assert!(rest.ends_with("n\n1\nevent_id\ne5\n"), "{}", out.stdout);
    let out = shell(&dir, "EXPLAIN SELECT TOP 3 type FROM events WINDOW 1h;\n");
    assert!(out.stdout.contains("event_type"), "{}", out.stdout);
    assert!(!out.stdout.contains(" type"), "{}", out.stdout);
    let out = shell(&dir, "SELECT SUM(duration) FROM events WINDOW 1h;\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("did you mean 'metadata.view_duration_ms'?"),
        "{}",
        out.stderr
    );
}

/// An empty followed file cannot tell its schema: guessing reels would
/// reject every shop line that arrives later, so --schema is asked for.
#[test]
fn item_13_following_an_empty_file_asks_for_the_schema() {
    let dir = Dir::new();
    let file = arg(&dir.path("live.ndjson"));
    std::fs::write(&file, "").unwrap();
    let err = misused(&["shell", "--input", &file, "--follow"]);
    assert!(
        err.contains("--follow: the input has no lines yet"),
        "{err}"
    );
    assert!(err.contains("--schema PRESET"), "{err}");
    let out = tally(
        &["shell", "--input", &file, "--follow", "--schema", "shop"],
        ".schema\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("schema shop"), "{out:?}");
}

/// `.watch` re-runs its statements: one that changes state would fail (or
/// act) on its second run, so it is refused before the first.
#[test]
fn watch_refuses_statements_that_change_state() {
    for sql in [
        "CREATE RULE r AS SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id HAVING n > 1 WINDOW 1m",
        "DROP RULE r",
    ] {
        let out = tally(&["shell", "--empty"], &format!(".watch 0.05 2 {sql};\nSHOW RULES;\n"));
        assert_eq!(out.code, 1, "{sql}: {out:?}");
        assert!(out.stderr.contains("changes state, so run it once, outside .watch"), "{out:?}");
        assert!(!out.stdout.contains("| r "), "{sql}: the rule was created: {out:?}");
    }
}

/// A followed file never ends, so its first events, held until a piece of
/// input ends, are settled once the file has been quiet for a second: a
/// file of one line is counted, not held forever. `.watch` polls the file
/// at each run; its runs span more than the quiet time.
#[test]
fn a_followed_lone_first_line_is_counted_once_the_file_is_quiet() {
    let dir = Dir::new();
    let file = arg(&dir.path("live.ndjson"));
    let line = std::fs::read_to_string("tests/data/merge_a.ndjson").unwrap();
    std::fs::write(&file, format!("{}\n", line.lines().next().unwrap())).unwrap();
    let out = tally(
        &["shell", "--input", &file, "--follow"],
        ".mode csv\n.watch 0.4 5 SELECT COUNT(*) AS n FROM events WINDOW 24h;\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let counts: Vec<&str> = out.stdout.lines().filter(|l| *l != "n").collect();
    assert_eq!(
        counts,
        ["0", "1"],
        "held at first, counted once quiet: {out:?}"
    );
}
