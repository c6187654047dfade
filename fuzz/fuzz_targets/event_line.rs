//! The event-line parser, with every preset and a custom schema, and
//! schema detection over the same bytes as a sample of lines.
//!
//! Besides "no panic, no hang": a line the parser accepts must be JSON that
//! serde_json reads too, because raw-event queries (`SELECT *`) read the
//! kept line with serde_json: an event that aggregates count must be an
//! event `SELECT *` can show.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tally::event::{LineParser, Schema};

/// A custom schema with nested paths, a string actor key, an id, a
/// required dimension, int and float metrics and attributes.
const CUSTOM: &str = r#"{
  "name": "orders",
  "time": {"field": "created_at"},
  "id": "order_id",
  "type": "status",
  "actors": [{"name": "customers", "key": "customer", "type": "string"}],
  "dimensions": [{"field": "status", "type": "string", "required": true},
                 {"field": "shipping.country", "type": "string"}],
  "metrics": [{"field": "amount", "type": "float"}, {"field": "items.count", "type": "int"}],
  "attributes": [{"field": "note", "type": "string"}]
}"#;

fn parsers() -> &'static [LineParser] {
    static PARSERS: OnceLock<Vec<LineParser>> = OnceLock::new();
    PARSERS.get_or_init(|| {
        let mut schemas: Vec<Schema> = ["reels", "shop", "clicks", "stats", "ledger"]
            .iter()
            .map(|name| Schema::preset(name).expect("preset"))
            .collect();
        schemas.push(Schema::from_file_text(CUSTOM, "fuzz").expect("custom schema"));
        schemas
            .into_iter()
            .map(|schema| LineParser::new(Arc::new(schema)))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for parser in parsers() {
        if parser.parse(data).is_ok() {
            assert!(
                serde_json::from_slice::<serde_json::Value>(data).is_ok(),
                "accepted a line serde_json refuses"
            );
        }
    }
    // Detection reads the first lines of a file as text.
    let text = String::from_utf8_lossy(data);
    let _ = Schema::detect(text.lines().take(64));
});
