//! The W3C `baggage` header: writing one within its limits, reading one defensively.
//!
//! Limits (W3C Baggage, "Limits"): a header of at most [`MAX_BYTES`] bytes and
//! [`MAX_MEMBERS`] list-members. Writing, a member that does not fit is left out whole (never
//! cut); reading, members past either limit are ignored, as are malformed ones (no `=`, a key
//! that is not a token, a value whose percent-encoding or UTF-8 is broken). Values are
//! percent-encoded: every byte but the unreserved `A-Z a-z 0-9 - . _ ~` is written as `%XX`,
//! so any text travels, and any W3C-valid value reads back.

/// The most bytes of a `baggage` header written or read.
pub(crate) const MAX_BYTES: usize = 8192;

/// The most list-members written or read (the W3C limit, and the most an OpenTelemetry
/// `Baggage` holds).
pub(crate) const MAX_MEMBERS: usize = 64;

/// A `baggage` header being written within the limits.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    header: String,
    members: usize,
}

impl Writer {
    /// Adds `key=value` (the value percent-encoded) if the key is a token, the value's
    /// encoding is at most `max_member` bytes, and the header stays within the limits.
    /// Returns whether it was added.
    pub(crate) fn add(&mut self, key: &str, value: &str, max_member: usize) -> bool {
        if !is_token(key) || self.members >= MAX_MEMBERS {
            return false;
        }
        let encoded = encode(value);
        let member_len = key.len() + 1 + encoded.len();
        let separator = usize::from(self.members > 0);
        if member_len > max_member || self.header.len() + separator + member_len > MAX_BYTES {
            return false;
        }
        if separator == 1 {
            self.header.push(',');
        }
        self.header.push_str(key);
        self.header.push('=');
        self.header.push_str(&encoded);
        self.members += 1;
        true
    }

    /// The header value; `None` when no member was added.
    pub(crate) fn finish(self) -> Option<String> {
        (self.members > 0).then_some(self.header)
    }
}

/// Reads the members of `header` (one or several `baggage` headers joined by `,`), within the
/// limits, malformed members skipped. Properties (`;...`) are dropped.
pub(crate) fn parse(header: &str) -> Vec<(String, String)> {
    let mut members = Vec::new();
    let mut read = 0usize;
    for member in header.split(',') {
        read = read.saturating_add(member.len() + 1);
        if read > MAX_BYTES + 1 || members.len() >= MAX_MEMBERS {
            break;
        }
        let pair = member.split(';').next().unwrap_or("");
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let key = key.trim_matches(is_ows);
        if !is_token(key) {
            continue;
        }
        if let Some(value) = decode(value.trim_matches(is_ows)) {
            members.push((key.to_owned(), value));
        }
    }
    members
}

/// Optional white space around keys and values.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Whether `key` is an RFC 7230 token: what a baggage key must be.
fn is_token(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `value` with every byte outside the unreserved set written as `%XX`.
fn encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// `value` percent-decoded; `None` for a broken escape, text that is not UTF-8 once decoded,
/// or a byte a baggage value may not hold unescaped (controls, space, `"`, `,`, `;`, `\`).
fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b <= b' ' || b == 0x7f || b == b'"' || b == b',' || b == b';' || b == b'\\' => {
                return None
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_encoding() {
        for value in [
            "s-1",
            "user 42",
            "a,b;c=d%",
            "données 🚀",
            r#"["a","b"]"#,
            "",
        ] {
            let mut w = Writer::default();
            assert!(w.add("k", value, MAX_BYTES));
            let header = w.finish().unwrap();
            assert!(header.is_ascii() && !header[2..].contains([',', ';', ' ', '"']));
            assert_eq!(parse(&header), [("k".to_owned(), value.to_owned())]);
        }
    }

    #[test]
    fn malformed_members_are_skipped_and_the_rest_kept() {
        let members = parse("bad, =x, k y=1, a=%zz, b=%C3, c=\"q\", ok = v%20w ;prop=1,x=1");
        assert_eq!(
            members,
            [
                ("ok".to_owned(), "v w".to_owned()),
                ("x".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn the_limits_hold_writing_and_reading() {
        let mut w = Writer::default();
        assert!(!w.add("big", &"x".repeat(MAX_BYTES), MAX_BYTES));
        let mut added = 0;
        for i in 0..200 {
            added += usize::from(w.add(&format!("k{i}"), "v", MAX_BYTES));
        }
        assert_eq!(added, MAX_MEMBERS);
        let header = w.finish().unwrap();
        assert!(header.len() <= MAX_BYTES);

        let long: String = (0..2000).map(|i| format!("k{i}=v,")).collect();
        assert!(long.len() > MAX_BYTES);
        assert_eq!(parse(&long).len(), MAX_MEMBERS);
        let one_huge = format!("a=1,b={},c=3", "y".repeat(MAX_BYTES));
        assert_eq!(parse(&one_huge), [("a".to_owned(), "1".to_owned())]);
    }
}
