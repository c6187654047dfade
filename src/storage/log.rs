//! The write-ahead log: numbered segment files of framed records in
//! `DIR/log/`, appended to, fsynced by the policy, read back at start.
//!
//! Opening the log reads every segment in order and hands each record's
//! payload to the caller (which replays it). What cannot be read is dealt
//! with before anything is appended:
//! - a torn last record of the last segment (a write the crash cut) is cut
//!   off, and its size reported;
//! - a damaged record anywhere else, or a record the caller cannot replay,
//!   ends the log there: the bytes from it on, and every later segment,
//!   are set aside as `*.damaged` files (kept for inspection, never read
//!   again) and reported with segment and offset.
//!
//! Nothing after a damaged record is replayed, because the records that
//! follow depend on it; file sources then resume from the last good
//! position, so their lines are read again from the files.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::checkpoint::LogPosition;
use super::record::{self, Next, RecordReader};
use super::{cut_file, set_aside, sync_dir};
use crate::error::{Error, Result};

/// A segment is closed and a new one started past this size: segments are
/// the unit of deletion once retention passes them.
const SEGMENT_BYTES: u64 = 64 << 20;

/// What opening the log found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogReport {
    /// Records replayed.
    pub records: u64,
    /// Bytes of a torn last record, cut off.
    pub torn_bytes: u64,
    /// Where the log was damaged and what was set aside, if it was.
    pub damage: Option<String>,
    /// Bytes set aside as damaged.
    pub damaged_bytes: u64,
}

/// The log, open for appending.
pub struct Log {
    dir: PathBuf,
    /// The segment being appended to, its number and size.
    file: File,
    segment: u64,
    segment_bytes: u64,
    /// Bytes of every segment but the current one.
    closed_bytes: u64,
    segments: u64,
    /// Framing scratch, reused.
    frame: Vec<u8>,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.seg"))
}

/// The segment numbers in `dir`, in order.
fn segments(dir: &Path) -> Result<Vec<u64>> {
    let io = |e| Error::io(format!("listing {}", dir.display()), e);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl Log {
    /// Whether the log in `dir` holds every record from `from` on (or,
    /// for `None`, from its very start): the segment is there and long
    /// enough, and no segment before it was deleted (for `None`).
    pub fn holds(dir: &Path, from: Option<LogPosition>) -> Result<bool> {
        if !dir.exists() {
            return Ok(from.is_none());
        }
        let numbers = segments(dir)?;
        Ok(match from {
            None => numbers.first().is_none_or(|&n| n == 1),
            Some(at) => {
                numbers.contains(&at.segment)
                    && file_len(&segment_path(dir, at.segment))? >= at.offset
            }
        })
    }

    /// Opens (creating) the log in `dir`, handing every good record's
    /// payload from `from` on (from the start for `None`) to `replay`, in
    /// order. `replay` answers `Err(why)` for a record it cannot apply,
    /// which ends the log there like damage.
    pub fn open(
        dir: &Path,
        from: Option<LogPosition>,
        replay: &mut dyn FnMut(&[u8]) -> std::result::Result<(), String>,
    ) -> Result<(Log, LogReport)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let numbers = segments(dir)?;
        let mut report = LogReport::default();
        let mut kept = Vec::new();
        for (k, &n) in numbers.iter().enumerate() {
            let path = segment_path(dir, n);
            let last = k + 1 == numbers.len();
            let io = |e| Error::io(format!("reading {}", path.display()), e);
            let start = match from {
                Some(at) if n < at.segment => {
                    kept.push(n);
                    continue;
                }
                Some(at) if n == at.segment => at.offset,
                _ => 0,
            };
            let mut file = File::open(&path).map_err(io)?;
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            let mut reader = RecordReader::starting_at(BufReader::new(file), start);
            let trouble = loop {
                match reader.read_next().map_err(io)? {
                    Next::Record(payload) => match replay(&payload) {
                        Ok(()) => report.records += 1,
                        Err(why) => {
                            break Some((
                                false,
                                format!("a record that cannot be replayed ({why})"),
                            ))
                        }
                    },
                    Next::End => break None,
                    Next::Torn { len } if last => {
                        report.torn_bytes = len;
                        break Some((true, String::new()));
                    }
                    Next::Torn { .. } => break Some((false, "a record cut short".into())),
                    Next::Damaged { why } => break Some((false, why.to_string())),
                }
            };
            kept.push(n);
            let Some((torn, why)) = trouble else { continue };
            let at = reader.offset();
            if torn {
                cut_file(&path, at)?;
                break;
            }
            report.damaged_bytes += set_aside(&path, at)?;
            for &later in &numbers[k + 1..] {
                report.damaged_bytes += set_aside(&segment_path(dir, later), 0)?;
            }
            report.damage = Some(format!(
                "log damaged at {} offset {at}: {why}; {} bytes from there on set aside as *.damaged",
                path.display(),
                report.damaged_bytes
            ));
            break;
        }
        let segment = kept.last().copied().unwrap_or(1);
        let path = segment_path(dir, segment);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        sync_dir(dir)?;
        let mut closed_bytes = 0;
        for &n in &kept[..kept.len().saturating_sub(1)] {
            closed_bytes += file_len(&segment_path(dir, n))?;
        }
        let segment_bytes = file_len(&path)?;
        Ok((
            Log {
                dir: dir.to_path_buf(),
                file,
                segment,
                segment_bytes,
                closed_bytes,
                segments: kept.len().max(1) as u64,
                frame: Vec::new(),
            },
            report,
        ))
    }

    /// Appends one record holding `payload` (not yet durable: see
    /// [`Log::sync`]). A full segment is closed and fsynced first.
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        if self.segment_bytes >= SEGMENT_BYTES {
            self.roll()?;
        }
        self.frame.clear();
        record::encode(payload, &mut self.frame);
        self.file
            .write_all(&self.frame)
            .map_err(|e| Error::io(format!("writing {}", self.current().display()), e))?;
        self.segment_bytes += self.frame.len() as u64;
        Ok(())
    }

    /// Makes everything appended so far durable (fdatasync).
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("syncing {}", self.current().display()), e))
    }

    /// Bytes of the log on disk, and its segments.
    pub fn size(&self) -> (u64, u64) {
        (self.closed_bytes + self.segment_bytes, self.segments)
    }

    /// Where the next record appended will start.
    pub fn position(&self) -> LogPosition {
        LogPosition {
            segment: self.segment,
            offset: self.segment_bytes,
        }
    }

    /// Deletes every segment wholly before `at` (never the current one);
    /// returns the bytes freed.
    pub fn delete_before(&mut self, at: LogPosition) -> Result<u64> {
        let mut freed = 0;
        for n in segments(&self.dir)? {
            if n >= at.segment || n >= self.segment {
                break;
            }
            let path = segment_path(&self.dir, n);
            let len = file_len(&path)?;
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("deleting {}", path.display()), e))?;
            freed += len;
            self.segments -= 1;
        }
        if freed > 0 {
            self.closed_bytes -= freed;
            sync_dir(&self.dir)?;
        }
        Ok(freed)
    }

    fn current(&self) -> PathBuf {
        segment_path(&self.dir, self.segment)
    }

    fn roll(&mut self) -> Result<()> {
        self.sync()?;
        let next = segment_path(&self.dir, self.segment + 1);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&next)
            .map_err(|e| Error::io(format!("creating {}", next.display()), e))?;
        sync_dir(&self.dir)?;
        self.closed_bytes += self.segment_bytes;
        self.segment += 1;
        self.segment_bytes = 0;
        self.segments += 1;
        Ok(())
    }
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Log, LogReport, Vec<Vec<u8>>) {
        let mut seen = Vec::new();
        let (log, report) = Log::open(dir, None, &mut |p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        (log, report, seen)
    }

    #[test]
    fn a_torn_tail_is_cut_and_appending_goes_on_after_the_last_good_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _, _) = open(dir.path());
        log.append(b"one").unwrap();
        log.append(b"two").unwrap();
        log.sync().unwrap();
        drop(log);
        let seg = segment_path(dir.path(), 1);
        let full = std::fs::read(&seg).unwrap();
        for cut in full.len() - 10..full.len() {
            std::fs::write(&seg, &full[..cut]).unwrap();
            let (mut log, report, seen) = open(dir.path());
            assert_eq!(seen, [b"one".to_vec()], "cut at {cut}");
            assert_eq!(report.torn_bytes as usize, cut - 11, "cut at {cut}");
            assert_eq!(report.damage, None);
            log.append(b"three").unwrap();
            drop(log);
            let (_, report, seen) = open(dir.path());
            assert_eq!(seen, [b"one".to_vec(), b"three".to_vec()], "cut at {cut}");
            assert_eq!(report.torn_bytes, 0);
        }
    }

    #[test]
    fn damage_in_the_middle_is_reported_with_segment_and_offset_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _, _) = open(dir.path());
        for r in [&b"one"[..], b"two", b"three"] {
            log.append(r).unwrap();
        }
        drop(log);
        let seg = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[11 + 9] ^= 0xff; // inside "two"
        std::fs::write(&seg, &bytes).unwrap();
        let (_, report, seen) = open(dir.path());
        assert_eq!(seen, [b"one".to_vec()]);
        let damage = report.damage.unwrap();
        assert!(
            damage.contains("00000000000000000001.seg offset 11"),
            "{damage}"
        );
        assert_eq!(report.damaged_bytes, 11 + 13);
        // Set aside, not read again: the next open is clean.
        let (_, report, seen) = open(dir.path());
        assert_eq!((seen.len(), report.damage), (1, None));
        assert!(dir.path().join("00000000000000000001.seg.damaged").exists());
    }

    #[test]
    fn reading_from_a_position_skips_what_is_before_it_and_deleting_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _, _) = open(dir.path());
        log.append(b"a").unwrap();
        log.segment_bytes = SEGMENT_BYTES; // as if full
        log.append(b"b").unwrap();
        let after_b = log.position();
        log.append(b"c").unwrap();
        assert_eq!(
            after_b,
            LogPosition {
                segment: 2,
                offset: 9
            }
        );
        assert!(Log::holds(dir.path(), None).unwrap());
        assert!(Log::holds(dir.path(), Some(after_b)).unwrap());
        let past = LogPosition {
            segment: 2,
            offset: 100,
        };
        assert!(!Log::holds(dir.path(), Some(past)).unwrap());
        drop(log);
        let mut seen = Vec::new();
        let (mut log, report) = Log::open(dir.path(), Some(after_b), &mut |p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!((seen, report.records), (vec![b"c".to_vec()], 1));
        assert_eq!(log.size(), (27, 2));
        assert_eq!(log.delete_before(after_b).unwrap(), 9);
        assert_eq!(log.size(), (18, 1));
        assert!(!Log::holds(dir.path(), None).unwrap());
        assert!(Log::holds(dir.path(), Some(after_b)).unwrap());
        // The current segment is never deleted.
        let end = log.position();
        assert_eq!(
            log.delete_before(LogPosition {
                segment: 9,
                offset: 0
            })
            .unwrap(),
            0
        );
        log.append(b"d").unwrap();
        drop(log);
        let mut seen = Vec::new();
        Log::open(dir.path(), Some(end), &mut |p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [b"d".to_vec()]);
    }

    #[test]
    fn segments_roll_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _, _) = open(dir.path());
        log.append(b"a").unwrap();
        log.segment_bytes = SEGMENT_BYTES; // as if full
        log.append(b"b").unwrap();
        assert_eq!(log.size().1, 2);
        drop(log);
        let (log, _, seen) = open(dir.path());
        assert_eq!(seen, [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(log.size(), (18, 2));
    }
}
