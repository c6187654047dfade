//! `tally bench memory`: resident memory for N users × k events.
//!
//! Events are made on the fly as the engine reads them (nothing is held,
//! so the generator's memory does not count): event `j` goes to user
//! `j mod N`, so every user gets exactly k events, spread over the span in
//! time order. Each user is one virtual actor; videos (`--videos`, few, so
//! that the figure is about users) are the other actor kind.
//!
//! RSS is read from `/proc/self/status` after the engine started (before)
//! and after every event was applied (after); bytes per user is the
//! difference over N. It includes everything ingest keeps: users, videos,
//! the global partials, and the de-duplication id history (8 bytes per slot
//! of [`crate::ingest::IdHistory`], one slot per event id within retention
//! at 44–88% load), which is reported separately.

use std::io::BufReader;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::feed::{Meter, Metered, Streamed};
use super::report::{per_second, thousands, Progress, Report};
use super::rss::{self, mib, Rss};
use super::{positive, start_engine, CommonArgs};
use crate::event::Schema;
use crate::generator::DEFAULT_START_MS;
use crate::ingest::Merge;
use crate::time::{format_timestamp, Millis};

/// User ids start here (so they look like the seed data's 9-digit ids).
const USER_BASE: u64 = 100_000_000;
const VIDEO_BASE: u64 = 500_000_000;

/// A user's events cycle through these types.
const TYPES: [&str; 5] = ["video_view", "like", "video_view", "share", "comment"];
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];

#[derive(Args, Debug, Clone)]
pub struct MemoryArgs {
    /// Distinct users
    #[arg(long, default_value = "10000000", value_parser = positive)]
    pub users: u64,
    /// Events per user
    #[arg(long, default_value = "5", value_parser = positive)]
    pub events_per_user: u64,
    /// Time span the events cover (within the 24 h retention)
    #[arg(long, default_value = "24h", value_parser = crate::time::parse_flag_duration)]
    pub span: Duration,
    /// Distinct videos the events go to
    #[arg(long, default_value = "100", value_parser = positive)]
    pub videos: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: &MemoryArgs) -> anyhow::Result<Report> {
    let span_ms = args.span.as_millis() as Millis;
    if span_ms > 24 * 3_600_000 {
        return Err(crate::Error::Usage(
            "--span must be at most 24h, the retention; events older are rejected".into(),
        )
        .into());
    }
    let total = args
        .users
        .checked_mul(args.events_per_user)
        .filter(|n| *n <= 1 << 40)
        .ok_or_else(|| anyhow::anyhow!("--users × --events-per-user is too large"))?;
    let mut engine = start_engine(Schema::preset("reels")?, &args.common)?;
    let before = Rss::now();
    let peak_reset = Rss::reset_peak();

    let (users, videos) = (args.users, args.videos);
    let mut j = 0u64;
    let lines = Streamed::new(move |buf: &mut Vec<u8>| {
        if j >= total {
            return false;
        }
        let user = j % users;
        let ts = DEFAULT_START_MS + (j as u128 * span_ms as u128 / total as u128) as Millis;
        let kind = TYPES[((j / users) % TYPES.len() as u64) as usize];
        let line = format!(
            "{{\"event_id\":\"m{j}\",\"event_type\":\"{kind}\",\"user_id\":{},\"video_id\":{},\
             \"timestamp\":\"{}\",\"metadata\":{{{}\"device_type\":\"{}\"}}}}",
            USER_BASE + user,
            VIDEO_BASE + j % videos,
            format_timestamp(ts),
            if kind == "video_view" {
                format!("\"view_duration_ms\":{},", 1000 + j % 30_000)
            } else {
                String::new()
            },
            DEVICES[(user % 3) as usize]
        );
        buf.extend_from_slice(line.as_bytes());
        j += 1;
        true
    });
    let meter = Meter::shared("ingest");
    let reader = BufReader::with_capacity(256 << 10, Metered::new(lines, meter.clone()));
    let merge = Merge::from_readers(vec![(Arc::from("memory"), Box::new(reader))]);
    let mut progress = Progress::new();
    if let Ok(mut m) = meter.lock() {
        m.start();
    }
    let started = Instant::now();
    let summary = engine.ingest(merge, &mut |p| {
        progress.show(|| {
            format!(
                "memory: {} of {} events, {} events/s, RSS {}",
                thousands(p.lines),
                thousands(total),
                per_second(p.lines, p.elapsed),
                mib(Rss::now().map(|r| r.current))
            )
        })
    })?;
    let elapsed = started.elapsed();
    progress.clear();
    let after = Rss::now();
    let stats = engine.stats()?;
    let ids = stats.remembered_ids;
    let id_bytes = stats.id_history_bytes;

    let mut report = Report::new("memory", "resident memory per user");
    report.fact(
        "events",
        format!(
            "{} users × {} events = {} over {} ({} videos), streamed",
            thousands(args.users),
            args.events_per_user,
            thousands(total),
            crate::time::format_duration(span_ms),
            thousands(args.videos)
        ),
    );
    report.fact(
        "ingest",
        format!(
            "{} accepted of {} lines in {:.1} s ({} events/s)",
            thousands(summary.accepted),
            thousands(summary.lines),
            elapsed.as_secs_f64(),
            per_second(summary.lines, elapsed)
        ),
    );
    report.fact("shards", engine.config().shards.to_string());
    report.fact(
        "state",
        format!(
            "{} users, {} videos (actors), {} pane slots, {} cells, {} remembered ids",
            thousands(stats.entities_of("users").unwrap_or(0)),
            thousands(stats.entities_of("videos").unwrap_or(0)),
            thousands(stats.pane_slots),
            thousands(stats.cells),
            thousands(ids)
        ),
    );
    report.fact(
        "RSS",
        rss::describe(before, after, peak_reset, "ingest", ""),
    );
    if let (Some(b), Some(a)) = (before, after) {
        let grown = a.current.saturating_sub(b.current);
        report.figure("rss_bytes", a.current as f64);
        report.figure("bytes_per_user", grown as f64 / args.users as f64);
        report.fact(
            "per user",
            format!(
                "{:.0} B of RSS growth per user; without the id history ({}) {:.0} B",
                grown as f64 / args.users as f64,
                mib(Some(id_bytes)),
                grown.saturating_sub(id_bytes) as f64 / args.users as f64
            ),
        );
    }
    report.method = vec![
        "Events are generated as the engine reads them (nothing held): event j goes to user j mod N, \
         so each user gets exactly k events, in time order over the span."
            .into(),
        "RSS = VmRSS of /proc/self/status after the engine started (before) and after every event \
         was applied (after); peak = VmHWM. Memory malloc keeps for reuse counts, as in top."
            .into(),
        "The id history: its table's size as the engine reports it (state.id_history_bytes): \
         one 8-byte slot per id within retention, at most 7/8 full, slots a power of two."
            .into(),
    ];
    report.table_caption = "Time to ingest each MiB of generated input, µs:".into();
    report.series.push(Meter::series_of(&meter)?);
    Ok(report)
}
