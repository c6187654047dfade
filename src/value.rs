//! The values that flow out of queries: group keys, aggregates, literals.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// A single SQL value. Strings are shared because group keys and dimension
/// values are copied into many partial results.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a float, for arithmetic and numeric comparison.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// SQL truthiness: only `TRUE` passes a WHERE or HAVING.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// A total order for sorting result rows: NULL first, then booleans,
    /// numbers (ints and floats compared by value, NaN last among numbers),
    /// then strings.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) | Value::Float(_) => 2,
                Value::Str(_) => 3,
            }
        }
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (a, b) if rank(a) == 2 && rank(b) == 2 => {
                let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
                x.total_cmp(&y)
            }
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }

    /// SQL comparison: `None` when either side is NULL or the types do not
    /// compare (a string against a number).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }
}

/// Floats print as the shortest decimal that reads back to the same
/// `f64` (`123456789012.34`, `0.30000000000000004`), with `.0` on whole
/// numbers so they stay floats, and an exponent past 16 digits (`1e21`,
/// `1.5e-7`), as Rust's `{:?}` writes them: every format shows the value
/// itself, never a rounding of it. NaN and infinities, which no aggregate
/// of finite input yields, print as `NaN`, `inf`, `-inf` in a table; CSV
/// and JSON write them as NULL.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // -0.0 is 0.0 to every comparison; print it so.
    format!("{:?}", f + 0.0)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
        }
    }
}

/// The answer to one statement: named columns and rows of values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_11_floats_print_the_shortest_text_that_reads_back() {
        assert_eq!(format_float(123456789012.34), "123456789012.34");
        assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_float(2.0), "2.0");
        assert_eq!(format_float(-0.0), "0.0");
        assert_eq!(format_float(-1234.5), "-1234.5");
        assert_eq!(format_float(9007199254740991.0), "9007199254740991.0");
        assert_eq!(format_float(1e300), "1e300");
        for x in [
            1.0 / 3.0,
            1e-7,
            123456789012.34,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(format_float(x).parse::<f64>(), Ok(x), "{x}");
        }
    }

    #[test]
    fn total_order_puts_null_first_and_mixes_numbers() {
        let mut v = vec![
            Value::Float(2.5),
            Value::Null,
            Value::Int(2),
            Value::str("a"),
        ];
        v.sort_by(|a, b| a.total_cmp(b));
        assert_eq!(
            v,
            vec![
                Value::Null,
                Value::Int(2),
                Value::Float(2.5),
                Value::str("a")
            ]
        );
    }
}
