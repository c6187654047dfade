//! `tally gen`: every preset, determinism, files, its refusals.

use super::*;

const PRESETS: [&str; 5] = ["reels", "shop", "clicks", "stats", "ledger"];

#[test]
fn gen_writes_n_json_objects_for_every_preset() {
    for preset in PRESETS {
        let out = ok(&["gen", "--preset", preset, "-n", "200", "--seed", "7"]);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 200, "{preset}");
        assert!(lines.iter().all(Json::is_object), "{preset}");
        assert!(out.ends_with('\n'));
    }
}

#[test]
fn gen_is_deterministic_for_a_seed() {
    for preset in PRESETS {
        let args = |seed| ["gen", "--preset", preset, "-n", "100", "--seed", seed];
        let a = ok(&args("1"));
        assert_eq!(a, ok(&args("1")), "{preset}: same seed, other output");
        assert_ne!(a, ok(&args("2")), "{preset}: the seed changes nothing");
    }
}

#[test]
fn gen_out_writes_the_same_lines_to_a_file() {
    let dir = Dir::new();
    for preset in PRESETS {
        let file = arg(&dir.path(&format!("{preset}.ndjson")));
        let stdout = ok(&["gen", "--preset", preset, "-n", "50", "--out", &file]);
        assert_eq!(stdout, "", "{preset}: --out also wrote to stdout");
        let expected = ok(&["gen", "--preset", preset, "-n", "50"]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    }
}

/// What `gen` writes, `ingest` reads back: every preset is detected and
/// every line accepted (no bad lines or duplicates were asked for).
#[test]
fn gen_output_ingests_cleanly_under_its_detected_preset() {
    let dir = Dir::new();
    for preset in PRESETS {
        let file = arg(&dir.path(&format!("{preset}.ndjson")));
        ok(&["gen", "--preset", preset, "-n", "300", "--out", &file]);
        let summary = ok(&["ingest", &file]);
        assert_eq!(
            untimed(&summary).lines().next(),
            Some("300 lines: 300 accepted, 0 rejected"),
            "{preset}"
        );
        let schema = tally(&["shell", "--input", &file], ".schema\n");
        assert_eq!(schema.code, 0, "{preset}: {}", schema.stderr);
        assert_eq!(
            schema.stdout.lines().next(),
            Some(format!("schema {preset}").as_str())
        );
    }
}

#[test]
fn gen_bad_and_duplicate_lines_are_rejected_on_ingest() {
    let dir = Dir::new();
    let file = arg(&dir.path("bad.ndjson"));
    ok(&[
        "gen",
        "-n",
        "1000",
        "--bad",
        "0.05",
        "--duplicates",
        "0.02",
        "--seed",
        "3",
        "--out",
        &file,
    ]);
    let summary = ok(&["ingest", &file, "--schema", "reels"]);
    let head = untimed(&summary);
    let head = head.lines().next().unwrap();
    assert!(head.starts_with("1,000 lines: "), "{summary}");
    assert!(!head.ends_with(" 0 rejected"), "{summary}");
    assert!(summary.contains("rejected.duplicate: "), "{summary}");
    assert!(summary.contains("rejected.malformed_json: "), "{summary}");
}

#[test]
fn gen_unknown_preset_lists_the_presets() {
    let err = fails(&["gen", "--preset", "nope", "-n", "3"]);
    assert!(err.contains("'nope'"), "{err}");
    assert!(err.contains("reels, shop, clicks, stats, ledger"), "{err}");
}

#[test]
fn gen_refuses_a_disorder_that_is_not_a_duration() {
    // `abc` used to mean "no disorder"; only a real zero may.
    let out = tally(&["gen", "--disorder", "abc", "-n", "3"], "");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("invalid duration 'abc'"), "{out:?}");
    for zero in ["0", "0s"] {
        let lines = ok(&["gen", "--disorder", zero, "-n", "3"]);
        assert_eq!(lines.lines().count(), 3);
    }
}

/// Shop and stats events have no id: their duplicates cannot be dropped,
/// and gen, ingest and `.schema` each say so.
#[test]
fn item_15_id_less_presets_say_they_cannot_deduplicate() {
    let dir = Dir::new();
    let file = arg(&dir.path("shop.ndjson"));
    let args = [
        "gen",
        "--preset",
        "shop",
        "-n",
        "400",
        "--duplicates",
        "0.05",
        "--seed",
        "1",
        "--out",
        &file,
    ];
    let out = tally(&args, "");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("warning: ") && out.stderr.contains("schema shop has no id field"),
        "{out:?}"
    );
    let summary = tally(&["ingest", &file], "");
    assert!(
        summary.stderr.contains("note: schema shop has no id field"),
        "{summary:?}"
    );
    let schema = tally(&["shell", "--input", &file], ".schema\n");
    assert!(
        schema
            .stdout
            .contains("no id: duplicate lines cannot be de-duplicated"),
        "{schema:?}"
    );
    // A schema with an id says nothing of the kind.
    let reels = arg(&dir.path("reels.ndjson"));
    let out = tally(
        &["gen", "-n", "100", "--duplicates", "0.05", "--out", &reels],
        "",
    );
    assert!(!out.stderr.contains("warning"), "{out:?}");
    assert!(!tally(&["ingest", &reels], "")
        .stderr
        .contains("no id field"));
}
