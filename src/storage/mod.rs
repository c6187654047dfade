//! Storage: what `--data DIR` keeps on disk so that a restart, even after
//! kill -9, comes back to the state it had — nothing lost that was
//! committed, nothing counted twice.
//!
//! - `MANIFEST` ([`Manifest`]): the format version, the schema and the
//!   settings the directory was made with.
//! - `log/`: the write-ahead log ([`Log`]) — numbered segments of records
//!   framed with a length and a CRC (`record.rs`), each record one commit
//!   of input lines with every file source's position after them
//!   (`entry.rs`, which says why the input and not the verdicts), and
//!   the rule statements that changed the rules in force.
//! - `checkpoints/`: the whole engine state at a log position
//!   (`checkpoint.rs`), so that a restart replays only the log after it.
//! - `events/`: every accepted event in blocks indexed by time
//!   ([`EventStore`], `events.rs`), what raw-row queries read; derived
//!   from the log, cut back to the checkpoint at start.
//!
//! This module only reads and writes bytes; replaying them through the
//! engine, and deciding when to commit, is the engine's (`engine/durable.rs`).
//! docs/durability.md describes the layout and what each fsync policy
//! promises.

mod block;
mod checkpoint;
mod entry;
mod events;
mod log;
mod manifest;
mod record;

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

pub use block::{decode_events_block, read_events_segment};
pub use checkpoint::{decode as decode_checkpoint, encode as encode_checkpoint};
pub use checkpoint::{from_bytes, to_bytes, CheckpointEvery, Checkpoints, LogPosition};
pub use checkpoint::{CheckpointBytes, CHECKPOINT_VERSION, KEEP};
pub use entry::{
    batch_line, decode, encode_create_rule, encode_drop_rule, encode_end_piece, encode_finish,
    encode_hand_over, encode_open, end_batch, start_batch,
};
pub use entry::{Batch, Entry};
pub use events::{EventStore, EventStoreReport, EventStoreSize, ScanReport, TimeOrder};
pub use log::{Log, LogReport};
pub use manifest::{Manifest, FORMAT_VERSION};
pub use record::{Next, RecordReader, MAX_RECORD};

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every line: nothing offered is ever lost, at the cost of one
    /// fsync per line.
    Always,
    /// Once per commit of a batch of lines (group commit): an ingest that
    /// returns has everything durable; a crash loses at most the batch in
    /// progress, which a file source reads again.
    Batch,
    /// At most once per this interval, and at the end of every ingest: a
    /// power loss may lose up to the interval's commits.
    Interval(Duration),
}

impl Fsync {
    /// `always`, `batch` or `interval` (one second).
    pub fn parse(text: &str) -> Result<Fsync> {
        match text {
            "always" => Ok(Fsync::Always),
            "batch" => Ok(Fsync::Batch),
            "interval" => Ok(Fsync::Interval(Duration::from_secs(1))),
            other => Err(Error::InvalidInput(format!(
                "--fsync {other}: expected always, batch or interval"
            ))),
        }
    }
}

/// Makes a directory's entries (a new or renamed file) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let io = |e| Error::io(format!("syncing {}", dir.display()), e);
    std::fs::File::open(dir).map_err(io)?.sync_all().map_err(io)
}

/// Cuts the file at `path` to `at` bytes, durably.
pub(crate) fn cut_file(path: &Path, at: u64) -> Result<()> {
    let io = |e| Error::io(format!("cutting {}", path.display()), e);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    file.set_len(at).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Moves the bytes of `path` from `at` on to `path.damaged` (or, when an
/// earlier incident left that, `path.damaged.2`, `.3`, …: nothing set aside
/// is overwritten), and cuts `path` there, removing it when nothing is
/// left. Returns the bytes set aside. They are kept for inspection and
/// never read again.
pub(crate) fn set_aside(path: &Path, at: u64) -> Result<u64> {
    let io = |e| Error::io(format!("setting aside {}", path.display()), e);
    let bytes = std::fs::read(path).map_err(io)?;
    let from = (at as usize).min(bytes.len());
    let named = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(if n == 1 {
            ".damaged".to_string()
        } else {
            format!(".damaged.{n}")
        });
        std::path::PathBuf::from(name)
    };
    let aside = (1..).map(named).find(|p| !p.exists()).expect("a free name");
    std::fs::write(&aside, &bytes[from..]).map_err(io)?;
    if from == 0 {
        std::fs::remove_file(path).map_err(io)?;
    } else {
        cut_file(path, at)?;
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok((bytes.len() - from) as u64)
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the
/// new one, never a mix: a temporary file, fsync, rename, fsync of the
/// directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_parts_atomically(path, &[bytes])
}

/// [`write_atomically`] of the concatenation of `parts`, without making it.
pub fn write_parts_atomically(path: &Path, parts: &[&[u8]]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let io = |e| Error::io(format!("writing {}", path.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    for part in parts {
        file.write_all(part).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    sync_dir(dir)
}
