//! What the layer keeps of a span the sampler dropped, so its trace can still be exported
//! when it fails or is slow.
//!
//! A dropped span costs the SDK nothing: the bridge's span does not record. The layer keeps
//! the span's fields and events itself, as the bridge would have recorded them (the
//! `otel.*` fields set name, kind and status; errors become exceptions), and at close turns
//! them into the same [`SpanData`] the SDK would have produced, handed to the pipeline with
//! its sampled flag off. The pipeline's [`crate::pipeline::traces::TraceBuffer`] keeps or
//! drops the whole trace.

use super::synthetic::OwnedValue;
use crate::pipeline::identity::Identity;
use opentelemetry::trace::{Event, SpanKind, Status};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event as TracingEvent, Level};

/// How many values the layer usually derives for a span at close.
const DERIVED: usize = 8;
/// Most events kept per span, as the SDK's limit the layer installs.
const MAX_EVENTS: usize = 1_024;
/// Most attributes kept per event, as the SDK's limit.
const MAX_EVENT_ATTRIBUTES: usize = 128;

/// The fields and events of a sampled-out span, recorded as the bridge records them.
#[derive(Debug)]
pub(crate) struct Capture {
    /// When the span started.
    pub(crate) start: SystemTime,
    /// A name given with `otel.name`.
    name: Option<Cow<'static, str>>,
    /// A kind given with `otel.kind`.
    kind: Option<SpanKind>,
    /// The status from `otel.status_*` fields and error events.
    pub(crate) status: Status,
    /// The span's attributes, in recording order.
    pub(crate) attributes: Vec<KeyValue>,
    /// Its events.
    pub(crate) events: Vec<Event>,
    /// Events over [`MAX_EVENTS`].
    dropped_events: u32,
    /// Bytes of text recorded (a size estimate for the queue's bound).
    pub(crate) bytes: usize,
}

impl Capture {
    /// An empty capture for a span of `fields` declared fields that starts now.
    pub(crate) fn new(fields: usize) -> Box<Capture> {
        Box::new(Capture {
            start: opentelemetry::time::now(),
            name: None,
            kind: None,
            status: Status::Unset,
            // Room for what the layer derives at close (kind, totals, cost) too.
            attributes: Vec::with_capacity(fields + DERIVED),
            events: Vec::new(),
            dropped_events: 0,
            bytes: 0,
        })
    }

    /// An empty capture to record a `Record` into with no lock held, then [`Self::merge`]d.
    pub(crate) fn scratch(fields: usize) -> Capture {
        Capture {
            start: SystemTime::UNIX_EPOCH,
            name: None,
            kind: None,
            status: Status::Unset,
            attributes: Vec::with_capacity(fields),
            events: Vec::new(),
            dropped_events: 0,
            bytes: 0,
        }
    }

    /// Adds what `later` recorded (see [`Self::scratch`]): its attributes after these, and the
    /// name, kind and status it set.
    pub(crate) fn merge(&mut self, later: Capture) {
        self.attributes.extend(later.attributes);
        self.bytes += later.bytes;
        if later.name.is_some() {
            self.name = later.name;
        }
        if later.kind.is_some() {
            self.kind = later.kind;
        }
        if later.status != Status::Unset {
            self.status = later.status;
        }
    }

    /// An empty capture for a span that started at `start`: for a span found sampled out
    /// only at its end, which keeps what the layer derived.
    pub(crate) fn since(start: std::time::Instant) -> Box<Capture> {
        let mut capture = Capture::new(8);
        capture.start = capture
            .start
            .checked_sub(start.elapsed())
            .unwrap_or(capture.start);
        capture
    }

    fn push(&mut self, key: &'static str, value: Value) {
        if let Value::String(s) = &value {
            self.bytes += s.as_str().len();
        }
        self.attributes.push(KeyValue::new(key, value));
    }

    fn set_status_code(&mut self, code: &str) {
        self.status = match code {
            "ok" | "OK" | "Ok" => Status::Ok,
            "error" | "ERROR" | "Error" => Status::error(""),
            _ => Status::Unset,
        };
    }

    fn set_kind(&mut self, kind: &str) {
        self.kind = match kind.to_ascii_lowercase().as_str() {
            "server" => Some(SpanKind::Server),
            "client" => Some(SpanKind::Client),
            "producer" => Some(SpanKind::Producer),
            "consumer" => Some(SpanKind::Consumer),
            "internal" => Some(SpanKind::Internal),
            _ => None,
        };
    }

    /// Records a value the layer derived (see [`crate::layer::derived::Finished`]), moving its text.
    pub(crate) fn record_owned(&mut self, field: &Field, value: OwnedValue) {
        let name = field.name();
        match value {
            OwnedValue::Str(s) if !name.starts_with("otel.") => {
                self.push(name, Value::String(s.into()))
            }
            OwnedValue::Static(s) if !name.starts_with("otel.") => {
                self.push(name, Value::String(s.into()))
            }
            OwnedValue::Str(s) => CaptureVisitor(self).record_str(field, &s),
            OwnedValue::Static(s) => CaptureVisitor(self).record_str(field, s),
            OwnedValue::I64(v) => self.push(name, Value::I64(v)),
            OwnedValue::F64(v) => self.push(name, Value::F64(v)),
            OwnedValue::Bool(v) => self.push(name, Value::Bool(v)),
        }
    }

    /// Records a text field whose value the layer already shares (a model or provider name).
    pub(crate) fn record_shared(&mut self, field: &Field, value: std::sync::Arc<str>) {
        self.push(field.name(), Value::String(value.into()));
    }

    /// Adds one event of the span (see [`CapturedEvent::of`]): an `error` field makes the
    /// span's status an error, as does an `ERROR` level.
    pub(crate) fn push_event(&mut self, captured: CapturedEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.dropped_events = self.dropped_events.saturating_add(1);
            return;
        }
        if let Some(status) = captured.error_status {
            self.status = status;
        } else if self.status == Status::Unset && captured.error_level {
            self.status = Status::error("");
        }
        self.bytes += captured
            .event
            .attributes
            .iter()
            .map(|kv| kv.value.as_str().len())
            .sum::<usize>();
        self.events.push(captured.event);
    }

    /// Hands what was recorded to the span after all (it turned out sampled): attributes,
    /// name and status. Events are not: the bridge was given those as they happened.
    pub(crate) fn replay(self, span: &opentelemetry::trace::SpanRef<'_>) {
        if let Some(name) = self.name {
            span.update_name(name);
        }
        span.set_attributes(self.attributes);
        if self.status != Status::Unset {
            span.set_status(self.status);
        }
    }

    /// The span the SDK would have ended at `end`, with the identity's flags.
    pub(crate) fn into_span_data(
        self,
        identity: &Identity,
        name: &'static str,
        end: SystemTime,
        scope: &InstrumentationScope,
    ) -> SpanData {
        let mut events = SpanEvents::default();
        events.events = self.events;
        events.dropped_count = self.dropped_events;
        SpanData {
            span_context: identity.context.clone(),
            parent_span_id: identity.parent,
            parent_span_is_remote: identity.parent_remote,
            span_kind: self.kind.unwrap_or(SpanKind::Internal),
            name: self.name.unwrap_or(Cow::Borrowed(name)),
            start_time: self.start,
            end_time: end,
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: self.status,
            instrumentation_scope: scope.clone(),
        }
    }
}

/// An event of a span that keeps a capture, recorded as the bridge records events: its message
/// (or name) as the event name, `level`, `target` and its fields as attributes; an `error`
/// field makes it an `exception` event. Built before the span's state is locked.
#[derive(Debug)]
pub(crate) struct CapturedEvent {
    event: Event,
    error_status: Option<Status>,
    error_level: bool,
}

impl CapturedEvent {
    /// Records `event` (it runs the values' formatting: call it with no lock held).
    pub(crate) fn of(event: &TracingEvent<'_>) -> CapturedEvent {
        let meta = event.metadata();
        let mut visitor = EventVisitor {
            name: None,
            attributes: vec![
                KeyValue::new("level", meta.level().as_str()),
                KeyValue::new("target", meta.target()),
            ],
            error_status: None,
        };
        event.record(&mut visitor);
        visitor.attributes.truncate(MAX_EVENT_ATTRIBUTES);
        CapturedEvent {
            event: Event::new(
                visitor.name.unwrap_or(Cow::Borrowed(meta.name())),
                opentelemetry::time::now(),
                visitor.attributes,
                0,
            ),
            error_status: visitor.error_status,
            error_level: *meta.level() == Level::ERROR,
        }
    }
}

/// Whether recording `values` formats a `Debug` or error value (runs the caller's code).
pub(crate) fn formats_caller_values(values: &tracing_core::span::Record<'_>) -> bool {
    struct Check(bool);
    impl Visit for Check {
        fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {
            self.0 = true;
        }
        fn record_str(&mut self, _: &Field, _: &str) {}
        fn record_i64(&mut self, _: &Field, _: i64) {}
        fn record_u64(&mut self, _: &Field, _: u64) {}
        fn record_f64(&mut self, _: &Field, _: f64) {}
        fn record_bool(&mut self, _: &Field, _: bool) {}
        fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
            self.0 = true;
        }
    }
    let mut check = Check(false);
    values.record(&mut check);
    check.0
}

/// Records span fields into a [`Capture`], as the bridge's span attribute visitor does.
pub(crate) struct CaptureVisitor<'a>(pub(crate) &'a mut Capture);

impl Visit for CaptureVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push(field.name(), Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push(field.name(), Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push(field.name(), Value::I64(value));
    }

    // The bridge records an unsigned integer as text and the layer records it again as an
    // integer, which is what the exported span ends up with.
    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        self.0.push(field.name(), Value::I64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.name" => self.0.name = Some(Cow::Owned(value.to_owned())),
            "otel.kind" => self.0.set_kind(value),
            "otel.status_code" => self.0.set_status_code(value),
            "otel.status_description" => self.0.status = Status::error(value.to_owned()),
            name => self.0.push(name, Value::String(value.to_owned().into())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "otel.name" => self.0.name = Some(Cow::Owned(text)),
            "otel.kind" => self.0.set_kind(&text),
            "otel.status_code" => self.0.set_status_code(&text),
            "otel.status_description" => self.0.status = Status::error(text),
            name => self.0.push(name, Value::String(text.into())),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let chain = error_chain(value);
        let message = value.to_string();
        self.0
            .push("exception.message", Value::String(message.clone().into()));
        self.0
            .push("exception.stacktrace", Value::Array(chain.clone().into()));
        self.0.push(field.name(), Value::String(message.into()));
        self.0.attributes.push(KeyValue::new(
            Key::new(format!("{}.chain", field.name())),
            Value::Array(chain.into()),
        ));
    }
}

/// The messages of an error's sources, outermost first.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> Vec<StringValue> {
    let mut chain = Vec::new();
    let mut next = error.source();
    while let Some(e) = next {
        chain.push(e.to_string().into());
        next = e.source();
    }
    chain
}

/// Records an event's fields as the bridge's event visitor does.
struct EventVisitor {
    name: Option<Cow<'static, str>>,
    attributes: Vec<KeyValue>,
    error_status: Option<Status>,
}

impl EventVisitor {
    /// An `error` field of an event without a message: an exception, and the span fails.
    fn is_error(&self, field: &Field) -> bool {
        field.name() == "error" && self.name.is_none()
    }

    fn error(&mut self, debug: String) {
        self.error_status = Some(Status::error(debug.clone()));
        self.name = Some(Cow::Borrowed("exception"));
        self.attributes
            .push(KeyValue::new("exception.message", debug));
    }

    fn field(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => self.name = Some(Cow::Owned(value.as_str().into_owned())),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }
}

impl Visit for EventVisitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, Value::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, Value::I64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.is_error(field) {
            self.error(format!("{value:?}"));
        } else {
            self.field(field, Value::String(value.to_owned().into()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if self.is_error(field) {
            self.error(text);
        } else {
            self.field(field, Value::String(text.into()));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let chain = error_chain(value);
        let message = value.to_string();
        self.attributes
            .push(KeyValue::new("exception.message", message.clone()));
        self.attributes.push(KeyValue::new(
            "exception.stacktrace",
            Value::Array(chain.clone().into()),
        ));
        self.attributes.push(KeyValue::new(field.name(), message));
        self.attributes.push(KeyValue::new(
            Key::new(format!("{}.chain", field.name())),
            Value::Array(chain.into()),
        ));
    }
}
