//! `tally run`: output formats, several statements and files, parameters, the errors a query file can have.

use super::*;

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
    let err = misused(&["run", &q, "--input", &input, "--param", "user"]);
    assert_eq!(
        err,
        "Error: --param user: expected NAME=VALUE\nFor more information, try '--help'.\n"
    );
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
    // As compilers write it: FILE:LINE:COLUMN, then the line and a caret.
    assert!(
        err.starts_with(&format!("Error: {q}:4:8: syntax error: ")),
        "{err}"
    );
    assert!(
        err.contains("\nLINE 4:   WHERE WINDOW 1h;\n               ^\n"),
        "{err}"
    );
    // Nothing ran: the first, valid statement printed nothing either.
}

#[test]
fn run_planning_error_points_at_the_name_it_is_about() {
    let dir = Dir::new();
    let input = dir.file("reels.ndjson", REELS);
    let q = dir.file(
        "plan.sql",
        "-- the typo\n\n  SELECT COUNT(*) FROM events\n  WHERE usr_id = 1;\n",
    );
    let err = fails(&["run", &q, "--input", &input]);
    // The planner's error keeps no position: the caret goes under the
    // name it quotes.
    assert!(
        err.starts_with(&format!("Error: {q}:4:9: unknown column 'usr_id'")),
        "{err}"
    );
    assert!(
        err.contains("\nLINE 4:   WHERE usr_id = 1;\n                ^"),
        "{err}"
    );
    // A rule is planned before the ingest, and says where it is too: its
    // error quotes the rule's name.
    let rules = dir.file(
        "rules.sql",
        "-- no GROUP BY\nCREATE RULE r AS SELECT COUNT(*) AS n FROM events HAVING n > 1 WINDOW 1m;\n",
    );
    let err = fails(&["run", &rules, "--input", &input]);
    assert!(
        err.starts_with(&format!(
            "Error: {rules}:2:13: rule 'r': a rule must GROUP BY"
        )),
        "{err}"
    );
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
