//! Secret-named keys inside JSON the mapping builds from other attributes.
//!
//! The privacy stage reads the keys of JSON text in the attributes it scans, but not those of
//! values the mapping takes out of such JSON into attributes of their own (a root's nested
//! metadata value as `langfuse.trace.metadata.<key>`): those are redacted here, as the privacy
//! stage would redact them in their own attributes ([`Privacy::is_secret_field`]).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let p = Privacy::default();
        let mut json: Json = serde_json::from_str(
            r#"{"url":"x","auth":{"apiKey":"k-1"},"list":[{"password":"p"}]}"#,
        )
        .unwrap();
        assert!(redact(&mut json, &p));
        let out = json.to_string();
        assert!(!out.contains("k-1") && !out.contains("\"p\""), "{out}");
        assert!(out.contains("\"url\":\"x\""));
        let mut city: Json = serde_json::from_str(r#"{"city":"Paris"}"#).unwrap();
        assert!(!redact(&mut city, &p));
    }
}
