//! Text files from outside (schema files, query files, `--rules` files),
//! read with a bound.
//!
//! Each is read whole, so each is capped: [`MAX_TEXT_FILE_BYTES`] (1 MiB),
//! checked while reading, so that `--schema /dev/zero` or `tally run
//! /dev/zero` is refused after 1 MiB instead of filling memory. Event lines
//! have their own bound (`ingest::MAX_LINE_BYTES`), as do statements read
//! by the shell.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The largest schema, query or rules file tally reads.
pub const MAX_TEXT_FILE_BYTES: u64 = 1 << 20;

/// Reads `path` as UTF-8 text of at most [`MAX_TEXT_FILE_BYTES`]; `what`
/// (`schema`, `query file`, ...) names it in errors.
pub fn read_file(path: &Path, what: &str) -> Result<String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| Error::io(format!("reading {what} {shown}"), e))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading {what} {shown}"), e))?;
    if bytes.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(Error::InvalidInput(format!(
            "{what} {shown} is larger than {} MiB, the most tally reads; is it the right file?",
            MAX_TEXT_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| Error::InvalidInput(format!("{what} {shown} is not UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 18 of the hostile-input issue: an endless file is refused after
    /// the cap, not read into memory.
    #[test]
    fn endless_and_oversized_files_are_refused_after_the_cap() {
        let e = read_file(Path::new("/dev/zero"), "schema").unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let at_cap = dir.path().join("a.sql");
        std::fs::write(&at_cap, "x".repeat(MAX_TEXT_FILE_BYTES as usize)).unwrap();
        assert_eq!(read_file(&at_cap, "query file").unwrap().len(), 1 << 20);
        std::fs::write(&at_cap, "x".repeat(MAX_TEXT_FILE_BYTES as usize + 1)).unwrap();
        assert!(read_file(&at_cap, "query file").is_err());
        std::fs::write(&at_cap, b"\xff").unwrap();
        let e = read_file(&at_cap, "query file").unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }
}
