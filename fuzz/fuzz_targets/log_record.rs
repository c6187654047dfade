//! The log's record reader and entry decoder on arbitrary bytes: every
//! input ends in records, a torn tail or damage — never a panic, never an
//! allocation past the record limit. A rule entry's definition goes
//! through the rule decoder too, which must refuse deep nesting rather
//! than exhaust the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally::query::decode_rule;
use tally::storage::{decode, Entry, Next, RecordReader};

fuzz_target!(|bytes: &[u8]| {
    let mut reader = RecordReader::new(bytes);
    let mut offset = 0;
    loop {
        match reader.read_next() {
            Ok(Next::Record(payload)) => {
                assert!(reader.offset() > offset);
                offset = reader.offset();
                if let Ok(Entry::CreateRule(definition)) = decode(&payload) {
                    let _ = decode_rule(definition);
                }
            }
            Ok(_) | Err(_) => break,
        }
    }
    // Any payload, framed or not, decodes to an entry or an error.
    let _ = decode(bytes);
    let _ = decode_rule(bytes);
});
