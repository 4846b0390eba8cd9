//! The credential formats, each checked around its anchor byte (see `secrets`).
//!
//! Every check looks at a bounded stretch of text around the anchor and returns the byte range
//! to replace, never starting before `lo` (the end of the previous replacement).

use super::keys::{contains_secret_word, is_secret_key, normalize_key, starts_with_ci, Kind};

/// The shortest text a check can change when it was not cut: a URL query value with its name
/// (`&token=` and one character; names shorter than `token` need longer values), or a URL
/// password (`a://:p@h`). Every other format is longer. Shorter values skip the scan: most
/// values of a span are (roles, model names, ids).
pub(super) const MIN_TOKEN_LEN: usize = 8;

/// Whether the anchor at `b[p]` can belong to a credential at all: the first test of each
/// format's check, on one neighbouring byte (`sk-` has a `k` before its dash, `bearer` an `e`
/// after its `b`). Most anchors in prose fail it, and the scan then skips the call to
/// [`at_anchor`] (callgrind: ≈ 1,900 fewer instructions per 2 KB of prose).
#[inline]
pub(super) fn may_start(b: &[u8], p: usize) -> bool {
    let next = b.get(p + 1).copied().unwrap_or(0);
    let before = |k: usize| p.checked_sub(k).map(|i| b[i]);
    match b[p] {
        b'-' => next == b'-' || before(1) == Some(b'k') || before(4) == Some(b'x'),
        b'_' => next == b'p' || before(1) == Some(b'k') || before(3) == Some(b'g'),
        b'b' | b'B' => next | 0x20 == b'e',
        b'J' => before(1) == Some(b'y'),
        b'A' => matches!(next, b'K' | b'S' | b'I'),
        _ => true,
    }
}

/// The range to redact when the anchor at `b[p]` belongs to a credential.
pub(super) fn at_anchor(b: &[u8], p: usize, lo: usize, cut: bool) -> Option<(usize, usize)> {
    match b[p] {
        b'-' => dash(b, p, lo, cut),
        b'_' => underscore(b, p, lo, cut),
        b'@' => url_password(b, p, lo),
        b'b' | b'B' => bearer(b, p, cut),
        b'J' => jwt(b, p, lo, cut),
        b'A' => aws_or_google(b, p, cut),
        b'=' | b':' => labeled(b, p, lo, cut),
        _ => None,
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_bearer_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The end of the run of `pred` bytes starting at `from`.
fn run(b: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut j = from;
    while j < b.len() && pred(b[j]) {
        j += 1;
    }
    j
}

/// The start of a prefix `back` bytes before the anchor at `p`, when it is one of `prefixes`,
/// at or after `lo` and not inside a longer word.
fn prefix(b: &[u8], p: usize, back: usize, prefixes: &[&[u8]], lo: usize) -> Option<usize> {
    let start = p.checked_sub(back).filter(|&s| s >= lo)?;
    if start > 0 && is_key_char(b[start - 1]) {
        return None;
    }
    prefixes
        .iter()
        .any(|pre| b[start..].starts_with(pre))
        .then_some(start)
}

/// A secret of `min` or more bytes from `from` to `end` (with a digit, when `digit` is asked),
/// or any non-empty one that runs into the end of a cut text.
fn long_enough(b: &[u8], from: usize, end: usize, min: usize, digit: bool, cut: bool) -> bool {
    let len = end - from;
    (len >= min && (!digit || b[from..end].iter().any(u8::is_ascii_digit)))
        || (cut && end == b.len() && len > 0)
}

/// `sk-`/`pk-`/`rk-` keys (OpenAI, `sk-proj-`, Anthropic `sk-ant-`), Slack `xoxb-`-style
/// tokens, and private key blocks.
fn dash(b: &[u8], p: usize, lo: usize, cut: bool) -> Option<(usize, usize)> {
    // One byte tells which format the dash can belong to.
    if b.get(p + 1) == Some(&b'-') {
        return if b[p..].starts_with(b"-----BEGIN ") {
            private_key(b, p, cut)
        } else {
            None
        };
    }
    if p < 2 {
        return None;
    }
    if b[p - 1] == b'k' {
        let start = prefix(b, p, 2, &[b"sk", b"pk", b"rk"], lo)?;
        // At least 16 key characters, one of them a digit (or 32 of them).
        let j = run(b, p + 1, is_key_char);
        let ok = long_enough(b, p + 1, j, 16, true, cut) || j - (p + 1) >= 32;
        return ok.then_some((start, j));
    }
    if p < 4 || b[p - 4] != b'x' {
        return None;
    }
    const SLACK: [&[u8]; 6] = [b"xoxb", b"xoxp", b"xoxa", b"xoxr", b"xoxs", b"xapp"];
    let start = prefix(b, p, 4, &SLACK, lo)?;
    let j = run(b, p + 1, |c| c.is_ascii_alphanumeric() || c == b'-');
    long_enough(b, p + 1, j, 10, true, cut).then_some((start, j))
}

/// `-----BEGIN … PRIVATE KEY-----` through the `-----END …-----` line; without an end line,
/// through the base64 body. A header without a body (the format named in prose) is kept.
fn private_key(b: &[u8], p: usize, cut: bool) -> Option<(usize, usize)> {
    let header = &b[p..b.len().min(p + 80)];
    let close = memchr::memmem::find(header, b"PRIVATE KEY-----")? + p + 16;
    // The body: base64, line breaks (raw or escaped as `\n` in JSON text) and blanks.
    let body = |c: u8| {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'\\' | b'\r' | b'\n' | b' ')
    };
    let body_end = run(b, close, body);
    let base64 = b[close..body_end]
        .iter()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'))
        .count();
    if body_end == b.len() && cut {
        return Some((p, b.len()));
    }
    if base64 < 16 {
        return None;
    }
    // The end line right after the body, else the body alone.
    let rest = &b[body_end..];
    if rest.starts_with(b"-----END ") {
        let tail = &rest[..rest.len().min(80)];
        if let Some(t) = memchr::memmem::find(&tail[9..], b"-----") {
            return Some((p, body_end + 9 + t + 5));
        }
    }
    Some((p, body_end))
}

/// GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`) and Stripe (`sk_live_`,
/// `sk_test_`, `rk_live_`, `rk_test_`) keys.
fn underscore(b: &[u8], p: usize, lo: usize, cut: bool) -> Option<(usize, usize)> {
    const GITHUB: [&[u8]; 5] = [b"ghp", b"gho", b"ghu", b"ghs", b"ghr"];
    if p < 2 {
        return None;
    }
    if p >= 3 && b[p - 3] == b'g' && b[p - 2] == b'h' {
        let start = prefix(b, p, 3, &GITHUB, lo)?;
        let j = run(b, p + 1, |c| c.is_ascii_alphanumeric());
        return long_enough(b, p + 1, j, 20, false, cut).then_some((start, j));
    }
    if b[p..].starts_with(b"_pat_") {
        let start = prefix(b, p, 6, &[b"github"], lo)?;
        let j = run(b, p + 5, |c| c.is_ascii_alphanumeric() || c == b'_');
        return long_enough(b, p + 5, j, 20, false, cut).then_some((start, j));
    }
    let rest = &b[p + 1..];
    if b[p - 1] != b'k' || !(rest.starts_with(b"live_") || rest.starts_with(b"test_")) {
        return None;
    }
    let start = prefix(b, p, 2, &[b"sk", b"rk"], lo)?;
    let j = run(b, p + 6, |c| c.is_ascii_alphanumeric());
    long_enough(b, p + 6, j, 10, false, cut).then_some((start, j))
}

/// The password of `scheme://user:password@host`: the user and the host are kept.
fn url_password(b: &[u8], p: usize, lo: usize) -> Option<(usize, usize)> {
    if !b
        .get(p + 1)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'[')
    {
        return None;
    }
    let stop = p.saturating_sub(256).max(lo);
    let mut k = p;
    while k > stop
        && !matches!(
            b[k - 1],
            b'/' | b'@' | b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\'
        )
    {
        k -= 1;
    }
    if k < 4 || k - 3 < lo || &b[k - 3..k] != b"://" || !b[k - 4].is_ascii_alphanumeric() {
        return None;
    }
    let colon = k + memchr::memchr(b':', &b[k..p])?;
    (colon + 1 < p).then_some((colon + 1, p))
}

/// The credential after `Bearer ` (any case; at least 8 characters, not all letters).
fn bearer(b: &[u8], p: usize, cut: bool) -> Option<(usize, usize)> {
    if (p > 0 && is_key_char(b[p - 1]))
        || !starts_with_ci(&b[p..], b"bearer")
        || !matches!(b.get(p + 6), Some(b' ' | b'\t'))
    {
        return None;
    }
    let t = run(b, p + 6, |c| matches!(c, b' ' | b'\t'));
    let j = run(b, t, is_bearer_char);
    let non_alpha = b[t..j].iter().any(|c| !c.is_ascii_alphabetic());
    let ok = (j - t >= 8 && non_alpha) || (cut && j == b.len() && j > t);
    ok.then_some((t, j))
}

/// A JSON Web Token: `eyJ…` (base64 of `{"`), a dot, a second part of at least 10 characters,
/// a dot and the signature.
fn jwt(b: &[u8], p: usize, lo: usize, cut: bool) -> Option<(usize, usize)> {
    let start = p.checked_sub(2).filter(|&s| s >= lo)?;
    if &b[start..p] != b"ey" || (start > 0 && is_key_char(b[start - 1])) {
        return None;
    }
    let n = b.len();
    let ends_cut = |j: usize| cut && j == n;
    let j1 = run(b, start, is_key_char);
    if ends_cut(j1) {
        return Some((start, n));
    }
    if j1 - start < 10 || b.get(j1) != Some(&b'.') {
        return None;
    }
    let j2 = run(b, j1 + 1, is_key_char);
    if ends_cut(j2) {
        return Some((start, n));
    }
    if j2 - (j1 + 1) < 10 || b.get(j2) != Some(&b'.') {
        return None;
    }
    Some((start, run(b, j2 + 1, is_key_char)))
}

/// AWS access key ids (`AKIA`/`ASIA` and 16 upper-case letters or digits) and Google API keys
/// (`AIza` and 35 key characters).
fn aws_or_google(b: &[u8], p: usize, cut: bool) -> Option<(usize, usize)> {
    if p > 0 && is_key_char(b[p - 1]) {
        return None;
    }
    let rest = &b[p..];
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let j = run(b, p + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let whole = j - (p + 4) == 16 && !b.get(j).is_some_and(|c| is_key_char(*c));
        return (whole || (cut && j == b.len() && j > p + 4)).then_some((p, j));
    }
    if rest.starts_with(b"AIza") {
        let j = run(b, p + 4, is_key_char);
        return long_enough(b, p + 4, j, 30, false, cut).then_some((p, j));
    }
    None
}

/// URL query names whose value is a credential.
const QUERY_NAMES: [&[u8]; 16] = [
    b"password",
    b"passwd",
    b"pwd",
    b"token",
    b"access_token",
    b"refresh_token",
    b"id_token",
    b"api_key",
    b"apikey",
    b"api-key",
    b"key",
    b"secret",
    b"client_secret",
    b"signature",
    b"sig",
    b"auth",
];

/// The value after `?password=`-style query names, and a credential-shaped value after a
/// secret label (`aws_secret_access_key=…`, `"api-key": "…"`, `AZURE_OPENAI_API_KEY=…`).
fn labeled(b: &[u8], p: usize, lo: usize, cut: bool) -> Option<(usize, usize)> {
    let is_name = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    // A path (`a::b`), a URL scheme (`https://`) or an operator (`==`, `:=`): no value follows.
    if matches!(b.get(p + 1), Some(b':' | b'/' | b'=')) || (p > 0 && b[p - 1] == b':') {
        return None;
    }
    // The label's end: a quote and up to two blanks may stand between it and the separator.
    let mut end = p;
    if end > lo && matches!(b[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let mut blanks = 0;
    while end > lo && b[end - 1] == b' ' && blanks < 2 {
        end -= 1;
        blanks += 1;
    }
    // Most `:` and `=` follow a name that ends in no secret word: three bytes rule them out
    // before the name is read.
    if end < lo + 3 || !secret_ending(&b[end - 3..end]) {
        return None;
    }
    if b[p] == b'=' && end == p {
        if let Some(found) = query_value(b, p, lo, is_name) {
            return Some(found);
        }
    }
    let stop = end.saturating_sub(64).max(lo);
    let mut k = end;
    while k > stop && is_name(b[k - 1]) {
        k -= 1;
    }
    if k == end {
        return None;
    }
    // The label is ASCII, so this is a char boundary slice.
    let label = std::str::from_utf8(&b[k..end]).ok()?;
    if !contains_secret_word(label) {
        return None;
    }
    let strong = is_secret_key(label, Kind::Str);
    let keyish = strong || normalize_key(label).is_some_and(|n| n.ends_with("key"));
    if !keyish {
        return None;
    }
    // The value: after `=>`, a few blanks and an opening quote.
    let mut v = p + 1;
    if b[p] == b'=' && b.get(v) == Some(&b'>') {
        v += 1;
    }
    let mut blanks = 0;
    while b.get(v) == Some(&b' ') && blanks < 4 {
        v += 1;
        blanks += 1;
    }
    if matches!(b.get(v), Some(b'"' | b'\'')) {
        v += 1;
    }
    let j = run(b, v, |c| {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'-' | b'~')
    });
    let value = &b[v..j];
    let ends = !b
        .get(j)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.');
    let hex32 = value.len() == 32 && value.iter().all(u8::is_ascii_hexdigit);
    let has = |f: fn(&u8) -> bool| value.iter().any(f);
    let credential = strong
        && value.len() >= 16
        && value[0] != b'/'
        && has(u8::is_ascii_digit)
        && has(u8::is_ascii_alphabetic);
    let ok = (ends && (hex32 || credential)) || (strong && cut && j == b.len() && j > v);
    ok.then_some((v, j))
}

/// Whether a label or query name ending in these three bytes can name a secret: `…key`,
/// `…secret`, `…password`, `…passwd`, `…pwd`, `…token`, `…credential`, `…auth`, `…cookie`,
/// `…authorization`, `…signature`, `sig` (any case), each then checked whole.
fn secret_ending(end: &[u8]) -> bool {
    let e = [end[0] | 0x20, end[1] | 0x20, end[2] | 0x20];
    matches!(
        &e,
        b"key"
            | b"ret"
            | b"ord"
            | b"swd"
            | b"pwd"
            | b"ken"
            | b"ial"
            | b"uth"
            | b"kie"
            | b"ion"
            | b"ure"
            | b"sig"
    )
}

/// The value of a secret query parameter: the `=` at `p` follows `?name` or `&name`.
fn query_value(
    b: &[u8],
    p: usize,
    lo: usize,
    is_name: impl Fn(u8) -> bool,
) -> Option<(usize, usize)> {
    let stop = p.saturating_sub(16).max(lo);
    let mut k = p;
    while k > stop && is_name(b[k - 1]) {
        k -= 1;
    }
    let q = k.checked_sub(1)?;
    if q < lo || !matches!(b[q], b'?' | b'&') {
        return None;
    }
    let name = &b[k..p];
    if !QUERY_NAMES.iter().any(|n| name.eq_ignore_ascii_case(n)) {
        return None;
    }
    let j = run(b, p + 1, |c| {
        !matches!(
            c,
            b'&' | b'#' | b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\'
        )
    });
    (j > p + 1 && j - q >= MIN_TOKEN_LEN).then_some((p + 1, j))
}

#[cfg(test)]
mod tests {
    use super::super::secrets::scan_tokens;

    fn scan(s: &str) -> String {
        scan_tokens(s, false).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn each_format_is_redacted_and_its_surroundings_kept() {
        let r = "__REDACTED__";
        let cases = [
            ("key sk-proj-Ab3dEf6hIj9kLm2nOp5q end", format!("key {r} end")),
            ("x sk-ant-api03-AbCdEf0123456789xyz y", format!("x {r} y")),
            ("Authorization: Bearer abc123def456", format!("Authorization: Bearer {r}")),
            ("id AKIAIOSFODNN7EXAMPLE ok", format!("id {r} ok")),
            ("(ASIAY34FZKBOKMUTVV7A)", format!("({r})")),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done",
                format!("aws_secret_access_key={r} done"),
            ),
            ("t ghp_16C7e42F292c6912E7710c838347Ae178B4a x", format!("t {r} x")),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", r.to_owned()),
            ("slack xoxb-2048-1024-aBcDeFgHiJkLmNoP", format!("slack {r}")),
            ("xapp-1-A0123-4567-abcdef0123", r.to_owned()),
            ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc.", format!("stripe {r}.")),
            ("rk_test_51Habcdefghij0123", r.to_owned()),
            ("g AIzaSyA1234567890abcdefghijklmnopqrstu g", format!("g {r} g")),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U!",
                format!("jwt {r}!"),
            ),
            ("api-key: 0123456789abcdef0123456789ABCDEF", format!("api-key: {r}")),
            (
                r#"{"AZURE_OPENAI_API_KEY": "0123456789abcdef0123456789abcdef"}"#,
                format!(r#"{{"AZURE_OPENAI_API_KEY": "{r}"}}"#),
            ),
            (
                "db postgres://app:s3cr3t-pw@db.internal:5432/x",
                format!("db postgres://app:{r}@db.internal:5432/x"),
            ),
            ("redis://:hunter2@cache", format!("redis://:{r}@cache")),
            (
                "GET /cb?code=1&access_token=abc123&x=1",
                format!("GET /cb?code=1&access_token={r}&x=1"),
            ),
            ("https://h/p?password=pw1 next", format!("https://h/p?password={r} next")),
            ("u?secret=abc", format!("u?secret={r}")),
            ("u?token=t", format!("u?token={r}")),
            (
                "a -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nAbC=\n-----END RSA PRIVATE KEY----- b",
                format!("a {r} b"),
            ),
            (
                "k -----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\nkqhkiG9w0BAQEFAASC",
                format!("k {r}"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(scan(input), expected, "{input}");
            never_rejects_a_match(input.as_bytes());
        }
    }

    /// `may_start` passes every anchor `at_anchor` would redact from, for every `lo` and both
    /// `cut` values: the scan loses nothing by skipping the others.
    fn never_rejects_a_match(b: &[u8]) {
        for p in 0..b.len() {
            for lo in [0, p / 2, p] {
                for cut in [false, true] {
                    if super::at_anchor(b, p, lo, cut).is_some() {
                        assert!(
                            super::may_start(b, p),
                            "{:?} at {p}",
                            String::from_utf8_lossy(b)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_prefilter_passes_every_credential_anchor() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"sk-_xobpaeyJAKISzrBgh:=@/ 1Q";
        for len in [1usize, 4, 9, 24, 60] {
            for _ in 0..400 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                never_rejects_a_match(&text);
            }
        }
    }

    #[test]
    fn look_alikes_are_kept() {
        for text in [
            "bb-sk-abcdefghijklmnop1234",
            "The task-list has sk-short items",
            "AKIA is a prefix; AKIAIOSFODNN7EXAMPL is too short",
            "commit 5d41402abc4b2a76b9719d911017c592 fixed it",
            "uuid 123e4567-e89b-12d3-a456-426614174000",
            "sha: 0123456789abcdef0123456789abcdef",
            "mailto:ann@example.com and ann@example.com",
            "let token = next_token(b, i);",
            "password: String, api_key: &str",
            "max_tokens: 1000000000000000000",
            "see https://example.com/a?page=2&sort=asc",
            "?key=ab",
            "eyJ is how JSON starts in base64",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "ghp_short",
            "xoxb-notatoken",
        ] {
            assert_eq!(scan(text), text, "{text}");
        }
    }

    #[test]
    fn a_cut_text_redacts_a_credential_running_into_its_end() {
        for text in [
            "x sk-ab12",
            "x ghp_abc",
            "eyJhbGciOiJI",
            "t AKIAIOS",
            "Bearer ab",
        ] {
            let got = scan_tokens(text, true).expect(text);
            assert!(got.ends_with("__REDACTED__"), "{text} -> {got}");
        }
    }

    mod props {
        use super::super::super::limits::MARKER_MAX;
        use super::super::super::masks::JsonScan;
        use super::super::super::Privacy;
        use super::scan_tokens;
        use proptest::prelude::*;

        /// Pieces of every format, run together with arbitrary text.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "sk-",
                    "sk-ant-",
                    "Bearer ",
                    "AKIA",
                    "ASIA",
                    "ghp_",
                    "github_pat_",
                    "xoxb-",
                    "xapp-",
                    "eyJ",
                    ".",
                    "sk_live_",
                    "rk_test_",
                    "AIza",
                    "api-key: ",
                    "\"secret\": \"",
                    "aws_secret_access_key=",
                    "-----BEGIN RSA PRIVATE KEY-----",
                    "\\n",
                    "\n",
                    "-----END ",
                    "-----",
                    "postgres://",
                    "://",
                    ":",
                    "@",
                    "?password=",
                    "&token=",
                    "=",
                    "_",
                    "-",
                    "é",
                    "€",
                ])
                .prop_map(str::to_owned),
                "[a-zA-Z0-9+/=_-]{0,48}",
                any::<String>(),
            ]
        }

        proptest! {
            #[test]
            fn scanning_never_panics_and_never_grows_past_the_cap(
                parts in prop::collection::vec(piece(), 0..24),
                cap in 0usize..300,
                cut in any::<bool>(),
                masked in any::<bool>(),
            ) {
                let s: String = parts.concat();
                // Any text, cut or not, scans without a panic, into valid UTF-8 (a `String`).
                let _ = scan_tokens(&s, cut);
                let mut p = Privacy::default().with_max_value_len(cap);
                if masked {
                    // A mask that doubles its input: the cap still holds.
                    p = p.with_mask(|s: &str| Some(format!("{s}{s}")));
                }
                let out = p.clean_str(&s, JsonScan::None);
                if cap > 0 {
                    let len = out.as_deref().map_or(s.len(), str::len);
                    prop_assert!(len <= cap + MARKER_MAX, "{} > {} + marker", len, cap);
                }
            }
        }
    }
}
