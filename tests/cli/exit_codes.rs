//! One convention for every command: exit status 0 on success, 1 when a
//! statement, an input file or the engine fails, 2 on bad usage; results on
//! stdout, diagnostics on stderr.

use super::*;

/// Runs `tally args...` and expects `code`, nothing on stdout and a
/// diagnostic on stderr; returns stderr.
#[track_caller]
fn status(code: i32, args: &[&str], stdin: &str) -> String {
    let out = tally(args, stdin);
    assert_eq!(out.code, code, "tally {args:?}: {out:?}");
    assert_eq!(out.stdout, "", "tally {args:?}: results only on success");
    assert!(!out.stderr.is_empty(), "tally {args:?}: no diagnostic");
    out.stderr
}

#[test]
fn success_is_0_with_results_on_stdout() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file("q.sql", "SELECT COUNT(*) AS n FROM events WINDOW 1h;");
    for args in [
        vec!["ingest", input.as_str()],
        vec!["run", q.as_str(), "-i", input.as_str(), "-f", "csv"],
        vec!["gen", "-n", "3"],
    ] {
        let out = tally(&args, "");
        assert_eq!(out.code, 0, "tally {args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "tally {args:?}");
    }
    let out = tally(
        &["shell", "-i", &input],
        "SELECT COUNT(*) FROM events WINDOW 1h;",
    );
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_failed_statement_or_input_is_1() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let bad_query = dir.file("bad.sql", "SELECT nope FROM events WINDOW 1h;");
    let missing = arg(&dir.path("missing.ndjson"));
    let err = status(1, &["run", &bad_query, "-i", &input], "");
    assert!(err.contains("unknown column 'nope'"), "{err}");
    let err = status(1, &["ingest", &missing], "");
    assert!(err.contains("missing.ndjson"), "{err}");
    let err = status(1, &["run", &missing, "-i", &input], "");
    assert!(err.contains("missing.ndjson"), "{err}");
    let unwritable = arg(&dir.path("no/such/dir/out.ndjson"));
    status(1, &["gen", "-n", "3", "-o", &unwritable], "");
    let err = status(
        1,
        &["shell", "-i", &input],
        "SELECT nope FROM events WINDOW 1h;",
    );
    assert!(err.contains("unknown column 'nope'"), "{err}");
}

#[test]
fn bad_usage_is_2_in_every_command() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file("q.sql", "SELECT COUNT(*) FROM events WINDOW 1h;");
    // Refused by the flag parser.
    for args in [
        vec!["--no-such-flag"],
        vec!["no-such-command"],
        vec!["ingest"],
        vec!["ingest", input.as_str(), "--retention", "soon"],
        vec!["run", q.as_str()],
        vec!["shell", "--follow"],
        vec!["gen", "--events", "many"],
        vec!["bench", "ingest", "--no-such-flag"],
    ] {
        status(2, &args, "");
    }
    // Refused after parsing: flags that do not fit together.
    let err = status(2, &["run", &q, "-i", &input, "--param", "user"], "");
    assert!(err.contains("--param user: expected NAME=VALUE"), "{err}");
    let err = status(2, &["shell", "-i", "-", "--follow"], "");
    assert!(err.contains("standard input cannot be followed"), "{err}");
    let err = status(2, &["gen", "--start", "yesterday"], "");
    assert!(err.contains("--start yesterday"), "{err}");
    let err = status(2, &["bench", "memory", "--span", "48h"], "");
    assert!(err.contains("--span"), "{err}");
}
