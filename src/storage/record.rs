//! Record framing: `[len u32 LE][crc32 u32 LE][payload]`, the unit the
//! log is written and read in.
//!
//! The CRC covers the length and the payload, so a flipped bit in either
//! is caught. The reader treats every byte as hostile: a length past
//! [`MAX_RECORD`] is damage, not an allocation; a record cut short by the
//! end of the file is a *torn* tail (a write the crash interrupted); a
//! record whose CRC fails is damage, unless it is the last thing in the
//! file, where a crash can leave a whole-length record with garbage in it
//! (the length reached the disk, the payload did not): that is torn too.

use std::io::{BufRead, ErrorKind};

/// Bytes of a record's header: length and CRC.
pub const HEADER: usize = 8;

/// The largest payload a record may have. Writers commit long before this
/// (a batch is a few MiB); anything larger on disk is damage.
pub const MAX_RECORD: usize = 64 << 20;

/// Appends one framed record holding `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&checksum(&len, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(len: &[u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(payload);
    h.finalize()
}

/// What reading the next record found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A whole record whose CRC matches.
    Record(Vec<u8>),
    /// The clean end: no byte after the last record.
    End,
    /// The file ends inside a record, or with a record whose CRC fails:
    /// an interrupted write. `len` is how many bytes it took.
    Torn { len: u64 },
    /// A record that cannot be trusted with more bytes after it.
    Damaged { why: &'static str },
}

/// Reads records one after another from `input`, counting the offset.
pub struct RecordReader<R> {
    input: R,
    /// Where the next record starts, from the start of the input.
    offset: u64,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R) -> RecordReader<R> {
        RecordReader { input, offset: 0 }
    }

    /// A reader of `input` positioned at byte `offset` of its file.
    pub fn starting_at(input: R, offset: u64) -> RecordReader<R> {
        RecordReader { input, offset }
    }

    /// Where the next record starts (after a `Torn` or `Damaged`, where
    /// the bad one started: the offset to cut at).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record. I/O errors other than the end of input are
    /// returned as such; nothing here panics on any input.
    pub fn read_next(&mut self) -> std::io::Result<Next> {
        let mut header = [0u8; HEADER];
        let got = read_full(&mut self.input, &mut header)?;
        if got == 0 {
            return Ok(Next::End);
        }
        if got < HEADER {
            return Ok(Next::Torn { len: got as u64 });
        }
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            return Ok(Next::Damaged {
                why: "a record length past the limit",
            });
        }
        let mut payload = vec![0u8; len];
        let got = read_full(&mut self.input, &mut payload)?;
        if got < len {
            return Ok(Next::Torn {
                len: (HEADER + got) as u64,
            });
        }
        if checksum(&len_bytes, &payload) != crc {
            let at_end = self.input.fill_buf()?.is_empty();
            return Ok(if at_end {
                Next::Torn {
                    len: (HEADER + len) as u64,
                }
            } else {
                Next::Damaged {
                    why: "a record whose checksum does not match",
                }
            });
        }
        self.offset += (HEADER + len) as u64;
        Ok(Next::Record(payload))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl BufRead, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Next, u64) {
        let mut reader = RecordReader::new(bytes);
        let mut records = Vec::new();
        loop {
            match reader.read_next().unwrap() {
                Next::Record(r) => records.push(r),
                other => return (records, other, reader.offset()),
            }
        }
    }

    #[test]
    fn reads_back_what_was_written() {
        let bytes = framed(&[b"one", b"", b"three"]);
        let (records, end, offset) = read_all(&bytes);
        assert_eq!(records, [b"one".to_vec(), vec![], b"three".to_vec()]);
        assert_eq!(end, Next::End);
        assert_eq!(offset, bytes.len() as u64);
    }

    #[test]
    fn a_tail_cut_at_every_byte_of_the_last_record_is_torn_and_cut_there() {
        let whole = framed(&[b"first record", b"second", b"the last record, cut"]);
        let last_start = framed(&[b"first record", b"second"]).len();
        for cut in last_start + 1..whole.len() {
            let (records, end, offset) = read_all(&whole[..cut]);
            assert_eq!(records.len(), 2, "cut at {cut}");
            assert_eq!(
                end,
                Next::Torn {
                    len: (cut - last_start) as u64
                },
                "cut at {cut}"
            );
            assert_eq!(offset, last_start as u64, "cut at {cut}");
        }
        // Cut exactly at the record boundary: a clean end.
        let (records, end, _) = read_all(&whole[..last_start]);
        assert_eq!((records.len(), end), (2, Next::End));
    }

    #[test]
    fn a_flipped_byte_in_the_middle_is_damage_at_its_offset() {
        let mut bytes = framed(&[b"first", b"second", b"third"]);
        let second = framed(&[b"first"]).len();
        for at in second..second + HEADER + 6 {
            let mut broken = bytes.clone();
            broken[at] ^= 0x40;
            let (records, end, offset) = read_all(&broken);
            assert_eq!(records, [b"first".to_vec()], "flip at {at}");
            assert!(
                matches!(end, Next::Damaged { .. } | Next::Torn { .. }),
                "flip at {at}: {end:?}"
            );
            assert_eq!(offset, second as u64, "flip at {at}");
            if at >= 4 + second {
                // The length is intact: the CRC catches it, with bytes after.
                assert!(matches!(end, Next::Damaged { .. }), "flip at {at}");
            }
        }
        // The same flip in the last record is a torn tail.
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let (records, end, _) = read_all(&bytes);
        assert_eq!(records.len(), 2);
        assert!(matches!(end, Next::Torn { .. }));
    }

    #[test]
    fn an_absurd_length_is_damage_not_an_allocation() {
        let mut bytes = framed(&[b"ok"]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 12]);
        let (records, end, _) = read_all(&bytes);
        assert_eq!(records.len(), 1);
        assert!(matches!(end, Next::Damaged { .. }));
    }
}
