//! The checkpoint reader on arbitrary bytes: the file framing (magic,
//! version, length, CRC, sections) and, past it, the decoding of the
//! engine's and a shard's part — every input is read or refused with an
//! error, never a panic, never an allocation out of proportion to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::engine::{decode_checkpoint_parts, read_checkpoint};
use tally::storage::{decode_checkpoint, encode_checkpoint};

fuzz_target!(|bytes: &[u8]| {
    // As a whole file: almost always refused by the CRC.
    let _ = read_checkpoint(bytes);
    // The same bytes framed with a valid CRC, as one engine part and as
    // two sections, so decoding sees them.
    let _ = read_checkpoint(&encode_checkpoint(&[bytes]));
    let half = bytes.len() / 2;
    let framed = encode_checkpoint(&[&bytes[..half], &bytes[half..]]);
    assert_eq!(decode_checkpoint(&framed).map(|s| s.len()), Ok(2));
    let _ = read_checkpoint(&framed);
    // Past the framing: the parts' decoders directly.
    let _ = decode_checkpoint_parts(bytes);
});
