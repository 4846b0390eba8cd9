//! Credentials in free text: provider keys, cloud keys, tokens, JWTs, private key blocks,
//! passwords in URLs and secret URL query values.
//!
//! One pass over the text. Every format has a byte at a fixed place in it, its anchor: the dash
//! of `sk-`, `xoxb-` and `-----BEGIN`, the underscore of `ghp_`, `github_pat_` and `sk_live_`,
//! the `@` of a URL's user info, the `b` of `bearer`, the `J` of a JWT's `eyJ`, the `A` of
//! `AKIA`/`AIza`, and the `=` or `:` after a label or a query name. The anchors are found a block
//! at a time ([`Anchors`]), and only the text around one is looked at (`formats`).

use super::formats::{at_anchor, may_start};
use super::REDACTED;

pub(super) use super::formats::MIN_TOKEN_LEN;

/// Whether `c` is an anchor byte: `b` and `B` (one test: `B | 0x20` is `b`), `-`, `_`, `@`, `J`,
/// `A`, `=` and `:`. Written with comparisons so that [`block_mask`] compiles to vector compares
/// (checked in the binary: `pcmpeqb`, `por`).
const fn is_anchor(c: u8) -> bool {
    (c | 0x20 == b'b')
        | (c == b'-')
        | (c == b'_')
        | (c == b'@')
        | (c == b'J')
        | (c == b'A')
        | (c == b'=')
        | (c == b':')
}

/// Bytes per block: two vector registers' worth, so that the fixed work of a block (gathering
/// its mask, the loop) is shared by more bytes.
const BLOCK: usize = 32;

/// Bit `k` set when `b[at + k]` is an anchor byte, for the [`BLOCK`] bytes from `at` (fewer
/// at the end of `b`).
fn block_mask(b: &[u8], at: usize) -> u32 {
    match b
        .get(at..at + BLOCK)
        .and_then(|s| <&[u8; BLOCK]>::try_from(s).ok())
    {
        Some(block) => whole_block_mask(block),
        None => last_bytes_mask(b.get(at..).unwrap_or_default()),
    }
}

/// [`block_mask`] of the last bytes of a text, fewer than a block: tested in a zero-padded
/// copy (zero is no anchor) as a whole block, where a byte-by-byte loop took ≈ 10
/// instructions a byte.
#[inline(never)]
fn last_bytes_mask(rest: &[u8]) -> u32 {
    let mut block = [0u8; BLOCK];
    block[..rest.len()].copy_from_slice(rest);
    whole_block_mask(&block)
}

/// [`block_mask`] of a whole block.
#[inline]
fn whole_block_mask(block: &[u8; BLOCK]) -> u32 {
    let mut hits = [0u8; BLOCK];
    for (h, &c) in hits.iter_mut().zip(block) {
        *h = u8::from(is_anchor(c));
    }
    // Each eight 0/1 bytes gathered into eight bits by one multiply: byte `k`'s bit lands on
    // bit 56 + `k`, and no two products meet there.
    let bits = |k: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hits[8 * k..8 * k + 8]);
        (u64::from_le_bytes(word).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    bits(0) | bits(1) << 8 | bits(2) << 16 | bits(3) << 24
}

/// The anchors of one text, found a block at a time: one mask per block, its set bits
/// read in turn. In the benches' prose (an anchor every ≈ 40 bytes) this saves a third of the
/// scan against restarting a `memchr3` search after every anchor (callgrind, 2 KB of
/// messages: ≈ 19,700 → 13,600 instructions per span), and a short value pays no search setup.
pub(super) struct Anchors<'a> {
    b: &'a [u8],
    /// Where the current block starts.
    base: usize,
    /// The current block's anchors not yet passed.
    mask: u32,
}

impl<'a> Anchors<'a> {
    pub(super) fn new(b: &'a [u8]) -> Anchors<'a> {
        Anchors {
            b,
            base: 0,
            mask: block_mask(b, 0),
        }
    }

    /// The first anchor at or after `i`, or `b.len()`; `i` never goes below an earlier `i`.
    pub(super) fn next(&mut self, i: usize) -> usize {
        if i >= self.base + BLOCK {
            self.base = i;
            self.mask = block_mask(self.b, i);
        } else {
            // Before `base` (a block skipped since the last call) there is no anchor to clear.
            self.mask &= !0 << i.saturating_sub(self.base);
        }
        while self.mask == 0 {
            self.base += BLOCK;
            if self.base >= self.b.len() {
                return self.b.len();
            }
            self.mask = block_mask(self.b, self.base);
        }
        self.base + self.mask.trailing_zeros() as usize
    }
}

/// Replaces every credential found in `s` by [`REDACTED`]; `None` when there is none.
///
/// When `cut` is set the text was truncated, and a credential running into its end is redacted
/// whatever its length.
pub(super) fn scan_tokens(s: &str, cut: bool) -> Option<String> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    let mut anchors = Anchors::new(b);
    while i < n {
        let p = anchors.next(i);
        if p >= n {
            break;
        }
        let found = if may_start(b, p) {
            at_anchor(b, p, copied, cut)
        } else {
            None
        };
        match found {
            Some((start, end)) => {
                let o = out.get_or_insert_with(|| String::with_capacity(n));
                // Matches begin at or after an ASCII byte and end before one (or at the end),
                // so both are char boundaries.
                o.push_str(&s[copied..start]);
                o.push_str(REDACTED);
                copied = end;
                i = end.max(p + 1);
            }
            None => i = p + 1,
        }
    }
    out.map(|mut o| {
        o.push_str(&s[copied..]);
        o
    })
}
