//! What a bench prints and writes: a header with the machine and the
//! method, facts (rates, memory), the percentile table, one `.hgrm` file per
//! series and one SVG plot, all under `--out`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::histogram::{table, Series, TABLE_QUANTILES};
use super::plot;

/// One bench's results, ready to print and write.
#[derive(Debug)]
pub struct Report {
    /// File name prefix and plot title: `query`, `ingest`, ...
    pub bench: &'static str,
    /// One line saying what was measured.
    pub title: String,
    /// Settings and results as `name: value` lines, in order.
    pub facts: Vec<(String, String)>,
    /// How it was measured, a sentence per line: printed, so that a figure
    /// is never read without its method.
    pub method: Vec<String>,
    /// Things the reader must not miss (a rate that was not sustained).
    pub warnings: Vec<String>,
    pub series: Vec<Series>,
    /// What the table's series measure, printed above it.
    pub table_caption: String,
    /// The headline numbers as numbers (`events_per_s`, `bytes_per_user`),
    /// for `--json` and for `tally bench targets`, which reads them from a
    /// child process.
    pub figures: Vec<(&'static str, f64)>,
}

impl Report {
    pub fn new(bench: &'static str, title: impl Into<String>) -> Report {
        Report {
            bench,
            title: title.into(),
            facts: Vec::new(),
            method: Vec::new(),
            warnings: Vec::new(),
            series: Vec::new(),
            table_caption: String::new(),
            figures: Vec::new(),
        }
    }

    pub fn figure(&mut self, name: &'static str, value: f64) {
        self.figures.push((name, value));
    }

    /// The report as one JSON object: facts, figures, warnings and each
    /// series' percentiles in µs.
    pub fn json(&self, written: &[PathBuf]) -> serde_json::Value {
        let series: Vec<serde_json::Value> = self
            .series
            .iter()
            .map(|s| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), s.name.clone().into());
                o.insert("measure".into(), s.measure.clone().into());
                for (q, label) in TABLE_QUANTILES {
                    o.insert(label.into(), s.micros_at(q).into());
                }
                o.insert("max".into(), s.max_micros().into());
                o.insert("count".into(), s.hist.len().into());
                serde_json::Value::Object(o)
            })
            .collect();
        serde_json::json!({
            "bench": self.bench,
            "title": self.title,
            "machine": machine(),
            "facts": self.facts.iter().map(|(n, v)| (n.trim().to_string(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "figures": self.figures.iter().map(|(n, v)| (n.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
            "warnings": self.warnings,
            "latency_us": series,
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        })
    }

    pub fn fact(&mut self, name: &str, value: impl Into<String>) {
        self.facts.push((name.to_string(), value.into()));
    }

    /// The text printed on stdout.
    pub fn text(&self, written: &[PathBuf]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "tally bench {}: {}", self.bench, self.title);
        let _ = writeln!(out, "  {}", machine());
        let width = self.facts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, value) in &self.facts {
            let _ = writeln!(out, "  {name:<width$}  {value}");
        }
        if !self.method.is_empty() {
            let _ = writeln!(out, "Method:");
            for line in &self.method {
                let _ = writeln!(out, "  {line}");
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "WARNING: {w}");
        }
        let _ = writeln!(out, "\n{}", self.table_caption);
        out.push_str(&table(&self.series));
        if !written.is_empty() {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            let _ = writeln!(out, "\nWrote {}", names.join(", "));
        }
        out
    }

    /// Writes the `.hgrm` files and the SVG under `dir`, then prints the
    /// report: the table, or one JSON object.
    pub fn finish(&self, dir: &Path, json: bool) -> anyhow::Result<()> {
        let written = self.write_files(dir)?;
        let text = match json {
            true => format!("{}\n", self.json(&written)),
            false => self.text(&written),
        };
        std::io::stdout().lock().write_all(text.as_bytes())?;
        Ok(())
    }

    fn write_files(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the output directory {}", dir.display()))?;
        let mut written = Vec::new();
        for s in &self.series {
            let path = dir.join(format!("{}.hgrm", s.file_stem(self.bench)));
            std::fs::write(&path, s.hgrm())
                .with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        let path = dir.join(format!("{}.svg", self.bench));
        let subtitle = format!("{} — {}", machine(), today());
        let svg = plot::svg(
            &format!("tally bench {}: {}", self.bench, self.title),
            &subtitle,
            &self.series,
        );
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
        Ok(written)
    }
}

/// Cores and load: a figure taken on a busy machine says so.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .map_or(String::new(), |l| format!(", load average {l}"));
    format!("machine: {cores} cores{load}")
}

/// The date of the run (UTC), for plots.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Counts and rates are written as everywhere else in tally.
pub use crate::count::{per_second, thousands};

/// A progress line on stderr, only when it is a terminal, redrawn at most
/// four times a second and erased at the end.
pub struct Progress {
    on: bool,
    next: Instant,
    shown: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            next: Instant::now(),
            shown: false,
        }
    }

    /// Redraws with `text()` if a redraw is due (the text is only built
    /// then).
    pub fn show(&mut self, text: impl FnOnce() -> String) {
        if !self.on || Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + Duration::from_millis(250);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{}", text());
        let _ = err.flush();
        self.shown = true;
    }

    pub fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(per_second(500, Duration::from_millis(500)), "1,000");
    }
}
