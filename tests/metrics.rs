//! GenAI metrics from every recognized span, checked through the SDK's in-memory exporter.

mod common;
use common::*;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use std::time::Duration;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

fn run_workload() -> Vec<ResourceMetrics> {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder().with_metric_reader(reader).build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..3 {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.provider = "openai",
                llm.token_count.prompt = 100,
                llm.token_count.completion = 20,
                llm.token_count.prompt_details.cache_read = 50,
            )
            .in_scope(|| {});
        }
        tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.provider = "openai")
            .in_scope(|| tracing::error!(error.type = "RateLimited", "429"));
        tracing::info_span!("tool", tool.name = "search").in_scope(|| {});
    });
    handle.force_flush(Duration::from_secs(5)).unwrap();
    exporter.get_finished_metrics().unwrap()
}

fn histogram_counts(
    metrics: &[ResourceMetrics],
    name: &str,
) -> Vec<(Vec<String>, u64, f64, Vec<f64>)> {
    let mut out = Vec::new();
    for rm in metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            let attrs = p
                                .attributes()
                                .map(|kv| format!("{}={}", kv.key, kv.value))
                                .collect();
                            out.push((attrs, p.count(), p.sum(), p.bounds().collect()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            let attrs = p
                                .attributes()
                                .map(|kv| format!("{}={}", kv.key, kv.value))
                                .collect();
                            out.push((attrs, p.count(), p.sum() as f64, p.bounds().collect()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn known_workload_gives_exact_counts_sums_and_attributes() {
    let metrics = run_workload();
    let durations = histogram_counts(&metrics, "gen_ai.client.operation.duration");
    let ok: u64 = durations
        .iter()
        .filter(|(a, ..)| !a.iter().any(|s| s.starts_with("error.type")))
        .map(|(_, c, ..)| c)
        .sum();
    let failed: Vec<_> = durations
        .iter()
        .filter(|(a, ..)| a.contains(&"error.type=RateLimited".to_string()))
        .collect();
    assert_eq!(ok, 3);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].1, 1);
    assert!(failed[0]
        .0
        .contains(&"gen_ai.request.model=gpt-4o".to_string()));
    assert!(failed[0]
        .0
        .contains(&"gen_ai.provider.name=openai".to_string()));
    assert!(failed[0]
        .0
        .contains(&"gen_ai.operation.name=chat".to_string()));
    assert_eq!(
        durations[0].3,
        tracing_openinference::metrics::DURATION_BUCKETS.to_vec()
    );

    let tokens = histogram_counts(&metrics, "gen_ai.client.token.usage");
    let input = tokens
        .iter()
        .find(|(a, ..)| a.contains(&"gen_ai.token.type=input".to_string()))
        .expect("input tokens");
    assert_eq!((input.1, input.2), (3, 300.0));
    let output = tokens
        .iter()
        .find(|(a, ..)| a.contains(&"gen_ai.token.type=output".to_string()))
        .expect("output tokens");
    assert_eq!((output.1, output.2), (3, 60.0));
    assert_eq!(
        input.3,
        tracing_openinference::metrics::TOKEN_BUCKETS.to_vec()
    );

    let tools = histogram_counts(&metrics, "openinference.tool.duration");
    assert_eq!(tools.len(), 1);
    assert!(tools[0].0.contains(&"gen_ai.tool.name=search".to_string()));
}
