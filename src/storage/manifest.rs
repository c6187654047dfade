//! `DIR/MANIFEST`: what a data directory holds — the format version, the
//! schema, and the settings that shape the state (retention, future
//! guard). Replaying a log under another schema or retention would build
//! another state, so a directory is only opened with the settings it was
//! made with; a mismatch is refused with what differs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomically;
use crate::error::{Error, Result};
use crate::event::Schema;

/// The layout version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &str = "tally data directory";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MAGIC`]: tells a tally directory from anything else.
    pub format: String,
    pub version: u32,
    pub schema: Schema,
    pub retention_secs: u64,
    pub max_jump_ms: u64,
    /// The seed of the id history's hash scrambling, drawn when the
    /// directory is made: replay must remember ids exactly as the first
    /// run did, down to the rare collision.
    pub id_seed: u64,
}

impl Manifest {
    pub fn new(schema: Schema, retention_secs: u64, max_jump_ms: u64) -> Manifest {
        Manifest {
            format: MAGIC.into(),
            version: FORMAT_VERSION,
            schema,
            retention_secs,
            max_jump_ms,
            id_seed: {
                use std::hash::BuildHasher;
                std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
            },
        }
    }

    /// The manifest of `dir`; `None` when the directory is missing or empty
    /// (a new one). Anything else without a good manifest is refused.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join("MANIFEST");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let empty = match std::fs::read_dir(dir) {
                    Ok(mut entries) => entries.next().is_none(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                    Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
                };
                if empty {
                    return Ok(None);
                }
                return Err(Error::Corrupt(format!(
                    "{} is not empty and has no MANIFEST: it is not a tally data directory \
                     (give --data an empty or new directory)",
                    dir.display()
                )));
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
            Error::Corrupt(format!("{}: not a tally manifest ({e})", path.display()))
        })?;
        if manifest.format != MAGIC {
            return Err(Error::Corrupt(format!(
                "{}: not a tally manifest",
                path.display()
            )));
        }
        if manifest.version != FORMAT_VERSION {
            return Err(Error::Corrupt(format!(
                "{}: layout version {}, this tally reads version {FORMAT_VERSION}",
                path.display(),
                manifest.version
            )));
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest of a new directory (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("encoding the manifest: {e}")))?;
        write_atomically(&dir.join("MANIFEST"), &text)
    }

    /// Refuses to open a directory made with other settings, naming them.
    pub fn check(&self, wanted: &Manifest, dir: &Path) -> Result<()> {
        let mut differ = Vec::new();
        if self.schema != wanted.schema {
            differ.push(format!(
                "schema '{}' (this run: '{}')",
                self.schema.name, wanted.schema.name
            ));
        }
        if self.retention_secs != wanted.retention_secs {
            differ.push(format!(
                "--retention {}s (this run: {}s)",
                self.retention_secs, wanted.retention_secs
            ));
        }
        if self.max_jump_ms != wanted.max_jump_ms {
            differ.push(format!(
                "--max-jump {}ms (this run: {}ms)",
                self.max_jump_ms, wanted.max_jump_ms
            ));
        }
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidInput(format!(
            "{} was made with {}; its log replays only under the same settings \
             (omit --schema to use the directory's, or give --data another directory)",
            dir.display(),
            differ.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_of_another_schema_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), None);
        assert_eq!(Manifest::read(&dir.path().join("new")).unwrap(), None);
        let reels = Manifest::new(Schema::preset("reels").unwrap(), 86400, 3_600_000);
        reels.write(dir.path()).unwrap();
        let read = Manifest::read(dir.path()).unwrap().unwrap();
        assert_eq!(read, reels);
        assert_ne!(
            read.id_seed,
            Manifest::new(reels.schema.clone(), 1, 1).id_seed
        );
        read.check(&reels, dir.path()).unwrap();
        let shop = Manifest::new(Schema::preset("shop").unwrap(), 86400, 3_600_000);
        let err = read.check(&shop, dir.path()).unwrap_err().to_string();
        assert!(err.contains("schema 'reels' (this run: 'shop')"), "{err}");
    }

    #[test]
    fn a_foreign_or_damaged_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let err = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a tally data directory"), "{err}");
        std::fs::write(dir.path().join("MANIFEST"), "{garbage").unwrap();
        let err = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a tally manifest"), "{err}");
    }
}
