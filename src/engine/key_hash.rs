//! The hasher of the shards' entity maps.
//!
//! A shard looks up one entity per key of every event, so this hash is on
//! ingest's hottest path, where std's SipHash costs more than short keys
//! need (measured by the `ingest` bench of `benches/pipeline.rs` and
//! `tally bench ingest`). Keys are integers or short strings, so this
//! hasher folds 8-byte words with a rotate-xor-multiply step (FxHash's)
//! and finishes with splitmix64's finalizer, which spreads every input bit
//! over the high bits hashbrown's control bytes use. It is not keyed: a
//! stream crafted to collide could slow its own shard down, a fair trade
//! for an embedded engine that reads its user's data. Integer keys never
//! collide (each step is a bijection in the key).
//!
//! Why not a crate: `foldhash` was tried in its place and measured slower
//! (`cargo bench --bench pipeline -- ingest`, alternating runs in one
//! session, 2026-12-02: this hasher 87.5 and 94.0 ms, foldhash 98.1 and
//! 100.0 ms), so this one stays until a well-kept crate is as fast.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from entity keys (an actor kind's key values), hashed with
/// [`KeyHasher`].
pub type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher {
    state: u64,
}

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // The length first: zero padding must not make "ab" equal "ab\0".
        self.add(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn write_isize(&mut self, i: isize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        crate::hash::mix64(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Key;
    use std::hash::BuildHasher;

    fn hash(key: &Key) -> u64 {
        BuildHasherDefault::<KeyHasher>::default().hash_one(key)
    }

    #[test]
    fn keys_spread_over_the_bits_hashbrown_reads() {
        // Consecutive ids must differ in the top 7 bits (control bytes) and
        // in the low bits (bucket index) about as often as random ones.
        let hashes: Vec<u64> = (0..4096)
            .map(|i| hash(&Key::Int(987_654_321 + i)))
            .collect();
        let top: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        let low: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        assert_eq!(top.len(), 128);
        assert!(low.len() > 2500, "{}", low.len()); // expected of 4096 random draws: ~2,590
        assert_ne!(hash(&Key::Int(1)), hash(&Key::Str("1".into())));
        assert_ne!(hash(&Key::Str("ab".into())), hash(&Key::Str("ab\0".into())));
        let mut map: KeyMap<Key, u32> = KeyMap::default();
        map.insert(Key::Str("user8".into()), 8);
        assert_eq!(map.get(&Key::Str("user8".into())), Some(&8));
    }
}
