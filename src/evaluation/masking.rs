//! The privacy stage for annotations posted to Phoenix or Langfuse: their texts go through
//! the same masks, credential scans and length caps as a span's attributes, on the sending
//! thread (an `EVALUATOR` span goes through them in the span pipeline).

use super::model::Annotation;
use super::span::attributes;
use crate::privacy::{KeyPlans, Marks, Privacy};
use opentelemetry::Value;

/// `a` with its name, label, explanation, identifier and metadata as the privacy stage
/// leaves them as `EVALUATOR` span attributes (a removed one is left out; a removed name
/// becomes the redaction placeholder).
pub(crate) fn cleaned(mut a: Annotation, privacy: &Privacy, plans: &mut KeyPlans) -> Annotation {
    let mut attrs = attributes(&a);
    privacy.clean(&mut attrs, &mut [], plans, Marks::default());
    let text = |field: &str| {
        attrs.iter().find_map(|kv| {
            let key = kv.key.as_str();
            let tail = key.strip_prefix("evaluations.0.evaluation.")?;
            match (&kv.value, tail == field) {
                (Value::String(s), true) => Some(s.as_str().to_owned()),
                _ => None,
            }
        })
    };
    a.name = text("name").unwrap_or_else(|| crate::privacy::REDACTED.to_owned());
    if a.label.is_some() {
        a.label = text("label");
    }
    if a.explanation.is_some() {
        a.explanation = text("explanation");
    }
    if a.identifier.is_some() {
        a.identifier = text("identifier");
    }
    if a.metadata.is_some() {
        a.metadata = text("metadata").map(|json| match serde_json::from_str(&json) {
            Ok(serde_json::Value::Object(map)) => map,
            // Cut or redacted: kept as text.
            _ => std::iter::once(("value".to_owned(), serde_json::Value::String(json))).collect(),
        });
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::AnnotationTarget;
    use opentelemetry::trace::{SpanId, TraceId};

    #[test]
    fn credentials_in_explanations_and_metadata_are_redacted() {
        let target = AnnotationTarget::Span {
            trace_id: TraceId::from(1u128),
            span_id: SpanId::from(1u64),
        };
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
        let a = Annotation::score(target, "qa", 1.0)
            .label("ok")
            .explanation(format!("the reply leaked {key}"))
            .metadata(serde_json::json!({"api_key": "hunter2-hunter2", "rubric": "v1"}));
        let out = cleaned(a, &Privacy::default(), &mut KeyPlans::default());
        let explanation = out.explanation.unwrap();
        assert!(!explanation.contains(key), "{explanation}");
        assert!(explanation.starts_with("the reply leaked"));
        let metadata = out.metadata.unwrap();
        assert_ne!(metadata["api_key"], "hunter2-hunter2", "{metadata:?}");
        assert_eq!(metadata["rubric"], "v1");
        assert_eq!(out.label.as_deref(), Some("ok"));
        assert_eq!(out.name, "qa");
        assert_eq!(out.score, Some(1.0));
    }
}
