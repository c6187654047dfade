//! `tally ingest`: the summary, the reject file, the k-way merge of several files, errors.

use super::*;

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

/// Item 2 of the hostile-input issue: a closed pipe or a full disk on
/// standard output is a clean error and exit 1, never a panic.
#[test]
fn ingest_to_a_closed_pipe_or_a_full_disk_is_an_error_not_a_panic() {
    let dir = Dir::new();
    let file = dir.file("reels.ndjson", REELS);
    let bin = assert_cmd::cargo::cargo_bin("tally");
    let check = |stdout: std::process::Stdio, what: &str| {
        let out = std::process::Command::new(&bin)
            .args(["ingest", &file])
            .stdout(stdout)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(
            stderr.contains("writing the summary to standard output"),
            "{what}: {stderr}"
        );
    };
    // A pipe whose reader is gone: every write fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    check(writer.into(), "closed pipe");
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        check(full.into(), "/dev/full");
    }
}

/// Item 18 of the hostile-input issue: a line past 1 MiB is counted as
/// malformed and skipped to its newline (the next line is read), and an
/// endless schema or query file is refused after 1 MiB.
#[test]
fn overlong_lines_and_endless_files_are_bounded() {
    let dir = Dir::new();
    let good = REELS.lines().next().unwrap();
    let text = format!("{}\n{good}\n", "x".repeat(3 << 20));
    let file = dir.file("long.ndjson", &text);
    let rejects = arg(&dir.path("rejects.ndjson"));
    let out = ok(&["ingest", &file, "--reject-file", &rejects]);
    assert_eq!(
        untimed(&out),
        "2 lines: 1 accepted, 1 rejected\n  rejected.malformed_json: 1"
    );
    let records = json_lines(&dir.read("rejects.ndjson"));
    assert_eq!(records[0]["line"], 1);
    assert_eq!(records[0]["detail"], "line longer than 1 MiB");
    let e = fails(&["ingest", &file, "--schema", "/dev/zero"]);
    assert!(e.contains("schema /dev/zero is larger than 1 MiB"), "{e}");
    let e = fails(&["run", "/dev/zero", "--input", &file]);
    assert!(
        e.contains("query file /dev/zero is larger than 1 MiB"),
        "{e}"
    );
}

/// Item 3 of the hostile-input issue: an output that is an input (or
/// another output) is refused before anything is written, whatever the
/// spelling, and the input is left whole.
#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = Dir::new();
    let file = dir.file("v.ndjson", REELS);
    let spelled = arg(&dir.path(".").join("v.ndjson"));
    let e = fails(&["ingest", &file, "--reject-file", &spelled]);
    assert!(e.contains("would destroy the input"), "{e}");
    let e = fails(&["ingest", &file, "--emit", &file]);
    assert!(e.contains("would destroy the input"), "{e}");
    let out = arg(&dir.path("out.ndjson"));
    let e = fails(&["ingest", &file, "--emit", &out, "--reject-file", &out]);
    assert!(e.contains("same file as --reject-file"), "{e}");
    assert_eq!(dir.read("v.ndjson"), REELS);
    // The shell's `.output` too.
    let run = tally(
        &["shell", "--input", &file],
        &format!(".output {spelled}\nSELECT COUNT(*) FROM events;\n"),
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("would destroy the input"), "{run:?}");
    assert_eq!(dir.read("v.ndjson"), REELS);
}
