//! Calling-thread cost of an LLM span in which an HTTP client logs its connection (three
//! DEBUG events and one TRACE event, as reqwest and hyper do) and the caller logs one INFO
//! event, at two event levels of the same `LlmLayer`:
//!
//! - `info`: the default; the DEBUG and TRACE events end at a level comparison;
//! - `trace`: every event becomes a span event (what the layer did before the event level).
//!
//! Run: `cargo bench --bench events`. Compare ratios within one run only.

#[path = "common/workload.rs"]
mod workload;

use criterion::{criterion_group, Criterion};
use std::time::Duration;
use tracing::{Dispatch, Level};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;
use workload::*;

fn pipeline(level: Level) -> (Dispatch, tracing_openinference::LlmHandle) {
    let layer: LlmLayer<_> = quiet()
        .with_span_exporter(NoopExporter::default())
        .with_event_level(level)
        .build();
    let handle = layer.handle();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        handle,
    )
}

fn chatty_llm_span() {
    let span = tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o-mini",
        llm.token_count.prompt = PROMPT_TOKENS,
        llm.token_count.completion = COMPLETION_TOKENS
    );
    let _e = span.enter();
    tracing::debug!(target: "hyper_util::client::legacy::connect::http", "connecting to 10.0.0.7:443");
    tracing::debug!(target: "hyper_util::client::legacy::connect::http", "connected to 10.0.0.7:443");
    tracing::trace!(target: "hyper::proto::h1::io", "flushed 812 bytes");
    tracing::debug!(target: "hyper_util::client::legacy::pool", "pooling idle connection for (\"https\", api.example)");
    tracing::info!(finish_reason = "stop", "model replied");
}

fn events(c: &mut Criterion) {
    let mut g = c.benchmark_group("llm_span_with_http_chatter");
    for (id, level) in [("info", Level::INFO), ("trace", Level::TRACE)] {
        let (d, h) = pipeline(level);
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || b.iter(chatty_llm_span))
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = events
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
