//! Latency histograms: recorded in nanoseconds, shown in microseconds.
//!
//! A [`Series`] is one HdrHistogram with a name ("j1_top3") and what it
//! measures ("corrected", "uncorrected", "per MiB"). This module prints the
//! wrk2-style percentile table and writes each series as a `.hgrm`
//! percentile distribution, the text format of HdrHistogram's
//! `outputPercentileDistribution` that its plotter reads.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Largest value a histogram holds: an hour, in nanoseconds. Anything
/// longer is recorded as an hour (and would be a broken run anyway).
const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;

/// Significant digits kept: 3 gives 0.1% resolution, as wrk2 and toydb use.
const SIGFIG: u8 = 3;

/// Nanoseconds per microsecond, the unit of tables and `.hgrm` files.
const NS_PER_US: f64 = 1_000.0;

/// Percentiles of the table, as quantiles, with their column titles.
pub const TABLE_QUANTILES: [(f64, &str); 4] =
    [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9")];

/// One measured distribution.
#[derive(Debug, Clone)]
pub struct Series {
    /// What was measured: a query name, `ingest`, `visible`.
    pub name: String,
    /// How: `corrected` (from the intended start), `uncorrected` (from the
    /// actual start), `per MiB` (time to ingest each MiB of input).
    pub measure: String,
    pub hist: Histogram<u64>,
}

impl Series {
    pub fn new(name: &str, measure: &str) -> Series {
        Series {
            name: name.to_string(),
            measure: measure.to_string(),
            // The bounds are constants that HdrHistogram accepts; a failure
            // here is a bug caught by the first test that runs a bench.
            hist: Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG)
                .unwrap_or_else(|e| unreachable!("constant histogram bounds: {e}")),
        }
    }

    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
    }

    /// Records the same duration `n` times (every event of a batch).
    pub fn record_n(&mut self, d: Duration, n: u64) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record_n(ns.max(1), n);
    }

    /// The value at quantile `q`, in microseconds.
    pub fn micros_at(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / NS_PER_US
    }

    pub fn max_micros(&self) -> f64 {
        self.hist.max() as f64 / NS_PER_US
    }

    /// A file-name-safe stem: `query-j1_top3-corrected`.
    pub fn file_stem(&self, bench: &str) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!("{bench}-{}-{}", clean(&self.name), clean(&self.measure))
    }

    /// The percentile distribution in HdrHistogram's `.hgrm` text format,
    /// values in microseconds, five ticks per half distance (the Java
    /// default).
    pub fn hgrm(&self) -> String {
        let h = &self.hist;
        let mut out = String::new();
        let _ = write!(
            out,
            "{:>12} {:>14} {:>10} {:>14}\n\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / NS_PER_US;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {q:1.12} {total:10}");
            }
        }
        let sub_buckets = 1u64 << (2.0 * 10f64.powi(i32::from(h.sigfig()))).log2().ceil() as u32;
        let (mean, stdev) = if h.is_empty() {
            (0.0, 0.0)
        } else {
            (h.mean() / NS_PER_US, h.stdev() / NS_PER_US)
        };
        let _ = writeln!(
            out,
            "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]"
        );
        let _ = writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            h.max() as f64 / NS_PER_US,
            h.len()
        );
        let _ = writeln!(
            out,
            "#[Buckets = {:12}, SubBuckets     = {sub_buckets:12}]",
            h.buckets()
        );
        out
    }
}

/// The wrk2/toydb-style table: one row per series, percentiles in µs.
pub fn table(series: &[Series]) -> String {
    let name_w = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let measure_w = series
        .iter()
        .map(|s| s.measure.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut out = String::new();
    let _ = write!(out, "{:<name_w$}  {:<measure_w$}", "name", "measure");
    for (_, title) in TABLE_QUANTILES {
        let _ = write!(out, " {title:>10}");
    }
    let _ = writeln!(out, " {:>10} {:>10}", "max", "count");
    for s in series {
        let _ = write!(out, "{:<name_w$}  {:<measure_w$}", s.name, s.measure);
        for (q, _) in TABLE_QUANTILES {
            let _ = write!(out, " {:>10}", micros(s.micros_at(q)));
        }
        let _ = writeln!(out, " {:>10} {:>10}", micros(s.max_micros()), s.hist.len());
    }
    out
}

/// Microseconds with one decimal below 10 ms, whole above (the table stays
/// narrow and the digits that matter stay visible).
fn micros(us: f64) -> String {
    if us < 10_000.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled() -> Series {
        let mut s = Series::new("q", "corrected");
        for us in 1..=1000u64 {
            s.record(Duration::from_micros(us));
        }
        s
    }

    #[test]
    fn hgrm_has_the_hdrhistogram_layout() {
        let text = filled().hgrm();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        assert!(rows.len() > 20);
        // Values and counts never decrease; the last row is 100%, all counts.
        for w in rows.windows(2) {
            assert!(w[0][0] <= w[1][0] && w[0][1] <= w[1][1] && w[0][2] <= w[1][2]);
        }
        let last = rows.last().unwrap();
        assert_eq!(last.len(), 3);
        assert_eq!(last[1], 1.0);
        assert_eq!(last[2], 1000.0);
        assert!((last[0] - 1000.0).abs() < 1.0, "max ≈ 1000 µs: {}", last[0]);
        assert!(text.contains("#[Max     =     1000."), "{text}");
        assert!(text.contains("Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn table_shows_percentiles_in_micros() {
        let t = table(&[filled()]);
        let lines: Vec<&str> = t.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            ["name", "measure", "p50", "p90", "p99", "p99.9", "max", "count"]
        );
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row[0], "q");
        let p50: f64 = row[2].parse().unwrap();
        assert!((499.0..=501.0).contains(&p50), "{p50}");
        assert_eq!(row[7], "1000");
    }

    #[test]
    fn empty_series_still_write_a_valid_file() {
        let s = Series::new("none", "corrected");
        let text = s.hgrm();
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =            0]"));
        assert!(table(&[s]).lines().count() == 2);
    }
}
