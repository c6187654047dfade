//! Column names: what each is in the schema, and the did-you-mean.
//!
//! A column of a query is an actor key, a dimension, a metric, the event
//! time, or a field that is checked on ingest but not kept. This file owns
//! that resolution and the message for a name that is none of them
//! ("did you mean 'user_id'?"), for aggregate and raw-row queries alike. It
//! does not decide where a column may appear: each stage says that.

use crate::error::{query_err, Error, Result};
use crate::event::{Schema, TimeSource};

/// What a column name is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Column {
    Key(usize),
    Dim(usize),
    Metric(usize),
    Time,
    /// Checked on ingest, kept neither as a dimension nor as a metric.
    Other,
}

/// Resolves `name` against the schema.
pub(super) fn column(schema: &Schema, name: &str) -> Result<Column> {
    if let Some(k) = schema.actor(name) {
        return Ok(Column::Key(k));
    }
    if let Some(d) = schema.dimension(name) {
        return Ok(Column::Dim(d));
    }
    if let Some(m) = schema.metric(name) {
        return Ok(Column::Metric(m));
    }
    if matches!(&schema.time, TimeSource::Field(t) if t == name) {
        return Ok(Column::Time);
    }
    if schema.columns().iter().any(|c| c == name) {
        return Ok(Column::Other);
    }
    Err(unknown_column(name, &schema.columns()))
}

/// Whether `name` is a column of the schema (and not, say, an alias).
pub(super) fn is_column(schema: &Schema, name: &str) -> bool {
    schema.columns().iter().any(|c| c == name)
}

/// "unknown column 'usr_id'; did you mean 'user_id'? Known columns: ..."
pub(super) fn unknown_column(name: &str, known: &[String]) -> Error {
    let best = known
        .iter()
        .map(|k| (edit_distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .or_else(|| by_word(name, known).map(|k| (0, k)));
    let hint = best
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    query_err!(
        "unknown column '{name}'{hint}; known columns: {}",
        known.join(", ")
    )
}

/// The shortest known column that has `name` as one of its words (split
/// at `.` and `_`): `duration` → `metadata.view_duration_ms`, `device` →
/// `metadata.device_type`.
fn by_word<'a>(name: &str, known: &'a [String]) -> Option<&'a String> {
    let name = name.to_lowercase();
    known
        .iter()
        .filter(|k| {
            k.to_lowercase()
                .split(['.', '_'])
                .any(|word| !word.is_empty() && word == name)
        })
        .min_by_key(|k| k.len())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_columns_suggest_the_nearest_known_one() {
        let known = ["user_id".to_string(), "event_type".to_string()];
        assert_eq!(
            unknown_column("usr_id", &known).to_string(),
            "unknown column 'usr_id' (did you mean 'user_id'?); known columns: user_id, event_type"
        );
        assert_eq!(
            unknown_column("price", &known).to_string(),
            "unknown column 'price'; known columns: user_id, event_type"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let known = [
            "metadata.view_duration_ms".to_string(),
            "metadata.device_type".to_string(),
        ];
        assert_eq!(
            unknown_column("duration", &known).to_string(),
            "unknown column 'duration' (did you mean 'metadata.view_duration_ms'?); \
             known columns: metadata.view_duration_ms, metadata.device_type"
        );
        assert!(unknown_column("device", &known)
            .to_string()
            .contains("did you mean 'metadata.device_type'?"));
        assert!(!unknown_column("view_ms", &known)
            .to_string()
            .contains("did you mean"));
    }
}
