//! Evaluations and feedback: what a loopback Phoenix or Langfuse receives (paths, bodies,
//! auth), retries on 503 and 429 with `Retry-After`, drops counted when the collector refuses
//! or the queue is full, the `EVALUATOR` span for any other destination, and no request when
//! nothing is configured.

mod common;
#[path = "common/json_sink.rs"]
mod json_sink;

use json_sink::{JsonSink, Responder};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tracing_openinference::evaluation::{
    AnnotateError, Annotation, AnnotationTarget, AnnotatorKind, EvaluationBackend,
};
use tracing_openinference::{LlmHandle, LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

const LIMIT: Duration = Duration::from_secs(20);

fn env_builder(vars: Vec<(&'static str, String)>) -> LlmLayerBuilder {
    LlmLayerBuilder::from_env_with(move |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .with_console_exporter(false)
}

/// Builds the layer, runs one LLM span under it, and returns the handle and the span's ids.
fn traced_call(builder: LlmLayerBuilder) -> (LlmHandle, AnnotationTarget) {
    let layer: LlmLayer<_> = builder.build();
    let handle = layer.handle();
    let target =
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
            let target = AnnotationTarget::span(&span);
            span.in_scope(|| {});
            target
        });
    assert!(target.is_valid(), "the span has ids: {target:?}");
    (handle, target)
}

fn full(target: AnnotationTarget) -> Annotation {
    Annotation::score(target, "relevance", 0.75)
        .label("relevant")
        .explanation("answers the question")
        .annotator(AnnotatorKind::Llm)
        .identifier("judge-v1")
        .metadata(json!({"judge": "gpt-4o"}))
}

#[test]
fn phoenix_gets_span_and_trace_annotations_with_its_api_key() {
    let sink = JsonSink::start(json_sink::ok());
    let (handle, target) = traced_call(env_builder(vec![
        ("PHOENIX_COLLECTOR_ENDPOINT", sink.url()),
        ("PHOENIX_API_KEY", "px-key".into()),
    ]));
    let trace_id = target.trace_id();
    handle.annotate(full(target)).unwrap();
    handle
        .annotate(
            Annotation::new(AnnotationTarget::Trace { trace_id }, "user_feedback")
                .label("thumbs_down"),
        )
        .unwrap();
    handle.force_flush(LIMIT).unwrap();

    let spans = sink.to("/v1/span_annotations");
    assert_eq!(spans.len(), 1, "{:?}", sink.requests());
    let request = &spans[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("authorization"), Some("Bearer px-key"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({"data": [{
            "span_id": target.span_id().unwrap().to_string(),
            "name": "relevance",
            "annotator_kind": "LLM",
            "result": {"score": 0.75, "label": "relevant", "explanation": "answers the question"},
            "metadata": {"judge": "gpt-4o"},
            "identifier": "judge-v1",
        }]})
    );
    let traces = sink.to("/v1/trace_annotations");
    assert_eq!(traces.len(), 1);
    assert_eq!(
        traces[0].json(),
        json!({"data": [{"trace_id": trace_id.to_string(), "name": "user_feedback",
                         "annotator_kind": "HUMAN", "result": {"label": "thumbs_down"}}]})
    );
    // The span went first, so Phoenix has it when the annotation comes.
    let otlp = sink.to("/v1/traces");
    assert_eq!(otlp.len(), 1);
    assert!(otlp[0].at <= request.at);
    assert_eq!(handle.pipeline_stats().annotations_delivered, 2);
    handle.shutdown(LIMIT).unwrap();
}

#[test]
fn langfuse_gets_scores_with_basic_auth_from_its_keys() {
    let sink = JsonSink::start(json_sink::ok());
    let (handle, target) = traced_call(env_builder(vec![
        ("LANGFUSE_PUBLIC_KEY", "pk-lf-1".into()),
        ("LANGFUSE_SECRET_KEY", "sk-lf-2".into()),
        ("LANGFUSE_HOST", sink.url()),
    ]));
    handle.annotate(full(target)).unwrap();
    handle
        .annotate(
            Annotation::new(
                AnnotationTarget::Trace {
                    trace_id: target.trace_id(),
                },
                "thumbs",
            )
            .label("up"),
        )
        .unwrap();
    handle.shutdown(LIMIT).unwrap();

    assert_eq!(sink.to("/api/public/otel/v1/traces").len(), 1);
    let scores = sink.to("/api/public/scores");
    assert_eq!(scores.len(), 2, "{:?}", sink.requests());
    // base64("pk-lf-1:sk-lf-2")
    let basic = "Basic cGstbGYtMTpzay1sZi0y";
    assert!(scores
        .iter()
        .all(|r| r.header("authorization") == Some(basic)));
    let numeric = scores[0].json();
    let id = numeric["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&target.trace_id().to_string()), "{id}");
    assert_eq!(
        numeric,
        json!({
            "id": id,
            "traceId": target.trace_id().to_string(),
            "observationId": target.span_id().unwrap().to_string(),
            "name": "relevance",
            "value": 0.75,
            "dataType": "NUMERIC",
            "comment": "answers the question",
            "metadata": {"judge": "gpt-4o", "annotator_kind": "LLM", "label": "relevant",
                         "identifier": "judge-v1"},
        })
    );
    let categorical = scores[1].json();
    assert_eq!(categorical["value"], "up");
    assert_eq!(categorical["dataType"], "CATEGORICAL");
    assert!(categorical.get("observationId").is_none());
    assert_eq!(handle.pipeline_stats().annotations_delivered, 2);
}

#[test]
fn unavailable_and_rate_limited_collectors_are_retried_after_retry_after() {
    let responder: Responder = Arc::new(|request, earlier| {
        if !request.path.starts_with("/v1/span_annotations") {
            return (200, Vec::new(), String::new());
        }
        match earlier {
            0 => (503, vec![("retry-after", "1".into())], "busy".into()),
            1 => (429, vec![("retry-after", "1".into())], "slow down".into()),
            _ => (200, Vec::new(), r#"{"data": []}"#.into()),
        }
    });
    let sink = JsonSink::start(responder);
    let (handle, target) = traced_call(
        env_builder(vec![("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url())])
            .with_evaluations(EvaluationBackend::Phoenix),
    );
    handle.annotate(full(target)).unwrap();
    handle.force_flush(LIMIT).unwrap();

    let attempts = sink.to("/v1/span_annotations");
    assert_eq!(attempts.len(), 3, "{:?}", attempts);
    for pair in attempts.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
        assert_eq!(
            pair[0].body, pair[1].body,
            "the same annotation is sent again"
        );
    }
    let stats = handle.pipeline_stats();
    assert_eq!(stats.annotations_delivered, 1);
    assert!(stats.annotations_dropped.iter().all(|(_, n)| *n == 0));
    handle.shutdown(LIMIT).unwrap();
}

#[test]
fn refused_annotations_are_dropped_and_counted() {
    let responder: Responder = Arc::new(|request, _| {
        if request.path.starts_with("/v1/span_annotations") {
            (422, Vec::new(), r#"{"detail": "invalid"}"#.into())
        } else {
            (200, Vec::new(), String::new())
        }
    });
    let sink = JsonSink::start(responder);
    let metrics = InMemoryMetricExporter::default();
    let (handle, target) = traced_call(
        env_builder(vec![("PHOENIX_COLLECTOR_ENDPOINT", sink.url())])
            .with_metric_reader(PeriodicReader::builder(metrics.clone()).build()),
    );
    handle.annotate(full(target)).unwrap();
    handle
        .annotate(full(target).identifier("judge-v2"))
        .unwrap();
    handle.force_flush(LIMIT).unwrap();
    // Refused for good: not sent again.
    assert_eq!(sink.to("/v1/span_annotations").len(), 1);
    let stats = handle.pipeline_stats();
    assert_eq!(stats.annotations_dropped_for("export_failed"), 2);
    assert_eq!(stats.annotations_delivered, 0);
    // The self-metrics say so too.
    handle.force_flush(LIMIT).unwrap();
    let collected = metrics.get_finished_metrics().unwrap();
    let sum = |name: &str, reason: Option<&str>| -> Option<u64> {
        let rm = collected.last()?;
        rm.scope_metrics()
            .flat_map(|sm| sm.metrics())
            .filter(|m| m.name() == name)
            .find_map(|m| match m.data() {
                AggregatedMetrics::U64(MetricData::Sum(s)) => s
                    .data_points()
                    .find(|p| {
                        reason.is_none_or(|r| {
                            p.attributes()
                                .any(|kv| kv.key.as_str() == "reason" && kv.value.as_str() == r)
                        })
                    })
                    .map(|p| p.value()),
                _ => None,
            })
    };
    assert_eq!(
        sum("openinference.annotations.dropped", Some("export_failed")),
        Some(2)
    );
    assert_eq!(
        sum("openinference.annotations.dropped", Some("queue_full")),
        Some(0)
    );
    assert_eq!(sum("openinference.annotations.delivered", None), Some(0));
    handle.shutdown(LIMIT).unwrap();
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    // The first request is held for a while: the sending thread waits on it while the
    // calling thread keeps annotating.
    let responder: Responder = Arc::new(|request, earlier| {
        if request.path.starts_with("/v1/span_annotations") && earlier == 0 {
            std::thread::sleep(Duration::from_millis(1_500));
        }
        (200, Vec::new(), String::new())
    });
    let sink = JsonSink::start(responder);
    let (handle, target) = traced_call(env_builder(vec![(
        "PHOENIX_COLLECTOR_ENDPOINT",
        sink.url(),
    )]));
    handle.annotate(full(target)).unwrap();
    // Let the first request leave.
    let deadline = std::time::Instant::now() + LIMIT;
    while sink.to("/v1/span_annotations").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = 2_000;
    let started = std::time::Instant::now();
    let refused = (0..total)
        .filter(|i| {
            let a = full(target).identifier(format!("n{i}"));
            handle.annotate(a) == Err(AnnotateError::QueueFull)
        })
        .count() as u64;
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "annotating never waits on the collector: {:?}",
        started.elapsed()
    );
    assert!(refused > 0, "the queue is bounded");
    handle.force_flush(LIMIT).unwrap();
    let stats = handle.pipeline_stats();
    assert_eq!(stats.annotations_dropped_for("queue_full"), refused);
    assert_eq!(stats.annotations_delivered, 1 + total as u64 - refused);
    let sent: usize = sink
        .to("/v1/span_annotations")
        .iter()
        .map(|r| r.json()["data"].as_array().unwrap().len())
        .sum();
    assert_eq!(sent as u64, stats.annotations_delivered);
    handle.shutdown(LIMIT).unwrap();
}

#[test]
fn other_destinations_get_an_evaluator_span_in_the_evaluated_trace() {
    let exporter = InMemorySpanExporter::default();
    let (handle, target) =
        traced_call(common::quiet_builder().with_span_exporter(exporter.clone()));
    handle.annotate(full(target)).unwrap();
    let trace_id = target.trace_id();
    handle
        .annotate(Annotation::new(AnnotationTarget::Trace { trace_id }, "thumbs").label("down"))
        .unwrap();
    handle.force_flush(LIMIT).unwrap();
    let spans = exporter.get_finished_spans().unwrap();

    let eval = common::span(&spans, "relevance");
    let kv = |k: &str| common::attr(eval, k).cloned();
    assert_eq!(
        common::str_attr(eval, "openinference.span.kind"),
        "EVALUATOR"
    );
    assert_eq!(
        kv("evaluations.0.evaluation.name"),
        Some(Value::from("relevance"))
    );
    assert_eq!(kv("evaluations.0.evaluation.score"), Some(Value::F64(0.75)));
    assert_eq!(
        kv("evaluations.0.evaluation.label"),
        Some(Value::from("relevant"))
    );
    assert_eq!(
        kv("evaluations.0.evaluation.explanation"),
        Some(Value::from("answers the question"))
    );
    assert_eq!(
        kv("evaluations.0.evaluation.annotator_kind"),
        Some(Value::from("LLM"))
    );
    assert_eq!(
        kv("evaluations.0.evaluation.identifier"),
        Some(Value::from("judge-v1"))
    );
    let metadata = common::str_attr(eval, "evaluations.0.evaluation.metadata");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&metadata).unwrap(),
        json!({"judge": "gpt-4o"})
    );
    // In the evaluated trace, under the evaluated span, linked to it; not a kept trace of its own.
    assert_eq!(eval.span_context.trace_id(), trace_id);
    assert_eq!(Some(eval.parent_span_id), target.span_id());
    assert!(common::attr(eval, "openinference.sampling.reason").is_none());
    let link = eval
        .links
        .iter()
        .next()
        .expect("a link to the evaluated span");
    assert_eq!(Some(link.span_context.span_id()), target.span_id());
    // The GenAI form of the same result.
    let event = eval
        .events
        .iter()
        .find(|e| e.name == "gen_ai.evaluation.result")
        .expect("gen_ai.evaluation.result event");
    let ev = |k: &str| {
        event
            .attributes
            .iter()
            .find(|a| a.key.as_str() == k)
            .map(|a| a.value.clone())
    };
    assert_eq!(ev("gen_ai.evaluation.score.value"), Some(Value::F64(0.75)));
    assert_eq!(
        ev("gen_ai.evaluation.score.label"),
        Some(Value::from("relevant"))
    );

    let whole = common::span(&spans, "thumbs");
    assert_eq!(whole.span_context.trace_id(), trace_id);
    assert_ne!(whole.parent_span_id, SpanId::INVALID);
    assert!(spans
        .iter()
        .all(|s| s.span_context.span_id() != whole.parent_span_id));
    assert_eq!(
        common::str_attr(whole, "evaluations.0.evaluation.label"),
        "down"
    );
    assert!(common::attr(whole, "evaluations.0.evaluation.score").is_none());
    let stats = handle.pipeline_stats();
    assert_eq!(stats.annotations_delivered, 0);
    // The evaluated trace is counted once; its EVALUATOR spans add no kept trace.
    assert_eq!((stats.kept("ratio"), stats.kept("parent")), (1, 0));
}

#[test]
fn nothing_is_sent_when_nothing_is_configured_or_annotations_are_off() {
    let sink = JsonSink::start(json_sink::ok());
    // The SDK is disabled: neither spans nor annotations leave.
    let (handle, target) = traced_call(env_builder(vec![
        ("PHOENIX_COLLECTOR_ENDPOINT", sink.url()),
        ("OTEL_SDK_DISABLED", "true".into()),
    ]));
    assert_eq!(handle.annotate(full(target)), Ok(()));
    handle.force_flush(LIMIT).unwrap();
    assert!(sink.requests().is_empty(), "{:?}", sink.requests());

    // Annotations off: the spans go, the annotations do not.
    let (handle, target) = traced_call(
        env_builder(vec![("PHOENIX_COLLECTOR_ENDPOINT", sink.url())])
            .with_evaluations(EvaluationBackend::Off),
    );
    assert_eq!(handle.annotate(full(target)), Ok(()));
    handle.shutdown(LIMIT).unwrap();
    assert_eq!(sink.to("/v1/traces").len(), 1);
    assert!(sink.to("/v1/span_annotations").is_empty());

    // Nothing to annotate: refused before any queue.
    let invalid = AnnotationTarget::Span {
        trace_id: TraceId::INVALID,
        span_id: SpanId::INVALID,
    };
    assert_eq!(
        handle.annotate(Annotation::score(invalid, "x", 1.0)),
        Err(AnnotateError::InvalidTarget)
    );
    assert_eq!(
        handle.annotate(Annotation::new(target, "x")),
        Err(AnnotateError::NoResult)
    );
    assert_eq!(
        handle.annotate(Annotation::score(target, "x", f64::NAN)),
        Err(AnnotateError::NotFinite)
    );
}

#[test]
fn credentials_in_annotations_are_redacted_before_they_leave() {
    let sink = JsonSink::start(json_sink::ok());
    let (handle, target) = traced_call(env_builder(vec![(
        "PHOENIX_COLLECTOR_ENDPOINT",
        sink.url(),
    )]));
    let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    handle
        .annotate(
            Annotation::score(target, "leak_check", 0.0)
                .explanation(format!("the reply quoted {key}"))
                .metadata(json!({"password": "correct-horse-battery", "rubric": "v1"})),
        )
        .unwrap();
    handle.shutdown(LIMIT).unwrap();
    let sent = sink.to("/v1/span_annotations");
    assert_eq!(sent.len(), 1);
    let body = String::from_utf8_lossy(&sent[0].body).into_owned();
    assert!(!body.contains(key), "{body}");
    assert!(!body.contains("correct-horse-battery"), "{body}");
    let entry = &sent[0].json()["data"][0];
    assert_eq!(entry["metadata"]["rubric"], "v1");
    assert!(entry["result"]["explanation"]
        .as_str()
        .unwrap()
        .starts_with("the reply quoted"));
}
