//! One pass over a JSON line that picks out the schema's fields.
//!
//! Building a full `serde_json::Value` per line costs a map (and a hash) per
//! object and an allocation per string. Instead, the schema's field paths
//! are compiled into a [`FieldTree`]; the deserializer walks the line once,
//! stores the values of the fields it knows into numbered slots as [`JsonScalar`]
//! scalars (borrowing strings from the line where it can), and skips
//! everything else without building it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
            JsonScalar::Float(x) => write!(f, "{x}"),
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
        root
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
        let mut de = serde_json::Deserializer::from_str(line);
        let top = Node {
            tree: self,
            slots,
            top: true,
        };
        top.deserialize(&mut de).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())
    }
}

/// Deserializes the value at one tree node into the slots.
struct Node<'t, 's, 'a> {
    tree: &'t FieldTree,
    slots: &'s mut [JsonScalar<'a>],
    /// The whole line: it must be an object.
    top: bool,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for Node<'_, '_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Node<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.top {
            "a JSON object"
        } else {
            "any JSON value"
        })
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<(), M::Error> {
        self.set(JsonScalar::Composite);
        while let Some(Key(name)) = map.next_key()? {
            match self.tree.child(&name) {
                Some(tree) => map.next_value_seed(Node {
                    tree,
                    slots: &mut *self.slots,
                    top: false,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        self.scalar(JsonScalar::Composite)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(JsonScalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(JsonScalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(i64::try_from(v).map_or(JsonScalar::BigInt(v), JsonScalar::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(JsonScalar::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.scalar(JsonScalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(JsonScalar::Str(Cow::Owned(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(JsonScalar::Null)
    }
}

impl<'a> Node<'_, '_, 'a> {
    fn set(&mut self, value: JsonScalar<'a>) {
        if let Some(slot) = self.tree.slot.and_then(|i| self.slots.get_mut(i)) {
            *slot = value;
        }
    }

    fn scalar<E: de::Error>(mut self, value: JsonScalar<'a>) -> Result<(), E> {
        if self.top {
            return Err(E::custom("not a JSON object"));
        }
        self.set(value);
        Ok(())
    }
}

/// An object key, borrowed from the line unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
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

    #[test]
    fn rejects_what_is_not_one_object() {
        assert!(extract(&["a"], "[1]").is_err());
        assert!(extract(&["a"], "3").is_err());
        assert!(extract(&["a"], r#"{"a":1} {"a":2}"#).is_err());
        assert!(extract(&["a"], r#"{"a":1"#).is_err());
        assert!(extract(&["a"], &"[".repeat(100_000)).is_err());
    }
}
