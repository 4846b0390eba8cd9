//! The trace name MLflow shows: its traces table reads a trace's name only from the root
//! span's `mlflow.traceTag.mlflow.traceName` attribute (a trace tag), so a root exported to
//! MLflow carries its own name there.

use opentelemetry::trace::SpanId;
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanData;

/// The root attribute MLflow turns into the trace's `mlflow.traceName` tag.
pub(crate) const TRACE_NAME_KEY: &str = "mlflow.traceTag.mlflow.traceName";

/// Adds the span's name as the trace name if it is its trace's root (no parent at all: a
/// span under a remote parent is not the root MLflow sees) and has none of its own.
pub(crate) fn tag_root(span: &mut SpanData) {
    if span.parent_span_id != SpanId::INVALID
        || span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == TRACE_NAME_KEY)
    {
        return;
    }
    let name = span.name.clone();
    span.attributes.push(KeyValue::new(TRACE_NAME_KEY, name));
}
