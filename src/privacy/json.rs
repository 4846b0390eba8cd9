//! Secret and prompt keys in JSON text, found without building a tree.

use super::keys::{is_prompt_key, is_secret_key, Kind};
use super::REDACTED;

/// Whether the first non-blank character opens a JSON object or array.
pub(super) fn looks_json(s: &str) -> bool {
    matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// Index after the string starting at `b[i] == '"'`, and whether it was closed.
fn skip_string(b: &[u8], i: usize) -> (usize, bool) {
    let mut k = i + 1;
    // Long runs of text are skipped by a vectorized search for the two bytes that matter.
    while let Some(off) = b
        .get(k..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        k += off;
        if b[k] == b'"' {
            return (k + 1, true);
        }
        k += 2;
    }
    (b.len(), false)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Index after the object or array starting at `b[i]` (or the end of the text when it is cut).
fn skip_container(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut k = i;
    while k < b.len() {
        match b[k] {
            b'"' => {
                k = skip_string(b, k).0;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
        k += 1;
    }
    b.len()
}

fn skip_scalar(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Replaces the values of secret keys (and, with `prompt_keys`, of prompt keys) in JSON text.
///
/// Works on the text in one pass, without building a tree: valid, truncated or deeply nested JSON all cost linear
/// time. Returns `None` when nothing was replaced.
pub(super) fn scan_json(s: &str, secrets: bool, prompt_keys: bool) -> Option<String> {
    let b = s.as_bytes();
    let n = b.len();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < n {
        match memchr::memchr(b'"', &b[i..]) {
            Some(off) => i += off,
            None => break,
        }
        let (end, closed) = skip_string(b, i);
        if !closed {
            break;
        }
        let mut j = skip_ws(b, end);
        if j >= n || b[j] != b':' {
            i = end;
            continue;
        }
        let key = &s[i + 1..end - 1];
        j = skip_ws(b, j + 1);
        if j >= n {
            break;
        }
        let kind = match b[j] {
            b'"' => Kind::Str,
            b'{' | b'[' => Kind::Container,
            b'-' | b'0'..=b'9' => Kind::Number,
            b'n' => Kind::Null,
            _ => Kind::Bool,
        };
        let hit = (prompt_keys && kind != Kind::Null && is_prompt_key(key))
            || (secrets && is_secret_key(key, kind));
        if hit {
            let value_end = match kind {
                Kind::Str => skip_string(b, j).0,
                Kind::Container => skip_container(b, j),
                _ => skip_scalar(b, j),
            };
            let o = out.get_or_insert_with(|| String::with_capacity(n));
            o.push_str(&s[copied..j]);
            o.push('"');
            o.push_str(REDACTED);
            o.push('"');
            copied = value_end;
            i = value_end;
            continue;
        }
        i = j;
    }
    out.map(|mut o| {
        o.push_str(&s[copied..]);
        o
    })
}
