//! `tally shell --follow`: input files tailed like `tail -F`.
//!
//! After the shell has loaded its input files, lines appended to them are
//! picked up before each statement and between the runs of `.watch`, so
//! queries see a live stream. Only whole lines are taken; a line still being
//! written waits for its newline. Lines are numbered on from the lines
//! already read, and handed over as bytes, empty lines included, so a file
//! read in appends counts exactly as one read at once. A file truncated
//! below what was read, or a path that now names another file (rotation),
//! is read again from its start.
//!
//! The first events of a stream are held until the end of a piece of input
//! tells whether the very first is an outlier (the future guard). A
//! followed file never ends, so once it has been quiet for
//! [`SETTLE_AFTER`], its lines so far count as one whole piece, as a
//! posted body does: a file of a single line is not held forever.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Reads more than this per poll only on the next poll.
const MAX_READ: usize = 16 << 20;

/// Quiet time after which the lines of the followed files so far are one
/// whole piece (see the module docs): long enough for a writer's burst to
/// arrive whole, short enough that a user's first query sees a lone line.
pub const SETTLE_AFTER: Duration = Duration::from_secs(1);

struct Followed {
    path: PathBuf,
    file: File,
    /// Bytes read from `file` so far: a file now shorter was truncated.
    offset: u64,
    /// Whole lines of `file` before the bytes to come, so that line
    /// numbers go on across polls as they would in one read of the file.
    lines: u64,
    /// Bytes after the last newline, waiting for the rest of their line.
    partial: Vec<u8>,
}

/// Lines appended to one followed file since the last poll.
pub struct Appended {
    pub source: String,
    /// Whole lines, each with its newline, as read (empty lines included:
    /// they are counted and rejected as in any other read of the file).
    pub bytes: Vec<u8>,
    /// Lines of the file before these: the first of them is line
    /// `lines_before + 1`.
    pub lines_before: u64,
    /// What happened to the file first: truncated or replaced, it is read
    /// again from its start.
    pub restarted: Option<&'static str>,
}

/// The files being followed. See the module docs.
pub struct Follower {
    files: Vec<Followed>,
    /// When a poll last found whole lines (or the files were opened).
    grew: Instant,
}

fn open_at_end(path: &Path) -> std::io::Result<(File, u64, u64)> {
    let mut file = File::open(path)?;
    // Count the lines already there, for the line numbers of the next.
    let mut lines = 0u64;
    let mut offset = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
        offset += n as u64;
    }
    file.seek(SeekFrom::Start(offset))?;
    Ok((file, offset, lines))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

impl Follower {
    /// Starts following `paths` from their current end.
    pub fn new(paths: &[PathBuf]) -> Result<Follower> {
        let mut files = Vec::new();
        for path in paths {
            let (file, offset, lines) = open_at_end(path)
                .map_err(|e| Error::io(format!("following {}", path.display()), e))?;
            files.push(Followed {
                path: path.clone(),
                file,
                offset,
                lines,
                partial: Vec::new(),
            });
        }
        Ok(Follower {
            files,
            grew: Instant::now(),
        })
    }

    /// The whole lines appended since the last poll, per file. Like
    /// `tail -F`, a file truncated below what was read is read again from
    /// its start, and a path that names a new file (the old one rotated
    /// away) is followed to the new file, from its start, once the old
    /// one has no more to give.
    pub fn poll(&mut self) -> Result<Vec<Appended>> {
        let mut out = Vec::new();
        for f in &mut self.files {
            let shown = f.path.display().to_string();
            let io = |e| Error::io(format!("following {shown}"), e);
            let mut restarted = None;
            let now = f.file.metadata().map_err(io)?;
            if now.len() < f.offset {
                f.file.seek(SeekFrom::Start(0)).map_err(io)?;
                (f.offset, f.lines, restarted) = (0, 0, Some("truncated"));
                f.partial.clear();
            }
            let mut bytes = std::mem::take(&mut f.partial);
            let start = bytes.len();
            let read = (&mut f.file)
                .take(MAX_READ as u64)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            f.offset += read as u64;
            if read == 0 && restarted.is_none() {
                // Nothing more in the open file: has the path moved on?
                let replaced =
                    std::fs::metadata(&f.path).is_ok_and(|at_path| !same_file(&now, &at_path));
                if replaced {
                    if let Ok(file) = File::open(&f.path) {
                        f.file = file;
                        (f.offset, f.lines, restarted) = (0, 0, Some("replaced"));
                        bytes.clear();
                        let read = (&mut f.file)
                            .take(MAX_READ as u64)
                            .read_to_end(&mut bytes)
                            .map_err(io)?;
                        f.offset += read as u64;
                    }
                }
            }
            if bytes.len() == start && start > 0 && restarted.is_none() {
                f.partial = bytes;
                continue;
            }
            let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            f.partial = bytes.split_off(complete);
            let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
            if lines > 0 || restarted.is_some() {
                out.push(Appended {
                    source: shown,
                    bytes,
                    lines_before: f.lines,
                    restarted,
                });
                f.lines += lines;
            }
        }
        if !out.is_empty() {
            self.grew = Instant::now();
        }
        Ok(out)
    }

    /// How long the files have been quiet: no whole line since this long.
    pub fn quiet_for(&self) -> Duration {
        self.grew.elapsed()
    }

    /// The first followed file's name and its lines so far: where an empty
    /// piece that ends the quiet lines is said to come from.
    pub fn first_source(&self) -> Option<(String, u64)> {
        let f = self.files.first()?;
        Some((f.path.display().to_string(), f.lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn takes_appended_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.ndjson");
        std::fs::write(&path, "old\n").unwrap();
        let mut follower = Follower::new(std::slice::from_ref(&path)).unwrap();
        assert!(follower.poll().unwrap().is_empty());
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"a\nb\npart").unwrap();
        let got = follower.poll().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, b"a\nb\n");
        assert_eq!(got[0].lines_before, 1);
        assert!(follower.poll().unwrap().is_empty());
        file.write_all(b"ial\n\n").unwrap();
        let got = follower.poll().unwrap();
        assert_eq!(
            (got[0].bytes.as_slice(), got[0].lines_before),
            (&b"partial\n\n"[..], 3)
        );
    }

    /// Item 4 of the hostile-input issue: a truncated file is read again
    /// from its start, and a rotated path is followed to its new file.
    #[test]
    fn truncation_and_rotation_restart_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.ndjson");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        let mut follower = Follower::new(std::slice::from_ref(&path)).unwrap();
        std::fs::write(&path, "new\n").unwrap(); // truncates, then writes
        let got = follower.poll().unwrap();
        assert_eq!(got[0].bytes, b"new\n");
        assert_eq!(
            (got[0].lines_before, got[0].restarted),
            (0, Some("truncated"))
        );
        // Rotation: the old file gets a last line, the path a new file.
        let mut old = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::fs::rename(&path, dir.path().join("f.ndjson.1")).unwrap();
        old.write_all(b"last\n").unwrap();
        std::fs::write(&path, "fresh\n").unwrap();
        let got = follower.poll().unwrap();
        assert_eq!(
            (got[0].bytes.as_slice(), got[0].lines_before),
            (&b"last\n"[..], 1)
        );
        let got = follower.poll().unwrap();
        assert_eq!(got[0].bytes, b"fresh\n");
        assert_eq!(
            (got[0].lines_before, got[0].restarted),
            (0, Some("replaced"))
        );
        assert!(follower.poll().unwrap().is_empty());
    }
}
