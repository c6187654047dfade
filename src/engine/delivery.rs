//! Hit delivery: what happens to the rule hits a batch caused once its
//! shards reply.
//!
//! Each hit is counted and kept by [`Rules`] (for `SHOW RULES` and
//! `FROM rule_hits`), written to the `--emit` file and passed to the
//! listener (the shell prints them). Hits are delivered batch by batch in
//! ingest order, sorted within a batch by window end, rule and key, so
//! their order never depends on the shard count. Evaluating rules is not
//! done here: entities do it as they take events (see [`crate::rules`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::rules::{Hit, Rules};

/// Called with every rule hit as it is delivered (the shell prints them).
pub type HitListener = Box<dyn FnMut(&Hit)>;

/// Where hits go besides [`Rules`]: the `--emit` file and the listener.
pub(super) struct Delivery {
    /// The `--emit` file, when asked for; its path names it in errors.
    emit: Option<(PathBuf, BufWriter<File>)>,
    listener: Option<HitListener>,
    /// While recovery replays the log: hits are counted and kept, but
    /// not written to `--emit` nor announced (they were when first found).
    muted: bool,
}

impl Delivery {
    /// Creates (or truncates) the `--emit` file, if any: an engine that
    /// cannot write its hits refuses to start rather than lose them.
    pub(super) fn open(emit: Option<&Path>) -> Result<Delivery> {
        let emit = match emit {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
                Some((path.to_path_buf(), BufWriter::new(file)))
            }
            None => None,
        };
        Ok(Delivery {
            emit,
            listener: None,
            muted: false,
        })
    }

    pub(super) fn mute(&mut self, muted: bool) {
        self.muted = muted;
    }

    pub(super) fn set_listener(&mut self, listener: Option<HitListener>) {
        self.listener = listener;
    }

    /// Counts, keeps, emits and announces one batch's hits. The file is
    /// flushed after each batch, so hits reach it as their batch is applied
    /// rather than when the buffer happens to fill.
    pub(super) fn deliver(&mut self, rules: &mut Rules, mut hits: Vec<Hit>) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        hits.sort_by(Hit::delivery_order);
        for hit in &hits {
            rules.record(hit);
            if self.muted {
                continue;
            }
            if let Some((path, file)) = &mut self.emit {
                let mut line = hit.to_json().to_string();
                line.push('\n');
                file.write_all(line.as_bytes())
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            }
            if let Some(listener) = &mut self.listener {
                listener(hit);
            }
        }
        if let Some((path, file)) = &mut self.emit {
            file.flush()
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }
}
