//! Shared test helpers: run code under an `LlmLayer` that exports to memory.
#![allow(dead_code)]

mod metric_points;
#[allow(unused_imports)]
pub use metric_points::*;

use opentelemetry::trace::Status;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use std::time::Duration;
use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

/// A builder that ignores the process environment and prints nothing.
pub fn quiet_builder() -> LlmLayerBuilder {
    LlmLayerBuilder::from_env_with(|_| None).with_console_exporter(false)
}

/// Runs `f` under a layer built from `builder` plus an in-memory exporter; returns the spans.
pub fn capture_with(builder: LlmLayerBuilder, f: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let layer: LlmLayer<_> = builder.with_span_exporter(exporter.clone()).build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    handle.force_flush(Duration::from_secs(10)).expect("flush");
    exporter.get_finished_spans().expect("spans")
}

/// [`capture_with`] with the quiet defaults.
pub fn capture(f: impl FnOnce()) -> Vec<SpanData> {
    capture_with(quiet_builder(), f)
}

/// The span named `name`.
pub fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name}; have {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

/// The value of attribute `key` on `span`.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Attribute `key` as a string, panicking when absent or not a string.
pub fn str_attr(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(Value::String(s)) => s.as_str().to_owned(),
        other => panic!(
            "{key} on {}: expected a string, got {other:?}\nall: {:#?}",
            span.name, span.attributes
        ),
    }
}

/// Attribute `key` as an integer.
pub fn int_attr(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(v)) => *v,
        other => panic!("{key} on {}: expected an integer, got {other:?}", span.name),
    }
}

/// Attribute `key` as a float.
pub fn float_attr(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(v)) => *v,
        other => panic!("{key} on {}: expected a float, got {other:?}", span.name),
    }
}

/// Keys of `span` that start with `prefix`.
pub fn keys_with_prefix(span: &SpanData, prefix: &str) -> Vec<String> {
    span.attributes
        .iter()
        .map(|kv: &KeyValue| kv.key.as_str().to_owned())
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// Whether the span failed.
pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}
