//! The log's record reader and entry decoder on arbitrary bytes: every
//! input ends in records, a torn tail or damage — never a panic, never an
//! allocation past the record limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::storage::{decode, Next, RecordReader};

fuzz_target!(|bytes: &[u8]| {
    let mut reader = RecordReader::new(bytes);
    let mut offset = 0;
    loop {
        match reader.read_next() {
            Ok(Next::Record(payload)) => {
                assert!(reader.offset() > offset);
                offset = reader.offset();
                let _ = decode(&payload);
            }
            Ok(_) | Err(_) => break,
        }
    }
    // Any payload, framed or not, decodes to an entry or an error.
    let _ = decode(bytes);
});
