//! A small FNV-1a hasher for the crate's internal maps, whose keys are short strings the crate
//! or its user chose (field names, model names): much cheaper than SipHash on the hot path,
//! and no hash-flooding concern since no key comes from a remote peer.

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
