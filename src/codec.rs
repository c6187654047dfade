//! Serde helpers for checkpoints: byte blobs and word arrays as raw bytes.
//!
//! Checkpoints encode the engine's own types with serde. Most fields are
//! small, but a few are large arrays of bytes or words (a packed log, the
//! registers of a dense HyperLogLog, the id history's slots), which serde
//! would otherwise write and read one element at a time. These helpers,
//! used as `#[serde(with = "crate::codec::bytes")]`, write them as one
//! length-prefixed run of bytes instead. Reading checks the length (a word
//! array must be a whole number of words) and answers an error, never a
//! panic.

/// Bytes borrowed when written, owned when read, as one run of bytes
/// (a `Cow<[u8]>` would go byte by byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob<'a>(pub std::borrow::Cow<'a, [u8]>);

impl serde::Serialize for Blob<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Blob<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = d.deserialize_bytes(bytes::BytesVisitor)?;
        Ok(Blob(std::borrow::Cow::Owned(bytes)))
    }
}

/// A `Box<[u8]>` as one run of bytes.
pub mod bytes {
    use serde::de::{Deserializer, Error, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u8]>, D::Error> {
        d.deserialize_bytes(BytesVisitor).map(Vec::into_boxed_slice)
    }

    /// Accepts bytes, and (for formats that write them so) a sequence.
    pub(super) struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
}

/// A `Vec<u64>` as its little-endian bytes.
pub mod words {
    use serde::de::{Deserializer, Error};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(words: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(words.len() * 8);
        for w in words {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let bytes = d.deserialize_bytes(super::bytes::BytesVisitor)?;
        if !bytes.len().is_multiple_of(8) {
            return Err(D::Error::custom("a word array that is not whole words"));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect())
    }
}
