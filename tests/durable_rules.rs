//! Rules under `--data`: `CREATE RULE` and `DROP RULE` are logged where
//! they ran, and checkpoints hold every rule with its hit count, recent
//! hits and edge state. A run stopped at every step — cleanly (checkpoint
//! at exit), by a "kill" (no exit checkpoint: the log replays, from the
//! start or from a checkpoint written mid-ingest) or by SIGKILL of the
//! real binary — must show the rules, their hit counts and `rule_hits`
//! of one uninterrupted run, exactly. Running a rules file again changes
//! nothing; a damaged rule record is reported and set aside, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tally::event::Schema;
use tally::generator::{generate, GenConfig};
use tally::storage::{CheckpointEvery, Manifest};
use tally::{Config, Engine, Value};

const BUSY: &str = "CREATE RULE busy AS SELECT user_id, COUNT(*) AS n FROM events \
                    GROUP BY user_id HAVING n > 8 WINDOW 10m";
const LIKED: &str = "CREATE RULE liked AS SELECT video_id, \
                     COUNT(*) FILTER (WHERE event_type = 'like') AS likes FROM events \
                     GROUP BY video_id HAVING likes >= 3 WINDOW 5m";

/// What is compared: the rules with their hit counts, and every recent hit.
const ANSWERS: &str = "SHOW RULES; SELECT * FROM rule_hits";

/// A generated stream (disorder, duplicates, bad lines) in four parts.
fn parts() -> Vec<Vec<String>> {
    let config = GenConfig {
        events: 16_000,
        users: 200,
        items: 60,
        span_ms: 2 * 3_600_000,
        disorder_ms: 60_000,
        duplicates: 0.02,
        bad: 0.01,
        seed: 11,
        ..GenConfig::default()
    };
    let mut text = Vec::new();
    generate(&config, &mut text).unwrap();
    let lines: Vec<String> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines
        .chunks(lines.len() / 4 + 1)
        .map(<[_]>::to_vec)
        .collect()
}

/// The steps of the run: rule statements between the parts of the input.
enum Step {
    Sql(String),
    Ingest(usize),
}

fn steps() -> Vec<Step> {
    use Step::{Ingest, Sql};
    vec![
        Sql(BUSY.into()),
        Ingest(0),
        Sql(LIKED.into()),
        Ingest(1),
        Sql("DROP RULE busy".into()),
        Ingest(2),
        // The same name again: a new rule, with fresh edge state.
        Sql(BUSY.replace("n > 8", "n > 9")),
        Ingest(3),
    ]
}

/// An engine on `data`: commits of 500 lines, a checkpoint every `every`
/// lines, a fixed id seed (so that directories remember ids alike).
fn engine(data: &Path, every: u64) -> Engine {
    let schema = Schema::preset("reels").unwrap();
    if !data.join("MANIFEST").exists() {
        std::fs::create_dir_all(data).unwrap();
        let mut manifest = Manifest::new(schema.clone(), 86_400, 3_600_000);
        manifest.id_seed = 0x5eed;
        manifest.write(data).unwrap();
    }
    let mut config = Config::new(schema);
    config.shards = 2;
    config.data = Some(data.to_path_buf());
    config.commit_lines = 500;
    config.checkpoint_every = CheckpointEvery::Lines(every);
    Engine::start(config).unwrap()
}

fn answers(engine: &mut Engine) -> String {
    let mut out = String::new();
    for result in engine.execute(ANSWERS).unwrap() {
        out += &format!("{:?}\n", result.columns);
        for row in &result.rows {
            out += &format!("{row:?}\n");
        }
    }
    out
}

fn run_step(engine: &mut Engine, step: &Step, parts: &[Vec<String>]) {
    match step {
        Step::Sql(sql) => {
            engine.execute(sql).unwrap();
        }
        Step::Ingest(i) => {
            engine
                .ingest_lines(&format!("part{i}"), &parts[*i])
                .unwrap();
        }
    }
}

/// How a run stops after each step.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Never: one engine does every step.
    Never,
    /// A clean exit: the engine writes a checkpoint; the next loads it.
    Clean,
    /// As a kill: no checkpoint at exit. The engine is leaked, so nothing
    /// it would do on drop happens; what it wrote to the log stays.
    Kill,
}

fn run(data: &Path, every: u64, stop: Stop) -> String {
    let parts = parts();
    let mut engine = engine(data, every);
    for step in steps() {
        run_step(&mut engine, &step, &parts);
        match stop {
            Stop::Never => {}
            Stop::Clean => {
                drop(engine);
                engine = self::engine(data, every);
            }
            Stop::Kill => {
                std::mem::forget(engine);
                engine = self::engine(data, every);
            }
        }
    }
    answers(&mut engine)
}

#[test]
fn rules_and_their_hits_survive_clean_restarts_and_kills() {
    let root = tempfile::tempdir().unwrap();
    let want = run(&root.path().join("reference"), u64::MAX, Stop::Never);
    // Both rules hit, the dropped one's hits stay among the recent ones,
    // and the re-created one counts from zero.
    assert!(want.contains("Str(\"liked\")"), "{want}");
    let busy_hits = want.matches("[Str(\"busy\"), Str(\"users\")").count();
    assert!(busy_hits > 5, "{want}");
    for (name, every, stop) in [
        ("clean", u64::MAX, Stop::Clean),
        ("replay", u64::MAX, Stop::Kill),
        ("checkpoint", 1_500, Stop::Kill),
        ("checkpoint-clean", 1_500, Stop::Clean),
    ] {
        let got = run(&root.path().join(name), every, stop);
        assert!(
            got == want,
            "{name}: answers differ\n--- want\n{want}\n--- got\n{got}"
        );
    }
}

#[test]
fn a_checkpoint_of_version_2_is_not_used_and_the_log_replays() {
    let root = tempfile::tempdir().unwrap();
    let want = run(&root.path().join("reference"), u64::MAX, Stop::Never);
    let data = root.path().join("d");
    assert_eq!(run(&data, 1_500, Stop::Clean), want);
    // What an older tally wrote: the same framing, version 2 (the CRC
    // covers the body only).
    for entry in std::fs::read_dir(data.join("checkpoints")).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
    }
    let mut e = engine(&data, u64::MAX);
    let notes = e.take_notes().join("\n");
    assert!(notes.contains("checkpoint version 2"), "{notes}");
    let storage = e.stats().unwrap().storage.unwrap();
    assert_eq!(storage.restore_ms, None, "{storage:?}");
    assert_eq!(answers(&mut e), want);
}

#[test]
fn rule_statements_run_again_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("d");
    let file = format!("DROP RULE IF EXISTS old; {BUSY}; {LIKED}");
    let mut e = engine(&data, u64::MAX);
    let first = e.execute(&file).unwrap();
    assert_eq!(
        first[0].rows,
        [[Value::str("rule old does not exist, nothing dropped")]]
    );
    assert_eq!(first[1].rows[0][0], Value::str("busy"));
    let log_bytes = |e: &mut Engine| e.stats().unwrap().storage.unwrap().log_bytes;
    let bytes = log_bytes(&mut e);
    let again = e.execute(&file).unwrap();
    assert_eq!(
        again[1].rows,
        [[Value::str("rule busy already exists, unchanged")]]
    );
    assert_eq!(
        again[2].rows,
        [[Value::str("rule liked already exists, unchanged")]]
    );
    assert_eq!(
        log_bytes(&mut e),
        bytes,
        "a no-op writes nothing to the log"
    );
    // Another definition under the same name says how to replace it.
    let err = e
        .execute(&BUSY.replace("n > 8", "n > 2"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already exists with another definition; DROP RULE busy first"),
        "{err}"
    );
    // Plain DROP of an unknown rule stays an error.
    assert!(e.execute("DROP RULE old").is_err());
    drop(e);
    // After a restart, the file again is a no-op too.
    let mut e = engine(&data, u64::MAX);
    let rerun = e.execute(&file).unwrap();
    assert_eq!(
        rerun[1].rows,
        [[Value::str("rule busy already exists, unchanged")]]
    );
    let shown = e.execute("SHOW RULES").unwrap().pop().unwrap();
    assert_eq!(shown.rows.len(), 2);
}

/// Each record of a log segment: its offset and payload.
fn records(segment: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= segment.len() {
        let len = u32::from_le_bytes(segment[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, segment[at + 8..at + 8 + len].to_vec()));
        at += 8 + len;
    }
    out
}

fn segment(data: &Path) -> PathBuf {
    data.join("log").join(format!("{:020}.seg", 1))
}

#[test]
fn a_damaged_rule_record_is_reported_and_set_aside() {
    let root = tempfile::tempdir().unwrap();
    let parts = parts();
    // The state before the second rule: what recovery must come back to.
    let mut before = engine(&root.path().join("before"), u64::MAX);
    for step in &steps()[..2] {
        run_step(&mut before, step, &parts);
    }
    let want = answers(&mut before);
    let lines = before.counters().lines;
    drop(before);

    let original = root.path().join("original");
    let mut e = engine(&original, u64::MAX);
    for step in &steps()[..4] {
        run_step(&mut e, step, &parts);
    }
    std::mem::forget(e);
    let bytes = std::fs::read(segment(&original)).unwrap();
    // The second rule record (kind 6): `liked`.
    let (at, payload) = records(&bytes)
        .into_iter()
        .filter(|(_, p)| p[0] == 6)
        .nth(1)
        .unwrap();

    // Two damages: a flipped byte (the CRC fails), and a definition that
    // does not decode under a CRC that matches (a bug or a hostile file).
    let flipped = {
        let mut b = bytes.clone();
        b[at + 8 + payload.len() / 2] ^= 0x20;
        b
    };
    let undecodable = {
        let mut b = bytes.clone();
        let mut p = payload.clone();
        p[5] = 99; // the definition's version byte
        let len = (p.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(&p);
        b[at + 4..at + 8].copy_from_slice(&crc.finalize().to_le_bytes());
        b[at + 8..at + 8 + p.len()].copy_from_slice(&p);
        b
    };
    for (name, damaged) in [("flipped", flipped), ("undecodable", undecodable)] {
        let data = root.path().join(name);
        std::fs::create_dir_all(data.join("log")).unwrap();
        std::fs::copy(original.join("MANIFEST"), data.join("MANIFEST")).unwrap();
        std::fs::write(segment(&data), damaged).unwrap();
        let mut e = engine(&data, u64::MAX);
        let notes = e.take_notes().join("\n");
        assert!(
            notes.contains(&format!("log damaged at {}", segment(&data).display())),
            "{name}: {notes}"
        );
        if name == "undecodable" {
            assert!(
                notes.contains("a rule definition that does not decode"),
                "{notes}"
            );
        }
        assert_eq!(e.counters().lines, lines, "{name}");
        assert_eq!(answers(&mut e), want, "{name}");
    }
}

/// The release binary, killed with SIGKILL at moments through an ingest
/// with `--rules` and frequent checkpoints, then run to the end: the rules
/// and their hits as one uninterrupted run has them.
#[cfg(unix)]
#[test]
fn kill_9_during_an_ingest_with_rules_keeps_the_hits_of_one_run() {
    const TALLY: &str = env!("CARGO_BIN_EXE_tally");
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("stream.ndjson");
    std::fs::write(&stream, parts().concat().join("\n") + "\n").unwrap();
    let rules = dir.path().join("rules.sql");
    std::fs::write(
        &rules,
        format!("DROP RULE IF EXISTS gone;\n{BUSY};\n{LIKED};\n"),
    )
    .unwrap();
    let queries = dir.path().join("q.sql");
    std::fs::write(&queries, ANSWERS).unwrap();
    let ingest = |data: &Path| {
        let mut cmd = Command::new(TALLY);
        cmd.args(["ingest", stream.to_str().unwrap(), "--rules"])
            .arg(&rules)
            .arg("--data")
            .arg(data)
            .args(["--checkpoint-every", "3000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let answers = |data: &Path| {
        let out = Command::new(TALLY)
            .arg("run")
            .arg(&queries)
            .arg("--data")
            .arg(data)
            .args(["--format", "csv"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let clean = dir.path().join("clean");
    let started = std::time::Instant::now();
    assert!(ingest(&clean).status().unwrap().success());
    let span = started.elapsed();
    let want = answers(&clean);
    assert!(want.contains("busy,users"), "{want}");
    let mut killed_before_end = 0;
    for round in 0..6u32 {
        let data = dir.path().join(format!("round{round}"));
        std::fs::create_dir(&data).unwrap();
        std::fs::copy(clean.join("MANIFEST"), data.join("MANIFEST")).unwrap();
        let mut tried = Vec::new();
        for kill in 0..2u32 {
            // Spread over the run, start-up and replay included.
            let at = span * (round * 2 + kill + 1) / 13;
            let mut child = ingest(&data).spawn().unwrap();
            std::thread::sleep(at);
            killed_before_end += usize::from(child.try_wait().unwrap().is_none());
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            tried.push(at);
        }
        assert!(ingest(&data).status().unwrap().success());
        let got = answers(&data);
        assert!(
            got == want,
            "round {round}: killed at {tried:?}\n--- want\n{want}\n--- got\n{got}"
        );
    }
    assert!(killed_before_end > 0, "no kill landed before the end");
    eprintln!("{killed_before_end} of 12 kills before the end (clean run {span:?})");
    // Once more after the end: the rules file is a no-op, nothing changes.
    let last = dir.path().join("round0");
    assert!(ingest(&last).status().unwrap().success());
    assert_eq!(answers(&last), want);
}
