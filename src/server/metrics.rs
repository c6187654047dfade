//! `GET /metrics`: the Prometheus text exposition format.
//!
//! Counters end in `_total`; the query latency is a histogram in seconds
//! with fixed buckets ([`BUCKETS`]); the engine's figures (accepted and
//! rejected lines, active entities per actor kind, the log's size) come
//! from [`Stats`], the same snapshot `SHOW STATS` shows. Every metric has
//! its `# HELP` and `# TYPE` lines, so a scrape parses with any Prometheus
//! client.

use std::fmt::Write;
use std::time::Duration;

use crate::engine::Stats;

/// Upper bounds of the query-latency buckets, in seconds: from 100 µs (a
/// point query) to 10 s.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

/// The query latencies seen so far, as Prometheus buckets.
#[derive(Debug, Clone, Default)]
pub(super) struct LatencyHistogram {
    /// Queries at or under each bound of [`BUCKETS`] (not cumulative).
    counts: [u64; BUCKETS.len()],
    /// Queries over the last bound.
    over: u64,
    sum_seconds: f64,
}

impl LatencyHistogram {
    pub(super) fn record(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        self.sum_seconds += seconds;
        match BUCKETS.iter().position(|bound| seconds <= *bound) {
            Some(i) => self.counts[i] += 1,
            None => self.over += 1,
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }
}

/// Figures the HTTP side keeps itself.
#[derive(Debug, Clone, Default)]
pub(super) struct ServerFigures {
    /// Requests refused with 503 because the queue was full.
    pub overloaded: u64,
    /// Work permits taken now, and how many there are.
    pub queue_depth: usize,
    pub queue_capacity: usize,
    /// `/hits` streams open, hits published and hits dropped for them.
    pub hit_streams: usize,
    pub hits_published: u64,
    pub hits_dropped: u64,
}

/// The whole scrape.
pub(super) fn render(stats: &Stats, latency: &LatencyHistogram, server: &ServerFigures) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {}", number(*value));
        }
    };
    let plain = |v: u64| vec![(String::new(), v as f64)];
    metric(
        "tally_lines_total",
        "counter",
        "Event lines received, accepted or rejected.",
        &plain(stats.lines),
    );
    metric(
        "tally_events_accepted_total",
        "counter",
        "Event lines accepted into the windows.",
        &plain(stats.accepted),
    );
    let rejected: Vec<(String, f64)> = stats
        .rejected
        .iter()
        .map(|(reason, n)| (format!("{{reason=\"{reason}\"}}"), *n as f64))
        .collect();
    metric(
        "tally_events_rejected_total",
        "counter",
        "Event lines rejected, by reason.",
        &rejected,
    );
    let actors: Vec<(String, f64)> = stats
        .entities
        .iter()
        .map(|(kind, n)| (format!("{{kind=\"{}\"}}", label(kind)), *n as f64))
        .collect();
    metric(
        "tally_actors",
        "gauge",
        "Active entities (virtual actors) per actor kind.",
        &actors,
    );
    metric(
        "tally_actors_passivated_total",
        "counter",
        "Entities passivated since start (their state left retention).",
        &plain(stats.passivated),
    );
    metric(
        "tally_state_cells",
        "gauge",
        "Distinct dimension combinations interned.",
        &plain(stats.cells),
    );
    metric(
        "tally_remembered_ids",
        "gauge",
        "Event ids remembered for de-duplication.",
        &plain(stats.remembered_ids),
    );
    if let Some(storage) = &stats.storage {
        metric(
            "tally_wal_bytes",
            "gauge",
            "Bytes of the write-ahead log on disk.",
            &plain(storage.log_bytes),
        );
        metric(
            "tally_wal_segments",
            "gauge",
            "Segments of the write-ahead log.",
            &plain(storage.log_segments),
        );
        metric(
            "tally_wal_replayed_lines",
            "gauge",
            "Lines replayed from the log at start.",
            &plain(storage.replayed_lines),
        );
        metric(
            "tally_wal_torn_bytes_cut",
            "gauge",
            "Bytes of a torn last record cut at start.",
            &plain(storage.torn_bytes_cut),
        );
        metric(
            "tally_wal_damaged_bytes_set_aside",
            "gauge",
            "Bytes of damaged log set aside at start.",
            &plain(storage.damaged_bytes_set_aside),
        );
    }
    metric(
        "tally_http_overloaded_total",
        "counter",
        "Requests answered 503 because the engine queue was full.",
        &plain(server.overloaded),
    );
    metric(
        "tally_queue_depth",
        "gauge",
        "Requests queued for the engine or running.",
        &plain(server.queue_depth as u64),
    );
    metric(
        "tally_queue_capacity",
        "gauge",
        "Requests the engine queue holds before it answers 503.",
        &plain(server.queue_capacity as u64),
    );
    metric(
        "tally_hit_streams",
        "gauge",
        "Open /hits streams.",
        &plain(server.hit_streams as u64),
    );
    metric(
        "tally_hits_total",
        "counter",
        "Rule hits delivered.",
        &plain(server.hits_published),
    );
    metric(
        "tally_hits_dropped_total",
        "counter",
        "Rule hits a slow /hits stream did not get.",
        &plain(server.hits_dropped),
    );
    let mut samples = Vec::new();
    let mut cumulative = 0;
    for (bound, n) in BUCKETS.iter().zip(latency.counts) {
        cumulative += n;
        samples.push((
            format!("_bucket{{le=\"{}\"}}", number(*bound)),
            cumulative as f64,
        ));
    }
    samples.push(("_bucket{le=\"+Inf\"}".into(), latency.count() as f64));
    samples.push(("_sum".into(), latency.sum_seconds));
    samples.push(("_count".into(), latency.count() as f64));
    let _ = writeln!(
        out,
        "# HELP tally_query_duration_seconds Time the engine took to answer a query."
    );
    let _ = writeln!(out, "# TYPE tally_query_duration_seconds histogram");
    for (suffix, value) in samples {
        let _ = writeln!(
            out,
            "tally_query_duration_seconds{suffix} {}",
            number(value)
        );
    }
    out
}

/// A sample value: integers without a fraction, others as Rust prints them.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_in_inf() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_micros(700));
        h.record(Duration::from_secs(20));
        let stats = Stats {
            lines: 3,
            accepted: 2,
            rejected: vec![(crate::event::Reason::Duplicate, 1)],
            entities: vec![("users".into(), 2)],
            passivated: 0,
            pane_slots: 0,
            cells: 1,
            remembered_ids: 2,
            id_history_bytes: 0,
            recent_events: 2,
            shards: 1,
            now_ms: None,
            storage: None,
        };
        let text = render(&stats, &h, &ServerFigures::default());
        assert!(text.contains("tally_query_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
        assert!(text.contains("tally_query_duration_seconds_bucket{le=\"0.001\"} 2\n"));
        assert!(text.contains("tally_query_duration_seconds_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("tally_query_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("tally_query_duration_seconds_count 3\n"));
        assert!(text.contains("tally_events_rejected_total{reason=\"duplicate\"} 1\n"));
        assert!(text.contains("tally_actors{kind=\"users\"} 2\n"));
    }
}
