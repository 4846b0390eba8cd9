//! A service that already runs `tracing-opentelemetry` with its own provider keeps it, and
//! sends its spans to two destinations: its company collector (every span, LLM spans mapped)
//! and Phoenix (LLM spans only). `LlmSemantics` next to its bridge hands the request's session
//! and user down to the LLM spans and records the GenAI metrics of every call. Offline: the
//! destinations are in-memory exporters here, and the example prints what each received. In a service they are OTLP exporters, e.g.
//! `opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(..).build()?`.
//!
//! ```sh
//! cargo run --example own_provider
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider, SpanData,
};
use tracing_openinference::compose::{LlmSemantics, OpenInferenceExporter, PlainSpans};
use tracing_subscriber::prelude::*;

#[tracing::instrument(fields(http.route = "/chat", otel.kind = "server", session.id = "s-42"))]
fn handle_chat(question: &str) -> String {
    let messages = serde_json::json!([
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": question},
    ]);
    let answer = tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o-mini",
        llm.provider = "openai",
        llm.input_messages = %messages,
        llm.token_count.prompt = 18_u64,
        llm.token_count.completion = 9_u64,
    )
    .in_scope(|| "Rust is a memory-safe systems language.".to_owned());
    tracing::info_span!("render", template = "answer.html").in_scope(|| answer)
}

fn show(destination: &str, spans: &[SpanData]) {
    println!("{destination}: {} spans", spans.len());
    for span in spans {
        let kind = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "openinference.span.kind")
            .map(|kv| kv.value.to_string())
            .unwrap_or_else(|| "-".into());
        let session = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "session.id")
            .map(|kv| format!("  session {}", kv.value))
            .unwrap_or_default();
        let cost = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "llm.cost.total")
            .and_then(|kv| match kv.value {
                opentelemetry::Value::F64(usd) => Some(format!("  cost ${usd:.6}")),
                _ => None,
            })
            .unwrap_or_default();
        println!(
            "  {:<12} kind {:<6} {} attributes{session}{cost}",
            span.name,
            kind,
            span.attributes.len()
        );
    }
}

fn main() {
    let company = InMemorySpanExporter::default();
    let phoenix = InMemorySpanExporter::default();
    // The service's own provider: its sampler, resource and processors stay its own. Each
    // destination has its own batch processor (bounded queue; a failing collector does not
    // hold up the other).
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(OpenInferenceExporter::new(company.clone())).build(),
        )
        .with_span_processor(
            BatchSpanProcessor::builder(
                OpenInferenceExporter::new(phoenix.clone()).with_plain_spans(PlainSpans::Drop),
            )
            .build(),
        )
        .build();
    // The service's meter provider (here an in-memory reader; in a service its OTLP or
    // Prometheus reader) gets the GenAI metrics.
    let metrics = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let bridge = tracing_opentelemetry::layer().with_tracer(provider.tracer("my-service"));
    let subscriber = tracing_subscriber::registry()
        .with(LlmSemantics::new().with_meter_provider(&meters))
        .with(bridge);
    tracing::subscriber::with_default(subscriber, || {
        handle_chat("What is Rust?");
    });
    if let Err(e) = provider.force_flush() {
        eprintln!("flush failed: {e}");
    }
    show(
        "company collector",
        &company.get_finished_spans().unwrap_or_default(),
    );
    show("Phoenix", &phoenix.get_finished_spans().unwrap_or_default());
    if let Err(e) = meters.force_flush() {
        eprintln!("metrics flush failed: {e}");
    }
    for rm in metrics.get_finished_metrics().unwrap_or_default() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let (points, sum) = match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                        h.data_points().map(|p| p.count()).sum::<u64>(),
                        h.data_points().map(|p| p.sum()).sum::<f64>(),
                    ),
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => (
                        h.data_points().map(|p| p.count()).sum::<u64>(),
                        h.data_points().map(|p| p.sum() as f64).sum::<f64>(),
                    ),
                    _ => continue,
                };
                if points > 0 {
                    println!("metric {}: {points} values, sum {sum}", m.name());
                }
            }
        }
    }
    if let Err(e) = provider.shutdown() {
        eprintln!("shutdown failed: {e}");
    }
    if let Err(e) = meters.shutdown() {
        eprintln!("metrics shutdown failed: {e}");
    }
}
