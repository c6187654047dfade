//! `tally serve` as a process: the release binary with a data directory,
//! stopped by SIGTERM while clients post (every accepted request is
//! answered, the exit is 0, and a restart holds exactly what was
//! acknowledged), and killed by SIGKILL mid-load (a restart on the same
//! directory plus the clients re-posting what was not acknowledged counts
//! every event exactly once: acknowledged means durable, retries are
//! idempotent by event id).
#![cfg(unix)]

mod serve_client;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serve_client::{post, query};

const TALLY: &str = env!("CARGO_BIN_EXE_tally");

/// Starts `tally serve` on a free port over `data`; returns the child and
/// the address from its first line.
fn serve(data: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(TALLY)
        .args(["serve", "--listen", "127.0.0.1:0", "--schema", "reels"])
        .args(["--shards", "2", "--data", data.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tally serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("first line");
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line {first:?}"))
        .parse()
        .expect("an address");
    (child, addr)
}

#[test]
fn demo_serves_the_demo_stream_at_once_and_clock_wall_is_refused_with_it() {
    let mut child = Command::new(TALLY)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--shards",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tally serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr: SocketAddr = first.trim()["listening on http://".len()..]
        .parse()
        .unwrap();
    let health = serve_client::get(addr, "/health").json();
    assert_eq!(health["schema"], "reels");
    assert!(health["accepted"].as_u64().unwrap() > 99_000, "{health}");
    let top = query(addr, "SELECT TOP 3 event_type FROM events WINDOW 1h");
    assert_eq!(top.as_array().unwrap().len(), 3, "{top}");
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(TALLY)
        .args([
            "serve",
            "--demo",
            "--clock",
            "wall",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("event clock"));
}

/// Batch `b` of client `c`: 200 events with ids of their own, all within
/// half an hour (nothing is late or held).
fn batch(c: usize, b: usize) -> String {
    (0..200)
        .map(|i| {
            let n = (c * 1000 + b) * 200 + i;
            format!(
                "{{\"event_id\":\"c{c}-b{b}-{i}\",\"event_type\":\"like\",\"user_id\":{},\
                 \"video_id\":{},\"timestamp\":\"2025-01-15T00:{:02}:{:02}Z\"}}\n",
                n % 97,
                n % 13,
                (n / 60) % 30,
                n % 60
            )
        })
        .collect()
}

const CLIENTS: usize = 4;
const BATCHES: usize = 30;

/// Posts every batch of every client until the server goes away; returns
/// the batches acknowledged (2xx) and the events they accepted.
fn post_until_gone(addr: SocketAddr, acked: &Arc<AtomicUsize>) -> Vec<(usize, usize, u64)> {
    let done = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let done = done.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for b in 0..BATCHES {
                    let Some(r) = try_post(addr, batch(c, b).as_bytes()) else {
                        return;
                    };
                    assert_eq!(r.status, 200, "{}", r.text());
                    let accepted = r.json()["accepted"].as_u64().unwrap();
                    done.lock().unwrap().push((c, b, accepted));
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Arc::try_unwrap(done).unwrap().into_inner().unwrap()
}

/// One post, or `None` when the server is gone (refused, reset, cut).
fn try_post(addr: SocketAddr, body: &[u8]) -> Option<serve_client::Response> {
    std::panic::catch_unwind(|| post(addr, "/events", "application/x-ndjson", body)).ok()
}

/// Waits until `n` batches are acknowledged.
fn wait_for(acked: &AtomicUsize, n: usize) {
    while acked.load(Ordering::SeqCst) < n {
        std::thread::yield_now();
    }
}

fn count(addr: SocketAddr) -> u64 {
    query(addr, "SELECT COUNT(*) AS n FROM events WINDOW 24h")[0]["n"]
        .as_u64()
        .unwrap()
}

#[test]
fn sigterm_drains_accepted_requests_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    let acked = Arc::new(AtomicUsize::new(0));
    let posting = {
        let acked = acked.clone();
        std::thread::spawn(move || post_until_gone(addr, &acked))
    };
    wait_for(&acked, 8);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let done = posting.join().unwrap();
    let exit = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(
        done.len() < CLIENTS * BATCHES,
        "SIGTERM came after the load"
    );
    // The stop wrote a checkpoint of what it had...
    let checkpoints: Vec<_> = std::fs::read_dir(dir.path().join("checkpoints"))
        .map(|d| d.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(
        !checkpoints.is_empty(),
        "no checkpoint at the stop: {stderr}"
    );
    // ...and every acknowledged event is there, and nothing that was not.
    let acknowledged: u64 = done.iter().map(|(_, _, n)| n).sum();
    let (mut child, addr) = serve(dir.path());
    assert_eq!(count(addr), acknowledged);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_9_mid_load_loses_no_acknowledged_event_and_retries_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let total = (CLIENTS * BATCHES * 200) as u64;
    let mut acknowledged = std::collections::HashSet::new();
    // Two kills at different depths of the load, then a run to the end.
    for kill_after in [6, 40] {
        let (mut child, addr) = serve(dir.path());
        let acked = Arc::new(AtomicUsize::new(0));
        let posting = {
            let acked = acked.clone();
            std::thread::spawn(move || post_until_gone(addr, &acked))
        };
        wait_for(&acked, kill_after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let done = posting.join().unwrap();
        acknowledged.extend(done.iter().map(|(c, b, _)| (*c, *b)));
        // Whatever was acknowledged survived the kill.
        let (mut child, addr) = serve(dir.path());
        let n = count(addr);
        assert!(
            n >= 200 * acknowledged.len() as u64,
            "{n} events after the restart, {} batches were acknowledged",
            acknowledged.len()
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Re-post every batch not acknowledged (some were in the log already:
    // their events are duplicates now).
    let (mut child, addr) = serve(dir.path());
    for c in 0..CLIENTS {
        for b in 0..BATCHES {
            if !acknowledged.contains(&(c, b)) {
                let r = post(
                    addr,
                    "/events",
                    "application/x-ndjson",
                    batch(c, b).as_bytes(),
                );
                assert_eq!(r.status, 200, "{}", r.text());
                let body = r.json();
                let accepted = body["accepted"].as_u64().unwrap();
                let duplicate = body["reasons"]["duplicate"].as_u64().unwrap_or(0);
                assert_eq!(accepted + duplicate, 200, "{body}");
            }
        }
    }
    assert_eq!(count(addr), total, "every event exactly once");
    let stats = query(addr, "SHOW STATS");
    let accepted = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["counter"] == "accepted")
        .unwrap()["value"]
        .as_u64()
        .unwrap();
    assert_eq!(accepted, total);
    child.kill().unwrap();
    child.wait().unwrap();
}
