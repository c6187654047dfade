//! What a log record says: the payload codec.
//!
//! The log holds the *input* — every line offered to admission, good or
//! bad, in the order it was offered — not the verdicts, because replaying
//! the same lines through the same admission and engine code yields the
//! same verdicts: every counter, every duplicate, every line the future
//! guard holds comes out as in one uninterrupted run. The entries:
//!
//! - `Open`: an ingest starts; each of its sources gets an id, with the
//!   position it starts from (a resumed file starts past line 0).
//! - `Batch`: a commit. The lines offered since the last one, each with its
//!   source id, then the line total after them (a check on replay) and
//!   each source's position after them. One record is one commit: a crash
//!   leaves whole commits or a torn record, never half a batch.
//! - `Finish`: an ingest reached the end of its input, where the future
//!   guard rejects what it still holds.
//! - `HandOver`: the batch was handed to the shards without ending the
//!   input (a followed file's pause).
//! - `EndPiece`: a whole piece of an input that goes on ended (a posted
//!   body), where the future guard settles what it held before the clock
//!   started.
//! - `CreateRule`, `DropRule`: a rule statement that changed the rules in
//!   force, at the point of the stream where it ran. The definition is
//!   opaque bytes here (the query layer's encoding of the parsed rule);
//!   replay runs the statement again there, so hits come out as live.
//!
//! Integers are little-endian; the decoder checks every length against
//! what is left and answers `Err` with what is wrong, never panics.

use crate::ingest::{FileIdentity, SourcePosition};

const OPEN: u8 = 1;
const BATCH: u8 = 2;
const FINISH: u8 = 3;
const HAND_OVER: u8 = 4;
const END_PIECE: u8 = 5;
const CREATE_RULE: u8 = 6;
const DROP_RULE: u8 = 7;
/// Inside a batch: a line follows, or the batch's closing part.
const LINE: u8 = 1;
const END: u8 = 2;

/// A decoded entry; a batch's lines borrow the record's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    Open(Vec<(u32, SourcePosition)>),
    Batch(Batch<'a>),
    /// The end of an ingest: the future guard's held lines are rejected
    /// and the batch being filled is handed to the shards.
    Finish,
    /// A point where the writer handed its batch to the shards without
    /// ending the input (a followed file's pause):
    /// replay hands it over there too, so the shards see the same
    /// batches and fold and expire at the same points.
    HandOver,
    /// The end of a whole piece of an input that goes on (a posted body):
    /// the future guard settles the lines it holds before the clock
    /// started, and the batch is handed over, as at a `HandOver`.
    EndPiece,
    /// `CREATE RULE` put a new rule in force here: its definition, as
    /// `crate::query::encode_rule` wrote it.
    CreateRule(&'a [u8]),
    /// `DROP RULE` removed the rule of this name here.
    DropRule(&'a str),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Batch<'a> {
    /// `(source id, line as read)`, in the order offered.
    pub lines: Vec<(u32, &'a [u8])>,
    /// The engine's line total after these lines.
    pub lines_total: u64,
    /// `(source id, byte offset, line number)` after these lines.
    pub positions: Vec<(u32, u64, u64)>,
}

pub fn encode_open(sources: &[(u32, SourcePosition)]) -> Vec<u8> {
    let mut out = vec![OPEN];
    put_u32(&mut out, sources.len() as u32);
    for (id, pos) in sources {
        put_u32(&mut out, *id);
        put_bytes(&mut out, pos.name.as_bytes());
        match pos.identity {
            None => out.push(0),
            Some(f) => {
                out.push(1);
                put_u64(&mut out, f.dev);
                put_u64(&mut out, f.ino);
                put_u64(&mut out, f.prefix_len);
                put_u32(&mut out, f.prefix_crc);
            }
        }
        put_u64(&mut out, pos.offset);
        put_u64(&mut out, pos.line);
    }
    out
}

pub fn encode_finish() -> Vec<u8> {
    vec![FINISH]
}

pub fn encode_hand_over() -> Vec<u8> {
    vec![HAND_OVER]
}

pub fn encode_end_piece() -> Vec<u8> {
    vec![END_PIECE]
}

pub fn encode_create_rule(definition: &[u8]) -> Vec<u8> {
    let mut out = vec![CREATE_RULE];
    put_bytes(&mut out, definition);
    out
}

pub fn encode_drop_rule(name: &str) -> Vec<u8> {
    let mut out = vec![DROP_RULE];
    put_bytes(&mut out, name.as_bytes());
    out
}

/// A batch built line by line, straight into the bytes that will be
/// written: `start` opens it, `line` adds to it, `end` closes it.
pub fn start_batch(out: &mut Vec<u8>) {
    out.push(BATCH);
}

pub fn batch_line(out: &mut Vec<u8>, source: u32, line: &[u8]) {
    out.push(LINE);
    put_u32(out, source);
    put_bytes(out, line);
}

pub fn end_batch(out: &mut Vec<u8>, lines_total: u64, positions: &[(u32, u64, u64)]) {
    out.push(END);
    put_u64(out, lines_total);
    put_u32(out, positions.len() as u32);
    for (id, offset, line) in positions {
        put_u32(out, *id);
        put_u64(out, *offset);
        put_u64(out, *line);
    }
}

/// Reads one entry from a record's payload.
pub fn decode(payload: &[u8]) -> Result<Entry<'_>, String> {
    let mut r = Reader { bytes: payload };
    let entry = match r.u8()? {
        OPEN => {
            let n = r.u32()?;
            let mut sources = Vec::new();
            for _ in 0..n {
                let id = r.u32()?;
                let name = String::from_utf8(r.bytes()?.to_vec())
                    .map_err(|_| "a source name that is not UTF-8".to_string())?;
                let identity = match r.u8()? {
                    0 => None,
                    1 => Some(FileIdentity {
                        dev: r.u64()?,
                        ino: r.u64()?,
                        prefix_len: r.u64()?,
                        prefix_crc: r.u32()?,
                    }),
                    t => return Err(format!("an unknown identity tag {t}")),
                };
                let (offset, line) = (r.u64()?, r.u64()?);
                sources.push((
                    id,
                    SourcePosition {
                        name,
                        identity,
                        offset,
                        line,
                    },
                ));
            }
            Entry::Open(sources)
        }
        BATCH => {
            let mut lines = Vec::new();
            loop {
                match r.u8()? {
                    LINE => {
                        let id = r.u32()?;
                        lines.push((id, r.bytes()?));
                    }
                    END => break,
                    t => return Err(format!("an unknown batch tag {t}")),
                }
            }
            let lines_total = r.u64()?;
            let n = r.u32()?;
            let mut positions = Vec::new();
            for _ in 0..n {
                positions.push((r.u32()?, r.u64()?, r.u64()?));
            }
            Entry::Batch(Batch {
                lines,
                lines_total,
                positions,
            })
        }
        FINISH => Entry::Finish,
        HAND_OVER => Entry::HandOver,
        END_PIECE => Entry::EndPiece,
        CREATE_RULE => Entry::CreateRule(r.bytes()?),
        DROP_RULE => Entry::DropRule(
            std::str::from_utf8(r.bytes()?).map_err(|_| "a rule name that is not UTF-8")?,
        ),
        t => return Err(format!("an unknown entry kind {t}")),
    };
    if !r.bytes.is_empty() {
        return Err(format!("{} bytes after the entry", r.bytes.len()));
    }
    Ok(entry)
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// A cursor that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("an entry cut short".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written() {
        let pos = SourcePosition {
            name: "a.ndjson".into(),
            identity: Some(FileIdentity {
                dev: 1,
                ino: 2,
                prefix_len: 3,
                prefix_crc: 4,
            }),
            offset: 10,
            line: 2,
        };
        let stdin = SourcePosition {
            name: "-".into(),
            identity: None,
            offset: 0,
            line: 0,
        };
        let open = encode_open(&[(0, pos.clone()), (1, stdin.clone())]);
        assert_eq!(
            decode(&open).unwrap(),
            Entry::Open(vec![(0, pos), (1, stdin)])
        );
        let mut batch = Vec::new();
        start_batch(&mut batch);
        batch_line(&mut batch, 0, b"{\"a\":1}");
        batch_line(&mut batch, 1, b"");
        end_batch(&mut batch, 7, &[(0, 20, 3)]);
        assert_eq!(
            decode(&batch).unwrap(),
            Entry::Batch(Batch {
                lines: vec![(0, &b"{\"a\":1}"[..]), (1, &b""[..])],
                lines_total: 7,
                positions: vec![(0, 20, 3)],
            })
        );
        assert_eq!(decode(&encode_finish()).unwrap(), Entry::Finish);
        assert_eq!(decode(&encode_hand_over()).unwrap(), Entry::HandOver);
        assert_eq!(decode(&encode_end_piece()).unwrap(), Entry::EndPiece);
        let create = encode_create_rule(b"\x01def");
        assert_eq!(decode(&create).unwrap(), Entry::CreateRule(b"\x01def"));
        let drop = encode_drop_rule("r");
        assert_eq!(decode(&drop).unwrap(), Entry::DropRule("r"));
        for cut in 1..create.len() {
            assert!(decode(&create[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[DROP_RULE, 1, 0, 0, 0, 0xff]).is_err(), "not UTF-8");
        // Every cut of a valid entry is refused, never a panic.
        for cut in 0..batch.len() {
            assert!(decode(&batch[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(&[9]).is_err());
    }
}
