//! Checkpoint files: the whole engine state at a log position, so that a
//! restart loads it and replays only the log records after it.
//!
//! ```text
//! DIR/checkpoints/checkpoint-<segment>-<offset>   (20 digits each)
//!
//! magic    8 bytes   "TALLYCKP"
//! version  u32 LE
//! length   u64 LE    bytes of the body
//! crc      u32 LE    CRC-32 (IEEE) of the body
//! body     count u32, then per section: length u64, bytes
//! ```
//!
//! The name says the log position the checkpoint covers: the segment and
//! byte offset of the first record not in it. What the sections hold is
//! the engine's business (`engine/checkpoint.rs`); they are encoded with
//! serde and `postcard` ([`to_bytes`], [`from_bytes`]).
//!
//! A checkpoint is written atomically (temporary file, fsync, rename,
//! fsync of the directory); the last [`KEEP`] are kept, and a leftover
//! temporary file (a write a crash interrupted) is deleted unread. The
//! reader treats every byte as hostile: the length must be the file's, the
//! CRC must match, every section length is checked against what is left,
//! and decoding answers an error, never a panic.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sync_dir;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"TALLYCKP";
/// The layout of the body; a checkpoint of another version is not read
/// (recovery falls back to the log).
pub const CHECKPOINT_VERSION: u32 = 4;
const HEADER: usize = 24;
/// Checkpoints kept: the newest, and the one to fall back to when the
/// newest is damaged.
pub const KEEP: usize = 2;
const PREFIX: &str = "checkpoint-";
const TMP: &str = ".tmp";

/// A place in the log: the segment and the byte offset in it of the first
/// record after a checkpoint.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct LogPosition {
    pub segment: u64,
    pub offset: u64,
}

impl std::fmt::Display for LogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

/// When checkpoints are written (`--checkpoint-every`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointEvery {
    /// After this many lines since the last one.
    Lines(u64),
    /// After this much time since the last one.
    Interval(Duration),
}

impl CheckpointEvery {
    /// The default: see `docs/durability.md` ("How often").
    pub const DEFAULT: CheckpointEvery = CheckpointEvery::Lines(5_000_000);

    /// A count of lines (`1000000`) or a duration (`5m`, `30s`, `1h`).
    pub fn parse(text: &str) -> Result<CheckpointEvery> {
        let bad = || {
            Error::InvalidInput(format!(
                "--checkpoint-every {text}: expected a count of lines (1000000) or a duration (30s, 5m, 1h)"
            ))
        };
        if let Ok(n) = text.parse::<u64>() {
            return if n == 0 {
                Err(bad())
            } else {
                Ok(CheckpointEvery::Lines(n))
            };
        }
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let secs = match &text[digits.len()..] {
            "ms" => return Ok(CheckpointEvery::Interval(Duration::from_millis(n.max(1)))),
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(bad()),
        };
        if secs == 0 {
            return Err(bad());
        }
        Ok(CheckpointEvery::Interval(Duration::from_secs(secs)))
    }
}

/// Encodes a part of a checkpoint.
pub fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| Error::Internal(format!("encoding a checkpoint: {e}")))
}

/// Decodes a part of a checkpoint; damaged bytes, and bytes left over
/// after the part, are an error.
pub fn from_bytes<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> std::result::Result<T, String> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes after a section's end", rest.len())),
        Err(e) => Err(format!("a section that does not decode ({e})")),
    }
}

/// The header of a checkpoint holding `sections`, and the section count
/// that starts its body.
fn header(sections: &[&[u8]]) -> (Vec<u8>, [u8; 4]) {
    let count = (sections.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&count);
    let mut length = count.len() as u64;
    for s in sections {
        crc.update(&(s.len() as u64).to_le_bytes());
        crc.update(s);
        length += 8 + s.len() as u64;
    }
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    head.extend_from_slice(&length.to_le_bytes());
    head.extend_from_slice(&crc.finalize().to_le_bytes());
    (head, count)
}

/// A whole checkpoint file holding `sections`, in memory (tests, fuzzing).
pub fn encode(sections: &[&[u8]]) -> Vec<u8> {
    let (head, count) = header(sections);
    let mut out = head;
    out.extend_from_slice(&count);
    for s in sections {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s);
    }
    out
}

/// Checks a checkpoint file's bytes and finds its sections.
pub fn decode(bytes: &[u8]) -> std::result::Result<Vec<Range<usize>>, String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a tally checkpoint".into());
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let word32 = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(w)
    };
    let version = word32(8);
    if version != CHECKPOINT_VERSION {
        return Err(format!(
            "checkpoint version {version}, this tally reads version {CHECKPOINT_VERSION}"
        ));
    }
    let length = word(12);
    if length != (bytes.len() - HEADER) as u64 {
        return Err(format!(
            "a body of {} bytes where the header says {length} (cut short or grown)",
            bytes.len() - HEADER
        ));
    }
    let body = &bytes[HEADER..];
    if crc32fast::hash(body) != word32(20) {
        return Err("a body whose checksum does not match".into());
    }
    if body.len() < 4 {
        return Err("a body cut short".into());
    }
    let count = word32(HEADER) as usize;
    let mut at = HEADER + 4;
    let mut sections = Vec::new();
    for _ in 0..count {
        if bytes.len() - at < 8 {
            return Err("a section cut short".into());
        }
        let len = word(at);
        at += 8;
        if len > (bytes.len() - at) as u64 {
            return Err("a section longer than the file".into());
        }
        let end = at + len as usize;
        sections.push(at..end);
        at = end;
    }
    if at != bytes.len() {
        return Err(format!("{} bytes after the last section", bytes.len() - at));
    }
    Ok(sections)
}

/// The checkpoints of a data directory.
#[derive(Debug)]
pub struct Checkpoints {
    dir: PathBuf,
}

fn name(pos: LogPosition) -> String {
    format!("{PREFIX}{:020}-{:020}", pos.segment, pos.offset)
}

/// The position a checkpoint's file name says, if it is one's name.
fn parse_name(name: &str) -> Option<LogPosition> {
    let rest = name.strip_prefix(PREFIX)?;
    let (segment, offset) = rest.split_once('-')?;
    if segment.len() != 20 || offset.len() != 20 {
        return None;
    }
    Some(LogPosition {
        segment: segment.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

impl Checkpoints {
    /// Opens (creating) `DIR/checkpoints`, deleting leftover temporary
    /// files; returns how many it deleted.
    pub fn open(data_dir: &Path) -> Result<(Checkpoints, usize)> {
        let dir = data_dir.join("checkpoints");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let io = |e| Error::io(format!("listing {}", dir.display()), e);
        let mut removed = 0;
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file.starts_with(PREFIX) && file.ends_with(TMP) {
                std::fs::remove_file(entry.path())
                    .map_err(|e| Error::io(format!("deleting {}", entry.path().display()), e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&dir)?;
        }
        Ok((Checkpoints { dir }, removed))
    }

    /// The checkpoints on disk, newest first.
    pub fn list(&self) -> Result<Vec<(LogPosition, PathBuf)>> {
        let io = |e| Error::io(format!("listing {}", self.dir.display()), e);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if let Some(pos) = parse_name(&entry.file_name().to_string_lossy()) {
                out.push((pos, entry.path()));
            }
        }
        out.sort_unstable_by_key(|(pos, _)| std::cmp::Reverse(*pos));
        Ok(out)
    }

    /// Bytes of every checkpoint on disk.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = 0;
        for (_, path) in self.list()? {
            total += std::fs::metadata(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
                .len();
        }
        Ok(total)
    }

    /// Writes a checkpoint at `pos` atomically, then deletes all but the
    /// newest [`KEEP`]. Returns the file's bytes and, once [`KEEP`] are on
    /// disk, the oldest position kept: every log record before it is in
    /// every checkpoint kept, so the log before it is needed by none (with
    /// fewer, the log is kept whole: a damaged sole checkpoint falls back
    /// to it).
    pub fn write(
        &self,
        pos: LogPosition,
        sections: &[&[u8]],
    ) -> Result<(u64, Option<LogPosition>)> {
        let (head, count) = header(sections);
        let mut parts: Vec<&[u8]> = vec![&head, &count];
        let lengths: Vec<[u8; 8]> = sections
            .iter()
            .map(|s| (s.len() as u64).to_le_bytes())
            .collect();
        for (s, len) in sections.iter().zip(&lengths) {
            parts.push(len);
            parts.push(s);
        }
        let path = self.dir.join(name(pos));
        super::write_parts_atomically(&path, &parts)?;
        let bytes = parts.iter().map(|p| p.len() as u64).sum();
        let list = self.list()?;
        for (_, old) in list.iter().skip(KEEP) {
            std::fs::remove_file(old)
                .map_err(|e| Error::io(format!("deleting {}", old.display()), e))?;
        }
        if list.len() > KEEP {
            sync_dir(&self.dir)?;
        }
        let kept = &list[..list.len().min(KEEP)];
        let oldest = kept
            .iter()
            .map(|(p, _)| *p)
            .min()
            .filter(|_| kept.len() == KEEP);
        Ok((bytes, oldest))
    }
}

/// A checkpoint file's bytes as a restart reads them: mapped (the pages
/// come from the page cache, with no copy and no zeroed buffer of the
/// file's size), or read into memory where it cannot be mapped (an empty
/// file, a file system without mappings).
pub enum CheckpointBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for CheckpointBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            CheckpointBytes::Mapped(map) => map,
            CheckpointBytes::Read(bytes) => bytes,
        }
    }
}

impl CheckpointBytes {
    /// Opens the checkpoint at `path` for reading it whole.
    pub fn open(path: &Path) -> std::io::Result<CheckpointBytes> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(CheckpointBytes::Read(Vec::new()));
        }
        // SAFETY: a mapping is undefined behaviour if the file changes
        // while it is mapped. Checkpoints are written whole to a temporary
        // name, fsynced and renamed; nothing in tally writes to one after
        // that (setting one aside renames it, which leaves the mapping
        // alone), and the mapping lives only while the checkpoint loads.
        // Another process editing a running tally's data directory is
        // outside what the directory supports (docs/durability.md).
        // `populate` faults every page in at once, as the load reads them
        // all.
        match unsafe { memmap2::MmapOptions::new().populate().map(&file) } {
            Ok(map) => Ok(CheckpointBytes::Mapped(map)),
            Err(_) => std::fs::read(path).map(CheckpointBytes::Read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_read_back_and_every_damage_is_an_error() {
        let file = encode(&[b"engine", b"", b"shard one"]);
        let sections = decode(&file).unwrap();
        let got: Vec<&[u8]> = sections.iter().map(|r| &file[r.clone()]).collect();
        assert_eq!(got, [&b"engine"[..], b"", b"shard one"]);
        // Every flipped byte and every cut is refused, never a panic.
        for at in 0..file.len() {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at {at}");
            assert!(decode(&file[..at]).is_err(), "cut at {at}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn names_sort_by_position_and_the_last_two_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (cps, _) = Checkpoints::open(dir.path()).unwrap();
        let at = |segment, offset| LogPosition { segment, offset };
        assert_eq!(parse_name(&name(at(3, 77))), Some(at(3, 77)));
        assert_eq!(parse_name("checkpoint-1-2"), None);
        // One alone: no fallback yet, so the log is needed whole.
        let (_, oldest) = cps.write(at(1, 500), &[b"a"]).unwrap();
        assert_eq!(oldest, None);
        let (_, oldest) = cps.write(at(2, 10), &[b"b"]).unwrap();
        assert_eq!(oldest, Some(at(1, 500)));
        let (bytes, oldest) = cps.write(at(1, 900), &[b"c"]).unwrap();
        // Newest by position, not by the order written.
        assert_eq!(oldest, Some(at(1, 900)));
        let list: Vec<LogPosition> = cps.list().unwrap().into_iter().map(|(p, _)| p).collect();
        assert_eq!(list, [at(2, 10), at(1, 900)]);
        assert_eq!(cps.bytes().unwrap(), bytes * 2);
        let (newest, path) = &cps.list().unwrap()[0];
        let file = std::fs::read(path).unwrap();
        assert_eq!(*newest, at(2, 10));
        assert_eq!(&file[decode(&file).unwrap()[0].clone()], b"b");
    }

    #[test]
    fn a_half_written_checkpoint_is_deleted_unread() {
        let dir = tempfile::tempdir().unwrap();
        let (cps, removed) = Checkpoints::open(dir.path()).unwrap();
        assert_eq!(removed, 0);
        let pos = LogPosition {
            segment: 1,
            offset: 40,
        };
        cps.write(pos, &[b"whole"]).unwrap();
        let tmp = dir
            .path()
            .join("checkpoints")
            .join(format!("{}{TMP}", name(pos)));
        std::fs::write(&tmp, &encode(&[b"half"])[..10]).unwrap();
        let (cps, removed) = Checkpoints::open(dir.path()).unwrap();
        assert_eq!(removed, 1);
        assert!(!tmp.exists());
        assert_eq!(cps.list().unwrap().len(), 1);
    }

    #[test]
    fn checkpoint_every_takes_a_count_or_a_duration() {
        use CheckpointEvery::*;
        assert_eq!(CheckpointEvery::parse("5000").unwrap(), Lines(5000));
        assert_eq!(
            CheckpointEvery::parse("5m").unwrap(),
            Interval(Duration::from_secs(300))
        );
        assert_eq!(
            CheckpointEvery::parse("30s").unwrap(),
            Interval(Duration::from_secs(30))
        );
        for bad in ["0", "", "5x", "m", "-3", "0s"] {
            assert!(CheckpointEvery::parse(bad).is_err(), "{bad}");
        }
    }
}
