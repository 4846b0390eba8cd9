//! Phoenix span and trace annotations: `POST {base}/v1/span_annotations` and
//! `POST {base}/v1/trace_annotations`, with a body of `{"data": [...]}`.
//!
//! Without `sync=true` Phoenix queues the annotations and inserts them once the span or
//! trace they name is stored (it retries for some minutes), so an annotation may reach it
//! before the span's batch does.

use super::model::{Annotation, AnnotationTarget};
use serde_json::{json, Map, Value};

/// The Phoenix base URL of a traces endpoint (`http://host:6006/v1/traces` gives
/// `http://host:6006`).
pub(crate) fn base_url(traces_endpoint: &str) -> String {
    let trimmed = traces_endpoint.trim_end_matches('/');
    trimmed
        .strip_suffix("/v1/traces")
        .unwrap_or(trimmed)
        .to_owned()
}

/// Where annotations about spans (`span == true`) or traces are posted.
pub(crate) fn endpoint(base: &str, span: bool) -> String {
    let path = if span {
        "v1/span_annotations"
    } else {
        "v1/trace_annotations"
    };
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// One entry of the request's `data` list.
pub(crate) fn entry(a: &Annotation) -> Value {
    let mut out = Map::new();
    match a.target {
        AnnotationTarget::Span { span_id, .. } => {
            out.insert("span_id".into(), Value::String(span_id.to_string()));
        }
        AnnotationTarget::Trace { trace_id } => {
            out.insert("trace_id".into(), Value::String(trace_id.to_string()));
        }
    }
    out.insert("name".into(), Value::String(a.name.clone()));
    out.insert("annotator_kind".into(), json!(a.annotator.as_str()));
    let mut result = Map::new();
    if let Some(score) = a.score {
        result.insert("score".into(), json!(score));
    }
    if let Some(label) = &a.label {
        result.insert("label".into(), json!(label));
    }
    if let Some(explanation) = &a.explanation {
        result.insert("explanation".into(), json!(explanation));
    }
    out.insert("result".into(), Value::Object(result));
    if let Some(metadata) = &a.metadata {
        out.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(identifier) = &a.identifier {
        out.insert("identifier".into(), json!(identifier));
    }
    Value::Object(out)
}

/// The request body for `batch` (all about spans, or all about traces).
pub(crate) fn body<'a>(batch: impl Iterator<Item = &'a Annotation>) -> Vec<u8> {
    let data: Vec<Value> = batch.map(entry).collect();
    serde_json::to_vec(&json!({ "data": data })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::AnnotatorKind;
    use opentelemetry::trace::{SpanId, TraceId};

    #[test]
    fn base_and_endpoints() {
        assert_eq!(base_url("http://h:6006/v1/traces"), "http://h:6006");
        assert_eq!(
            base_url("https://app.phoenix.arize.com/s/me/v1/traces"),
            "https://app.phoenix.arize.com/s/me"
        );
        assert_eq!(
            endpoint("http://h:6006/", true),
            "http://h:6006/v1/span_annotations"
        );
        assert_eq!(
            endpoint("http://h:6006", false),
            "http://h:6006/v1/trace_annotations"
        );
    }

    #[test]
    fn entry_carries_every_field_and_omits_missing_ones() {
        let target = AnnotationTarget::Span {
            trace_id: TraceId::from(1u128),
            span_id: SpanId::from(0xabu64),
        };
        let a = Annotation::score(target, "relevance", 0.5)
            .label("ok")
            .annotator(AnnotatorKind::Llm)
            .identifier("j1")
            .metadata(json!({"m": 1}));
        assert_eq!(
            entry(&a),
            json!({"span_id": "00000000000000ab", "name": "relevance", "annotator_kind": "LLM",
                   "result": {"score": 0.5, "label": "ok"}, "metadata": {"m": 1},
                   "identifier": "j1"})
        );
        let t = Annotation::new(
            AnnotationTarget::Trace {
                trace_id: TraceId::from(2u128),
            },
            "x",
        )
        .explanation("why");
        assert_eq!(
            entry(&t),
            json!({"trace_id": "00000000000000000000000000000002", "name": "x",
                   "annotator_kind": "HUMAN", "result": {"explanation": "why"}})
        );
    }
}
