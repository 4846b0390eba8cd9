//! What the layer reads from events inside a span: `ret` values and errors.

use std::fmt;
use tracing_core::field::{Field, Visit};

/// The fields of one event that matter to the layer.
#[derive(Debug, Default)]
pub(crate) struct EventFields {
    /// The `message` field.
    pub(crate) message: Option<String>,
    /// The `error` field (`#[instrument(err)]`).
    pub(crate) error: Option<String>,
    /// The `return` field (`#[instrument(ret)]`).
    pub(crate) returned: Option<String>,
    /// An `error.type` or `exception.type` field.
    pub(crate) error_type: Option<String>,
}

impl EventFields {
    fn put(&mut self, field: &Field, text: impl FnOnce() -> String) {
        match field.name() {
            "message" => self.message = Some(text()),
            "error" | "exception.message" => self.error = Some(text()),
            "return" => self.returned = Some(text()),
            "error.type" | "exception.type" => self.error_type = Some(text()),
            _ => {}
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, || value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, || value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "return" {
            self.returned = Some(unquote_debug(format!("{value:?}")));
        } else {
            self.put(field, || format!("{value:?}"));
        }
    }
}

/// A `?`-formatted string (`"a \"b\""`) back to its text; anything else as it is.
pub(crate) fn unquote_debug(s: String) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        if let Ok(text) = serde_json::from_str::<String>(&s) {
            return text;
        }
    }
    s
}

/// Whether an event is the `return` event of `#[instrument(ret)]`.
pub(crate) fn is_return_event(meta: &tracing_core::Metadata<'_>) -> bool {
    meta.fields().field("return").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_strings_are_unquoted() {
        assert_eq!(unquote_debug("\"a \\\"b\\\"\\n\"".into()), "a \"b\"\n");
        assert_eq!(unquote_debug("Some(3)".into()), "Some(3)");
        assert_eq!(unquote_debug("\"".into()), "\"");
    }
}
