//! OTLP/protobuf encoding of finished spans, straight from [`SpanData`].
//!
//! Writes the `ExportTraceServiceRequest` that `opentelemetry-otlp` would send for the same
//! batch (the tests decode both and compare them), without its intermediate step: the OTLP
//! exporter first copies every span into owned protobuf structs (each key and string value
//! copied once more) and then encodes them, computing the length of each nested message again
//! at every level. Here each span's length is computed once, from the borrowed values, and
//! every string is copied once, into the request body.
//!
//! The wire format: each field is a key (`field << 3 | wire type`) followed by a varint, a
//! fixed-width number, or a length-prefixed run of bytes (strings and nested messages).
//! Like any proto3 encoder, empty strings, zero numbers and empty lists are left out, except
//! inside a `oneof` (an attribute's value), where the value is always written.

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wire type of varints (integers, booleans, enums).
const VARINT: u32 = 0;
/// Wire type of 8-byte little-endian numbers (`fixed64`, `double`).
const FIXED64: u32 = 1;
/// Wire type of length-prefixed bytes (strings, bytes, nested messages).
const LEN: u32 = 2;
/// Wire type of 4-byte little-endian numbers (`fixed32`).
const FIXED32: u32 = 5;

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: the flags say whether the parent is remote.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent is remote.
const IS_REMOTE: u32 = 0x200;

/// Bytes a varint of `v` takes.
fn varint_len(v: u64) -> usize {
    // 7 bits per byte; a zero still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes a field's key takes.
fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

/// Bytes a length-prefixed field of `n` content bytes takes.
fn len_field(field: u32, n: usize) -> usize {
    key_len(field) + varint_len(n as u64) + n
}

/// Bytes a string field takes (nothing when empty).
fn str_field(field: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(field, s.len())
    }
}

/// Bytes a varint field takes (nothing when zero).
fn varint_field(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + varint_len(v)
    }
}

/// Bytes a `fixed64` field takes (nothing when zero).
fn fixed64_field(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + 8
    }
}

/// Nanoseconds since the Unix epoch, 0 before it (as the OTLP exporter does).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A span's `flags`: the trace flags and whether its parent is remote.
fn span_flags(context: &SpanContext, parent_is_remote: bool) -> u32 {
    let mut flags = u32::from(context.trace_flags().to_u8()) | HAS_IS_REMOTE;
    if parent_is_remote {
        flags |= IS_REMOTE;
    }
    flags
}

/// The protobuf `SpanKind` number.
fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// The protobuf status code and message.
fn status_parts(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description),
    }
}

/// Length of an `AnyValue` holding `value`.
fn value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + varint_len(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => len_field(1, s.as_str().len()),
        Value::Array(array) => len_field(5, array_len(array)),
        // A value kind newer than this encoder: sent as its text.
        other => len_field(1, other.to_string().len()),
    }
}

/// Length of an `ArrayValue` holding `array`.
fn array_len(array: &Array) -> usize {
    // Each element is an `AnyValue` message in field 1.
    let element = |n: usize| len_field(1, n);
    match array {
        Array::Bool(v) => v.len() * element(key_len(2) + 1),
        Array::I64(v) => v
            .iter()
            .map(|i| element(key_len(3) + varint_len(*i as u64)))
            .sum(),
        Array::F64(v) => v.len() * element(key_len(4) + 8),
        Array::String(v) => v
            .iter()
            .map(|s| element(len_field(1, s.as_str().len())))
            .sum(),
        other => element(len_field(1, other.to_string().len())),
    }
}

/// Length of a `KeyValue`.
fn attribute_len(kv: &KeyValue) -> usize {
    str_field(1, kv.key.as_str()) + len_field(2, value_len(&kv.value))
}

/// Length of a list of `KeyValue`s in field `field`.
fn attributes_len<'a>(field: u32, kvs: impl IntoIterator<Item = &'a KeyValue>) -> usize {
    kvs.into_iter()
        .map(|kv| len_field(field, attribute_len(kv)))
        .sum()
}

/// Length of an `Event`.
fn event_len(event: &Event) -> usize {
    fixed64_field(1, nanos(event.timestamp))
        + str_field(2, &event.name)
        + attributes_len(3, &event.attributes)
        + varint_field(4, u64::from(event.dropped_attributes_count))
}

/// Length of a `Link`.
fn link_len(link: &Link) -> usize {
    let context = &link.span_context;
    len_field(1, 16)
        + len_field(2, 8)
        + str_field(3, &context.trace_state().header())
        + attributes_len(4, &link.attributes)
        + varint_field(5, u64::from(link.dropped_attributes_count))
        + key_len(6)
        + 4
}

/// Length of a `Status`.
fn status_len(status: &Status) -> usize {
    let (code, message) = status_parts(status);
    str_field(2, message) + varint_field(3, code)
}

/// Length of a `Span`.
fn span_len(span: &SpanData) -> usize {
    let context = &span.span_context;
    let parent = if span.parent_span_id == SpanId::INVALID {
        0
    } else {
        len_field(4, 8)
    };
    len_field(1, 16)
        + len_field(2, 8)
        + str_field(3, &context.trace_state().header())
        + parent
        + str_field(5, &span.name)
        + varint_field(6, kind_number(&span.span_kind))
        + fixed64_field(7, nanos(span.start_time))
        + fixed64_field(8, nanos(span.end_time))
        + attributes_len(9, &span.attributes)
        + varint_field(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .iter()
            .map(|e| len_field(11, event_len(e)))
            .sum::<usize>()
        + varint_field(12, u64::from(span.events.dropped_count))
        + span
            .links
            .iter()
            .map(|l| len_field(13, link_len(l)))
            .sum::<usize>()
        + varint_field(14, u64::from(span.links.dropped_count))
        + len_field(15, status_len(&span.status))
        + key_len(16)
        + 4
}

/// Length of an `InstrumentationScope`.
fn scope_len(scope: &InstrumentationScope) -> usize {
    str_field(1, scope.name())
        + str_field(2, scope.version().unwrap_or_default())
        + attributes_len(3, scope.attributes())
}

/// A protobuf writer appending to a byte buffer.
struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from(field << 3 | wire));
    }

    /// Starts a length-prefixed field of `n` bytes; the caller writes them next.
    fn start(&mut self, field: u32, n: usize) {
        self.key(field, LEN);
        self.varint(n as u64);
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.start(field, bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn varint_field(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    fn fixed64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, FIXED64);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn fixed32(&mut self, field: u32, v: u32) {
        self.key(field, FIXED32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// An `AnyValue`'s one field (always written: it is a `oneof`).
    fn value(&mut self, value: &Value) {
        match value {
            Value::Bool(b) => self.bool_value(*b),
            Value::I64(i) => self.int_value(*i),
            Value::F64(f) => self.double_value(*f),
            Value::String(s) => self.bytes(1, s.as_str().as_bytes()),
            Value::Array(array) => {
                self.start(5, array_len(array));
                self.array(array);
            }
            other => self.bytes(1, other.to_string().as_bytes()),
        }
    }

    fn bool_value(&mut self, b: bool) {
        self.key(2, VARINT);
        self.varint(u64::from(b));
    }

    fn int_value(&mut self, i: i64) {
        self.key(3, VARINT);
        self.varint(i as u64);
    }

    fn double_value(&mut self, f: f64) {
        self.key(4, FIXED64);
        self.buf.extend_from_slice(&f.to_le_bytes());
    }

    /// An `ArrayValue`'s elements, each an `AnyValue` in field 1.
    fn array(&mut self, array: &Array) {
        match array {
            Array::Bool(v) => v.iter().for_each(|b| {
                self.start(1, key_len(2) + 1);
                self.bool_value(*b);
            }),
            Array::I64(v) => v.iter().for_each(|i| {
                self.start(1, key_len(3) + varint_len(*i as u64));
                self.int_value(*i);
            }),
            Array::F64(v) => v.iter().for_each(|f| {
                self.start(1, key_len(4) + 8);
                self.double_value(*f);
            }),
            Array::String(v) => v.iter().for_each(|s| {
                self.start(1, len_field(1, s.as_str().len()));
                self.bytes(1, s.as_str().as_bytes());
            }),
            other => {
                let text = other.to_string();
                self.start(1, len_field(1, text.len()));
                self.bytes(1, text.as_bytes());
            }
        }
    }

    fn attributes<'b>(&mut self, field: u32, kvs: impl IntoIterator<Item = &'b KeyValue>) {
        for kv in kvs {
            let key = kv.key.as_str();
            let value = value_len(&kv.value);
            self.start(field, str_field(1, key) + len_field(2, value));
            self.string(1, key);
            self.start(2, value);
            self.value(&kv.value);
        }
    }

    fn event(&mut self, event: &Event) {
        self.start(11, event_len(event));
        self.fixed64(1, nanos(event.timestamp));
        self.string(2, &event.name);
        self.attributes(3, &event.attributes);
        self.varint_field(4, u64::from(event.dropped_attributes_count));
    }

    fn link(&mut self, link: &Link) {
        let context = &link.span_context;
        self.start(13, link_len(link));
        self.bytes(1, &context.trace_id().to_bytes());
        self.bytes(2, &context.span_id().to_bytes());
        self.string(3, &context.trace_state().header());
        self.attributes(4, &link.attributes);
        self.varint_field(5, u64::from(link.dropped_attributes_count));
        self.fixed32(6, span_flags(context, context.is_remote()));
    }

    /// One span (field 2 of `ScopeSpans`) whose length is `len`.
    fn span(&mut self, span: &SpanData, len: usize) {
        let context = &span.span_context;
        self.start(2, len);
        self.bytes(1, &context.trace_id().to_bytes());
        self.bytes(2, &context.span_id().to_bytes());
        self.string(3, &context.trace_state().header());
        if span.parent_span_id != SpanId::INVALID {
            self.bytes(4, &span.parent_span_id.to_bytes());
        }
        self.string(5, &span.name);
        self.varint_field(6, kind_number(&span.span_kind));
        self.fixed64(7, nanos(span.start_time));
        self.fixed64(8, nanos(span.end_time));
        self.attributes(9, &span.attributes);
        self.varint_field(10, u64::from(span.dropped_attributes_count));
        span.events.iter().for_each(|e| self.event(e));
        self.varint_field(12, u64::from(span.events.dropped_count));
        span.links.iter().for_each(|l| self.link(l));
        self.varint_field(14, u64::from(span.links.dropped_count));
        self.start(15, status_len(&span.status));
        let (code, message) = status_parts(&span.status);
        self.string(2, message);
        self.varint_field(3, code);
        self.fixed32(16, span_flags(context, span.parent_span_is_remote));
    }

    fn scope(&mut self, scope: &InstrumentationScope) {
        self.start(1, scope_len(scope));
        self.string(1, scope.name());
        self.string(2, scope.version().unwrap_or_default());
        self.attributes(3, scope.attributes());
    }
}

/// The resource part of every request, encoded once.
#[derive(Debug, Clone, Default)]
pub(crate) struct EncodedResource {
    /// The `Resource` message.
    message: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    /// Encodes `resource`'s attributes and schema URL.
    pub(crate) fn new(resource: &Resource) -> EncodedResource {
        let attributes: Vec<KeyValue> = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let mut message = Vec::with_capacity(attributes_len(1, &attributes));
        Writer { buf: &mut message }.attributes(1, &attributes);
        EncodedResource {
            message,
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }
}

/// Appends the `ExportTraceServiceRequest` for `spans` to `out`: one `ResourceSpans`, with
/// one `ScopeSpans` per instrumentation scope in order of first appearance, as the OTLP
/// exporter groups them.
pub(crate) fn encode_request(spans: &[SpanData], resource: &EncodedResource, out: &mut Vec<u8>) {
    // Spans grouped by scope, with each span's length.
    let mut groups: Vec<(&InstrumentationScope, Vec<(usize, usize)>)> = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        let len = span_len(span);
        let scope = &span.instrumentation_scope;
        match groups.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, members)) => members.push((i, len)),
            None => groups.push((scope, vec![(i, len)])),
        }
    }
    let scope_spans_len = |scope: &InstrumentationScope, members: &[(usize, usize)]| {
        len_field(1, scope_len(scope))
            + members
                .iter()
                .map(|&(_, len)| len_field(2, len))
                .sum::<usize>()
            + str_field(3, scope.schema_url().unwrap_or_default())
    };
    let group_lens: Vec<usize> = groups
        .iter()
        .map(|(scope, members)| scope_spans_len(scope, members))
        .collect();
    let resource_spans_len = len_field(1, resource.message.len())
        + group_lens.iter().map(|&n| len_field(2, n)).sum::<usize>()
        + str_field(3, &resource.schema_url);
    out.reserve(len_field(1, resource_spans_len));

    let mut w = Writer { buf: out };
    w.start(1, resource_spans_len);
    w.bytes(1, &resource.message);
    for ((scope, members), len) in groups.iter().zip(group_lens) {
        w.start(2, len);
        w.scope(scope);
        for &(i, len) in members {
            w.span(&spans[i], len);
        }
        w.string(3, scope.schema_url().unwrap_or_default());
    }
    w.string(3, &resource.schema_url);
}

/// Reads an `ExportTraceServiceResponse`: the spans a collector says it rejected, and why.
/// Anything it cannot read, and a message with no span rejected, counts as no rejection (the
/// answer was a success).
pub(crate) fn rejected_spans(response: &[u8]) -> Option<(u64, String)> {
    let partial = find_field(response, 1)?;
    let rejected = find_varint(partial, 1).unwrap_or(0);
    let message = find_field(partial, 2)
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    (rejected > 0).then_some((rejected, message))
}

/// Reads a varint at the start of `bytes`: its value and length.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Walks the fields of a message: (field, wire type, varint value, length-delimited bytes).
fn fields(mut bytes: &[u8]) -> impl Iterator<Item = (u32, u64, &[u8])> {
    std::iter::from_fn(move || {
        let (key, n) = read_varint(bytes)?;
        bytes = &bytes[n..];
        let field = u32::try_from(key >> 3).ok()?;
        match (key & 7) as u32 {
            VARINT => {
                let (v, n) = read_varint(bytes)?;
                bytes = &bytes[n..];
                Some((field, v, &[][..]))
            }
            LEN => {
                let (len, n) = read_varint(bytes)?;
                let end = n.checked_add(usize::try_from(len).ok()?)?;
                let body = bytes.get(n..end)?;
                bytes = &bytes[end..];
                Some((field, 0, body))
            }
            FIXED64 => {
                bytes = bytes.get(8..)?;
                Some((field, 0, &[][..]))
            }
            FIXED32 => {
                bytes = bytes.get(4..)?;
                Some((field, 0, &[][..]))
            }
            _ => None,
        }
    })
}

fn find_field(bytes: &[u8], field: u32) -> Option<&[u8]> {
    fields(bytes).find(|(f, ..)| *f == field).map(|(.., b)| b)
}

fn find_varint(bytes: &[u8], field: u32) -> Option<u64> {
    fields(bytes).find(|(f, ..)| *f == field).map(|(_, v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::{Key, StringValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message as _;
    use std::borrow::Cow;
    use std::time::Duration;

    /// What the OTLP exporter sends for `spans`, and what this encoder sends, both decoded
    /// (resource attributes sorted: the resource keeps them in a hash map).
    fn both(spans: Vec<SpanData>, resource: &Resource) -> [ExportTraceServiceRequest; 2] {
        let mut ours = Vec::new();
        encode_request(&spans, &EncodedResource::new(resource), &mut ours);
        let mut ours = ExportTraceServiceRequest::decode(ours.as_slice()).expect("decodes");
        let mut reference = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans, &resource.into()),
        };
        for req in [&mut ours, &mut reference] {
            for rs in &mut req.resource_spans {
                if let Some(r) = &mut rs.resource {
                    r.attributes.sort_by(|a, b| a.key.cmp(&b.key));
                }
            }
        }
        [ours, reference]
    }

    fn context(trace: u128, span: u64, flags: u8, state: &str, remote: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::new(flags),
            remote,
            state.parse::<TraceState>().unwrap_or_default(),
        )
    }

    fn span(
        name: &'static str,
        attributes: Vec<KeyValue>,
        scope: InstrumentationScope,
    ) -> SpanData {
        SpanData {
            span_context: context(0xabc, 0x123, 1, "", false),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_001_000_000_000),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope,
        }
    }

    fn every_kind_of_value() -> Vec<KeyValue> {
        vec![
            KeyValue::new("llm.model_name", "gpt-4o"),
            KeyValue::new("empty", ""),
            KeyValue::new("", "no key"),
            KeyValue::new("input.value", "ü".repeat(300)),
            KeyValue::new("yes", true),
            KeyValue::new("no", false),
            KeyValue::new("zero", 0i64),
            KeyValue::new("tokens", 1234i64),
            KeyValue::new("negative", -7i64),
            KeyValue::new("min", i64::MIN),
            KeyValue::new("cost", 0.0125),
            KeyValue::new("infinite", f64::INFINITY),
            KeyValue::new("minus_zero", -0.0),
            KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ints", Value::Array(Array::I64(vec![0, -1, i64::MAX]))),
            KeyValue::new("floats", Value::Array(Array::F64(vec![0.5, -2.0]))),
            KeyValue::new(
                "strings",
                Value::Array(Array::String(vec![StringValue::from(""), "a".into()])),
            ),
            KeyValue::new("none", Value::Array(Array::String(vec![]))),
            KeyValue::new(
                Key::from(format!("llm.input_messages.{}.message.content", 0)),
                "hi",
            ),
        ]
    }

    #[test]
    fn a_batch_encodes_as_the_otlp_exporter_does() {
        let tracing = InstrumentationScope::builder("tracing-openinference")
            .with_version("0.1.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", 1i64)])
            .build();
        let other = InstrumentationScope::builder("other").build();
        let mut first = span("chat gpt-4o", every_kind_of_value(), tracing.clone());
        first.span_kind = SpanKind::Client;
        first.status = Status::error("rate limited: 429");
        first.dropped_attributes_count = 2;
        first.events.events = vec![
            Event::new(
                "exception",
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                vec![KeyValue::new("exception.message", "boom")],
                1,
            ),
            Event::new("", UNIX_EPOCH, vec![], 0),
        ];
        first.events.dropped_count = 3;
        first.links.links = vec![Link::new(
            context(0xdef, 0x456, 0, "vendor=value,other=1", true),
            vec![KeyValue::new("link.kind", "follows")],
            4,
        )];
        first.links.dropped_count = 5;
        let mut child = span("tool search", vec![], other);
        child.parent_span_id = SpanId::from(0x123);
        child.span_context = context(0xabc, 0x124, 1, "k=v", false);
        child.status = Status::Ok;
        child.span_kind = SpanKind::Server;
        let mut remote = span("agent", vec![KeyValue::new("k", "v")], tracing);
        remote.parent_span_id = SpanId::from(0x999);
        remote.parent_span_is_remote = true;
        remote.span_kind = SpanKind::Consumer;
        remote.start_time = UNIX_EPOCH - Duration::from_secs(1);
        let resource = Resource::builder_empty()
            .with_service_name("rag-service")
            .with_attributes([
                KeyValue::new("deployment.environment", "test"),
                KeyValue::new("host.cores", 2i64),
            ])
            .with_schema_url(
                Vec::<KeyValue>::new(),
                "https://opentelemetry.io/schemas/1.30.0",
            )
            .build();
        let [ours, reference] = both(vec![first, child, remote], &resource);
        assert_eq!(ours.resource_spans[0].scope_spans.len(), 2);
        assert_eq!(ours, reference);
        let [ours, reference] = both(vec![], &Resource::builder_empty().build());
        assert_eq!(ours, reference);
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>()
                .prop_filter("NaN never equals itself", |f| !f.is_nan())
                .prop_map(Value::F64),
            ".{0,40}".prop_map(|s| Value::String(s.into())),
            prop::collection::vec(any::<i64>(), 0..5).prop_map(|v| Value::Array(Array::I64(v))),
            prop::collection::vec(".{0,8}", 0..5).prop_map(|v| Value::Array(Array::String(
                v.into_iter().map(StringValue::from).collect()
            ))),
            prop::collection::vec(any::<bool>(), 0..5).prop_map(|v| Value::Array(Array::Bool(v))),
            prop::collection::vec(-1e9f64..1e9, 0..5).prop_map(|v| Value::Array(Array::F64(v))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Any attributes, name and times encode as the OTLP exporter encodes them.
        #[test]
        fn any_span_encodes_as_the_otlp_exporter_does(
            attrs in prop::collection::vec((".{0,20}", value()), 0..12),
            name in ".{0,30}",
            start in any::<u64>(),
            events in prop::collection::vec((".{0,10}", value()), 0..3),
        ) {
            let attributes = attrs
                .into_iter()
                .map(|(k, v)| KeyValue::new(Key::from(k), v))
                .collect();
            let mut s = span("x", attributes, InstrumentationScope::builder("t").build());
            s.name = Cow::Owned(name);
            s.start_time = UNIX_EPOCH + Duration::from_nanos(start);
            s.events.events = events
                .into_iter()
                .map(|(n, v)| Event::new(n, UNIX_EPOCH, vec![KeyValue::new("v", v)], 0))
                .collect();
            let [ours, reference] = both(vec![s], &Resource::builder_empty().build());
            prop_assert_eq!(ours, reference);
        }
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            Writer { buf: &mut buf }.varint(v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            assert_eq!(read_varint(&buf), Some((v, buf.len())));
        }
    }

    #[test]
    fn partial_success_is_read() {
        // partial_success { rejected_spans: 3, error_message: "full" }
        let mut inner = Vec::new();
        let mut w = Writer { buf: &mut inner };
        w.varint_field(1, 3);
        w.string(2, "full");
        let mut body = Vec::new();
        Writer { buf: &mut body }.bytes(1, &inner);
        assert_eq!(rejected_spans(&body), Some((3, "full".to_owned())));
        // A message alone (a warning) rejects nothing.
        let mut inner = Vec::new();
        Writer { buf: &mut inner }.string(2, "slow down");
        let mut body = Vec::new();
        Writer { buf: &mut body }.bytes(1, &inner);
        assert_eq!(rejected_spans(&body), None);
        assert_eq!(rejected_spans(&[]), None);
        assert_eq!(rejected_spans(&[0x0a, 0x00]), None);
        assert_eq!(rejected_spans(&[0xff, 0xff]), None);
    }
}
