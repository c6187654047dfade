//! Checkpoints through the engine's API: a state loaded from a checkpoint
//! (and the log after it) answers a fixed query set, and shows every
//! counter, exactly as the engine that never stopped; a damaged latest
//! checkpoint falls back to the one before; a half-written one is deleted
//! unread; a directory whose log was pruned behind damaged checkpoints is
//! refused; one written by another number of shards is refused; and the
//! lines an ingest read before a read error are logged as they were applied.

use std::path::{Path, PathBuf};

use tally::event::Schema;
use tally::generator::{generate, GenConfig};
use tally::storage::{CheckpointEvery, Manifest};
use tally::{Config, Engine, Value};

/// The fixed query set: every kind of state a checkpoint holds is read —
/// global tiers, entity logs and panes, sketches of both kinds, the ring.
const QUERIES: &str = "
SHOW STATS;
SELECT TOP 5 event_type FROM events WINDOW 1h;
SELECT COUNT(*) AS events, COUNT(DISTINCT user_id) AS users, COUNT(DISTINCT video_id) AS videos FROM events WINDOW 24h;
SELECT COUNT(metadata.view_duration_ms) AS n, MEDIAN(metadata.view_duration_ms) AS median,
       PERCENTILE(metadata.view_duration_ms, 99) AS p99, SUM(metadata.view_duration_ms) AS total FROM events WINDOW 6h;
SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5 WINDOW 24h;
SELECT video_id, COUNT(DISTINCT user_id) AS viewers, COUNT(*) AS events FROM events
       GROUP BY video_id ORDER BY viewers DESC, video_id LIMIT 5 WINDOW 24h;
SELECT video_id, COUNT(*) AS views FROM events WHERE event_type = 'video_view'
       GROUP BY video_id ORDER BY views DESC, video_id LIMIT 5 WINDOW 1h;
SELECT COUNT(*) AS events FROM events WINDOW 5m;
SELECT event_id, timestamp FROM events ORDER BY timestamp DESC, event_id LIMIT 5;
";

/// Lines before which two far-future lines are inserted: a checkpoint
/// (every 7,000 lines, at a commit of 1,000) then finds the future guard
/// holding them, and the next line rejects them.
const HELD_AT: [usize; 2] = [4_998, 27_996];

/// A generated stream with duplicates, disorder, bad lines and held
/// far-future events, as a file.
fn stream(dir: &Path) -> PathBuf {
    let config = GenConfig {
        events: 30_000,
        users: 2_000,
        items: 300,
        span_ms: 3 * 3_600_000,
        disorder_ms: 120_000,
        duplicates: 0.03,
        bad: 0.02,
        seed: 7,
        ..GenConfig::default()
    };
    let mut text = Vec::new();
    generate(&config, &mut text).unwrap();
    let mut lines: Vec<String> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    for (k, at) in HELD_AT.iter().enumerate().rev() {
        for j in 0..2 {
            lines.insert(
                *at,
                format!(
                    r#"{{"event_id":"far-{k}-{j}","timestamp":"2025-03-01T00:00:0{j}Z","user_id":1,"video_id":1,"creator_id":1,"event_type":"like","metadata":{{"device_type":"ios"}}}}"#
                ),
            );
        }
    }
    let path = dir.join("stream.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// An engine on `data` writing a checkpoint every `every` lines. The
/// directory gets a fixed id-history seed, so that two directories
/// remember (and sweep) ids alike.
fn engine(data: &Path, every: u64, shards: usize) -> Engine {
    let schema = Schema::preset("reels").unwrap();
    if !data.join("MANIFEST").exists() {
        std::fs::create_dir_all(data).unwrap();
        let mut manifest = Manifest::new(schema.clone(), 86_400, 3_600_000);
        manifest.id_seed = 0x5eed;
        manifest.write(data).unwrap();
    }
    let mut config = Config::new(schema);
    config.shards = shards;
    config.data = Some(data.to_path_buf());
    config.commit_lines = 1_000;
    config.checkpoint_every = CheckpointEvery::Lines(every);
    Engine::start(config).unwrap()
}

/// Every answer of the query set, but the `storage.*` rows of `SHOW STATS`.
fn answers(engine: &mut Engine) -> String {
    let mut out = String::new();
    for result in engine.execute(QUERIES).unwrap() {
        for row in &result.rows {
            if matches!(&row[0], Value::Str(s) if s.starts_with("storage.")) {
                continue;
            }
            out.push_str(&format!("{row:?}\n"));
        }
        out.push('\n');
    }
    out
}

fn checkpoints(data: &Path) -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(data.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            !name.ends_with(".tmp") && !name.ends_with(".damaged")
        })
        .collect();
    list.sort();
    list
}

/// The uninterrupted run's answers (checkpoints never due), and a
/// directory ingested with a checkpoint every 7,000 lines.
fn setup(root: &Path) -> (PathBuf, String, PathBuf) {
    let input = stream(root);
    let mut reference = engine(&root.join("reference"), u64::MAX, 2);
    reference
        .ingest_files(std::slice::from_ref(&input), &mut |_| {})
        .unwrap();
    let want = answers(&mut reference);
    assert!(want.contains("too_far_in_future"), "{want}");
    drop(reference);
    let data = root.join("data");
    let mut e = engine(&data, 7_000, 2);
    e.ingest_files(std::slice::from_ref(&input), &mut |_| {})
        .unwrap();
    let storage = e.stats().unwrap().storage.unwrap();
    assert!(storage.checkpoints_written >= 4, "{storage:?}");
    // Writing checkpoints changes no answer.
    assert_eq!(answers(&mut e), want);
    drop(e);
    (input, want, data)
}

#[test]
fn a_restored_checkpoint_and_the_log_after_it_answer_as_the_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    let (input, want, data) = setup(root.path());
    // The last two are kept: the one at exit and the one before.
    assert_eq!(checkpoints(&data).len(), 2);

    // The checkpoint written at exit: nothing to replay.
    let mut e = engine(&data, u64::MAX, 2);
    let storage = e.stats().unwrap().storage.unwrap();
    assert_eq!(storage.replayed_lines, 0, "{storage:?}");
    assert!(storage.restore_ms.is_some());
    assert_eq!(answers(&mut e), want);
    drop(e);

    // Without it, the one before (mid-ingest, sources open, events
    // held or not) and the log after it.
    let latest = checkpoints(&data).pop().unwrap();
    std::fs::remove_file(&latest).unwrap();
    let mut e = engine(&data, u64::MAX, 2);
    let storage = e.stats().unwrap().storage.unwrap();
    assert!(storage.replayed_lines > 0, "{storage:?}");
    assert_eq!(answers(&mut e), want);
    // Ingesting the same file again resumes at its end: nothing changes.
    e.ingest_files(&[input], &mut |_| {}).unwrap();
    assert_eq!(answers(&mut e), want);
}

#[test]
fn a_damaged_latest_checkpoint_falls_back_to_the_one_before() {
    let root = tempfile::tempdir().unwrap();
    let (_, want, data) = setup(root.path());
    let damages: [fn(&mut Vec<u8>); 3] = [
        |b| {
            let at = b.len() / 2;
            b[at] ^= 0x01
        },
        |b| b.truncate(b.len() - 7),
        |b| b.truncate(10),
    ];
    for damage in damages {
        let latest = checkpoints(&data).pop().unwrap();
        let mut bytes = std::fs::read(&latest).unwrap();
        assert_eq!(tally::engine::read_checkpoint(&bytes), Ok(2));
        damage(&mut bytes);
        assert!(tally::engine::read_checkpoint(&bytes).is_err());
        std::fs::write(&latest, bytes).unwrap();
        let mut e = engine(&data, u64::MAX, 2);
        let notes = e.take_notes().join("\n");
        assert!(notes.contains("not used"), "{notes}");
        let storage = e.stats().unwrap().storage.unwrap();
        assert_eq!(storage.checkpoints_set_aside, 1, "{storage:?}");
        assert!(storage.replayed_lines > 0);
        assert_eq!(answers(&mut e), want);
        // Set aside, never read again; the exit writes a new latest.
        drop(e);
        let name = latest.file_name().unwrap().to_string_lossy().to_string();
        assert!(data.join("checkpoints").join(name + ".damaged").exists());
        assert_eq!(checkpoints(&data).len(), 2);
    }
}

#[test]
fn a_half_written_checkpoint_is_deleted_and_an_empty_directory_starts_empty() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("new");
    // A missing directory: created, empty, nothing to load.
    let mut e = engine(&data, 5_000, 2);
    let storage = e.stats().unwrap().storage.unwrap();
    assert_eq!(
        (
            storage.last_checkpoint,
            storage.restore_ms,
            e.counters().lines
        ),
        (None, None, 0)
    );
    e.ingest_lines("-", ["{\"bad\"", "not json"]).unwrap();
    drop(e);
    let tmp = data
        .join("checkpoints")
        .join("checkpoint-00000000000000000001-00000000000000009999.tmp");
    std::fs::write(&tmp, b"TALLYCKP half").unwrap();
    let mut e = engine(&data, 5_000, 2);
    assert!(!tmp.exists());
    let notes = e.take_notes().join("\n");
    assert!(notes.contains("half-written"), "{notes}");
    assert_eq!(e.counters().lines, 2);
    assert_eq!(e.counters().rejected_total(), 2);
}

#[test]
fn a_pruned_log_without_a_good_checkpoint_or_another_shard_count_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("d");
    let mut e = engine(&data, 5_000, 2);
    e.ingest_lines("-", ["{\"bad\""]).unwrap();
    drop(e);
    let err = match Engine::start({
        let mut c = Config::new(Schema::preset("reels").unwrap());
        c.shards = 3;
        c.data = Some(data.clone());
        c
    }) {
        Ok(_) => panic!("another shard count is refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("run with --shards 2"), "{err}");
    // As if segments had been deleted behind checkpoints that are now
    // damaged: the log no longer starts at its first segment.
    for cp in checkpoints(&data) {
        std::fs::write(&cp, b"garbage").unwrap();
    }
    let log = data.join("log");
    std::fs::rename(
        log.join(format!("{:020}.seg", 1)),
        log.join(format!("{:020}.seg", 2)),
    )
    .unwrap();
    let err = match Engine::start({
        let mut c = Config::new(Schema::preset("reels").unwrap());
        c.shards = 2;
        c.data = Some(data.clone());
        c
    }) {
        Ok(_) => panic!("a pruned log is refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("restore the directory from a backup"), "{err}");
}

/// What the fuzz target `checkpoint` does, on inputs made here: random
/// bytes, and every cut and many flips of a real checkpoint's parts,
/// framed with a valid CRC so that decoding sees them — each is read or
/// refused, never a panic.
#[test]
fn damaged_parts_past_a_valid_crc_are_refused_not_a_panic() {
    use tally::engine::{decode_checkpoint_parts, read_checkpoint};
    use tally::storage::{decode_checkpoint, encode_checkpoint};
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("d");
    let mut e = engine(&data, u64::MAX, 2);
    let input = stream(root.path());
    e.ingest_files(&[input], &mut |_| {}).unwrap();
    drop(e);
    let file = std::fs::read(checkpoints(&data).pop().unwrap()).unwrap();
    let parts: Vec<Vec<u8>> = (decode_checkpoint(&file).unwrap().into_iter())
        .map(|r| file[r].to_vec())
        .collect();
    assert!(decode_checkpoint_parts(&parts[0]).0);
    assert!(decode_checkpoint_parts(&parts[1]).1 && decode_checkpoint_parts(&parts[2]).1);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (i, part) in parts.iter().enumerate() {
        let step = (part.len() / 50).max(1);
        for cut in (0..part.len()).step_by(step) {
            let cut_part = &part[..cut];
            let mut flipped = part.clone();
            let at = next() as usize % part.len();
            flipped[at] ^= 1 << (next() % 8);
            for bytes in [cut_part, &flipped[..]] {
                let _ = decode_checkpoint_parts(bytes);
                let mut sections: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                sections[i] = bytes;
                let _ = read_checkpoint(&encode_checkpoint(&sections));
            }
        }
    }
    for len in 0..2_000 {
        let bytes: Vec<u8> = (0..len % 400).map(|_| next() as u8).collect();
        let _ = read_checkpoint(&bytes);
        let _ = read_checkpoint(&encode_checkpoint(&[&bytes]));
        let _ = decode_checkpoint_parts(&bytes);
    }
}

/// Lines that arrive in pieces (an answered post, a followed file's pause)
/// are handed to the shards after each piece; the log says where, so a
/// replay hands them over at the same points and the shards fold and
/// expire as they did: the same answers and the same `state.*` counters.
/// The first post is one line 25 h ahead of the rest: its post is a whole
/// piece, so the future guard settles it there (it starts the clock, and
/// the stream's first hour is too late for it), and replay must settle it
/// at the same point, not hold it until the next post's lines refute it.
#[test]
fn a_log_of_posts_replays_as_the_posts_were_applied() {
    let root = tempfile::tempdir().unwrap();
    let input = std::fs::read_to_string(stream(root.path())).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let ts = tally::time::parse_timestamp_str(first["timestamp"].as_str().unwrap()).unwrap();
    let ahead = format!(
        r#"{{"event_id":"ahead","timestamp":"{}","user_id":1,"video_id":1,"creator_id":1,"event_type":"like","metadata":{{"device_type":"ios"}}}}"#,
        tally::time::format_timestamp(ts + 25 * 3_600_000)
    );
    let data = root.path().join("data");
    let mut live = engine(&data, u64::MAX, 2);
    let first = live.ingest_piece("post", format!("{ahead}\n").into_bytes(), 0);
    assert_eq!(first.unwrap().accepted, 1, "a lone first post is settled");
    let mut before = 1;
    for piece in lines.chunks(700) {
        let bytes = piece.iter().map(|l| format!("{l}\n")).collect::<String>();
        live.ingest_piece("post", bytes.into_bytes(), before)
            .unwrap();
        before += piece.len() as u64;
    }
    let want = answers(&mut live);
    drop(live);
    // Without its exit checkpoint the restart replays the whole log.
    std::fs::remove_dir_all(data.join("checkpoints")).unwrap();
    let mut replayed = engine(&data, u64::MAX, 2);
    assert_eq!(answers(&mut replayed), want);
}

/// A reader that gives `bytes`, then fails: a disk error mid-file.
struct FailsAfter(std::io::Cursor<Vec<u8>>);

impl std::io::Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("the disk went away")),
            n => Ok(n),
        }
    }
}

#[test]
fn lines_offered_before_a_read_error_are_logged_and_replay_as_they_were_applied() {
    let root = tempfile::tempdir().unwrap();
    let input = std::fs::read_to_string(stream(root.path())).unwrap();
    // 10,500 lines: past the last whole commit of 1,000.
    let head: String = input
        .lines()
        .take(10_500)
        .map(|l| format!("{l}\n"))
        .collect();
    let data = root.path().join("data");
    let mut live = engine(&data, u64::MAX, 2);
    let reader = std::io::BufReader::new(FailsAfter(std::io::Cursor::new(head.into_bytes())));
    let merge = tally::ingest::Merge::from_readers(vec![("disk".into(), Box::new(reader))]);
    let err = live.ingest(merge, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("the disk went away"), "{err}");
    let want = answers(&mut live);
    assert!(want.contains("10500"), "every line read is counted: {want}");
    drop(live);
    // Without its exit checkpoint the restart replays the whole log.
    std::fs::remove_dir_all(data.join("checkpoints")).unwrap();
    let mut replayed = engine(&data, u64::MAX, 2);
    assert_eq!(answers(&mut replayed), want);
}
