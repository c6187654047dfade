//! Continuous rules from the command line: `--rules`, `--emit`, rule files in `tally run`.

use super::*;

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
        err.contains("select.sql: --rules files hold CREATE RULE and DROP RULE statements only"),
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
    assert!(
        err.contains("syntax.sql:1:15: syntax error: expected AS"),
        "{err}"
    );
}
