//! The schema-file loader: any bytes as the text of `--schema FILE.json`.
//! A schema it accepts must also parse a line (none of its checks may be
//! left for the first event to trip on).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use tally::event::{LineParser, Schema};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(schema) = Schema::from_file_text(text, "fuzz") {
        let parser = LineParser::new(Arc::new(schema));
        let _ = parser.parse(br#"{"a":1,"b":{"c":"x"},"ts":"2025-01-01T00:00:00Z"}"#);
    }
});
