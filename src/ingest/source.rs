//! Sources: NDJSON files (or any reader) read line by line, several merged
//! by event time (k-way) so that time-sorted files become one sorted stream.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::admission::Origin;
use super::position::{FileIdentity, SourcePosition};
use crate::error::{Error, Result};
use crate::event::{LineParser, Parsed, Reason, Reject, DETECT_LINES};

/// Lines longer than this are rejected without being parsed.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The UTF-8 byte order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One line, parsed.
pub struct Line {
    pub origin: Origin,
    /// The line as read. Hand it back with [`Merge::recycle`] when done, so
    /// that the next line is read into it without an allocation.
    pub bytes: Vec<u8>,
    pub parsed: Result<Parsed, Reject>,
}

/// Line buffers kept for reuse: one per source waits in the merge, one is
/// out with the caller; a few more cover callers that hold on to a line.
const SPARE_BUFFERS: usize = 4;

struct Source {
    name: Arc<str>,
    reader: Box<dyn BufRead + Send>,
    line: u64,
    /// Bytes read so far, for a progress bar.
    bytes: u64,
    /// The file read, for resuming it; `None` for standard input and
    /// readers handed in.
    path: Option<PathBuf>,
    identity: Option<FileIdentity>,
    /// Bytes read so far, the line waiting in the merge included.
    offset: u64,
    /// Where the line waiting in the merge starts: the position of the
    /// next line not yet handed out.
    head_start: u64,
}

impl Source {
    fn read(&mut self, parser: &LineParser, spare: &mut Vec<Vec<u8>>) -> Result<Option<Line>> {
        let mut bytes = spare.pop().unwrap_or_default();
        bytes.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut bytes)
            .map_err(|e| Error::io(format!("reading {}", self.name), e))?;
        if n == 0 {
            spare.push(bytes);
            return Ok(None);
        }
        self.head_start = self.offset;
        self.offset += n as u64;
        self.line += 1;
        self.bytes += n as u64;
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        // A UTF-8 byte order mark may start a file (editors on Windows
        // write one); anywhere else it is part of a malformed line.
        if self.line == 1 && bytes.starts_with(UTF8_BOM) {
            bytes.drain(..UTF8_BOM.len());
        }
        let parsed = parse_line(parser, &bytes);
        let origin = Origin {
            source: self.name.clone(),
            line: self.line,
        };
        Ok(Some(Line {
            origin,
            bytes,
            parsed,
        }))
    }
}

/// Types one line as read (newline and byte order mark removed): the one
/// rule for lines from a file and lines replayed from a log.
pub fn parse_line(parser: &LineParser, bytes: &[u8]) -> Result<Parsed, Reject> {
    if bytes.len() > MAX_LINE_BYTES {
        Err(Reject::new(Reason::MalformedJson, "line longer than 1 MiB"))
    } else {
        parser.parse(bytes)
    }
}

/// The k-way merge. Each source's next line waits in a heap ordered by event
/// time; lines without a time (rejects, arrival-time schemas) go first, so
/// they never hold a source back.
pub struct Merge {
    sources: Vec<Source>,
    heads: BinaryHeap<Reverse<(i64, usize)>>,
    pending: Vec<Option<Line>>,
    /// Line buffers handed back ([`Merge::recycle`]), read into next.
    spare: Vec<Vec<u8>>,
    /// The size of all the input, when every source is a regular file (not
    /// standard input or a pipe): what a progress bar counts towards.
    total_bytes: Option<u64>,
}

impl Merge {
    /// Opens files; `-` is standard input.
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Merge> {
        Ok(Merge::open_reading_ahead(paths, 0)?.1)
    }

    /// Opens files, and returns the first [`DETECT_LINES`] lines of the
    /// first one, for schema detection, without consuming them: what was
    /// read ahead is replayed, so this works on standard input too.
    pub fn open_sampled(paths: &[impl AsRef<Path>]) -> Result<(Vec<String>, Merge)> {
        Merge::open_reading_ahead(paths, DETECT_LINES)
    }

    fn open_reading_ahead(
        paths: &[impl AsRef<Path>],
        sample: usize,
    ) -> Result<(Vec<String>, Merge)> {
        let mut readers: Vec<(Arc<str>, Box<dyn BufRead + Send>)> = Vec::new();
        let mut files = Vec::new();
        let mut lines = Vec::new();
        let mut total_bytes = Some(0u64);
        for (i, path) in paths.iter().enumerate() {
            let path = path.as_ref();
            let name: Arc<str> = Arc::from(path.display().to_string());
            let raw: Box<dyn Read + Send> = if path == Path::new("-") {
                total_bytes = None;
                files.push(None);
                Box::new(std::io::stdin())
            } else {
                let mut file = File::open(path)
                    .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                let size = file
                    .metadata()
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                total_bytes = total_bytes.zip(size).map(|(t, s)| t + s);
                files.push(Some((
                    path.to_path_buf(),
                    FileIdentity::of(&mut file, path)?,
                )));
                Box::new(file)
            };
            let mut reader = BufReader::with_capacity(1 << 20, raw);
            if i > 0 || sample == 0 {
                readers.push((name, Box::new(reader)));
                continue;
            }
            let mut head = Vec::new();
            for _ in 0..sample {
                let mut line = Vec::new();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                if n == 0 {
                    break;
                }
                let text = if lines.is_empty() {
                    line.strip_prefix(UTF8_BOM).unwrap_or(&line)
                } else {
                    &line
                };
                lines.push(String::from_utf8_lossy(text).trim_end().to_string());
                head.extend_from_slice(&line);
            }
            let replay = std::io::Cursor::new(head).chain(reader);
            readers.push((name, Box::new(BufReader::new(replay))));
        }
        let mut merge = Merge::from_readers(readers);
        merge.total_bytes = total_bytes;
        for (source, file) in merge.sources.iter_mut().zip(files) {
            if let Some((path, identity)) = file {
                source.path = Some(path);
                source.identity = Some(identity);
            }
        }
        Ok((lines, merge))
    }

    pub fn from_readers(readers: Vec<(Arc<str>, Box<dyn BufRead + Send>)>) -> Merge {
        let sources = readers
            .into_iter()
            .map(|(name, reader)| Source {
                name,
                reader,
                line: 0,
                bytes: 0,
                path: None,
                identity: None,
                offset: 0,
                head_start: 0,
            })
            .collect::<Vec<_>>();
        let pending = sources.iter().map(|_| None).collect();
        Merge {
            sources,
            heads: BinaryHeap::new(),
            pending,
            spare: Vec::new(),
            total_bytes: None,
        }
    }

    /// Bytes read from all sources so far (lines waiting in the merge
    /// included).
    pub fn bytes_read(&self) -> u64 {
        self.sources.iter().map(|s| s.bytes).sum()
    }

    /// The size of the whole input, when it is known: every source is a
    /// regular file opened by [`Merge::open`] or [`Merge::open_sampled`].
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// The next line in merged order, or `None` when every source is done.
    pub fn next(&mut self, parser: &LineParser) -> Result<Option<Line>> {
        // Refill the heads of sources whose line was taken.
        for i in 0..self.sources.len() {
            if self.pending[i].is_none() {
                if let Some(line) = self.sources[i].read(parser, &mut self.spare)? {
                    let ts = line.parsed.as_ref().ok().and_then(|p| p.ts_ms);
                    self.heads.push(Reverse((ts.unwrap_or(i64::MIN), i)));
                    self.pending[i] = Some(line);
                }
            }
        }
        let Some(Reverse((_, i))) = self.heads.pop() else {
            return Ok(None);
        };
        Ok(self.pending[i].take())
    }

    /// Each source's position: where its next line not yet handed out
    /// starts. Taken between two [`Merge::next`] calls, it is where a
    /// resumed merge picks up to hand out the same lines in the same order.
    pub fn positions(&self) -> Vec<SourcePosition> {
        let waiting = |i: usize| self.pending[i].is_some();
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| SourcePosition {
                name: s.name.to_string(),
                identity: s.identity,
                offset: if waiting(i) { s.head_start } else { s.offset },
                line: if waiting(i) { s.line - 1 } else { s.line },
            })
            .collect()
    }

    /// Continues source `i`, not read yet, at `at` (a position an earlier
    /// merge of the same file reached), after checking that the file is the
    /// one that was read. Returns `false`, changing nothing, for a source
    /// that is not a file or has another name.
    pub fn resume(&mut self, i: usize, at: &SourcePosition) -> Result<bool> {
        let Some(source) = self.sources.get_mut(i) else {
            return Ok(false);
        };
        let (Some(path), Some(identity)) = (&source.path, at.identity) else {
            return Ok(false);
        };
        if *source.name != *at.name || source.offset != 0 || self.pending[i].is_some() {
            return Ok(false);
        }
        let io = |e| Error::io(format!("reopening {}", path.display()), e);
        let mut file = File::open(path).map_err(io)?;
        identity.check(&mut file, path, at.offset)?;
        file.seek(SeekFrom::Start(at.offset)).map_err(io)?;
        source.reader = Box::new(BufReader::with_capacity(1 << 20, file));
        source.identity = Some(identity);
        source.offset = at.offset;
        source.head_start = at.offset;
        source.line = at.line;
        Ok(true)
    }

    /// Takes back a line's buffer for the next line to be read into.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        // A buffer that held a giant line is not worth keeping.
        if self.spare.len() < SPARE_BUFFERS && bytes.capacity() <= 64 << 10 {
            self.spare.push(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Schema;

    fn reader(text: &'static str) -> (Arc<str>, Box<dyn BufRead + Send>) {
        (Arc::from("mem"), Box::new(text.as_bytes()))
    }

    #[test]
    fn merges_sorted_sources_by_time() {
        let parser = LineParser::new(Arc::new(Schema::preset("stats").unwrap()));
        let a = "{\"timestamp\":1,\"value\":1}\n{\"timestamp\":4,\"value\":4}\n";
        let b = "{\"timestamp\":2,\"value\":2}\nbad\n{\"timestamp\":3,\"value\":3}\r\n";
        let mut merge = Merge::from_readers(vec![reader(a), reader(b)]);
        let mut order = Vec::new();
        while let Some(line) = merge.next(&parser).unwrap() {
            order.push(String::from_utf8(line.bytes.clone()).unwrap());
            merge.recycle(line.bytes);
        }
        let values: Vec<&str> = order.iter().map(|l| &l[l.len() - 2..l.len() - 1]).collect();
        assert_eq!(values, ["1", "2", "a", "3", "4"]);
    }
}
