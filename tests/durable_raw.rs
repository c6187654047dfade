//! Raw-event queries with `--data` read the events store (`DIR/events/`):
//! every accepted event within retention, not the last `--recent-events`.
//! They answer as an in-memory run whose ring holds everything; after
//! kill -9 and a resume they answer as one uninterrupted run (no event
//! twice, none missing); a torn tail of the store is cut, a damaged block
//! is skipped with a message, and segments past retention are deleted.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TALLY: &str = env!("CARGO_BIN_EXE_tally");

/// Raw queries of every shape: the whole retention in arrival order, short
/// windows, LIMIT with and without ORDER BY, a filter, the newest k events
/// or oldest (read in time order and stopped early) with and without a filter.
const QUERIES: &str = "
SELECT event_id, timestamp, user_id FROM events;
SELECT event_id FROM events LIMIT 10 WINDOW 5m;
SELECT event_id, user_id FROM events ORDER BY timestamp DESC, event_id LIMIT 10 WINDOW 1h;
SELECT event_id, video_id FROM events WHERE event_type = 'like' ORDER BY user_id, event_id LIMIT 25;
SELECT event_id FROM events LIMIT 7;
SELECT event_id, timestamp FROM events ORDER BY timestamp DESC LIMIT 10 WINDOW 1h;
SELECT event_id, timestamp FROM events ORDER BY timestamp DESC LIMIT 400;
SELECT event_id FROM events WHERE event_type = 'like' ORDER BY timestamp DESC LIMIT 60 WINDOW 6h;
SELECT event_id FROM events ORDER BY timestamp LIMIT 5;
SELECT event_id, timestamp FROM events WHERE event_type = 'view' ORDER BY timestamp ASC LIMIT 300 WINDOW 2h;
";

/// The k newest and oldest for many k, so that some k-th event falls where
/// blocks' times overlap and a scan that stopped too early would miss one.
fn by_time_queries() -> String {
    let mut q = String::new();
    for k in (40..1200).step_by(97) {
        for order in ["DESC", "ASC"] {
            q += &format!("SELECT event_id FROM events ORDER BY timestamp {order} LIMIT {k};\n");
        }
    }
    q
}

fn run(args: &[&str]) -> Output {
    Command::new(TALLY).args(args).output().expect("tally runs")
}

fn tally(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "tally {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A generated stream with duplicates, disorder and bad lines.
fn stream(dir: &Path, n: &str) -> PathBuf {
    let path = dir.join(format!("s{n}.ndjson"));
    tally(&[
        "gen",
        "--preset",
        "reels",
        "-n",
        n,
        "--users",
        "2000",
        "--items",
        "300",
        "--duplicates",
        "0.03",
        "--disorder",
        "2m",
        "--bad",
        "0.02",
        "--seed",
        "21",
        "-o",
        s(&path),
    ]);
    path
}

fn queries(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("q.sql");
    std::fs::write(&path, text).unwrap();
    path
}

fn answers(data: &Path, queries: &Path) -> String {
    tally(&["run", s(queries), "--data", s(data), "--format", "csv"])
}

fn ingest(stream: &Path, data: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(TALLY);
    cmd.args(["ingest", s(stream), "--data", s(data)])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// `SHOW STATS` of the directory, as `counter,value` lines.
fn stats(dir: &Path, data: &Path) -> String {
    let q = dir.join("stats.sql");
    std::fs::write(&q, "SHOW STATS;").unwrap();
    tally(&["run", s(&q), "--data", s(data), "--format", "csv"])
}

fn counter(stats: &str, name: &str) -> i64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name},")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{stats}"))
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    out.sort();
    out
}

#[test]
fn raw_queries_read_every_event_not_the_last_few_and_answer_as_a_ring_that_holds_all() {
    let dir = tempfile::tempdir().unwrap();
    let input = stream(dir.path(), "20000");
    let q = queries(dir.path(), &(QUERIES.to_owned() + &by_time_queries()));
    let memory = |ring: &str| {
        tally(&[
            "run",
            s(&q),
            "--input",
            s(&input),
            "--recent-events",
            ring,
            "--format",
            "csv",
        ])
    };
    let whole = memory("100000");
    let small = memory("1000");
    let data = dir.path().join("d");
    assert!(ingest(&input, &data, &["--recent-events", "1000"])
        .status()
        .unwrap()
        .success());
    let stored = answers(&data, &q);
    assert_eq!(
        stored, whole,
        "the store answers as a ring holding every event"
    );
    assert_ne!(
        stored, small,
        "the small ring misses events the store holds"
    );
    let rows = |text: &str| text.lines().take_while(|l| !l.is_empty()).count();
    assert!(rows(&stored) > 18_000, "{} rows", rows(&stored));
    let stats = stats(dir.path(), &data);
    assert_eq!(
        counter(&stats, "storage.events_stored"),
        counter(&stats, "accepted")
    );
    assert_eq!(counter(&stats, "state.recent_events"), 0, "the ring is off");
    // EXPLAIN says where the rows come from.
    let q = queries(dir.path(), "EXPLAIN SELECT event_id FROM events LIMIT 3;");
    assert!(answers(&data, &q).contains("the events store"));
}

#[test]
fn kill_9_mid_ingest_then_resume_stores_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = stream(dir.path(), "40000");
    let q = queries(dir.path(), QUERIES);
    let clean = dir.path().join("clean");
    let every = ["--checkpoint-every", "4000"];
    assert!(ingest(&input, &clean, &every).status().unwrap().success());
    let want = answers(&clean, &q);
    let mut seed = 0x9e37_79b9_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut killed_before_end = 0;
    for round in 0..6 {
        let data = dir.path().join(format!("round{round}"));
        std::fs::create_dir(&data).unwrap();
        std::fs::copy(clean.join("MANIFEST"), data.join("MANIFEST")).unwrap();
        let mut tried = Vec::new();
        for _ in 0..1 + next(2) {
            let at = Duration::from_millis(50 + next(400));
            let mut child = ingest(&input, &data, &every).spawn().unwrap();
            std::thread::sleep(at);
            killed_before_end += usize::from(child.try_wait().unwrap().is_none());
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            tried.push(at);
        }
        assert!(ingest(&input, &data, &every).status().unwrap().success());
        let got = answers(&data, &q);
        assert!(
            got == want,
            "round {round}: killed at {tried:?}; raw answers differ"
        );
    }
    assert!(
        killed_before_end > 3,
        "{killed_before_end} kills before the end"
    );
}

#[test]
fn a_torn_tail_of_the_store_is_cut_and_the_answers_stay() {
    let dir = tempfile::tempdir().unwrap();
    let input = stream(dir.path(), "5000");
    let q = queries(dir.path(), QUERIES);
    let data = dir.path().join("d");
    assert!(ingest(&input, &data, &[]).status().unwrap().success());
    let want = answers(&data, &q);
    // A block a crash cut while writing it, after the last checkpoint.
    let last = segments(&data).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&[0x40, 0, 0, 0, 1, 2, 3, 4, 1, 9, 9]);
    std::fs::write(&last, &bytes).unwrap();
    let out = run(&["run", s(&q), "--data", s(&data), "--format", "csv"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut a torn last block of 11 bytes"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert_eq!(std::fs::metadata(&last).unwrap().len() as usize, whole);
    // Cut inside the last block (a disk that lost a write the checkpoint
    // counted): that block's events are missing, and said so.
    std::fs::write(&last, &bytes[..whole - 5]).unwrap();
    let out = run(&["run", s(&q), "--data", s(&data), "--format", "csv"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the events store lacks"), "{err}");
}

#[test]
fn a_damaged_block_is_skipped_with_a_message_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let input = stream(dir.path(), "5000");
    let q = queries(dir.path(), "SELECT event_id FROM events;");
    let data = dir.path().join("d");
    assert!(ingest(&input, &data, &[]).status().unwrap().success());
    let want = answers(&data, &q);
    let seg = segments(&data).remove(0);
    let mut bytes = std::fs::read(&seg).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let out = run(&["run", s(&q), "--data", s(&data), "--format", "csv"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("events store block skipped"), "{err}");
    let got = String::from_utf8_lossy(&out.stdout).to_string();
    let (got, want) = (got.lines().count(), want.lines().count());
    assert!(got < want && got > want - 1000, "{got} of {want} rows");
}

#[test]
fn store_segments_past_retention_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    // ≈ 300 k events over a day: more than one 64 MiB segment.
    let input = dir.path().join("big.ndjson");
    tally(&["gen", "--preset", "reels", "-n", "300000", "-o", s(&input)]);
    let data = dir.path().join("d");
    assert!(ingest(&input, &data, &["--retention", "2h"])
        .status()
        .unwrap()
        .success());
    let left = segments(&data);
    assert!(
        !left.iter().any(|p| p.ends_with("00000000000000000001.seg")),
        "{left:?}"
    );
    let q = queries(dir.path(), "SHOW STATS;");
    let run = |q: &Path| {
        tally(&[
            "run",
            s(q),
            "--data",
            s(&data),
            "--retention",
            "2h",
            "--format",
            "csv",
        ])
    };
    let stats = run(&q);
    assert_eq!(
        counter(&stats, "storage.events_segments"),
        left.len() as i64
    );
    assert!(counter(&stats, "storage.events_stored") < 300_000);
    assert!(counter(&stats, "storage.events_stored") > 10_000);
}
