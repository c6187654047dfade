//! One JSON line → a [`Parsed`] event or a [`Reject`] with its reason.
//!
//! This is the first half of admission: it knows the schema but nothing of
//! time ("too late") or history ("duplicate"); [`crate::ingest`] adds those.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value as Json;

use super::model::Key;
use super::schema::{lookup, Field, FieldType, Schema, TimeSource};
use crate::time::{parse_timestamp_number, parse_timestamp_str, Millis};
use crate::value::Value;

/// Why a line was rejected. The names are part of the interface: they appear
/// in `SHOW STATS` as `rejected.<name>` and in reject files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    MalformedJson,
    MissingField,
    InvalidField,
    Duplicate,
    TooLate,
    TooFarInFuture,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::MalformedJson,
        Reason::MissingField,
        Reason::InvalidField,
        Reason::Duplicate,
        Reason::TooLate,
        Reason::TooFarInFuture,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed_json",
            Reason::MissingField => "missing_field",
            Reason::InvalidField => "invalid_field",
            Reason::Duplicate => "duplicate",
            Reason::TooLate => "too_late",
            Reason::TooFarInFuture => "too_far_in_future",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rejected line: the reason (counted) and a detail for the reject file.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub reason: Reason,
    pub detail: String,
}

impl Reject {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Reject {
        Reject {
            reason,
            detail: detail.into(),
        }
    }
}

/// A line that satisfies the schema, before admission.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `None` when the schema uses arrival time.
    pub ts_ms: Option<Millis>,
    /// Hash of the id field, for de-duplication (64 bits: a false duplicate
    /// needs ~4·10⁹ ids in one retention horizon to become likely).
    pub id_hash: Option<u64>,
    pub keys: Box<[Key]>,
    pub dims: Box<[Value]>,
    /// NaN = absent.
    pub metrics: Box<[f64]>,
}

/// Parses lines under one schema.
#[derive(Debug, Clone)]
pub struct LineParser {
    schema: Arc<Schema>,
}

impl LineParser {
    pub fn new(schema: Arc<Schema>) -> LineParser {
        LineParser { schema }
    }

    pub fn parse(&self, line: &[u8]) -> Result<Parsed, Reject> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Err(Reject::new(Reason::MalformedJson, "empty line"));
        }
        let json: Json = serde_json::from_slice(trimmed)
            .map_err(|e| Reject::new(Reason::MalformedJson, e.to_string()))?;
        if !json.is_object() {
            return Err(Reject::new(Reason::MalformedJson, "not a JSON object"));
        }
        let s = &*self.schema;
        let ts_ms = match &s.time {
            TimeSource::Arrival => None,
            TimeSource::Field(name) => Some(time(&json, name)?),
        };
        let id_hash = match &s.id {
            None => None,
            Some(name) => Some(id(&json, name)?),
        };
        let keys = s
            .actors
            .iter()
            .map(|a| key(&json, &a.key, a.key_type))
            .collect::<Result<_, _>>()?;
        let dims = s
            .dimensions
            .iter()
            .map(|d| dimension(&json, d))
            .collect::<Result<_, _>>()?;
        let metrics = s
            .metrics
            .iter()
            .map(|m| metric(&json, m))
            .collect::<Result<_, _>>()?;
        for a in &s.attributes {
            typed(&json, a)?;
        }
        Ok(Parsed {
            ts_ms,
            id_hash,
            keys,
            dims,
            metrics,
        })
    }
}

fn present<'j>(json: &'j Json, field: &str) -> Option<&'j Json> {
    lookup(json, field).filter(|v| !v.is_null())
}

fn required<'j>(json: &'j Json, field: &str) -> Result<&'j Json, Reject> {
    present(json, field)
        .ok_or_else(|| Reject::new(Reason::MissingField, format!("{field} is missing")))
}

fn invalid(field: &str, expected: &str, got: &Json) -> Reject {
    let mut shown = got.to_string();
    if shown.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    Reject::new(
        Reason::InvalidField,
        format!("{field}: expected {expected}, got {shown}"),
    )
}

fn time(json: &Json, field: &str) -> Result<Millis, Reject> {
    let v = required(json, field)?;
    let parsed = match v {
        Json::String(s) => parse_timestamp_str(s),
        Json::Number(n) => n.as_f64().and_then(parse_timestamp_number),
        _ => None,
    };
    parsed.ok_or_else(|| {
        invalid(
            field,
            "an RFC 3339 / ISO 8601 time or epoch seconds/millis",
            v,
        )
    })
}

fn id(json: &Json, field: &str) -> Result<u64, Reject> {
    let v = required(json, field)?;
    let mut h = DefaultHasher::new();
    match v {
        Json::String(s) => s.hash(&mut h),
        Json::Number(n) => n.to_string().hash(&mut h),
        other => return Err(invalid(field, "a string or number id", other)),
    }
    Ok(h.finish())
}

fn key(json: &Json, field: &str, ty: FieldType) -> Result<Key, Reject> {
    let v = required(json, field)?;
    match (ty, v) {
        (FieldType::Int, Json::Number(n)) => n
            .as_i64()
            .map(Key::Int)
            .ok_or_else(|| invalid(field, "a 64-bit integer", v)),
        (FieldType::String, Json::String(s)) => Ok(Key::Str(Arc::from(s.as_str()))),
        (FieldType::Int, _) => Err(invalid(field, "an integer", v)),
        _ => Err(invalid(field, "a string", v)),
    }
}

/// Checks a field's type; `Ok(None)` when an optional field is absent.
fn typed<'j>(json: &'j Json, f: &Field) -> Result<Option<&'j Json>, Reject> {
    let v = if f.required {
        Some(required(json, &f.field)?)
    } else {
        present(json, &f.field)
    };
    let Some(v) = v else { return Ok(None) };
    let ok = match f.ty {
        FieldType::Int => v.is_i64(),
        FieldType::Float => v.is_number(),
        FieldType::String => v.is_string(),
        FieldType::Bool => v.is_boolean(),
    };
    let expected = match f.ty {
        FieldType::Int => "a 64-bit integer",
        FieldType::Float => "a number",
        FieldType::String => "a string",
        FieldType::Bool => "true or false",
    };
    if ok {
        Ok(Some(v))
    } else {
        Err(invalid(&f.field, expected, v))
    }
}

fn dimension(json: &Json, f: &Field) -> Result<Value, Reject> {
    Ok(match typed(json, f)? {
        None => Value::Null,
        Some(Json::String(s)) => Value::str(s),
        Some(Json::Bool(b)) => Value::Bool(*b),
        Some(v) => v.as_i64().map(Value::Int).unwrap_or(Value::Null),
    })
}

fn metric(json: &Json, f: &Field) -> Result<f64, Reject> {
    let value = typed(json, f)?.and_then(Json::as_f64).unwrap_or(f64::NAN);
    if value.is_infinite() {
        return Err(Reject::new(
            Reason::InvalidField,
            format!("{}: number out of range", f.field),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reels() -> LineParser {
        LineParser::new(Arc::new(Schema::preset("reels").unwrap()))
    }

    const GOOD: &str = r#"{"event_id":"evt_1","event_type":"video_view","user_id":987654321,"video_id":567890123,"creator_id":123456789,"timestamp":"2025-01-15T14:30:45.123Z","session_id":"sess_1","metadata":{"view_duration_ms":15000,"video_position":0.75,"device_type":"mobile"}}"#;

    #[test]
    fn parses_the_seed_line() {
        let p = reels().parse(GOOD.as_bytes()).unwrap();
        assert_eq!(p.ts_ms, Some(1_736_951_445_123));
        assert_eq!(&*p.keys, &[Key::Int(987654321), Key::Int(567890123)]);
        assert_eq!(&*p.dims, &[Value::str("video_view"), Value::str("mobile")]);
        assert_eq!(p.metrics[0], 15000.0);
    }

    fn reason(line: &[u8]) -> Reason {
        reels().parse(line).unwrap_err().reason
    }

    #[test]
    fn rejects_bad_lines_by_reason() {
        use Reason::*;
        assert_eq!(reason(b""), MalformedJson);
        assert_eq!(reason(b"   "), MalformedJson);
        assert_eq!(reason(&GOOD.as_bytes()[..50]), MalformedJson);
        assert_eq!(reason(b"[1,2]"), MalformedJson);
        assert_eq!(reason(b"{\"a\":\xff}"), MalformedJson);
        assert_eq!(reason(&[b'['; 10_000]), MalformedJson);
        assert_eq!(
            reason(GOOD.replace("987654321", "\"987654321\"").as_bytes()),
            InvalidField
        );
        assert_eq!(
            reason(GOOD.replace("123456789", "\"x\"").as_bytes()),
            InvalidField
        );
        assert_eq!(
            reason(
                GOOD.replace("987654321", "99999999999999999999999")
                    .as_bytes()
            ),
            InvalidField
        );
        assert_eq!(
            reason(GOOD.replace("15000", "1e400").as_bytes()),
            MalformedJson
        );
        assert_eq!(
            reason(GOOD.replace("15000", "\"15000\"").as_bytes()),
            InvalidField
        );
        assert_eq!(
            reason(GOOD.replace("2025-01-15T14:30:45.123Z", "soon").as_bytes()),
            InvalidField
        );
        assert_eq!(
            reason(GOOD.replace("\"user_id\":987654321,", "").as_bytes()),
            MissingField
        );
        assert_eq!(
            reason(GOOD.replace("\"video_view\"", "null").as_bytes()),
            MissingField
        );
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let line = GOOD.replace(r#""view_duration_ms":15000,"#, "");
        let p = reels().parse(line.as_bytes()).unwrap();
        assert!(p.metrics[0].is_nan());
    }
}
