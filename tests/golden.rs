//! Golden tests: every saved query in `queries/` runs on its committed input,
//! and its EXPLAIN tree and result table must match `tests/golden/<name>.out`
//! exactly. The answer must also be the same on 1, 2 and 4 shards.
//!
//! A query file names its input and parameters in header comments:
//!
//! ```sql
//! -- input: tests/data/reels.ndjson
//! -- params: user=987654321
//! -- format: csv
//! ```
//!
//! A crash-and-resume query (J13) also says `-- crash: C of N`: its input
//! goes into a data directory in commits of N lines, the log is cut after
//! C commits with a torn piece of the next (what kill -9 in the middle of
//! a write leaves), and a second engine recovers that directory, ingests
//! the same input again (resuming after the last commit) and answers —
//! which must equal the answers of one uninterrupted run in memory.
//!
//! Several inputs are merged by time (J10). The format (default `table`) is
//! how results are written in the golden file. Rule statements (`CREATE
//! RULE`, `DROP RULE`) run before the input is ingested, as `tally run`
//! runs them, and only their result is written (no EXPLAIN).
//!
//! After an intended change of output, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --release --test golden` and review the diff.

use std::path::{Path, PathBuf};

use tally::event::Schema;
use tally::query::{param_value, Params, Statement};
use tally::shell::{render, Format};
use tally::{Config, Engine, ResultSet};

struct QueryFile {
    path: PathBuf,
    text: String,
    inputs: Vec<PathBuf>,
    params: Params,
    format: Format,
    /// `(commits kept, lines per commit)` of a crash-and-resume query.
    crash: Option<(usize, usize)>,
}

fn query_files() -> Vec<QueryFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("queries"))
        .expect("queries/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable query file");
            let header = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("-- {key}:")))
                    .map(|v| v.trim().to_string())
            };
            let inputs = header("input")
                .unwrap_or_else(|| panic!("{} has no `-- input:` header", path.display()))
                .split_whitespace()
                // Relative to the package root, which is the tests' working
                // directory: a data directory's log names its input files,
                // so an absolute path would make J13's log size depend on
                // where the checkout lives.
                .map(PathBuf::from)
                .collect();
            let format = match header("format").as_deref() {
                None | Some("table") => Format::Table,
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                Some(other) => panic!("{}: unknown format {other}", path.display()),
            };
            let mut params = Params::new();
            for pair in header("params").unwrap_or_default().split_whitespace() {
                let (name, value) = pair.split_once('=').expect("params are name=value");
                params.insert(name.to_string(), param_value(value));
            }
            let crash = header("crash").map(|c| {
                let (kept, per) = c.split_once(" of ").expect("crash: C of N");
                (
                    kept.parse().expect("a number"),
                    per.parse().expect("a number"),
                )
            });
            QueryFile {
                path,
                text,
                inputs,
                params,
                format,
                crash,
            }
        })
        .collect()
}

fn is_rule_change(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::CreateRule(_) | Statement::DropRule { .. }
    )
}

/// An engine with the file's rule statements in force and its inputs
/// ingested; the statements, and the results of the rule statements (by
/// index), which ran before the inputs.
/// The engine, and the data directory it holds open, if any.
type Setup = (Engine, Option<tempfile::TempDir>);

fn engine_for(file: &QueryFile, shards: usize) -> (Setup, Vec<Statement>, Vec<Option<ResultSet>>) {
    let text = std::fs::read_to_string(&file.inputs[0]).expect("readable input");
    let schema = Schema::detect(text.lines().take(64)).expect("input matches a preset");
    let mut config = Config::new(schema);
    config.shards = shards;
    let data = file.crash.map(|(kept, per)| {
        let dir = tempfile::tempdir().expect("temp dir");
        config.data = Some(dir.path().to_path_buf());
        config.commit_lines = per;
        crash_after(&config, &file.inputs, kept);
        dir
    });
    let mut engine = Engine::start(config).expect("engine starts");
    let statements = engine
        .parse(&file.text, &file.params)
        .expect("query parses");
    assert!(
        !statements.is_empty(),
        "{} has no statement",
        file.path.display()
    );
    let early = statements
        .iter()
        .map(|s| is_rule_change(s).then(|| engine.run(s).expect("rule statement runs")))
        .collect();
    engine
        .ingest_files(&file.inputs, &mut |_| {})
        .expect("input ingests");
    ((engine, data), statements, early)
}

/// Ingests `inputs` into the configuration's data directory, then cuts its
/// log after the open record and `kept` commits, leaving five bytes of the
/// next one: the directory a kill -9 during the next write leaves.
fn crash_after(config: &Config, inputs: &[PathBuf], kept: usize) {
    use tally::storage::{Next, RecordReader};
    let dir = config.data.as_ref().expect("a data directory");
    // A fixed id-history seed: the history's size in SHOW STATS depends on
    // how the ids scatter over its parts, and a new directory draws a
    // random seed.
    let mut manifest = tally::storage::Manifest::new(
        config.schema.clone(),
        config.retention.as_secs(),
        config.max_jump.as_millis() as u64,
    );
    manifest.id_seed = 0x5eed;
    manifest.write(dir).expect("manifest writable");
    Engine::start(config.clone())
        .expect("engine starts")
        .ingest_files(inputs, &mut |_| {})
        .expect("input ingests");
    let segment = dir.join("log").join(format!("{:020}.seg", 1));
    let bytes = std::fs::read(&segment).expect("the log's first segment");
    let mut reader = RecordReader::new(&bytes[..]);
    for _ in 0..=kept {
        assert!(
            matches!(reader.read_next(), Ok(Next::Record(_))),
            "fewer commits than {kept}"
        );
    }
    let cut = reader.offset() as usize + 5;
    assert!(cut < bytes.len(), "no commit after the {kept} kept");
    std::fs::write(&segment, &bytes[..cut]).expect("log writable");
}

/// EXPLAIN and result of every statement (only the result for statements
/// other than SELECT), as the golden file holds them.
fn transcript(file: &QueryFile, shards: usize) -> String {
    let ((mut engine, _data), statements, early) = engine_for(file, shards);
    let mut out = String::new();
    for (i, (statement, early)) in statements.iter().zip(early).enumerate() {
        out += &format!("-- statement {}\n", i + 1);
        let result = match (statement, early) {
            (_, Some(result)) => result,
            (Statement::Select(select), None) => {
                let plan = engine
                    .run(&Statement::Explain(select.clone()))
                    .expect("explain runs");
                out += "EXPLAIN\n";
                for row in &plan.rows {
                    out += &format!("{}\n", row[0]);
                }
                engine.run(statement).expect("query runs")
            }
            (_, None) => engine.run(statement).expect("statement runs"),
        };
        out += &render(&result, file.format);
        out += "\n";
    }
    out
}

/// A JSON result without the `SHOW STATS` rows whose counter starts with
/// one of `prefixes` (any other result is returned as it is).
fn without_counters(json: &str, prefixes: &[&str]) -> String {
    let Ok(serde_json::Value::Array(rows)) = serde_json::from_str(json) else {
        return json.to_string();
    };
    let kept: Vec<serde_json::Value> = rows
        .into_iter()
        .filter(|row| {
            !row.get("counter")
                .and_then(|c| c.as_str())
                .is_some_and(|c| prefixes.iter().any(|p| c.starts_with(p)))
        })
        .collect();
    serde_json::Value::Array(kept).to_string()
}

fn results(file: &QueryFile, shards: usize) -> Vec<String> {
    let ((mut engine, _data), statements, early) = engine_for(file, shards);
    statements
        .iter()
        .zip(early)
        .map(|(s, early)| {
            let result = early.unwrap_or_else(|| engine.run(s).expect("query runs"));
            render(&result, Format::Json)
        })
        .collect()
}

#[test]
fn saved_queries_match_their_golden_output() {
    let files = query_files();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let got = transcript(file, 2);
        let name = file
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("query");
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{name}.out"));
        if update {
            std::fs::write(&golden, &got).expect("golden file writable");
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: output differs from {}\n--- want\n{want}\n--- got\n{got}",
                golden.display()
            )),
            Err(_) => failures.push(format!(
                "{name}: no golden file {}; run UPDATE_GOLDEN=1 cargo test --release --test golden",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn answers_do_not_depend_on_the_shard_count() {
    for file in &query_files() {
        // `SHOW STATS` says how many shards run, and each shard keeps its
        // own panes of the global state; every other row must agree.
        let rows = |shards| -> Vec<String> {
            let all = results(file, shards);
            all.iter()
                .map(|r| without_counters(r, &["shards", "state.pane_slots"]))
                .collect()
        };
        let base = rows(1);
        for shards in [2, 4] {
            let other = rows(shards);
            assert_eq!(base, other, "{} on {shards} shards", file.path.display());
        }
    }
}

#[test]
fn a_crash_and_resume_answers_as_one_uninterrupted_run() {
    let crashed: Vec<QueryFile> = query_files()
        .into_iter()
        .filter(|f| f.crash.is_some())
        .collect();
    assert!(!crashed.is_empty(), "no saved query crashes and resumes");
    for mut file in crashed {
        let resumed = results(&file, 2);
        file.crash = None;
        let uninterrupted = results(&file, 2);
        // SHOW STATS adds the data directory's rows, and with it the events
        // store replaces the ring (`state.recent_events` is 0); every other
        // row and every answer must be the same.
        let strip = |r: &[String]| -> Vec<String> {
            r.iter()
                .map(|s| without_counters(s, &["storage.", "state.recent_events"]))
                .collect()
        };
        assert_eq!(
            strip(&resumed),
            strip(&uninterrupted),
            "{}",
            file.path.display()
        );
    }
}

#[test]
fn every_job_of_the_spec_has_a_saved_query() {
    let names: Vec<String> = query_files()
        .iter()
        .filter_map(|f| f.path.file_name()?.to_str().map(str::to_string))
        .collect();
    for job in [
        "j1_", "j2_", "j3_", "j4_", "j5_", "j6_", "j7_", "j8_", "j9_", "j10_", "j11_", "j12_",
        "j13_",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(job)),
            "no saved query for {job} in {names:?}"
        );
    }
}
