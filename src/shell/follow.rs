//! `tally shell --follow`: input files tailed like `tail -f`.
//!
//! After the shell has loaded its input files, lines appended to them are
//! picked up before each statement and between the runs of `.watch`, so
//! queries see a live stream. Only whole lines are taken; a line still being
//! written waits for its newline.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads more than this per poll only on the next poll.
const MAX_READ: usize = 16 << 20;

struct Followed {
    path: PathBuf,
    file: File,
    /// Bytes after the last newline, waiting for the rest of their line.
    partial: Vec<u8>,
}

/// The files being followed. See the module docs.
pub struct Follower {
    files: Vec<Followed>,
}

impl Follower {
    /// Starts following `paths` from their current end.
    pub fn new(paths: &[PathBuf]) -> Result<Follower> {
        let mut files = Vec::new();
        for path in paths {
            let open = |path: &Path| -> std::io::Result<File> {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::End(0))?;
                Ok(file)
            };
            let file =
                open(path).map_err(|e| Error::io(format!("following {}", path.display()), e))?;
            files.push(Followed {
                path: path.clone(),
                file,
                partial: Vec::new(),
            });
        }
        Ok(Follower { files })
    }

    /// The whole lines appended since the last poll, per file.
    pub fn poll(&mut self) -> Result<Vec<(String, Vec<Vec<u8>>)>> {
        let mut out = Vec::new();
        for f in &mut self.files {
            let mut bytes = std::mem::take(&mut f.partial);
            let start = bytes.len();
            (&mut f.file)
                .take(MAX_READ as u64)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(format!("following {}", f.path.display()), e))?;
            if bytes.len() == start && start > 0 {
                f.partial = bytes;
                continue;
            }
            let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            f.partial = bytes.split_off(complete);
            let lines: Vec<Vec<u8>> = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            if !lines.is_empty() {
                out.push((f.path.display().to_string(), lines));
            }
        }
        Ok(out)
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
        assert_eq!(got[0].1, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(follower.poll().unwrap().is_empty());
        file.write_all(b"ial\n").unwrap();
        assert_eq!(follower.poll().unwrap()[0].1, vec![b"partial".to_vec()]);
    }
}
