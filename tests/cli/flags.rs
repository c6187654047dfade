//! The engine flags: `--retention`, `--max-jump`, bad values.

use super::*;

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

/// `--version` names the version and the commit the binary was built from:
/// the repository's HEAD when there is one, "unknown" outside a repository.
#[test]
fn version_names_the_commit() {
    let out = ok(&["--version"]);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    if std::env::var_os("TALLY_GIT_COMMIT").is_none() {
        assert_eq!(
            out,
            format!("tally {} ({commit})\n", env!("CARGO_PKG_VERSION"))
        );
    }
    assert!(out.starts_with(&format!("tally {} (", env!("CARGO_PKG_VERSION"))));
}
