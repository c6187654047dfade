//! The events store's readers on arbitrary bytes: as a segment walked
//! block by block (framing, CRC, block decoding), as one block's payload
//! past the CRC, and as a segment file the store opens (index rebuilt
//! from the headers, torn tail cut, cut back to a sequence number) and
//! scans. Each ends in events or an error — never a panic, never an
//! allocation past the record limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::storage::{decode_events_block, read_events_segment, EventStore};

fuzz_target!(|bytes: &[u8]| {
    let _ = read_events_segment(bytes);
    let _ = decode_events_block(bytes);
    let dir = std::env::temp_dir().join(format!("tally-fuzz-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    if std::fs::write(dir.join("00000000000000000001.seg"), bytes).is_err() {
        return;
    }
    // The first byte picks where recovery cuts the store back to.
    let keep_below = bytes.first().map_or(0, |b| u64::from(*b) * 4);
    if let Ok((mut store, _)) = EventStore::open(&dir, keep_below) {
        let _ = store.scan(i64::MIN, i64::MAX, &mut |_, _, _| true);
        let _ = store.append(keep_below, 0, b"{}");
        let _ = store.flush();
        let _ = store.scan(i64::MIN, i64::MAX, &mut |_, _, _| true);
    }
});
