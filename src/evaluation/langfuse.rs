//! Langfuse scores: `POST {base}/api/public/scores`, one score per request, with the Basic
//! auth of the OTLP export.
//!
//! A score has one value: the annotation's score (`NUMERIC`), else its label
//! (`CATEGORICAL`). The explanation is the score's comment; the annotator kind, a label
//! that rode along with a score, and the identifier go into its metadata. Every score is
//! sent with an id, so a retried request replaces rather than duplicates it: with an
//! identifier the id is derived from the target, name and identifier (a later annotation with
//! the same three replaces it), else it is random.

use super::model::{Annotation, AnnotationTarget};
use serde_json::{json, Map, Value};
use std::hash::Hasher as _;

/// The path of Langfuse's OTLP endpoint, under its base URL.
const OTEL_PATH: &str = "/api/public/otel";

/// The Langfuse base URL of an OTLP traces endpoint, if it is Langfuse's
/// (`https://cloud.langfuse.com/api/public/otel/v1/traces` gives
/// `https://cloud.langfuse.com`).
pub(crate) fn base_url(traces_endpoint: &str) -> Option<String> {
    let at = traces_endpoint.find(OTEL_PATH)?;
    Some(traces_endpoint[..at].to_owned())
}

/// Where scores are posted.
pub(crate) fn endpoint(base: &str) -> String {
    format!("{}/api/public/scores", base.trim_end_matches('/'))
}

/// The score id of `a`; `random` gives a fresh 64-bit value when `a` has no identifier.
pub(crate) fn score_id(a: &Annotation, random: impl FnOnce() -> u64) -> String {
    let tail = match &a.identifier {
        Some(identifier) => {
            let mut h = crate::fnv::Fnv::default();
            if let Some(span) = a.target.span_id() {
                h.write(&span.to_bytes());
            }
            h.write(a.name.as_bytes());
            h.write(&[0]);
            h.write(identifier.as_bytes());
            h.finish()
        }
        None => random(),
    };
    format!("{}-{tail:016x}", a.target.trace_id())
}

/// Why an annotation cannot be a Langfuse score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoValue;

/// The request body of one score, with its id; [`NoValue`] when the annotation has neither
/// a score nor a label (an explanation alone is no score value).
pub(crate) fn body(a: &Annotation, id: &str) -> Result<Vec<u8>, NoValue> {
    let (value, data_type) = match (a.score, &a.label) {
        (Some(score), _) => (json!(score), "NUMERIC"),
        (None, Some(label)) => (json!(label), "CATEGORICAL"),
        (None, None) => return Err(NoValue),
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("traceId".into(), json!(a.target.trace_id().to_string()));
    if let AnnotationTarget::Span { span_id, .. } = a.target {
        out.insert("observationId".into(), json!(span_id.to_string()));
    }
    out.insert("name".into(), json!(a.name));
    out.insert("value".into(), value);
    out.insert("dataType".into(), json!(data_type));
    if let Some(explanation) = &a.explanation {
        out.insert("comment".into(), json!(explanation));
    }
    let mut metadata = a.metadata.clone().unwrap_or_default();
    metadata.insert("annotator_kind".into(), json!(a.annotator.as_str()));
    if let (Some(_), Some(label)) = (a.score, &a.label) {
        metadata.insert("label".into(), json!(label));
    }
    if let Some(identifier) = &a.identifier {
        metadata.insert("identifier".into(), json!(identifier));
    }
    out.insert("metadata".into(), Value::Object(metadata));
    Ok(serde_json::to_vec(&Value::Object(out)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::AnnotatorKind;
    use opentelemetry::trace::{SpanId, TraceId};

    fn target() -> AnnotationTarget {
        AnnotationTarget::Span {
            trace_id: TraceId::from(0xfu128),
            span_id: SpanId::from(0xau64),
        }
    }

    #[test]
    fn base_is_found_before_the_otel_path() {
        assert_eq!(
            base_url("https://cloud.langfuse.com/api/public/otel/v1/traces").as_deref(),
            Some("https://cloud.langfuse.com")
        );
        assert_eq!(base_url("http://collector:4318/v1/traces"), None);
        assert_eq!(
            endpoint("http://h:3000/"),
            "http://h:3000/api/public/scores"
        );
    }

    #[test]
    fn numeric_score_keeps_its_label_in_metadata() {
        let a = Annotation::score(target(), "relevance", 0.25)
            .label("weak")
            .explanation("off topic")
            .annotator(AnnotatorKind::Llm);
        let body: Value = serde_json::from_slice(&body(&a, "the-id").unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"id": "the-id", "traceId": "0000000000000000000000000000000f",
                   "observationId": "000000000000000a", "name": "relevance", "value": 0.25,
                   "dataType": "NUMERIC", "comment": "off topic",
                   "metadata": {"annotator_kind": "LLM", "label": "weak"}})
        );
    }

    #[test]
    fn label_alone_is_categorical_and_explanation_alone_is_refused() {
        let trace = AnnotationTarget::Trace {
            trace_id: TraceId::from(1u128),
        };
        let a = Annotation::new(trace, "thumbs").label("down");
        let body: Value = serde_json::from_slice(&body(&a, "i").unwrap()).unwrap();
        assert_eq!(body["value"], "down");
        assert_eq!(body["dataType"], "CATEGORICAL");
        assert!(body.get("observationId").is_none());
        let e = Annotation::new(trace, "note-ish").explanation("words");
        assert_eq!(super::body(&e, "i"), Err(NoValue));
    }

    #[test]
    fn ids_are_stable_with_an_identifier_and_random_without() {
        let a = Annotation::score(target(), "qa", 1.0).identifier("run-1");
        let first = score_id(&a, || 1);
        assert_eq!(first, score_id(&a, || 2));
        assert!(first.starts_with("0000000000000000000000000000000f-"));
        let other = Annotation::score(target(), "qa", 1.0).identifier("run-2");
        assert_ne!(first, score_id(&other, || 1));
        let b = Annotation::score(target(), "qa", 1.0);
        assert_ne!(score_id(&b, || 1), score_id(&b, || 2));
    }
}
