//! `tally bench serve`: `tally serve` under load, measured from outside.
//!
//! Set-up (not timed): the events are generated into memory (reels, one
//! 1,000-event NDJSON body per batch by default), and the same lines are
//! ingested once by a fresh engine in this process, alone: the baseline
//! events/s the server is compared with ("file-ingest speed of the same
//! events in the same run").
//!
//! The run: a server started in process on a free port, `--clients`
//! threads each posting its share of the batches on a fixed schedule
//! (`--rate` events/s over all clients), and one more thread running the
//! queries round-robin at `--qps`. Every request is a fresh HTTP/1.1
//! connection, as a simple client makes. Latency is completion − intended
//! start (coordinated omission corrected, as wrk2): a post or a query that
//! waited behind a slow one counts the wait. A `503` (queue full) is
//! counted and its batch retried after `Retry-After`, its latency running
//! on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::feed::check_in_memory;
use super::histogram::Series;
use super::pace::{wait_until, Schedule};
use super::report::{thousands, Progress, Report};
use super::{positive, start_engine, CommonArgs};
use crate::event::Schema;
use crate::generator::{GenConfig, Generator};
use crate::server::{ServeOptions, Server};

#[derive(Args, Debug, Clone)]
pub struct ServeBenchArgs {
    /// Client threads posting batches at once
    #[arg(long, default_value = "8", value_parser = positive)]
    pub clients: u64,
    /// Events per posted NDJSON body
    #[arg(long, default_value = "1000", value_parser = positive)]
    pub batch: u64,
    /// Target events per second, all clients together
    #[arg(long, default_value = "100000", value_parser = positive)]
    pub rate: u64,
    /// How long the posting lasts
    #[arg(long, default_value = "10s", value_parser = crate::time::parse_flag_duration)]
    pub duration: Duration,
    /// Queries per second while the clients post
    #[arg(long, default_value = "20", value_parser = positive)]
    pub qps: u64,
    /// Queries to run round-robin (repeatable) [default: TOP 3 over 1 h, and a point user]
    #[arg(long = "sql")]
    pub sql: Vec<String>,
    /// The server's queue capacity (--queue of tally serve)
    #[arg(long, default_value_t = crate::server::DEFAULT_QUEUE)]
    pub queue: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The default queries: the two the performance target names.
const DEFAULT_QUERIES: [&str; 2] = [
    "SELECT TOP 3 event_type FROM events WINDOW 1h",
    "SELECT COUNT(*) AS n FROM events WHERE user_id = 987654321 WINDOW 1h",
];

pub fn run(args: &ServeBenchArgs) -> anyhow::Result<Report> {
    let events = (args.rate as f64 * args.duration.as_secs_f64()).ceil() as u64;
    check_in_memory(events, "--rate × --duration")?;
    let mut progress = Progress::new();
    progress.show(|| format!("generating {} events", thousands(events)));
    let lines: Vec<String> = Generator::new(&GenConfig {
        events,
        span_ms: args.duration.as_millis().max(1) as i64,
        seed: args.common.seed,
        ..GenConfig::default()
    })?
    .collect();
    let bodies: Vec<Vec<u8>> = lines
        .chunks(args.batch as usize)
        .map(|chunk| (chunk.join("\n") + "\n").into_bytes())
        .collect();

    // The baseline: the same lines, one engine, one thread, no HTTP.
    progress.show(|| "ingesting the same events without the server".into());
    let alone_started = Instant::now();
    start_engine(Schema::preset("reels")?, &args.common)?.ingest_lines("bench", &lines)?;
    let alone = alone_started.elapsed();
    drop(lines);

    let common = args.common.clone();
    let server = Server::start(
        ServeOptions {
            listen: "127.0.0.1:0".into(),
            queue: args.queue,
            ..ServeOptions::default()
        },
        Box::new(move || {
            start_engine(Schema::preset("reels")?, &common)
                .map_err(|e| crate::Error::InvalidInput(format!("{e:#}")))
        }),
    )?;
    let addr = server.addr();
    progress.show(|| format!("posting to {addr}"));
    let run = Load::new(args, bodies, addr);
    let measured = run.go();
    server.stop();
    server.join()?;
    progress.clear();
    let (posts, queries, overloaded, elapsed) = measured?;

    let rate = |d: Duration| events as f64 / d.as_secs_f64().max(1e-9);
    let (served, baseline) = (rate(elapsed), rate(alone));
    let mut report = Report::new(
        "serve",
        format!(
            "{} clients posting {}-event NDJSON batches, {} queries/s",
            args.clients, args.batch, args.qps
        ),
    );
    report.fact("events", thousands(events));
    report.fact("target rate", format!("{} events/s", thousands(args.rate)));
    report.fact(
        "achieved",
        format!("{} events/s over HTTP", thousands(served as u64)),
    );
    report.fact(
        "same events, no server",
        format!(
            "{} events/s (one engine, one thread)",
            thousands(baseline as u64)
        ),
    );
    report.fact(
        "ratio",
        format!("{:.2}× the ingest without the server", served / baseline),
    );
    report.fact("503 answers", thousands(overloaded));
    report.method = vec![
        "latency = completion − intended start (coordinated omission corrected)".into(),
        "every request is a new HTTP/1.1 connection to 127.0.0.1".into(),
    ];
    report.figure("events_per_second", served);
    report.figure("baseline_events_per_second", baseline);
    report.figure("ratio", served / baseline);
    report.figure("overloaded", overloaded as f64);
    report.series = vec![posts, queries];
    report.table_caption = "latency in µs (completion − intended start)".into();
    Ok(report)
}

/// The load: the bodies, where to post them, and the schedule.
struct Load {
    clients: u64,
    per_client_rate: f64,
    qps: u64,
    queries: Vec<String>,
    bodies: Arc<Vec<Vec<u8>>>,
    addr: SocketAddr,
}

/// Post and query latencies, 503 answers, and the posting's duration.
type Measured = (Series, Series, u64, Duration);

impl Load {
    fn new(args: &ServeBenchArgs, bodies: Vec<Vec<u8>>, addr: SocketAddr) -> Load {
        let batches_per_second = args.rate as f64 / args.batch as f64;
        Load {
            clients: args.clients,
            per_client_rate: batches_per_second / args.clients as f64,
            qps: args.qps,
            queries: if args.sql.is_empty() {
                DEFAULT_QUERIES.iter().map(|q| q.to_string()).collect()
            } else {
                args.sql.clone()
            },
            bodies: Arc::new(bodies),
            addr,
        }
    }

    fn go(self) -> anyhow::Result<Measured> {
        let start = Instant::now() + Duration::from_millis(50);
        let overloaded = Arc::new(AtomicU64::new(0));
        let posting_done = Arc::new(AtomicU64::new(0));
        let posters: Vec<_> = (0..self.clients)
            .map(|c| {
                let bodies = self.bodies.clone();
                let overloaded = overloaded.clone();
                let done = posting_done.clone();
                let (addr, clients, rate) = (self.addr, self.clients, self.per_client_rate);
                std::thread::spawn(move || -> anyhow::Result<(Series, Instant)> {
                    let schedule = Schedule::new(start, rate);
                    let mut series = Series::new("post", "batch");
                    let mine = (c as usize..bodies.len()).step_by(clients as usize);
                    for (i, index) in mine.enumerate() {
                        let due = schedule.due(i as u64);
                        wait_until(due, false);
                        post_until_taken(addr, &bodies[index], &overloaded)?;
                        series.record(due.elapsed());
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok((series, Instant::now()))
                })
            })
            .collect();
        let querier = {
            let (addr, qps, queries) = (self.addr, self.qps, self.queries.clone());
            let clients = self.clients;
            let done = posting_done.clone();
            std::thread::spawn(move || -> anyhow::Result<Series> {
                let schedule = Schedule::new(start, qps as f64);
                let mut series = Series::new("query", "query");
                let mut i = 0;
                while done.load(Ordering::SeqCst) < clients {
                    let due = schedule.due(i);
                    wait_until(due, false);
                    let sql = &queries[i as usize % queries.len()];
                    let (status, body) = http(addr, "/query", "text/plain", sql.as_bytes())?;
                    if status != 200 {
                        bail!("query {sql}: {status} {}", String::from_utf8_lossy(&body));
                    }
                    series.record(due.elapsed());
                    i += 1;
                }
                Ok(series)
            })
        };
        let mut posts = Series::new("post", "batch");
        let mut end = start;
        for poster in posters {
            let (series, finished) = poster
                .join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
            posts.hist.add(&series.hist).context("merging histograms")?;
            end = end.max(finished);
        }
        let queries = querier
            .join()
            .map_err(|_| anyhow::anyhow!("the query thread panicked"))??;
        Ok((
            posts,
            queries,
            overloaded.load(Ordering::SeqCst),
            end - start,
        ))
    }
}

/// Posts one body, retrying after `Retry-After` while the queue is full.
fn post_until_taken(addr: SocketAddr, body: &[u8], overloaded: &AtomicU64) -> anyhow::Result<()> {
    loop {
        let (status, answer) = http(addr, "/events", "application/x-ndjson", body)?;
        match status {
            200 => return Ok(()),
            503 => {
                overloaded.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => bail!(
                "POST /events: {status} {}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
}

/// One POST over a new connection; the status and the body.
fn http(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).context("connecting to the server")?;
    stream.set_nodelay(true)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut answer = Vec::new();
    match length {
        Some(n) => {
            answer.resize(n, 0);
            reader.read_exact(&mut answer)?;
        }
        None => {
            reader.read_to_end(&mut answer)?;
        }
    }
    Ok((status, answer))
}
