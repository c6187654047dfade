//! `tally bench targets`: every performance target of tally (listed in
//! docs/performance.md), measured `--runs` times,
//! each figure the median of its runs, printed beside its target.
//!
//! Every run is a child process (`tally bench <what> --json`), so runs are
//! independent: memory an earlier run freed but malloc kept would hide the
//! next run's growth, and a warm heap would flatter its throughput. The
//! children write their `.hgrm` files and plots under `--out/run-N/`; this
//! module reads their JSON reports (kept there as `<bench>.json`) and
//! summarises.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value as Json;

use super::report::{machine, thousands};
use super::{positive, CommonArgs};

#[derive(Args, Debug, Clone)]
pub struct TargetsArgs {
    /// Runs of each bench; each figure is the median of its runs
    #[arg(long, default_value = "3", value_parser = positive)]
    pub runs: u64,
    /// A reels NDJSON file for the ingest target [default: 2,000,000
    /// generated reels lines, written once under --out]
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Distinct users of the memory target (5 events each over 24 h)
    #[arg(long, default_value = "10000000", value_parser = positive)]
    pub users: u64,
    /// How long each query and visible run lasts
    #[arg(long, default_value = "10s", value_parser = crate::time::parse_flag_duration)]
    pub duration: Duration,
    /// Events the query bench preloads over the 24 h before its run
    #[arg(long, default_value = "2000000", value_parser = positive)]
    pub preload: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Lines generated for the ingest target when no `--input` is given: the
/// size of the file the ingest target is stated for.
const GENERATED_LINES: u64 = 2_000_000;

/// Which way a figure must go to meet its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    AtLeast,
    AtMost,
}

/// How a figure reads: a rate, a size or a latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    PerSecond,
    Bytes,
    Micros,
}

/// One row of the summary: where its figure comes from and its target.
struct Target {
    what: &'static str,
    /// The bench (child process) that measures it.
    bench: Bench,
    /// Reads the figure from the child's JSON report.
    read: fn(&Json) -> Option<f64>,
    /// `None` for context rows that have no target of their own.
    target: Option<(Goal, f64)>,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bench {
    Ingest,
    Memory,
    Query,
    Visible,
}

impl Bench {
    const ALL: [Bench; 4] = [Bench::Ingest, Bench::Memory, Bench::Query, Bench::Visible];

    fn name(self) -> &'static str {
        match self {
            Bench::Ingest => "ingest",
            Bench::Memory => "memory",
            Bench::Query => "query",
            Bench::Visible => "visible",
        }
    }
}

fn figure(report: &Json, name: &str) -> Option<f64> {
    report.get("figures")?.get(name)?.as_f64()
}

/// The p99 of one latency series of a report.
fn p99(report: &Json, name: &str, measure: &str) -> Option<f64> {
    report
        .get("latency_us")?
        .as_array()?
        .iter()
        .find(|s| s.get("name") == Some(&name.into()) && s.get("measure") == Some(&measure.into()))?
        .get("p99")?
        .as_f64()
}

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// The targets, row by row (latencies corrected for coordinated omission, with
/// the uncorrected figure under each for context).
fn targets() -> Vec<Target> {
    use Goal::*;
    use Unit::*;
    vec![
        Target {
            what: "ingest, reels NDJSON file, end to end",
            bench: Bench::Ingest,
            read: |r| figure(r, "events_per_s"),
            target: Some((AtLeast, 1_000_000.0)),
            unit: PerSecond,
        },
        Target {
            what: "memory, N users × 5 events in 24 h: RSS",
            bench: Bench::Memory,
            read: |r| figure(r, "rss_bytes"),
            target: Some((AtMost, 2.0 * GIB)),
            unit: Bytes,
        },
        Target {
            what: "memory: RSS growth per user",
            bench: Bench::Memory,
            read: |r| figure(r, "bytes_per_user"),
            target: Some((AtMost, 200.0)),
            unit: Bytes,
        },
        Target {
            what: "TOP 3 over 24 h while ingesting 50k/s: p99",
            bench: Bench::Query,
            read: |r| p99(r, "j1_top3", "corrected"),
            target: Some((AtMost, 1_000.0)),
            unit: Micros,
        },
        Target {
            what: "  uncorrected p99",
            bench: Bench::Query,
            read: |r| p99(r, "j1_top3", "uncorrected"),
            target: None,
            unit: Micros,
        },
        Target {
            what: "point query, typical user: p99",
            bench: Bench::Query,
            read: |r| p99(r, "j6_user", "corrected"),
            target: Some((AtMost, 100.0)),
            unit: Micros,
        },
        Target {
            what: "  uncorrected p99",
            bench: Bench::Query,
            read: |r| p99(r, "j6_user", "uncorrected"),
            target: None,
            unit: Micros,
        },
        Target {
            what: "point query, hottest user: p99",
            bench: Bench::Query,
            read: |r| p99(r, "j6_hot_user", "corrected"),
            target: Some((AtMost, 100.0)),
            unit: Micros,
        },
        Target {
            what: "  uncorrected p99",
            bench: Bench::Query,
            read: |r| p99(r, "j6_hot_user", "uncorrected"),
            target: None,
            unit: Micros,
        },
        Target {
            what: "event-to-visible at 500k/s: p99",
            bench: Bench::Visible,
            read: |r| p99(r, "visible", "corrected"),
            target: Some((AtMost, 10_000.0)),
            unit: Micros,
        },
        Target {
            what: "  rate achieved",
            bench: Bench::Visible,
            read: |r| figure(r, "achieved_per_s"),
            target: Some((AtLeast, 500_000.0)),
            unit: PerSecond,
        },
    ]
}

pub fn run(args: &TargetsArgs) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding the tally binary")?;
    std::fs::create_dir_all(&args.common.out)
        .with_context(|| format!("creating {}", args.common.out.display()))?;
    let input = match &args.input {
        Some(path) if !path.is_file() => bail!("--input {}: no such file", path.display()),
        Some(path) => path.clone(),
        None => generated_input(&exe, &args.common)?,
    };
    // reports[bench][run]
    let mut reports: Vec<Vec<Json>> = vec![Vec::new(); Bench::ALL.len()];
    for run in 1..=args.runs {
        let out = args.common.out.join(format!("run-{run}"));
        for (i, bench) in Bench::ALL.into_iter().enumerate() {
            eprintln!(
                "tally bench targets: run {run}/{}: {}",
                args.runs,
                bench.name()
            );
            let report = child(&exe, bench, args, &input, &out)?;
            reports[i].push(report);
        }
    }
    let summary = summary(args, &input, &reports);
    let path = args.common.out.join("targets.txt");
    std::fs::write(&path, &summary).with_context(|| format!("writing {}", path.display()))?;
    Ok(format!("{summary}Wrote {}\n", path.display()))
}

/// Writes the default ingest input once, reusing it on later calls.
fn generated_input(exe: &Path, common: &CommonArgs) -> anyhow::Result<PathBuf> {
    let path = common.out.join(format!(
        "reels-{}-seed{}.ndjson",
        GENERATED_LINES, common.seed
    ));
    if path.exists() {
        return Ok(path);
    }
    eprintln!(
        "tally bench targets: writing {} reels lines to {}",
        thousands(GENERATED_LINES),
        path.display()
    );
    let status = Command::new(exe)
        .args(["gen", "--preset", "reels", "-n"])
        .arg(GENERATED_LINES.to_string())
        .arg("--seed")
        .arg(common.seed.to_string())
        .arg("--out")
        .arg(&path)
        .status()
        .context("running tally gen")?;
    if !status.success() {
        bail!("tally gen failed ({status})");
    }
    Ok(path)
}

/// Runs one bench in a child process and parses its JSON report.
fn child(
    exe: &Path,
    bench: Bench,
    args: &TargetsArgs,
    input: &Path,
    out: &Path,
) -> anyhow::Result<Json> {
    let mut cmd = Command::new(exe);
    cmd.args(["bench", bench.name(), "--json", "--seed"])
        .arg(args.common.seed.to_string())
        .arg("--out")
        .arg(out);
    if let Some(n) = args.common.shards {
        cmd.arg("--shards").arg(n.to_string());
    }
    let duration = format!("{}ms", args.duration.as_millis());
    match bench {
        Bench::Ingest => {
            cmd.arg("--input").arg(input);
        }
        Bench::Memory => {
            cmd.arg("--users").arg(args.users.to_string());
        }
        Bench::Query => {
            cmd.args(["--queries", "j1_top3,j6_user,j6_hot_user", "--duration"])
                .arg(&duration)
                .arg("--preload")
                .arg(args.preload.to_string());
        }
        Bench::Visible => {
            cmd.arg("--duration").arg(&duration);
        }
    }
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running tally bench {}", bench.name()))?;
    if !output.status.success() {
        bail!("tally bench {} failed ({})", bench.name(), output.status);
    }
    let report = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("reading the JSON report of tally bench {}", bench.name()))?;
    // Kept beside the run's .hgrm files: the facts behind each figure.
    let path = out.join(format!("{}.json", bench.name()));
    std::fs::write(&path, &output.stdout).with_context(|| format!("writing {}", path.display()))?;
    Ok(report)
}

/// The median: the middle value, or the mean of the two middle ones.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(match values.len() % 2 {
        1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    })
}

fn show(value: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSecond => format!("{}/s", thousands(value.round() as u64)),
        Unit::Bytes if value >= GIB => format!("{:.2} GiB", value / GIB),
        Unit::Bytes if value >= MIB => format!("{:.0} MiB", value / MIB),
        Unit::Bytes => format!("{} B", thousands(value.round() as u64)),
        Unit::Micros if value >= 10_000_000.0 => format!("{:.1} s", value / 1e6),
        Unit::Micros if value >= 10_000.0 => format!("{:.1} ms", value / 1000.0),
        Unit::Micros => format!("{} µs", thousands(value.round() as u64)),
    }
}

/// The summary table: each target, the median of its runs, every run,
/// and whether the median meets it.
fn summary(args: &TargetsArgs, input: &Path, reports: &[Vec<Json>]) -> String {
    let mut rows = vec![[
        "what".to_string(),
        "target".into(),
        "median".into(),
        "runs".into(),
        "met".into(),
    ]];
    for t in targets() {
        let i = Bench::ALL.iter().position(|b| *b == t.bench).unwrap_or(0);
        let mut values: Vec<f64> = reports[i].iter().filter_map(t.read).collect();
        let runs: Vec<String> = values.iter().map(|v| show(*v, t.unit)).collect();
        let median = median(&mut values);
        let (target, met) = match (t.target, median) {
            (Some((goal, limit)), Some(m)) => {
                let sign = if goal == Goal::AtLeast { "≥" } else { "≤" };
                let met = match goal {
                    Goal::AtLeast => m >= limit,
                    Goal::AtMost => m <= limit,
                };
                (
                    format!("{sign} {}", show(limit, t.unit)),
                    if met { "yes" } else { "NO" },
                )
            }
            (Some(_), None) => ("".into(), "not measured"),
            (None, _) => (String::new(), ""),
        };
        rows.push([
            t.what.to_string(),
            target,
            median.map_or("-".into(), |m| show(m, t.unit)),
            runs.join("  "),
            met.into(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tally bench targets: median of {} runs, each a fresh process",
        args.runs
    );
    let _ = writeln!(out, "  {}", machine());
    let _ = writeln!(out, "  ingest input: {}", input.display());
    let _ = writeln!(
        out,
        "  memory: {} users × 5 events; query and visible: {} s each; latencies \
         corrected for coordinated omission unless marked",
        thousands(args.users),
        args.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  each run's reports, .hgrm files and plots: {}/run-N/\n",
        args.common.out.display()
    );
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            // Text columns align left, numbers right.
            if c == 0 || c == 3 || c == 4 {
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out.push('\n');
    for (i, bench) in Bench::ALL.iter().enumerate() {
        for (run, report) in reports[i].iter().enumerate() {
            for w in report
                .get("warnings")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
            {
                let _ = writeln!(out, "WARNING ({} run {}): {w}", bench.name(), run + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn figures_are_read_from_child_reports() {
        let report = serde_json::json!({
            "figures": {"events_per_s": 250000.0},
            "latency_us": [
                {"name": "j1_top3", "measure": "corrected", "p99": 812.5},
                {"name": "j1_top3", "measure": "uncorrected", "p99": 90.0},
            ],
        });
        assert_eq!(figure(&report, "events_per_s"), Some(250000.0));
        assert_eq!(figure(&report, "bytes_per_user"), None);
        assert_eq!(p99(&report, "j1_top3", "corrected"), Some(812.5));
        assert_eq!(p99(&report, "j1_top3", "uncorrected"), Some(90.0));
        assert_eq!(p99(&report, "j6_user", "corrected"), None);
    }

    #[test]
    fn the_summary_says_which_targets_are_met() {
        let args = TargetsArgs {
            runs: 3,
            input: None,
            users: 1000,
            duration: Duration::from_secs(1),
            preload: 1000,
            common: CommonArgs {
                out: PathBuf::from("out"),
                shards: None,
                seed: 1,
                json: false,
            },
        };
        let ingest = |rate: f64| serde_json::json!({"figures": {"events_per_s": rate}});
        let reports = vec![
            vec![ingest(900_000.0), ingest(1_200_000.0), ingest(1_100_000.0)],
            vec![],
            vec![],
            vec![],
        ];
        let text = summary(&args, Path::new("in.ndjson"), &reports);
        let line = |what: &str| {
            text.lines()
                .find(|l| l.starts_with(what))
                .unwrap_or_default()
                .to_string()
        };
        let ingest_line = line("ingest");
        assert!(ingest_line.contains("1,100,000/s"), "{ingest_line}");
        assert!(ingest_line.ends_with("yes"), "{ingest_line}");
        assert!(line("memory: RSS growth").ends_with("not measured"));
    }
}
