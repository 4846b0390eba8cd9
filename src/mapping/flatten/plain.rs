//! The message list most calls log, `[{"role": "…", "content": "…"}, …]`, read straight from
//! its JSON text.
//!
//! Only that shape is read: an array of objects, each with exactly a string `role` and a string
//! `content`, in either order. Anything else (another key, a key twice, a value that is not a
//! string, an escaped key, text after the array) is `None`, and the caller parses the text with
//! serde_json as any other value. A string without escapes is borrowed from the text; one with
//! escapes is handed to serde_json alone. The string search is the one JSON writing uses
//! (`json_text::first_to_escape`). Callgrind, 2 KB of messages: ≈ 8,600 instructions
//! through serde_json's derived reader, ≈ 5,000 here, most of it finding where strings end.

use crate::mapping::json_text::first_to_escape;
use std::borrow::Cow;

/// A message with a role and text content only.
pub(super) struct PlainMessage<'a> {
    pub(super) role: Cow<'a, str>,
    pub(super) content: Cow<'a, str>,
}

/// The messages of `text` when it is a plain message list, else `None`.
pub(super) fn plain_messages(text: &str) -> Option<Vec<PlainMessage<'_>>> {
    let mut r = Reader { text, at: 0 };
    let mut messages = Vec::new();
    r.expect(b'[')?;
    if r.peek() == Some(b']') {
        r.at += 1;
    } else {
        loop {
            messages.push(r.message()?);
            match r.next_byte()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
    }
    r.skip_blanks();
    (r.at == text.len()).then_some(messages)
}

/// A position in the text being read.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_blanks(&mut self) {
        let b = self.text.as_bytes();
        while matches!(b.get(self.at), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// The next byte after blanks, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_blanks();
        self.text.as_bytes().get(self.at).copied()
    }

    /// The next byte after blanks, consumed.
    fn next_byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next_byte()? == c).then_some(())
    }

    /// `{"role": "…", "content": "…"}`, either order, nothing else.
    fn message(&mut self) -> Option<PlainMessage<'a>> {
        self.expect(b'{')?;
        let (mut role, mut content) = (None, None);
        for i in 0..2 {
            if i > 0 {
                self.expect(b',')?;
            }
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.string()?;
            // An escaped key is owned: it is left to serde_json (`None` below).
            let slot = match key {
                Cow::Borrowed("role") => &mut role,
                Cow::Borrowed("content") => &mut content,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        self.expect(b'}')?;
        Some(PlainMessage {
            role: role?,
            content: content?,
        })
    }

    /// A JSON string: borrowed when it has no escapes, else read by serde_json.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let b = self.text.as_bytes();
        let start = self.at;
        let mut i = start;
        let mut escaped = false;
        loop {
            i += first_to_escape(b.get(i..)?)?;
            match b[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    // The escaped byte is never the closing quote; `\u` digits are plain.
                    i += 2;
                }
                // A raw control byte: not JSON.
                _ => return None,
            }
        }
        self.at = i + 1;
        if escaped {
            // Quotes included: the bytes at `start - 1` and `i` are ASCII, char boundaries.
            serde_json::from_str::<String>(&self.text[start - 1..=i])
                .ok()
                .map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&self.text[start..i]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde_json's derived reader makes of `text`, the reference.
    fn by_serde(text: &str) -> Option<Vec<(String, String)>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Reference {
            role: String,
            content: String,
        }
        serde_json::from_str::<Vec<Reference>>(text)
            .ok()
            .map(|v| v.into_iter().map(|m| (m.role, m.content)).collect())
    }

    fn by_reader(text: &str) -> Option<Vec<(String, String)>> {
        plain_messages(text).map(|v| {
            v.into_iter()
                .map(|m| (m.role.into_owned(), m.content.into_owned()))
                .collect()
        })
    }

    #[test]
    fn plain_lists_are_read_and_others_left_to_serde() {
        let read = [
            r#"[]"#,
            r#" [ ] "#,
            r#"[{"role":"user","content":"hi"}]"#,
            "[\n {\"content\": \"a\\nb \\\"q\\\" \\u00e9 \\ud83d\\ude00\", \"role\" : \"user\"} ,\n {\"role\":\"assistant\",\"content\":\"\"}\n]\n",
            r#"[{"role":"user","content":"ends in a backslash \\"}]"#,
        ];
        for text in read {
            let got = by_reader(text);
            assert!(got.is_some(), "{text}");
            assert_eq!(got, by_serde(text), "{text}");
        }
        let left = [
            r#"[{"role":"user"}]"#,
            r#"[{"role":"user","content":"a","name":"x"}]"#,
            r#"[{"role":"user","role":"user"}]"#,
            r#"[{"role":"user","content":null}]"#,
            r#"[{"role":"user","content":["a"]}]"#,
            r#"[{"rol\u0065":"user","content":"a"}]"#,
            r#"[{"role":"user","content":"a"},]"#,
            r#"[{"role":"user","content":"a"}] x"#,
            r#"[{"role":"user","content":"a"}"#,
            r#"[{"role":"user","content":"a"#,
            "[{\"role\":\"user\",\"content\":\"raw\ttab\"}]",
            r#"[{"role":"user","content":"\x"}]"#,
            r#"{"role":"user","content":"a"}"#,
            "",
        ];
        for text in left {
            assert!(plain_messages(text).is_none(), "{text}");
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"[{"role":"user","content":"no escapes here"}]"#;
        let messages = plain_messages(text).expect("plain");
        assert!(matches!(
            messages[0].content,
            Cow::Borrowed("no escapes here")
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any list serde_json writes, pretty or compact, reads as serde_json reads it.
        #[test]
        fn written_lists_read_back_as_serde_reads_them(
            messages in proptest::collection::vec(("\\PC{0,8}", any::<String>()), 0..5),
            pretty in any::<bool>(),
        ) {
            let list: Vec<_> = messages
                .iter()
                .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
                .collect();
            let text = if pretty {
                serde_json::to_string_pretty(&list).expect("json")
            } else {
                serde_json::to_string(&list).expect("json")
            };
            prop_assert_eq!(by_reader(&text), Some(messages));
        }

        /// A written list with one byte inserted or the text cut: read as serde_json reads it,
        /// or left to it.
        #[test]
        fn damaged_lists_are_read_as_serde_reads_them_or_left(
            messages in proptest::collection::vec(("[a-z]{0,6}", "[ -~é\n\\\"]{0,12}"), 1..4),
            at in any::<proptest::sample::Index>(),
            insert in proptest::option::of(proptest::sample::select(
                vec!['"', '\\', ',', ':', '{', '}', '[', ']', ' ', 'x', '\u{1}'],
            )),
        ) {
            let list: Vec<_> = messages
                .iter()
                .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
                .collect();
            let mut text = serde_json::to_string(&list).expect("json");
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match insert {
                Some(c) => text.insert(at, c),
                None => text.truncate(at),
            }
            if let Some(read) = by_reader(&text) {
                prop_assert_eq!(Some(read), by_serde(&text));
            }
        }

        /// Any text: what the reader reads, serde_json reads the same; what serde_json reads,
        /// the reader reads or leaves to it.
        #[test]
        fn any_text_is_read_as_serde_reads_it_or_left(
            text in "[\\[\\]{}\",: \\\\nu0a-f\"rolecnt\t\n]{0,60}",
        ) {
            if let Some(read) = by_reader(&text) {
                prop_assert_eq!(Some(read), by_serde(&text));
            }
        }
    }
}
