//! Which key names (attribute keys, JSON object keys, field names) name a secret or a prompt.

/// The kind of a JSON value, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Number,
    Bool,
    Null,
    Container,
}

/// Lower-cases `key` and removes `-`, `_`, `.` and spaces; `None` for implausibly long keys.
pub(super) fn normalize_key(key: &str) -> Option<String> {
    if key.len() > 128 {
        return None;
    }
    Some(
        key.chars()
            .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    )
}

/// Whether a key (an attribute key or a JSON object key) names a secret, given the kind of its value.
pub(super) fn is_secret_key(key: &str, kind: Kind) -> bool {
    if kind == Kind::Null || !contains_secret_word(key) {
        return false;
    }
    let Some(n) = normalize_key(key) else {
        return false;
    };
    const STRONG: [&str; 10] = [
        "apikey",
        "authorization",
        "password",
        "passwd",
        "secret",
        "accesskey",
        "privatekey",
        "cookie",
        "bearer",
        "credential",
    ];
    if n == "auth" || n == "pwd" || STRONG.iter().any(|w| n.contains(w)) {
        return true;
    }
    if !n.contains("token") || matches!(kind, Kind::Number | Kind::Bool) {
        return false;
    }
    const NOT_SECRET: [&str; 14] = [
        "tokencount",
        "tokenscount",
        "tokenlimit",
        "tokenizer",
        "tokentype",
        "tokenid",
        "tokenusage",
        "stoptoken",
        "eostoken",
        "bostoken",
        "padtoken",
        "unktoken",
        "septoken",
        "specialtoken",
    ];
    let counted = n.ends_with("tokens")
        || n.starts_with("max")
        || n.starts_with("num")
        || n.starts_with("min");
    let credential_word = ["access", "refresh", "session", "auth", "api", "id"]
        .iter()
        .any(|w| n.contains(w));
    if (counted && !credential_word) || NOT_SECRET.iter().any(|w| n.contains(w)) {
        return false;
    }
    true
}

/// Keys inside invocation parameters that carry the prompt.
pub(super) fn is_prompt_key(key: &str) -> bool {
    normalize_key(key).is_some_and(|n| {
        matches!(
            n.as_str(),
            "messages"
                | "prompt"
                | "prompts"
                | "input"
                | "inputs"
                | "system"
                | "instructions"
                | "contents"
                | "systeminstruction"
                | "systemprompt"
        )
    })
}

/// Cheap pre-check: does `s` contain any word a secret key is made of (ASCII case-insensitive)?
pub(super) fn contains_secret_word(s: &str) -> bool {
    // One look at each byte: the words start with distinct letters (`pass` and `pwd` share `p`, `cookie` and
    // `credential` share `c`), so a byte decides which word to compare.
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i + 1..];
        match b[i] | 0x20 {
            b'k' => starts_with_ci(rest, b"ey"),
            b'a' => starts_with_ci(rest, b"uth"),
            b'p' => starts_with_ci(rest, b"ass") || starts_with_ci(rest, b"wd"),
            b's' => starts_with_ci(rest, b"ecret"),
            b't' => starts_with_ci(rest, b"oken"),
            b'c' => starts_with_ci(rest, b"ookie") || starts_with_ci(rest, b"redential"),
            b'b' => starts_with_ci(rest, b"earer"),
            _ => false,
        }
    })
}

pub(super) fn starts_with_ci(hay: &[u8], word: &[u8]) -> bool {
    hay.len() >= word.len() && hay[..word.len()].eq_ignore_ascii_case(word)
}
