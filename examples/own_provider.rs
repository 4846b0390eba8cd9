//! A service that already runs `tracing-opentelemetry` with its own provider keeps it, and
//! sends its spans to two destinations: its company collector (every span, LLM spans mapped)
//! and Phoenix (LLM spans only). Offline: both destinations are in-memory exporters here, and
//! the example prints what each received. In a service they are OTLP exporters, e.g.
//! `opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(..).build()?`.
//!
//! ```sh
//! cargo run --example own_provider
//! ```

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider, SpanData,
};
use tracing_openinference::compose::{OpenInferenceExporter, PlainSpans};
use tracing_subscriber::prelude::*;

#[tracing::instrument(fields(http.route = "/chat", otel.kind = "server"))]
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
            "  {:<12} kind {:<6} {} attributes{cost}",
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
    let bridge = tracing_opentelemetry::layer().with_tracer(provider.tracer("my-service"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(bridge), || {
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
    if let Err(e) = provider.shutdown() {
        eprintln!("shutdown failed: {e}");
    }
}
