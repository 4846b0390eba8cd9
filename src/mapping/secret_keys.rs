//! Secret-named keys inside JSON the mapping builds from other attributes.
//!
//! The privacy stage reads the keys of a JSON `input.value` / `output.value`, but not those of
//! JSON text nested in it as a string (a tool call's `arguments` in the chat JSON, a nested
//! metadata value): those are redacted here, as the privacy stage would redact them in their
//! own attributes ([`Privacy::is_secret_field`]).

use crate::privacy::{Privacy, REDACTED};
use opentelemetry::Value;
use serde_json::Value as Json;

/// Replaces the value of every secret-named key inside `value`; returns whether any was.
pub(crate) fn redact(value: &mut Json, p: &Privacy) -> bool {
    let mut changed = false;
    match value {
        Json::Object(map) => {
            for (key, v) in map.iter_mut() {
                let probe = match v {
                    Json::Number(_) => Value::I64(0),
                    Json::Bool(_) => Value::Bool(false),
                    _ => Value::from(""),
                };
                if p.is_secret_field(key, &probe) {
                    *v = Json::String(REDACTED.to_owned());
                    changed = true;
                } else {
                    changed |= redact(v, p);
                }
            }
        }
        Json::Array(items) => {
            for v in items {
                changed |= redact(v, p);
            }
        }
        _ => {}
    }
    changed
}

/// `text` with its secret-named keys redacted, if it is JSON holding any.
pub(crate) fn redact_text(text: &str, p: &Privacy) -> Option<String> {
    if !p.redact_secrets {
        return None;
    }
    let t = text.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    let mut json: Json = serde_json::from_str(text).ok()?;
    redact(&mut json, p).then(|| json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let p = Privacy::default();
        let out = redact_text(
            r#"{"url":"x","auth":{"apiKey":"k-1"},"list":[{"password":"p"}]}"#,
            &p,
        )
        .expect("redacted");
        assert!(!out.contains("k-1") && !out.contains("\"p\""), "{out}");
        assert!(out.contains("\"url\":\"x\""));
        assert_eq!(redact_text(r#"{"city":"Paris"}"#, &p), None);
        assert_eq!(redact_text("not json", &p), None);
    }
}
