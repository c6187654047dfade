//! A hit: one rule's condition becoming true for one actor.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::time::{format_timestamp, Millis};
use crate::value::Value;

/// The fields every hit has, before its select-list columns. A rule's
/// select list may not reuse them. They are the first columns of
/// `rule_hits`.
pub const HIT_FIELDS: [&str; 4] = ["rule", "kind", "key", "window_end"];

/// One rising edge of a rule for one actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: Arc<str>,
    /// The actor kind that evaluated it (`users`, `videos`).
    pub kind: Arc<str>,
    /// The actor's key.
    pub key: Value,
    /// The end of the window that made the condition true, exclusive: the
    /// window covers `[window_end − d, window_end)`, whole panes.
    pub window_end_ms: Millis,
    /// The rule's select-list column names, shared by all its hits.
    pub columns: Arc<[String]>,
    /// The select-list values over that window, parallel to `columns`.
    pub values: Vec<Value>,
}

impl Hit {
    /// The hit as one JSON object: `rule`, `kind`, `key`, `window_end`
    /// (RFC 3339), then the select-list columns in order. This is the line
    /// `--emit` writes and the row `FROM rule_hits` reads.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("rule".into(), self.rule.to_string().into());
        object.insert("kind".into(), self.kind.to_string().into());
        object.insert("key".into(), (&self.key).into());
        object.insert(
            "window_end".into(),
            format_timestamp(self.window_end_ms).into(),
        );
        for (column, value) in self.columns.iter().zip(&self.values) {
            object.insert(column.clone(), value.into());
        }
        serde_json::Value::Object(object)
    }

    /// The order hits are delivered in within one batch: by window end,
    /// rule and key, so that it never depends on which shard answered first.
    pub fn delivery_order(&self, other: &Hit) -> Ordering {
        self.window_end_ms
            .cmp(&other.window_end_ms)
            .then_with(|| self.rule.cmp(&other.rule))
            .then_with(|| self.key.total_cmp(&other.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_fixed_fields_then_the_select_list() {
        let hit = Hit {
            rule: "rate_limit".into(),
            kind: "users".into(),
            key: Value::Int(42),
            window_end_ms: 1_736_899_261_000,
            columns: vec!["user_id".to_string(), "n".to_string()].into(),
            values: vec![Value::Int(42), Value::Int(21)],
        };
        assert_eq!(
            hit.to_json().to_string(),
            r#"{"rule":"rate_limit","kind":"users","key":42,"window_end":"2025-01-15T00:01:01.000Z","user_id":42,"n":21}"#
        );
    }
}
