//! Where a file source stands: its identity and how far it has been read,
//! so that an ingest stopped by a crash continues each file where the
//! durable state left it, and a file changed underneath is caught.
//!
//! Identity is the device and inode (a replaced file has a new one) and a
//! CRC of the file's first bytes (a file rewritten in place, or copied
//! elsewhere, shows in its content). A file shorter than the recorded
//! offset was truncated.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

/// Bytes at the start of a file whose CRC is part of its identity.
pub const PREFIX_BYTES: u64 = 4096;

/// What makes a file the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    /// How many leading bytes `prefix_crc` covers (fewer than
    /// [`PREFIX_BYTES`] when the file was shorter when first opened).
    pub prefix_len: u64,
    pub prefix_crc: u32,
}

/// A source's position: the next line to read starts at byte `offset`,
/// after `line` lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourcePosition {
    /// The source's name: its path as given, `-` for standard input.
    pub name: String,
    /// `None` for what cannot be reopened (standard input, lines in memory).
    pub identity: Option<FileIdentity>,
    pub offset: u64,
    pub line: u64,
}

impl FileIdentity {
    /// The identity of the file open as `file` (its first bytes are read;
    /// the position is restored to the start).
    pub fn of(file: &mut File, path: &Path) -> Result<FileIdentity> {
        let io = |e| Error::io(format!("reading {}", path.display()), e);
        let meta = file.metadata().map_err(io)?;
        let prefix_len = meta.len().min(PREFIX_BYTES);
        let prefix_crc = crc_of_prefix(file, prefix_len).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let (dev, ino) = dev_ino(&meta);
        Ok(FileIdentity {
            dev,
            ino,
            prefix_len,
            prefix_crc,
        })
    }

    /// Checks that `file` (at `path`) is still the file this identity was
    /// taken of, and at least `offset` bytes long; says how it changed.
    pub fn check(&self, file: &mut File, path: &Path, offset: u64) -> Result<()> {
        let io = |e| Error::io(format!("reading {}", path.display()), e);
        let meta = file.metadata().map_err(io)?;
        let changed = |what: String| {
            Err(Error::InvalidInput(format!(
                "{}: {what} since the data directory last read it; it cannot be resumed \
                 (restore the file, or ingest into a new data directory)",
                path.display()
            )))
        };
        if meta.len() < offset {
            return changed(format!(
                "was truncated to {} bytes (it had been read to byte {offset})",
                meta.len()
            ));
        }
        if meta.len() < self.prefix_len
            || crc_of_prefix(file, self.prefix_len).map_err(io)? != self.prefix_crc
        {
            return changed("was replaced: its first bytes differ".into());
        }
        if dev_ino(&meta) != (self.dev, self.ino) {
            return changed("was replaced: it is another file (device and inode differ)".into());
        }
        Ok(())
    }
}

fn crc_of_prefix(file: &mut File, len: u64) -> std::io::Result<u32> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        // Shorter than recorded: cannot match any CRC of `len` bytes.
        return Ok(!crc32fast::hash(&buf));
    }
    Ok(crc32fast::hash(&buf))
}

#[cfg(unix)]
fn dev_ino(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_rewritten_file_is_refused_with_how_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ndjson");
        std::fs::write(&path, "line one\nline two\n").unwrap();
        let mut file = File::open(&path).unwrap();
        let id = FileIdentity::of(&mut file, &path).unwrap();
        id.check(&mut file, &path, 18).unwrap();
        // Appending keeps the identity.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all_at_end(b"line three\n");
        id.check(&mut File::open(&path).unwrap(), &path, 18)
            .unwrap();
        // Truncated below the offset read.
        std::fs::write(&path, "line one\n").unwrap();
        let err = id.check(&mut File::open(&path).unwrap(), &path, 18);
        assert!(err.unwrap_err().to_string().contains("truncated"));
        // Same length, other content.
        std::fs::write(&path, "LINE ONE\nline two\n").unwrap();
        let err = id.check(&mut File::open(&path).unwrap(), &path, 18);
        assert!(err.unwrap_err().to_string().contains("replaced"));
    }

    trait WriteAll {
        fn write_all_at_end(self, bytes: &[u8]);
    }
    impl WriteAll for File {
        fn write_all_at_end(mut self, bytes: &[u8]) {
            std::io::Write::write_all(&mut self, bytes).unwrap();
        }
    }
}
