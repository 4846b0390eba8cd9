//! Credentials in free text: provider keys, cloud keys, tokens, JWTs, private key blocks,
//! passwords in URLs and secret URL query values.
//!
//! One pass over the text. Every format has a byte at a fixed place in it, its anchor: the dash
//! of `sk-`, `xoxb-` and `-----BEGIN`, the underscore of `ghp_`, `github_pat_` and `sk_live_`,
//! the `@` of a URL's user info, the `b` of `bearer`, the `J` of a JWT's `eyJ`, the `A` of
//! `AKIA`/`AIza`, and the `=` or `:` after a label or a query name. The anchors are found three
//! at a time ([`next_in`]), and only the text around one is looked at (`formats`).

use super::formats::at_anchor;
use super::REDACTED;

pub(super) use super::formats::MIN_TOKEN_LEN;

/// The anchor bytes, in three sets of three, one vectorized search each. The frequent ones
/// (`b` in prose, `:` and `=` in JSON and code) share a set, so their next one is mostly found
/// by the word test; the other two sets are searched seldom.
const SETS: [[u8; 3]; 3] = [[b'b', b':', b'='], [b'-', b'_', b'B'], [b'@', b'J', b'A']];

/// The first index at or after `i` holding one of the three bytes of `set`, or `b.len()`.
///
/// The next eight positions are tested a word at a time; past them, a vectorized search for the
/// three bytes takes over. Text without them (code, JSON, most languages) is then skipped many
/// bytes an instruction, and text dense with them (adversarial, `b`-rich prose, JSON) finds its
/// next anchor in the word test without paying to set the vector search up.
pub(super) fn next_in(b: &[u8], i: usize, set: [u8; 3]) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // The high bit of each zero byte of `v`; the lowest set bit always marks the first zero byte (a borrow can only
    // mark bytes above a real zero), so the lowest bit of an OR of such masks marks the first hit of any.
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let splat = |c: u8| u64::from_le_bytes([c; 8]);
    let mut from = i;
    if i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let hits = zero_bytes(w ^ splat(set[0]))
            | zero_bytes(w ^ splat(set[1]))
            | zero_bytes(w ^ splat(set[2]));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        from = i + 8;
    }
    match b.get(from..) {
        Some(rest) => memchr::memchr3(set[0], set[1], set[2], rest).map_or(b.len(), |o| from + o),
        None => b.len(),
    }
}

/// The next anchor of each set, searched again only once the scan has passed it.
struct Anchors {
    next: [usize; 3],
}

impl Anchors {
    fn new(b: &[u8]) -> Anchors {
        Anchors {
            next: SETS.map(|set| next_in(b, 0, set)),
        }
    }

    /// The first anchor at or after `i`, or `b.len()`.
    fn next(&mut self, b: &[u8], i: usize) -> usize {
        for (next, set) in self.next.iter_mut().zip(SETS) {
            if *next < i {
                *next = next_in(b, i, set);
            }
        }
        self.next[0].min(self.next[1]).min(self.next[2])
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
        let p = anchors.next(b, i);
        if p >= n {
            break;
        }
        match at_anchor(b, p, copied, cut) {
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
