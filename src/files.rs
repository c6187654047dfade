//! Files from and to outside: text files read whole with a bound, and the
//! check that keeps an output from overwriting an input.
//!
//! Text files (schema files, query files, `--rules` files) are read whole,
//! so each is capped: [`MAX_TEXT_FILE_BYTES`] (1 MiB), checked while
//! reading, so that `--schema /dev/zero` or `tally run /dev/zero` is
//! refused after 1 MiB instead of filling memory. Event lines have their
//! own bound (`ingest::MAX_LINE_BYTES`), as do statements read by the
//! shell.
//!
//! [`check_outputs`] compares what paths *are* (device and inode, or the
//! directory and name of a file not yet created), not how they are
//! spelled: `./v.ndjson`, `v.ndjson` and a link to it are one file.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

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

/// What a path names on disk, to compare paths by file, not by spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    /// An existing file: its device and inode (its canonical path off Unix).
    Existing(FileId),
    /// A file not created yet: its directory's identity and its name.
    New(FileId, OsString),
}

#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

fn file_id(path: &Path) -> Option<(FileId, bool)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let id = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let id = std::fs::canonicalize(path).ok()?;
    Some((id, meta.is_file()))
}

/// The identity of `path`, and whether it is (or will be) a regular file.
/// `None` when its directory cannot be found either: opening it will fail
/// with its own error.
fn identity(path: &Path) -> Option<(Identity, bool)> {
    if let Some((id, regular)) = file_id(path) {
        return Some((Identity::Existing(id), regular));
    }
    let name = path.file_name()?.to_os_string();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (dir, _) = file_id(&parent)?;
    Some((Identity::New(dir, name), true))
}

/// Refuses any output (`(flag, path)`: a reject file, an emit file, a
/// `.output` file) that is one of the `inputs` or another output: writing
/// it would destroy what is read, or mix two streams in one file. Devices
/// and pipes (`/dev/null`, a FIFO) may be shared by outputs; `-` is
/// standard input, never a file.
pub fn check_outputs(inputs: &[PathBuf], outputs: &[(&str, &Path)]) -> Result<()> {
    let inputs: Vec<(&PathBuf, Identity)> = inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| Some((p, identity(p)?.0)))
        .collect();
    let mut seen: Vec<(&str, &Path, Identity)> = Vec::new();
    for &(flag, path) in outputs {
        let Some((id, regular)) = identity(path) else {
            continue;
        };
        if let Some((input, _)) = inputs.iter().find(|(_, i)| *i == id) {
            return Err(Error::InvalidInput(format!(
                "{flag} {} is the input file {}: writing it would destroy the input; \
                 pick another path",
                path.display(),
                input.display()
            )));
        }
        if regular {
            if let Some((other, other_path, _)) = seen.iter().find(|(_, _, i)| *i == id) {
                return Err(Error::InvalidInput(format!(
                    "{flag} {} is the same file as {other} {}: give each output its own path",
                    path.display(),
                    other_path.display()
                )));
            }
            seen.push((flag, path, id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 3 of the hostile-input issue: an output that is an input, or
    /// another output, is refused however it is spelled.
    #[test]
    fn an_output_that_is_an_input_or_another_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("v.ndjson");
        std::fs::write(&input, "{}\n").unwrap();
        let inputs = [input.clone()];
        let spelled = dir.path().join(".").join("v.ndjson");
        let e = check_outputs(&inputs, &[("--reject-file", &spelled)]).unwrap_err();
        assert!(e.to_string().contains("would destroy the input"), "{e}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(check_outputs(&inputs, &[("--emit", &link)]).is_err());
        }
        // Two outputs into one new file, spelled two ways.
        let new = dir.path().join("out.ndjson");
        let new2 = dir.path().join("sub").join("..").join("out.ndjson");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let e = check_outputs(&inputs, &[("--reject-file", &new), ("--emit", &new2)]).unwrap_err();
        assert!(e.to_string().contains("same file as --reject-file"), "{e}");
        // Distinct files, and devices shared by outputs, are fine.
        let other = dir.path().join("hits.ndjson");
        check_outputs(&inputs, &[("--reject-file", &new), ("--emit", &other)]).unwrap();
        let null = Path::new("/dev/null");
        check_outputs(&inputs, &[("--reject-file", null), ("--emit", null)]).unwrap();
        check_outputs(&[PathBuf::from("-")], &[("--emit", &other)]).unwrap();
    }

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
