//! Next to a service's own `tracing-opentelemetry` layer, in either order: no panic, the
//! service's own pipeline keeps exporting every span, and `LlmLayer` stands aside.

mod common;
use common::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use std::time::Duration;
use tracing_subscriber::prelude::*;

/// The service's own provider and exporter, as a service that already uses OpenTelemetry has.
fn own_pipeline() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn traced_work() {
    let root = tracing::info_span!("handle_request", http.route = "/chat");
    root.in_scope(|| {
        let llm = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
        llm.in_scope(|| tracing::info!("called"));
    });
}

fn names(spans: &[SpanData]) -> Vec<&str> {
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    names.sort_unstable();
    names
}

/// The spans each pipeline exported after [`traced_work`] under `subscriber`: the service's
/// own (`own`) and the layer's (`ours`).
fn run_both(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
    handle: tracing_openinference::LlmHandle,
    provider: &SdkTracerProvider,
    own: &InMemorySpanExporter,
    ours: &InMemorySpanExporter,
) -> (Vec<SpanData>, Vec<SpanData>) {
    tracing::subscriber::with_default(subscriber, traced_work);
    handle.force_flush(Duration::from_secs(5)).unwrap();
    provider.force_flush().unwrap();
    (
        own.get_finished_spans().unwrap(),
        ours.get_finished_spans().unwrap(),
    )
}

/// What the service's own pipeline must show, whatever the order: both spans, parented, in one
/// trace, without OpenInference tagging; and nothing from the layer.
fn assert_the_service_s_pipeline_exported_everything(own_spans: &[SpanData], ours: &[SpanData]) {
    assert_eq!(names(own_spans), ["chat", "handle_request"]);
    let chat = span(own_spans, "chat");
    let root = span(own_spans, "handle_request");
    assert_eq!(chat.parent_span_id, root.span_context.span_id());
    assert_eq!(chat.span_context.trace_id(), root.span_context.trace_id());
    assert!(attr(chat, "openinference.span.kind").is_none());
    assert!(ours.is_empty());
}

#[test]
fn llm_layer_added_after_the_service_s_own_bridge_stands_aside() {
    let (provider, own) = own_pipeline();
    let ours = InMemorySpanExporter::default();
    let layer = quiet_builder().with_span_exporter(ours.clone()).build();
    let handle = layer.handle();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc")))
        .with(layer);
    let (own_spans, our_spans) = run_both(subscriber, handle, &provider, &own, &ours);
    assert_the_service_s_pipeline_exported_everything(&own_spans, &our_spans);
}

#[test]
fn llm_layer_added_before_the_service_s_own_bridge_stands_aside() {
    let (provider, own) = own_pipeline();
    let ours = InMemorySpanExporter::default();
    let layer = quiet_builder().with_span_exporter(ours.clone()).build();
    let handle = layer.handle();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc")));
    let (own_spans, our_spans) = run_both(subscriber, handle, &provider, &own, &ours);
    assert_the_service_s_pipeline_exported_everything(&own_spans, &our_spans);
}

#[test]
fn open_telemetry_span_ext_reaches_the_service_s_bridge_in_either_order() {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    for llm_first in [false, true] {
        let (provider, own) = own_pipeline();
        let work = || {
            let span = tracing::info_span!("outgoing");
            let cx = span.context();
            span.in_scope(|| {});
            drop(span);
            cx
        };
        let cx = if llm_first {
            let registry = tracing_subscriber::registry().with(quiet_builder().build());
            tracing::subscriber::with_default(
                registry.with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc"))),
                work,
            )
        } else {
            let registry = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc")));
            tracing::subscriber::with_default(registry.with(quiet_builder().build()), work)
        };
        provider.force_flush().unwrap();
        let spans = own.get_finished_spans().unwrap();
        use opentelemetry::trace::TraceContextExt as _;
        assert_eq!(
            cx.span().span_context().span_id(),
            span(&spans, "outgoing").span_context.span_id(),
            "llm_first = {llm_first}"
        );
    }
}

#[test]
fn alone_the_layer_exports_as_usual_and_never_its_probe() {
    let spans = capture(traced_work);
    assert_eq!(names(&spans), ["chat", "handle_request"]);
    assert_eq!(
        str_attr(span(&spans, "chat"), "openinference.span.kind"),
        "LLM"
    );
}
