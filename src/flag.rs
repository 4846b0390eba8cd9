//! The one boolean syntax of every setting (environment variables and files).

/// Parses a boolean setting: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case and
/// with blanks around; `None` for anything else.
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    let v = raw.trim();
    let is = |words: [&str; 4]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
    if is(["true", "1", "yes", "on"]) {
        Some(true)
    } else if is(["false", "0", "no", "off"]) {
        Some(false)
    } else {
        None
    }
}

/// The accepted spellings, for error messages.
pub(crate) const SPELLINGS: &str = "true/false, 1/0, yes/no, on/off";

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn every_spelling_in_any_case() {
        for t in ["true", "TRUE", " 1 ", "yes", "Yes", "on", "ON"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "False", "0", "no", "NO", "off", " Off\n"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "2", "maybe", "tru", "y", "enabled"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}
