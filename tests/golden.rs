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
                .map(|p| root.join(p))
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
            QueryFile {
                path,
                text,
                inputs,
                params,
                format,
            }
        })
        .collect()
}

fn is_rule_change(statement: &Statement) -> bool {
    matches!(statement, Statement::CreateRule(_) | Statement::DropRule(_))
}

/// An engine with the file's rule statements in force and its inputs
/// ingested; the statements, and the results of the rule statements (by
/// index), which ran before the inputs.
fn engine_for(file: &QueryFile, shards: usize) -> (Engine, Vec<Statement>, Vec<Option<ResultSet>>) {
    let text = std::fs::read_to_string(&file.inputs[0]).expect("readable input");
    let schema = Schema::detect(text.lines().take(64)).expect("input matches a preset");
    let mut config = Config::new(schema);
    config.shards = shards;
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
    (engine, statements, early)
}

/// EXPLAIN and result of every statement (only the result for statements
/// other than SELECT), as the golden file holds them.
fn transcript(file: &QueryFile, shards: usize) -> String {
    let (mut engine, statements, early) = engine_for(file, shards);
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

fn results(file: &QueryFile, shards: usize) -> Vec<String> {
    let (mut engine, statements, early) = engine_for(file, shards);
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
        let base = results(file, 1);
        for shards in [2, 4] {
            let other = results(file, shards);
            assert_eq!(base, other, "{} on {shards} shards", file.path.display());
        }
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
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(job)),
            "no saved query for {job} in {names:?}"
        );
    }
}
