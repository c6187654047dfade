//! `tally bench`: each bench's report, `--json`, the targets summary, its flag checks.

use super::*;

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
fn bench_serve_posts_every_batch_over_http() {
    let dir = Dir::new();
    let out = arg(&dir.path("out"));
    let stdout = ok(&[
        "bench",
        "serve",
        "--clients",
        "2",
        "--batch",
        "500",
        "--rate",
        "20000",
        "--duration",
        "500ms",
        "--qps",
        "10",
        "--out",
        &out,
        "--shards",
        "2",
    ]);
    assert!(stdout.contains("events/s over HTTP"), "{stdout}");
    assert!(stdout.contains("ingest without the server"), "{stdout}");
    let table = bench_table(&stdout);
    let names: Vec<&str> = table.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["post", "query"]);
    // 10,000 events in 500-event bodies: every one posted once.
    assert_eq!(table[0].2, 20);
    assert!(table[1].2 >= 1);
    assert_eq!(check_hgrm(&dir.path("out/serve-post-batch.hgrm")), 20);
    check_svg(&dir.path("out/serve.svg"), 2);
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
    let err = misused(&["bench", "query", "--queries", "j1_top3,nope"]);
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
    let err = misused(&["bench", "memory", "--users", "10", "--span", "48h"]);
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
    let err = misused(&["bench", "query", "--queries", ",", "--preload", "10"]);
    assert!(err.contains("no query to run"), "{err}");
}
