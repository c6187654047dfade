//! Sources: NDJSON files (or any reader) read line by line, several merged
//! by event time (k-way) so that time-sorted files become one sorted stream.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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
        let (n, overlong) = read_line_bounded(&mut self.reader, &mut bytes)
            .map_err(|e| Error::io(format!("reading {}", self.name), e))?;
        if n == 0 {
            spare.push(bytes);
            return Ok(None);
        }
        self.head_start = self.offset;
        self.offset += n;
        self.line += 1;
        self.bytes += n;
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        // A UTF-8 byte order mark may start a file (editors on Windows
        // write one); anywhere else it is part of a malformed line.
        if self.line == 1 && bytes.starts_with(UTF8_BOM) {
            bytes.drain(..UTF8_BOM.len());
        }
        let parsed = if overlong {
            Err(Reject::new(Reason::MalformedJson, "line longer than 1 MiB"))
        } else {
            parse_line(parser, &bytes)
        };
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

/// Reads one line (up to and including its `\n`) into `line`, buffering
/// at most [`MAX_LINE_BYTES`] + 2 bytes of it (room for a `\r\n`): past that, the rest of the
/// line is read and dropped until its newline, so an endless line (say,
/// `/dev/zero`) costs constant memory. Returns the bytes consumed (0 at end
/// of input) and whether the line was cut.
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<(u64, bool)> {
    let mut consumed = 0u64;
    let mut overlong = false;
    loop {
        let buffer = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer.is_empty() {
            return Ok((consumed, overlong));
        }
        let (chunk, done) = match memchr_newline(buffer) {
            Some(i) => (&buffer[..=i], true),
            None => (buffer, false),
        };
        let room = (MAX_LINE_BYTES + 2).saturating_sub(line.len());
        if chunk.len() > room {
            overlong = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        consumed += n as u64;
        if done {
            return Ok((consumed, overlong));
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
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
    /// When the sources were opened: an ingest's time counts from here, so
    /// waiting for a slow source (a FIFO, a pipe) while reading ahead for
    /// detection is part of it.
    opened: Instant,
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
        let opened = Instant::now();
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
                // Only a regular file can be resumed (a FIFO or a device
                // cannot be read again, nor seeked to check its identity).
                files.push(match size {
                    Some(_) => Some((path.to_path_buf(), FileIdentity::of(&mut file, path)?)),
                    None => None,
                });
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
                let (n, overlong) = read_line_bounded(&mut reader, &mut line)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                if n == 0 {
                    break;
                }
                if overlong {
                    // The replay must see an overlong line too: a line of
                    // its first bytes, past the limit, rejected again there.
                    line.push(b'\n');
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
        merge.opened = opened;
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
            opened: Instant::now(),
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

    /// One source that goes on from line `lines_before` (a followed file
    /// read again): its lines are numbered from `lines_before + 1`.
    pub fn continuing(name: Arc<str>, reader: Box<dyn BufRead + Send>, lines_before: u64) -> Merge {
        let mut merge = Merge::from_readers(vec![(name, reader)]);
        merge.sources[0].line = lines_before;
        merge
    }

    /// When the sources were opened (see the field).
    pub fn opened(&self) -> Instant {
        self.opened
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

    /// The FIFO cosmetic of the hostile-input issue: an ingest's time
    /// counts from the opening of its sources, so the wait for a FIFO's
    /// writer while reading ahead for detection is in it.
    #[cfg(unix)]
    #[test]
    fn time_counts_from_the_opening_of_the_sources() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to check
        }
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            // Opening blocks until the reader has opened: the reader's
            // opening instant is before `wrote`.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(writer_path)
                .unwrap();
            let wrote = Instant::now();
            std::io::Write::write_all(
                &mut f,
                b"{\"timestamp\":\"2025-01-01T00:00:00Z\",\"value\":1}\n",
            )
            .unwrap();
            wrote
        });
        let (sample, merge) = Merge::open_sampled(std::slice::from_ref(&fifo)).unwrap();
        let wrote = writer.join().unwrap();
        assert_eq!(sample.len(), 1);
        assert!(merge.opened() <= wrote);
    }

    /// Item 18 of the hostile-input issue: an endless line is cut at the
    /// limit and skipped to its newline; the next line is read whole.
    #[test]
    fn an_endless_line_costs_the_limit_not_its_length() {
        let mut text = vec![b'x'; 5 * MAX_LINE_BYTES];
        text.extend_from_slice(b"\nok\r\n");
        let mut reader = BufReader::with_capacity(4096, text.as_slice());
        let mut line = Vec::new();
        let (n, overlong) = read_line_bounded(&mut reader, &mut line).unwrap();
        assert_eq!((n, overlong), (5 * MAX_LINE_BYTES as u64 + 1, true));
        assert_eq!(line.len(), MAX_LINE_BYTES + 2);
        line.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line).unwrap(),
            (4, false)
        );
        assert_eq!(line, b"ok\r\n");
        line.clear();
        assert_eq!(
            read_line_bounded(&mut reader, &mut line).unwrap(),
            (0, false)
        );
        // At the limit exactly, with a CRLF, a line is whole.
        let mut text = vec![b'y'; MAX_LINE_BYTES];
        text.extend_from_slice(b"\r\n");
        let mut line = Vec::new();
        let got = read_line_bounded(&mut text.as_slice(), &mut line).unwrap();
        assert_eq!(got, (MAX_LINE_BYTES as u64 + 2, false));
    }

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
