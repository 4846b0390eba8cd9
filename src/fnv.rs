//! Small fast hashers for the crate's internal maps, much cheaper than SipHash on the hot path.
//! [`Fnv`] (FNV-1a) is for keys the crate or its user chose (field names, model names), which
//! no remote peer picks; [`Words`] is seeded, for attribute keys.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a, 64-bit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A `HashMap` builder with [`Fnv`].
pub(crate) type FnvBuild = BuildHasherDefault<Fnv>;

/// A word-at-a-time multiplicative hash (the rustc `FxHash` step) with a per-process seed, for
/// maps keyed by what an outsider may choose: attribute keys built from content a model
/// returned (flattened JSON), trace ids from a remote parent. The seed keeps them from
/// choosing colliding keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Words(u64);

impl Default for Words {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        Words(*SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
        }))
    }
}

impl Words {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Words {
    fn finish(&self) -> u64 {
        // The last multiply leaves the low bits (the bucket index) weakly mixed.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[..8]);
            u64::from_le_bytes(w)
        };
        let n = bytes.len();
        if n < 8 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(bytes);
            self.add(u64::from_le_bytes(w) ^ ((n as u64) << 59));
            return;
        }
        let mut i = 0;
        while i + 8 < n {
            self.add(word(&bytes[i..]));
            i += 8;
        }
        // The last 8 bytes, overlapping the words before when `n` is not a multiple of 8.
        self.add(word(&bytes[n - 8..]) ^ ((n as u64) << 59));
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_u128(&mut self, i: u128) {
        // A trace id: two words.
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
}

/// A `HashMap` builder with [`Words`].
pub(crate) type WordsBuild = BuildHasherDefault<Words>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn words_tell_apart_keys_that_differ_in_one_byte_or_in_length() {
        let b = WordsBuild::default();
        let keys = [
            "llm.input_messages.0.message.role",
            "llm.input_messages.1.message.role",
            "llm.input_messages.0.message.rolf",
            "llm.input_messages.0.message.rol",
            "",
            "\0",
            "\0\0",
        ];
        let hashes: std::collections::HashSet<u64> = keys.iter().map(|k| b.hash_one(k)).collect();
        assert_eq!(hashes.len(), keys.len());
        assert_eq!(b.hash_one("input.value"), b.hash_one("input.value"));
    }
}
