//! Events inside a span: which become span events (the event level), and what the layer
//! reads from them (`ret` values and errors).

use super::state::{self, ErrorInfo, SpanState};
use super::{capture, fields::classification, plain, LlmLayer};
use std::fmt;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The event level when none is set: INFO and above become span events.
pub(crate) const DEFAULT_EVENT_LEVEL: tracing_core::LevelFilter = tracing_core::LevelFilter::INFO;

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
    /// The error an ERROR event (named `name`) reports: its `error` or message, and its
    /// `error.type` (`Error` when it gives none).
    pub(crate) fn into_error(self, name: &str) -> ErrorInfo {
        let message = self
            .error
            .or(self.message)
            .unwrap_or_else(|| name.to_owned());
        let kind = self.error_type.unwrap_or_else(|| "Error".to_owned());
        ErrorInfo { kind, message }
    }

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
pub(crate) fn is_return_event(meta: &Metadata<'_>) -> bool {
    meta.fields().field("return").is_some()
}

/// Whether an event means something to the span whatever its level: an ERROR event (the
/// span's error), or the event of `#[instrument(ret)]` or `#[instrument(err)]` at a lower
/// level, whose one field is `return` or `error` (a library's own DEBUG event that carries an
/// `error` field next to its message is chatter like any other).
pub(crate) fn is_semantic(meta: &Metadata<'_>) -> bool {
    if *meta.level() == Level::ERROR {
        return true;
    }
    let fields = meta.fields();
    fields.len() == 1 && (fields.field("return").is_some() || fields.field("error").is_some())
}

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// Reads what an event inside a span means to the span's state (its error, its return
    /// value, a sampled-out span's captured events); returns whether the bridge gets the
    /// event (as a span event, or the error status it sets).
    pub(super) fn event_to_state(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool {
        let meta = event.metadata();
        let is_return = is_return_event(meta);
        let is_error = *meta.level() == Level::ERROR;
        if !(is_return || is_error || self.core.capture.is_some()) {
            return true;
        }
        let span = event.parent().and_then(|id| ctx.span(id)).or_else(|| {
            event
                .is_contextual()
                .then(|| ctx.lookup_current())
                .flatten()
        });
        let Some(span) = span else {
            return true;
        };
        if is_return || is_error {
            // A span that kept no state gets one: the error or return value is its.
            let mut ext = span.extensions_mut();
            let _ = state::state_or_upgrade(
                &mut ext,
                || classification(span.metadata()),
                || plain::start_of(&span.id()),
            );
        }
        // What the state needs is read briefly; the event's values are formatted with no
        // lock held (their `Debug` may emit events of its own).
        let seen = span.extensions().get::<Box<SpanState>>().map(|s| {
            (
                s.capture.is_some(),
                s.sampled_out(),
                is_return || (is_error && s.error.is_none()),
            )
        });
        let Some((keeps_capture, sampled_out, wants_fields)) = seen else {
            return true;
        };
        let fields = wants_fields.then(|| {
            let mut fields = EventFields::default();
            event.record(&mut fields);
            fields
        });
        let captured = (keeps_capture && !is_return).then(|| capture::CapturedEvent::of(event));
        let mut ext = span.extensions_mut();
        if let Some(state) = ext.get_mut::<Box<SpanState>>() {
            if is_return {
                state.returned = fields.and_then(|f| f.returned);
                // The return value becomes output.value, not a span event.
                return false;
            }
            if let (Some(capture), Some(captured)) = (state.capture.as_deref_mut(), captured) {
                capture.push_event(captured);
            }
            if let Some(fields) = fields.filter(|_| state.error.is_none()) {
                state.error = Some(fields.into_error(meta.name()));
            }
        }
        // A sampled-out span's bridge span records nothing.
        !sampled_out
    }
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
