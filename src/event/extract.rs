//! One pass over a JSON line that picks out the schema's fields.
//!
//! Building a full `serde_json::Value` per line costs a map (and a hash) per
//! object and an allocation per string, and even serde's visitor over a
//! line cost a third of all ingest instructions. Instead, the schema's
//! field paths are compiled into a [`FieldTree`], and a strict JSON reader
//! of our own walks the line once: it stores the values of the fields it
//! knows into numbered slots as [`JsonScalar`]s (borrowing strings from the
//! line when they have no escapes) and validates everything else without
//! building it. Lines it refuses are the lines serde_json refuses (the
//! tests compare the two on random and malformed input).

use std::borrow::Cow;
use std::fmt;

/// A field's value as found in the line.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum JsonScalar<'a> {
    /// The field is not in the line.
    #[default]
    Missing,
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX`.
    BigInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An object or array where a scalar was expected.
    Composite,
}

impl JsonScalar<'_> {
    /// Absent or null: a required field is then missing.
    pub fn is_absent(&self) -> bool {
        matches!(self, JsonScalar::Missing | JsonScalar::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            JsonScalar::Int(i) => Some(*i as f64),
            JsonScalar::BigInt(u) => Some(*u as f64),
            JsonScalar::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Shown in reject details: `got "abc"`, `got 1.5`, `got an object or array`.
impl fmt::Display for JsonScalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonScalar::Missing => f.write_str("nothing"),
            JsonScalar::Null => f.write_str("null"),
            JsonScalar::Bool(b) => write!(f, "{b}"),
            JsonScalar::Int(i) => write!(f, "{i}"),
            JsonScalar::BigInt(u) => write!(f, "{u}"),
            JsonScalar::Float(x) => write!(f, "{x:?}"),
            JsonScalar::Str(s) => {
                let cut = s.char_indices().nth(40).map_or(s.len(), |(i, _)| i);
                let more = if cut < s.len() { "…" } else { "" };
                write!(f, "{:?}{more}", &s[..cut])
            }
            JsonScalar::Composite => f.write_str("an object or array"),
        }
    }
}

/// The schema's field paths as a tree of names; leaves are slot numbers.
#[derive(Debug, Clone, Default)]
pub struct FieldTree {
    /// The slot of the value at this node, if a field ends here.
    slot: Option<usize>,
    children: Vec<(String, FieldTree)>,
    /// Every slot at or below this node: a key that repeats resets them,
    /// so that the last value of a key wins, as in serde_json.
    below: Vec<usize>,
}

impl FieldTree {
    /// Builds the tree; slot `i` is `paths[i]`.
    pub fn new<'p>(paths: impl IntoIterator<Item = &'p str>) -> FieldTree {
        let mut root = FieldTree::default();
        for (slot, path) in paths.into_iter().enumerate() {
            let mut node = &mut root;
            for part in path.split('.') {
                let i = match node.children.iter().position(|(name, _)| name == part) {
                    Some(i) => i,
                    None => {
                        node.children.push((part.to_string(), FieldTree::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[i].1;
            }
            node.slot = Some(slot);
        }
        root.index_below();
        root
    }

    fn index_below(&mut self) -> &[usize] {
        let mut below: Vec<usize> = self.slot.into_iter().collect();
        for (_, child) in &mut self.children {
            below.extend_from_slice(child.index_below());
        }
        self.below = below;
        &self.below
    }

    fn child(&self, name: &str) -> Option<&FieldTree> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }

    /// Parses one line (a JSON object) into `slots`, which must have one
    /// entry per path and start as [`JsonScalar::Missing`].
    pub fn extract<'a>(&self, line: &'a str, slots: &mut [JsonScalar<'a>]) -> Result<(), String> {
        let mut p = Scanner {
            text: line,
            bytes: line.as_bytes(),
            at: 0,
            depth: 0,
        };
        p.ws();
        if p.peek() != Some(b'{') {
            return Err(p.error("expected a JSON object"));
        }
        p.value(Some(self), slots)?;
        p.ws();
        if p.at < p.bytes.len() {
            return Err(p.error("trailing characters after the object"));
        }
        Ok(())
    }
}

/// Nesting deeper than this is refused, as serde_json refuses it (so that a
/// line counted by aggregates is also one raw-row queries can read).
const MAX_DEPTH: usize = 127;

/// A strict JSON reader over one line (RFC 8259): it stores the values of
/// the tree's fields into their slots and validates, without building,
/// everything else. Strings without escapes are borrowed from the line.
/// Skipping keeps no stack but a depth count, so any input is bounded.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    fn error(&self, what: &str) -> String {
        format!("{what} at column {}", self.at + 1)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// One value. With a tree node, a field that ends here gets the value
    /// (or `Composite`), and an object's known keys go down the tree;
    /// without one, the value is only checked.
    fn value(
        &mut self,
        tree: Option<&FieldTree>,
        slots: &mut [JsonScalar<'a>],
    ) -> Result<(), String> {
        self.ws();
        let set = |slots: &mut [JsonScalar<'a>], v: JsonScalar<'a>| {
            if let Some(slot) = tree.and_then(|t| t.slot).and_then(|i| slots.get_mut(i)) {
                *slot = v;
            }
        };
        match self.peek() {
            Some(b'{') => {
                set(slots, JsonScalar::Composite);
                self.object(tree, slots)
            }
            Some(b'[') => {
                set(slots, JsonScalar::Composite);
                self.array(slots)
            }
            Some(b'"') => {
                let s = self.string()?;
                set(slots, JsonScalar::Str(s));
                Ok(())
            }
            Some(b't') => self.literal("true", JsonScalar::Bool(true), tree, slots),
            Some(b'f') => self.literal("false", JsonScalar::Bool(false), tree, slots),
            Some(b'n') => self.literal("null", JsonScalar::Null, tree, slots),
            Some(b'-' | b'0'..=b'9') => {
                let n = self.number()?;
                set(slots, n);
                Ok(())
            }
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("the line ends before the value")),
        }
    }

    fn literal(
        &mut self,
        word: &str,
        v: JsonScalar<'a>,
        tree: Option<&FieldTree>,
        slots: &mut [JsonScalar<'a>],
    ) -> Result<(), String> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        if let Some(slot) = tree.and_then(|t| t.slot).and_then(|i| slots.get_mut(i)) {
            *slot = v;
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested more than 127 deep"));
        }
        self.at += 1;
        Ok(())
    }

    fn object(
        &mut self,
        tree: Option<&FieldTree>,
        slots: &mut [JsonScalar<'a>],
    ) -> Result<(), String> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.expect(b':', "expected ':' after the key")?;
            let child = tree.and_then(|t| t.child(&key));
            if let Some(c) = child {
                for &i in &c.below {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = JsonScalar::Missing;
                    }
                }
            }
            self.value(child, slots)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, slots: &mut [JsonScalar<'a>]) -> Result<(), String> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.value(None, slots)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// A string at `"`: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let s = &self.text[start..self.at];
                    self.at += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.error("a control character in a string")),
                Some(_) => self.at += 1,
                None => return Err(self.error("the line ends inside a string")),
            }
        }
        let mut out = String::from(&self.text[start..self.at]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error("an invalid escape")),
                    };
                    self.at += 1;
                    out.push(c);
                }
                Some(0..=0x1f) => return Err(self.error("a control character in a string")),
                Some(_) => {
                    // Copy up to the next quote or backslash at once (the
                    // text is UTF-8: those bytes never occur inside a char).
                    let rest = &self.bytes[self.at..];
                    let n = rest
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .unwrap_or(rest.len());
                    out.push_str(&self.text[self.at..self.at + n]);
                    self.at += n;
                }
                None => return Err(self.error("the line ends inside a string")),
            }
        }
    }

    /// The 4 hex digits after `\u` (and a low surrogate after a high one).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hex = |p: &mut Self| -> Result<u32, String> {
            let digits = p
                .bytes
                .get(p.at..p.at + 4)
                .and_then(|d| std::str::from_utf8(d).ok());
            let v = digits
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .ok_or_else(|| p.error("an invalid \\u escape"))?;
            p.at += 4;
            Ok(v)
        };
        let first = hex(self)?;
        let code = match first {
            0xd800..=0xdbff => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("a lone surrogate"));
                }
                self.at += 2;
                let second = hex(self)?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(self.error("a lone surrogate"));
                }
                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.error("a lone surrogate")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error("an invalid \\u escape"))
    }

    /// A number (RFC 8259 grammar): an integer when it has no fraction or
    /// exponent and fits 64 bits, else a float (correctly rounded by the
    /// standard parser); a float out of range is an error.
    fn number(&mut self) -> Result<JsonScalar<'a>, String> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.peek() {
                p.at += 1;
            }
            p.at - from
        };
        let int_start = self.at;
        let n = digits(self);
        if n == 0 || (n > 1 && self.bytes[int_start] == b'0') {
            return Err(self.error("an invalid number"));
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("an invalid number"));
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("an invalid number"));
            }
            float = true;
        }
        let text = &self.text[start..self.at];
        if !float {
            let magnitude = &self.text[int_start..self.at];
            if let Ok(u) = magnitude.parse::<u64>() {
                return Ok(match negative {
                    false => i64::try_from(u).map_or(JsonScalar::BigInt(u), JsonScalar::Int),
                    true if u <= i64::MAX as u64 + 1 => JsonScalar::Int((u as i64).wrapping_neg()),
                    true => JsonScalar::Float(-(u as f64)),
                });
            }
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(JsonScalar::Float(x)),
            _ => Err(self.error("a number out of range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(paths: &[&str], line: &str) -> Result<Vec<JsonScalar<'static>>, String> {
        let tree = FieldTree::new(paths.iter().copied());
        let mut slots = vec![JsonScalar::Missing; paths.len()];
        tree.extract(line, &mut slots)?;
        Ok(slots
            .into_iter()
            .map(|r| match r {
                JsonScalar::Str(s) => JsonScalar::Str(Cow::Owned(s.into_owned())),
                JsonScalar::Missing => JsonScalar::Missing,
                JsonScalar::Null => JsonScalar::Null,
                JsonScalar::Bool(b) => JsonScalar::Bool(b),
                JsonScalar::Int(i) => JsonScalar::Int(i),
                JsonScalar::BigInt(u) => JsonScalar::BigInt(u),
                JsonScalar::Float(f) => JsonScalar::Float(f),
                JsonScalar::Composite => JsonScalar::Composite,
            })
            .collect())
    }

    #[test]
    fn picks_nested_fields_and_skips_the_rest() {
        let got = extract(
            &["a", "m.x", "m.y", "z"],
            r#"{"skip":{"deep":[1,{"a":2}]},"a":"h\u00e9","m":{"x":1,"y":18446744073709551615},"q":null}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                JsonScalar::Str("hé".into()),
                JsonScalar::Int(1),
                JsonScalar::BigInt(u64::MAX),
                JsonScalar::Missing
            ]
        );
    }

    #[test]
    fn composite_where_a_scalar_was_expected() {
        let got = extract(&["a", "b"], r#"{"a":[1],"b":{"c":1}}"#).unwrap();
        assert_eq!(got, vec![JsonScalar::Composite, JsonScalar::Composite]);
    }

    /// What serde_json reads at `path` of a line it accepts, as a slot.
    fn serde_at<'v>(v: &'v serde_json::Value, path: &str) -> JsonScalar<'v> {
        let mut v = v;
        for part in path.split('.') {
            match v.get(part) {
                Some(x) if v.is_object() => v = x,
                _ => return JsonScalar::Missing,
            }
        }
        match v {
            serde_json::Value::Null => JsonScalar::Null,
            serde_json::Value::Bool(b) => JsonScalar::Bool(*b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => JsonScalar::Int(i),
                (None, Some(u)) => JsonScalar::BigInt(u),
                _ => JsonScalar::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => JsonScalar::Str(Cow::Borrowed(s)),
            _ => JsonScalar::Composite,
        }
    }

    /// Lines from JSON-ish pieces: valid objects, and every way to spoil one.
    fn line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = prop_oneof![
            Just("1".to_string()),
            Just("-0".to_string()),
            Just("-12.5e3".to_string()),
            Just("1e400".to_string()),
            Just("18446744073709551616".to_string()),
            Just("-9223372036854775809".to_string()),
            Just("01".to_string()),
            Just("1.".to_string()),
            Just("true".to_string()),
            Just("nul".to_string()),
            Just(r#""x""#.to_string()),
            Just(r#""a\"b\u00e9\ud83d\ude00""#.to_string()),
            Just(r#""\ud800""#.to_string()),
            Just(r#""\q""#.to_string()),
            Just("\"tab\there\"".to_string()),
            Just("[]".to_string()),
            Just("{}".to_string()),
        ];
        let value = atom.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(
                    (
                        proptest::sample::select(vec!["a", "m", "x", "a\\u0041"]),
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| {
                    let parts: Vec<String> =
                        kv.iter().map(|(k, v)| format!(r#""{k}":{v}"#)).collect();
                    format!("{{{}}}", parts.join(","))
                }),
            ]
        });
        (
            value,
            proptest::sample::select(vec!["", " ", ",", "}", " 1", "\u{0}"]),
        )
            .prop_map(|(v, tail)| format!("{v}{tail}"))
    }

    proptest::proptest! {
        #[test]
        fn accepts_and_reads_what_serde_json_does(line in line()) {
            let paths = ["a", "m.a", "m.x", "x", "aA"];
            let tree = FieldTree::new(paths);
            let mut slots = vec![JsonScalar::Missing; paths.len()];
            let ours = tree.extract(&line, &mut slots);
            let theirs = serde_json::from_str::<serde_json::Value>(&line);
            let theirs = theirs.ok().filter(|v| v.is_object());
            proptest::prop_assert_eq!(ours.is_ok(), theirs.is_some(), "{}", line);
            if let Some(v) = theirs {
                for (path, slot) in paths.iter().zip(&slots) {
                    let want = serde_at(&v, path);
                    let same = match (slot, &want) {
                        // serde reads -0 as a float; either reads back as zero.
                        (JsonScalar::Int(0), JsonScalar::Float(f)) => *f == 0.0,
                        (a, b) => a == b,
                    };
                    proptest::prop_assert!(same, "{}: {:?} vs {:?}", path, slot, want);
                }
            }
        }
    }

    #[test]
    fn nesting_is_bounded_as_serde_json_bounds_it() {
        for depth in [126, 127, 128, 129, 200] {
            let line = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            let tree = FieldTree::new(["a"]);
            let mut slots = vec![JsonScalar::Missing];
            let serde = serde_json::from_str::<serde_json::Value>(&line).is_ok();
            assert_eq!(
                tree.extract(&line, &mut slots).is_ok(),
                serde,
                "depth {depth}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        assert!(extract(&["a"], "[1]").is_err());
        assert!(extract(&["a"], "3").is_err());
        assert!(extract(&["a"], r#"{"a":1} {"a":2}"#).is_err());
        assert!(extract(&["a"], r#"{"a":1"#).is_err());
        assert!(extract(&["a"], &"[".repeat(100_000)).is_err());
    }
}
