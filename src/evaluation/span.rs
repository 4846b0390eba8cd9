//! Evaluations for any other destination: an OpenInference `EVALUATOR` span in the evaluated
//! trace, carrying the result as `evaluations.0.evaluation.*` and as the OpenTelemetry GenAI
//! `gen_ai.evaluation.result` event.
//!
//! About a span, the `EVALUATOR` span is its child and links to it. About a whole trace, it
//! joins the trace under a parent id derived from the trace id, which no span of the trace
//! has: backends group it with the trace. It is started and ended at once on the calling
//! thread and goes through the export pipeline like any span (queue, mapping, privacy,
//! retries).

use super::model::{Annotation, AnnotationTarget};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceState, Tracer as _,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracer;

/// The attributes of the `EVALUATOR` span for `a`.
pub(crate) fn attributes(a: &Annotation) -> Vec<KeyValue> {
    const P: &str = "evaluations.0.evaluation";
    let mut out = vec![
        KeyValue::new("openinference.span.kind", "EVALUATOR"),
        KeyValue::new(format!("{P}.name"), a.name.clone()),
        KeyValue::new(format!("{P}.annotator_kind"), a.annotator.as_str()),
    ];
    if let Some(score) = a.score {
        out.push(KeyValue::new(format!("{P}.score"), score));
    }
    if let Some(label) = &a.label {
        out.push(KeyValue::new(format!("{P}.label"), label.clone()));
    }
    if let Some(explanation) = &a.explanation {
        out.push(KeyValue::new(
            format!("{P}.explanation"),
            explanation.clone(),
        ));
    }
    if let Some(identifier) = &a.identifier {
        out.push(KeyValue::new(format!("{P}.identifier"), identifier.clone()));
    }
    if let Some(metadata) = &a.metadata {
        let json = serde_json::Value::Object(metadata.clone()).to_string();
        out.push(KeyValue::new(format!("{P}.metadata"), json));
    }
    out
}

/// The attributes of the `gen_ai.evaluation.result` event for `a`.
fn event_attributes(a: &Annotation) -> Vec<KeyValue> {
    let mut out = vec![KeyValue::new("gen_ai.evaluation.name", a.name.clone())];
    if let Some(score) = a.score {
        out.push(KeyValue::new("gen_ai.evaluation.score.value", score));
    }
    if let Some(label) = &a.label {
        out.push(KeyValue::new(
            "gen_ai.evaluation.score.label",
            label.clone(),
        ));
    }
    if let Some(explanation) = &a.explanation {
        out.push(KeyValue::new(
            "gen_ai.evaluation.explanation",
            explanation.clone(),
        ));
    }
    out
}

/// Starts and ends the `EVALUATOR` span for `a` on `tracer`.
pub(crate) fn emit(tracer: &SdkTracer, a: &Annotation) {
    let trace_id = a.target.trace_id();
    let (parent_id, links) = match a.target {
        AnnotationTarget::Span { span_id, .. } => {
            let evaluated = context(trace_id, span_id);
            (span_id, vec![Link::with_context(evaluated)])
        }
        AnnotationTarget::Trace { .. } => {
            let bytes = trace_id.to_bytes();
            let mut low = [0u8; 8];
            low.copy_from_slice(&bytes[8..]);
            // Never the invalid id, which would start a new trace.
            (SpanId::from_bytes(low.map(|b| b | 1)), Vec::new())
        }
    };
    let parent =
        opentelemetry::Context::new().with_remote_span_context(context(trace_id, parent_id));
    let span = tracer
        .span_builder(a.name.clone())
        .with_kind(SpanKind::Internal)
        .with_attributes(attributes(a))
        .with_links(links)
        .start_with_context(tracer, &parent);
    let mut span = span;
    use opentelemetry::trace::Span as _;
    span.add_event("gen_ai.evaluation.result", event_attributes(a));
    span.end();
}

/// The context of a span of the evaluated trace. Not flagged remote: the `EVALUATOR` span is
/// no local root, so it neither counts as a kept trace nor carries the sampling reason, and a
/// console tree shows it under the span it evaluates.
fn context(trace_id: opentelemetry::trace::TraceId, span_id: SpanId) -> SpanContext {
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    )
}
