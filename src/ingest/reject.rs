//! The reject file: one JSON object per rejected line, so that nothing that
//! was refused is lost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::admission::Origin;
use crate::error::{Error, Result};
use crate::event::Reject;

pub struct RejectFile {
    out: BufWriter<File>,
    path: String,
}

impl RejectFile {
    pub fn create(path: &Path) -> Result<RejectFile> {
        let file = File::create(path)
            .map_err(|e| Error::io(format!("creating reject file {}", path.display()), e))?;
        Ok(RejectFile {
            out: BufWriter::new(file),
            path: path.display().to_string(),
        })
    }

    /// Writes `{"source":..,"line":..,"reason":..,"detail":..,"text":..}`;
    /// `text` is the line as read (invalid UTF-8 replaced), when known.
    pub fn write(&mut self, origin: &Origin, reject: &Reject, text: Option<&[u8]>) -> Result<()> {
        let record = serde_json::json!({
            "source": &*origin.source,
            "line": origin.line,
            "reason": reject.reason.name(),
            "detail": reject.detail,
            "text": text.map(|t| String::from_utf8_lossy(t).into_owned()),
        });
        writeln!(self.out, "{record}")
            .map_err(|e| Error::io(format!("writing reject file {}", self.path), e))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io(format!("writing reject file {}", self.path), e))
    }
}
