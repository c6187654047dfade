//! One JSON line → a [`Parsed`] event or a [`Reject`] with its reason.
//!
//! This is the first half of admission: it knows the schema but nothing of
//! time ("too late") or history ("duplicate"); [`crate::ingest`] adds those.

use std::fmt;
use std::sync::Arc;

use super::extract::{FieldTree, JsonScalar};
use super::model::{AttrHashes, DimKey, Key, Keys, Metrics};
use super::schema::{Field, FieldType, Schema, TimeSource};
use crate::hash::{hash_bytes, hash_int, nonzero};
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
    /// needs ~4·10⁹ ids in one retention horizon to become likely). An
    /// integer id hashes as its decimal digits, so `7` and `"7"` are one id.
    pub id_hash: Option<u64>,
    pub keys: Keys,
    /// The dimension values, encoded for the cell dictionary.
    pub dims: DimKey,
    /// NaN = absent.
    pub metrics: Metrics,
    /// See [`super::Event::attr_hashes`].
    pub attr_hashes: AttrHashes,
}

/// Slots of a line parsed on the stack; a schema with more columns uses
/// the heap.
const STACK_SLOTS: usize = 24;

/// Parses lines under one schema.
#[derive(Debug, Clone)]
pub struct LineParser {
    schema: Arc<Schema>,
    /// The schema's columns, in [`Schema::columns`] order, as slots.
    tree: FieldTree,
    slots: usize,
    layout: Layout,
    /// [`Schema::hashed_attributes`], computed once.
    hashed: Box<[usize]>,
}

/// Slot numbers of each role, in [`Schema::columns`] order.
#[derive(Debug, Clone, Copy)]
struct Layout {
    time: usize,
    id: usize,
    keys: usize,
    dims: usize,
    metrics: usize,
    attributes: usize,
}

impl Layout {
    fn of(s: &Schema) -> Layout {
        let time = 0;
        let id = time + usize::from(matches!(s.time, TimeSource::Field(_)));
        let keys = id + usize::from(s.id.is_some());
        let dims = keys + s.actors.len();
        let metrics = dims + s.dimensions.len();
        let attributes = metrics + s.metrics.len();
        Layout {
            time,
            id,
            keys,
            dims,
            metrics,
            attributes,
        }
    }
}

impl LineParser {
    pub fn new(schema: Arc<Schema>) -> LineParser {
        let columns = schema.columns();
        LineParser {
            tree: FieldTree::new(columns.iter().map(String::as_str)),
            slots: columns.len(),
            layout: Layout::of(&schema),
            hashed: schema.hashed_attributes().into(),
            schema,
        }
    }

    pub fn parse(&self, line: &[u8]) -> Result<Parsed, Reject> {
        // JSON's whitespace only (space, tab, CR, LF): `trim_ascii` would
        // also drop a form feed, which serde_json (and so `SELECT *`, which
        // reads the kept line with it) refuses. Found by the fuzzer.
        let is_json_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        let start = line
            .iter()
            .position(|b| !is_json_space(b))
            .unwrap_or(line.len());
        let end = line
            .iter()
            .rposition(|b| !is_json_space(b))
            .map_or(start, |i| i + 1);
        let trimmed = &line[start..end];
        if trimmed.is_empty() {
            return Err(Reject::new(Reason::MalformedJson, "empty line"));
        }
        let text = std::str::from_utf8(trimmed)
            .map_err(|e| Reject::new(Reason::MalformedJson, format!("invalid UTF-8: {e}")))?;
        let mut on_stack: [JsonScalar; STACK_SLOTS] = std::array::from_fn(|_| JsonScalar::Missing);
        let mut on_heap = Vec::new();
        let slots: &mut [JsonScalar] = if self.slots <= STACK_SLOTS {
            &mut on_stack[..self.slots]
        } else {
            on_heap.resize(self.slots, JsonScalar::Missing);
            &mut on_heap
        };
        self.tree
            .extract(text, slots)
            .map_err(|e| Reject::new(Reason::MalformedJson, e))?;
        let s = &*self.schema;
        let at = self.layout;
        let ts_ms = match &s.time {
            TimeSource::Arrival => None,
            TimeSource::Field(name) => Some(time(&slots[at.time], name)?),
        };
        let id_hash = match &s.id {
            None => None,
            Some(name) => Some(id(&slots[at.id], name)?),
        };
        let keys = s
            .actors
            .iter()
            .zip(&slots[at.keys..])
            .map(|(a, raw)| key(raw, &a.key, a.key_type))
            .collect::<Result<_, _>>()?;
        let mut dims = DimKey::default();
        for (d, raw) in s.dimensions.iter().zip(&slots[at.dims..]) {
            dimension(raw, d, &mut dims)?;
        }
        let metrics = s
            .metrics
            .iter()
            .zip(&slots[at.metrics..])
            .map(|(m, raw)| metric(raw, m))
            .collect::<Result<_, _>>()?;
        for (a, raw) in s.attributes.iter().zip(&slots[at.attributes..]) {
            typed(raw, a)?;
        }
        let attr_hashes = self
            .hashed
            .iter()
            .map(|&a| match &slots[at.attributes + a] {
                JsonScalar::Int(i) => nonzero(hash_int(*i)),
                JsonScalar::Str(s) => nonzero(hash_bytes(s.as_bytes())),
                _ => 0,
            })
            .collect();
        Ok(Parsed {
            ts_ms,
            id_hash,
            keys,
            dims,
            metrics,
            attr_hashes,
        })
    }
}

fn required<'r, 'a>(raw: &'r JsonScalar<'a>, field: &str) -> Result<&'r JsonScalar<'a>, Reject> {
    if raw.is_absent() {
        return Err(Reject::new(
            Reason::MissingField,
            format!("{field} is missing"),
        ));
    }
    Ok(raw)
}

fn invalid(field: &str, expected: &str, got: &JsonScalar) -> Reject {
    Reject::new(
        Reason::InvalidField,
        format!("{field}: expected {expected}, got {got}"),
    )
}

fn time(raw: &JsonScalar, field: &str) -> Result<Millis, Reject> {
    let parsed = match required(raw, field)? {
        JsonScalar::Str(s) => parse_timestamp_str(s),
        other => other.as_f64().and_then(parse_timestamp_number),
    };
    parsed.ok_or_else(|| {
        invalid(
            field,
            "an RFC 3339 / ISO 8601 time or epoch seconds/millis, in the years 0001 to 9999",
            raw,
        )
    })
}

fn id(raw: &JsonScalar, field: &str) -> Result<u64, Reject> {
    let mut digits = [0u8; 20];
    Ok(match required(raw, field)? {
        JsonScalar::Str(s) => hash_bytes(s.as_bytes()),
        JsonScalar::Int(i) if *i < 0 => {
            let n = decimal(i.unsigned_abs(), &mut digits[1..]);
            digits[n] = b'-';
            hash_bytes(&digits[n..])
        }
        JsonScalar::Int(i) => {
            let n = decimal(*i as u64, &mut digits);
            hash_bytes(&digits[n..])
        }
        JsonScalar::BigInt(u) => {
            let n = decimal(*u, &mut digits);
            hash_bytes(&digits[n..])
        }
        other => return Err(invalid(field, "a string or integer id", other)),
    })
}

/// Writes `n` in decimal at the end of `buf` (20 bytes hold any u64) and
/// returns where the digits start, without allocating a string.
fn decimal(mut n: u64, buf: &mut [u8]) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

fn key(raw: &JsonScalar, field: &str, ty: FieldType) -> Result<Key, Reject> {
    match (ty, required(raw, field)?) {
        (FieldType::Int, JsonScalar::Int(i)) => Ok(Key::Int(*i)),
        (FieldType::String, JsonScalar::Str(s)) => Ok(Key::Str(Arc::from(&**s))),
        (FieldType::Int, JsonScalar::BigInt(_)) => Err(invalid(field, "a 64-bit integer", raw)),
        (FieldType::Int, _) => Err(invalid(field, "an integer", raw)),
        _ => Err(invalid(field, "a string", raw)),
    }
}

/// Checks a field's type; `Ok(None)` when an optional field is absent.
fn typed<'r, 'a>(raw: &'r JsonScalar<'a>, f: &Field) -> Result<Option<&'r JsonScalar<'a>>, Reject> {
    if raw.is_absent() {
        return if f.required {
            Err(Reject::new(
                Reason::MissingField,
                format!("{} is missing", f.field),
            ))
        } else {
            Ok(None)
        };
    }
    let (ok, expected) = match f.ty {
        FieldType::Int => (matches!(raw, JsonScalar::Int(_)), "a 64-bit integer"),
        FieldType::Float => (
            matches!(
                raw,
                JsonScalar::Int(_) | JsonScalar::BigInt(_) | JsonScalar::Float(_)
            ),
            "a number",
        ),
        FieldType::String => (matches!(raw, JsonScalar::Str(_)), "a string"),
        FieldType::Bool => (matches!(raw, JsonScalar::Bool(_)), "true or false"),
    };
    if ok {
        Ok(Some(raw))
    } else {
        Err(invalid(&f.field, expected, raw))
    }
}

/// Checks a dimension and appends its value to `dims`.
fn dimension(raw: &JsonScalar, f: &Field, dims: &mut DimKey) -> Result<(), Reject> {
    match typed(raw, f)? {
        // A float dimension groups by value: 1 and 1.0 are one group, and
        // so are -0.0 and 0.0 (adding 0.0 makes -0.0 positive).
        Some(n) if f.ty == FieldType::Float => match n.as_f64() {
            Some(x) if x.is_finite() => dims.push(&Value::Float(x + 0.0)),
            _ => {
                return Err(Reject::new(
                    Reason::InvalidField,
                    format!("{}: number out of range", f.field),
                ))
            }
        },
        Some(JsonScalar::Str(s)) => dims.push_str(s),
        Some(JsonScalar::Bool(b)) => dims.push(&Value::Bool(*b)),
        Some(JsonScalar::Int(i)) => dims.push(&Value::Int(*i)),
        _ => dims.push(&Value::Null),
    }
    Ok(())
}

fn metric(raw: &JsonScalar, f: &Field) -> Result<f64, Reject> {
    let value = typed(raw, f)?
        .and_then(JsonScalar::as_f64)
        .unwrap_or(f64::NAN);
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

    /// Found by the `event_line` fuzz target: a form feed around a line
    /// was trimmed, so the event was counted, but `SELECT *` (serde_json)
    /// could not read the kept line. Only JSON's whitespace is trimmed.
    #[test]
    fn only_json_whitespace_is_trimmed() {
        let p = LineParser::new(Arc::new(Schema::preset("stats").unwrap()));
        let line = r#"{"timestamp":"2025-01-15T00:00:19Z","value":48.03}"#;
        assert!(p.parse(format!(" \t{line}\r ").as_bytes()).is_ok());
        for bad in [
            format!("\x0c{line}"),
            format!("{line}\x0c"),
            format!("\x0b{line}"),
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(&bad).is_err());
            let e = p.parse(bad.as_bytes()).unwrap_err();
            assert_eq!(e.reason, Reason::MalformedJson, "{bad:?}");
        }
    }

    fn reels() -> LineParser {
        LineParser::new(Arc::new(Schema::preset("reels").unwrap()))
    }

    const GOOD: &str = r#"{"event_id":"evt_1","event_type":"video_view","user_id":987654321,"video_id":567890123,"creator_id":123456789,"timestamp":"2025-01-15T14:30:45.123Z","session_id":"sess_1","metadata":{"view_duration_ms":15000,"video_position":0.75,"device_type":"mobile"}}"#;

    #[test]
    fn parses_the_seed_line() {
        let p = reels().parse(GOOD.as_bytes()).unwrap();
        assert_eq!(p.ts_ms, Some(1_736_951_445_123));
        assert_eq!(&*p.keys, &[Key::Int(987654321), Key::Int(567890123)]);
        assert_eq!(
            p.dims.values(),
            [Value::str("video_view"), Value::str("mobile")]
        );
        assert_eq!(p.metrics[0], 15000.0);
    }

    fn reason(line: &[u8]) -> Reason {
        reels().parse(line).unwrap_err().reason
    }

    #[test]
    fn reject_details_show_the_value_as_written() {
        let detail = |from: &str, to: &str| {
            reels()
                .parse(GOOD.replacen(from, to, 1).as_bytes())
                .unwrap_err()
                .detail
        };
        assert_eq!(
            detail("987654321", "1.0"),
            "user_id: expected an integer, got 1.0"
        );
        assert_eq!(
            detail("987654321", "18446744073709551616"),
            "user_id: expected an integer, got 1.8446744073709552e19"
        );
        // -0 is an integer zero, as in JSON.
        let p = reels()
            .parse(GOOD.replace("15000", "-0").as_bytes())
            .unwrap();
        assert_eq!(p.metrics[0], 0.0);
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
    fn an_integer_id_is_the_string_of_its_digits() {
        let p = LineParser::new(Arc::new(Schema::preset("ledger").unwrap()));
        let hash = |id: &str| {
            let line = format!(r#"{{"id":{id},"category":"A","value":1}}"#);
            p.parse(line.as_bytes()).unwrap().id_hash.unwrap()
        };
        for n in [
            "0",
            "7",
            "-7",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(hash(n), hash(&format!("{n:?}")), "{n}");
        }
        assert_eq!(
            hash("18446744073709551615"),
            hash("\"18446744073709551615\"")
        );
        assert_ne!(hash("7"), hash("70"));
        assert_ne!(hash("7"), hash("-7"));
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let line = GOOD.replace(r#""view_duration_ms":15000,"#, "");
        let p = reels().parse(line.as_bytes()).unwrap();
        assert!(p.metrics[0].is_nan());
    }
}
