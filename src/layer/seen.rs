//! [`Seen`]: a field value as the layer's visitors saw it.

use std::fmt;

/// A field value as the visitor saw it.
#[derive(Clone, Copy)]
pub(crate) enum Seen<'a> {
    /// A string.
    Str(&'a str),
    /// A value recorded with `?` or `%`.
    Debug(&'a dyn fmt::Debug),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A boolean (no role reads one yet).
    Bool,
}

impl Seen<'_> {
    /// The value as text: strings as they are, `%`/`?` values formatted (quotes of a
    /// `?`-recorded string removed). Numbers and booleans are not text.
    pub(crate) fn as_str(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Seen::Str(s) => Some(std::borrow::Cow::Borrowed(s)),
            Seen::Debug(d) => {
                let s = format!("{d:?}");
                let unquoted = s
                    .strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .map(str::to_owned);
                Some(std::borrow::Cow::Owned(unquoted.unwrap_or(s)))
            }
            _ => None,
        }
    }
}
