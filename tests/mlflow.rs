//! The MLflow preset, against a loopback OTLP/HTTP sink: where spans are posted, the
//! experiment header, and the trace name on the root.

#[path = "common/otlp_sink.rs"]
mod otlp_sink;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_sink::{OtlpSink, Recorded};
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

const TRACE_NAME: &str = "mlflow.traceTag.mlflow.traceName";

/// An agent root with an LLM child, exported through a layer built by `builder`; returns
/// what the sink received.
fn export(sink: &OtlpSink, builder: LlmLayerBuilder) -> Vec<Recorded> {
    let layer: LlmLayer<_> = builder.with_console_exporter(false).try_build().unwrap();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let root = tracing::info_span!("support_agent", agent.name = "support");
        root.in_scope(|| {
            tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {});
        });
    });
    handle.shutdown(Duration::from_secs(10)).expect("shutdown");
    let stats = sink.wait_for_spans(2, Duration::from_secs(10));
    assert_eq!(stats.spans, 2, "{stats:?}");
    stats.recorded
}

fn env(pairs: &[(&str, String)]) -> LlmLayerBuilder {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    LlmLayerBuilder::from_env_with(move |k| map.get(k).cloned())
}

fn spans(recorded: &[Recorded]) -> Vec<Span> {
    recorded
        .iter()
        .flat_map(|r| {
            let request = ExportTraceServiceRequest::decode(r.body.as_slice()).expect("protobuf");
            request
                .resource_spans
                .into_iter()
                .flat_map(|rs| rs.scope_spans)
                .flat_map(|ss| ss.spans)
        })
        .collect()
}

fn string_attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

/// Posted to `/v1/traces` with the experiment header; the root named, the child not.
fn assert_mlflow_request(recorded: &[Recorded], experiment: &str) {
    assert!(!recorded.is_empty());
    for r in recorded {
        assert_eq!(r.path, "/v1/traces");
        assert_eq!(
            r.headers.get("x-mlflow-experiment-id").map(String::as_str),
            Some(experiment)
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/x-protobuf")
        );
    }
    let spans = spans(recorded);
    let root = named(&spans, "support_agent");
    assert!(root.parent_span_id.is_empty());
    assert_eq!(
        string_attr(root, TRACE_NAME).as_deref(),
        Some("support_agent")
    );
    assert_eq!(string_attr(named(&spans, "chat"), TRACE_NAME), None);
}

#[test]
fn environment_preset_posts_to_the_tracking_server_with_the_experiment() {
    let sink = OtlpSink::start_recording();
    let builder = env(&[
        ("MLFLOW_TRACKING_URI", sink.endpoint()),
        ("MLFLOW_EXPERIMENT_ID", "7".to_owned()),
        // MLflow takes OTLP/HTTP only: a gRPC protocol setting does not apply to it.
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
    ]);
    assert_mlflow_request(&export(&sink, builder), "7");
}

#[test]
fn builder_method_does_the_same() {
    let sink = OtlpSink::start_recording();
    let builder = env(&[]).with_mlflow(format!("{}/", sink.endpoint()), "12");
    assert_mlflow_request(&export(&sink, builder), "12");
}

#[test]
fn the_experiment_header_set_by_hand_names_the_trace_too() {
    let sink = OtlpSink::start_recording();
    let builder = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-mlflow-experiment-id=3".to_owned(),
        ),
    ]);
    assert_mlflow_request(&export(&sink, builder), "3");
}

#[test]
fn other_destinations_get_no_mlflow_tag() {
    let sink = OtlpSink::start_recording();
    let recorded = export(
        &sink,
        env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint())]),
    );
    assert!(recorded
        .iter()
        .all(|r| !r.headers.contains_key("x-mlflow-experiment-id")));
    let spans = spans(&recorded);
    assert!(spans.iter().all(|s| string_attr(s, TRACE_NAME).is_none()));
}

#[test]
fn a_root_that_names_its_trace_keeps_its_name() {
    let sink = OtlpSink::start_recording();
    let layer: LlmLayer<_> = env(&[])
        .with_mlflow(sink.endpoint(), "1")
        .with_console_exporter(false)
        .try_build()
        .unwrap();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!(
            "handle_request",
            mlflow.traceTag.mlflow.traceName = "refund flow"
        )
        .in_scope(|| {});
    });
    handle.shutdown(Duration::from_secs(10)).expect("shutdown");
    let recorded = sink.wait_for_spans(1, Duration::from_secs(10)).recorded;
    let spans = spans(&recorded);
    let names: Vec<_> = named(&spans, "handle_request")
        .attributes
        .iter()
        .filter(|kv| kv.key == TRACE_NAME)
        .collect();
    assert_eq!(names.len(), 1);
    assert_eq!(
        string_attr(named(&spans, "handle_request"), TRACE_NAME).as_deref(),
        Some("refund flow")
    );
}

/// A tracking server that knows no experiment at first: it creates `agents` as id 42.
fn tracking_server() -> OtlpSink {
    OtlpSink::start_answering(Arc::new(|path: &str, body: &[u8]| {
        if path.starts_with("/api/2.0/mlflow/experiments/get-by-name") {
            Some((
                404,
                r#"{"error_code": "RESOURCE_DOES_NOT_EXIST"}"#.to_owned(),
            ))
        } else if path == "/api/2.0/mlflow/experiments/create" {
            let request: serde_json::Value = serde_json::from_slice(body).ok()?;
            (request["name"] == "agents/prod 1")
                .then(|| (200, r#"{"experiment_id": "42"}"#.to_owned()))
        } else {
            None
        }
    }))
}

#[test]
fn an_experiment_name_is_looked_up_and_created_on_the_export_thread() {
    let sink = tracking_server();
    let builder = env(&[
        ("MLFLOW_TRACKING_URI", sink.endpoint()),
        ("MLFLOW_EXPERIMENT_NAME", "agents/prod 1".to_owned()),
        ("MLFLOW_TRACKING_TOKEN", "t0k".to_owned()),
    ]);
    let recorded = export(&sink, builder);
    let paths: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths[..2],
        [
            "/api/2.0/mlflow/experiments/get-by-name?experiment_name=agents%2Fprod%201",
            "/api/2.0/mlflow/experiments/create"
        ]
    );
    assert!(recorded
        .iter()
        .all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer t0k")));
    // Looked up once: every post after it carries the id.
    let posts: Vec<Recorded> = recorded
        .into_iter()
        .filter(|r| !r.path.starts_with("/api/"))
        .collect();
    assert_mlflow_request(&posts, "42");
}

#[test]
fn builder_method_by_name_does_the_same() {
    let sink = tracking_server();
    let recorded = export(
        &sink,
        env(&[]).with_mlflow_experiment_name(sink.endpoint(), "agents/prod 1"),
    );
    let posts: Vec<Recorded> = recorded
        .into_iter()
        .filter(|r| !r.path.starts_with("/api/"))
        .collect();
    assert_mlflow_request(&posts, "42");
}

#[test]
fn a_refused_lookup_posts_nothing_and_counts_the_span() {
    let sink = OtlpSink::start_answering(Arc::new(|path: &str, _: &[u8]| {
        path.starts_with("/api/")
            .then(|| (403, r#"{"error_code": "PERMISSION_DENIED"}"#.to_owned()))
    }));
    let layer: LlmLayer<_> = env(&[
        ("MLFLOW_TRACKING_URI", sink.endpoint()),
        ("MLFLOW_EXPERIMENT_NAME", "agents".to_owned()),
    ])
    .with_console_exporter(false)
    .try_build()
    .unwrap();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!("chat", llm.model_name = "m").in_scope(|| {});
    });
    let _ = handle.force_flush(Duration::from_secs(5));
    let _ = handle.shutdown(Duration::from_secs(5));
    let stats = sink.stats();
    assert_eq!(stats.spans, 0);
    assert!(!stats.recorded.is_empty());
    assert!(stats.recorded.iter().all(|r| r.path.starts_with("/api/")));
    let pipeline = handle.pipeline_stats();
    assert_eq!(pipeline.spans_exported, 0);
    assert_eq!(
        pipeline.dropped("export_failed") + pipeline.dropped("shutdown"),
        1,
        "{pipeline:?}"
    );
}
