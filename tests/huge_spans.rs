//! Huge prompts back to back: each is exported trimmed to the span byte budget, none is
//! dropped because the one before it still fills the queue.

use opentelemetry::Value;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use std::time::Duration;
use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

#[test]
fn a_second_huge_prompt_right_after_a_first_is_trimmed_like_it() {
    // 48 MiB each: two of them are over the queue's 64 MiB byte bound together.
    let huge = "x".repeat(48 << 20);
    let exporter = InMemorySpanExporter::default();
    let layer: LlmLayer<_> = LlmLayerBuilder::from_env_with(|_| None)
        .with_console_exporter(false)
        .with_span_exporter(exporter.clone())
        .try_build()
        .unwrap();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        // Built first, then ended back to back: the second and third end while the first
        // is still queued or being mapped.
        let spans: Vec<_> = (0..3)
            .map(|i| {
                tracing::info_span!(
                    "huge.prompt",
                    llm.model_name = "gpt-4o",
                    input.value = huge.as_str(),
                    n = i
                )
            })
            .collect();
        drop(spans);
    });
    handle.force_flush(Duration::from_secs(60)).unwrap();
    let stats = handle.pipeline_stats();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(stats.dropped("queue_full"), 0, "{stats:?}");
    assert_eq!(spans.len(), 3);
    let marker = format!("…[truncated, {} bytes]", huge.len());
    for span in &spans {
        let input = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "input.value")
            .map(|kv| kv.value.clone());
        let Some(Value::String(input)) = input else {
            panic!("no input.value: {span:?}");
        };
        assert!(input.as_str().ends_with(&marker));
        assert!(input.as_str().len() <= 1 << 20);
    }
}
