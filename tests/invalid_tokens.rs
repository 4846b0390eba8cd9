//! Token counts past any sane bound (over 10⁹ per call, negative, not a number) stay on the
//! span as given, are neither priced nor added to the token metrics, and are counted in
//! `openinference.llm.tokens.invalid` by reason. Checked through the SDK's in-memory exporters.

mod common;
use common::*;
use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics as A, MetricData as D};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use std::collections::BTreeMap;
use std::time::Duration;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// Runs `spans` under a layer with in-memory span and metric exporters.
fn run(spans: impl FnOnce()) -> (Vec<SpanData>, BTreeMap<(String, String), f64>) {
    let metrics = InMemoryMetricExporter::default();
    let traces = InMemorySpanExporter::default();
    let layer: LlmLayer<_> = quiet_builder()
        .with_metric_reader(PeriodicReader::builder(metrics.clone()).build())
        .with_span_exporter(traces.clone())
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), spans);
    handle.force_flush(Duration::from_secs(10)).expect("flush");
    let mut points = BTreeMap::new();
    let collected = metrics.get_finished_metrics().expect("metrics");
    if let Some(rm) = collected.last() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let key = |attrs: Vec<String>| (m.name().to_string(), attrs.join(","));
                let attrs = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    let mut v: Vec<String> = it
                        .filter(|kv| matches!(kv.key.as_str(), "reason" | "gen_ai.token.type"))
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    v.sort();
                    v
                };
                match m.data() {
                    A::U64(D::Sum(s)) => {
                        for p in s.data_points() {
                            *points.entry(key(attrs(&mut p.attributes()))).or_default() +=
                                p.value() as f64;
                        }
                    }
                    A::F64(D::Sum(s)) => {
                        for p in s.data_points() {
                            *points.entry(key(attrs(&mut p.attributes()))).or_default() +=
                                p.value();
                        }
                    }
                    A::U64(D::Histogram(h)) => {
                        for p in h.data_points() {
                            *points.entry(key(attrs(&mut p.attributes()))).or_default() +=
                                p.sum() as f64;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (traces.get_finished_spans().expect("spans"), points)
}

fn valid_call() {
    tracing::info_span!(
        "valid",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = 100,
        llm.token_count.completion = 20,
    )
    .in_scope(|| {});
}

fn invalid_calls() {
    tracing::info_span!(
        "huge",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = u64::MAX,
        llm.token_count.completion = 7,
    )
    .in_scope(|| {});
    tracing::info_span!(
        "negative",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = 5,
        llm.token_count.completion = -3i64,
    )
    .in_scope(|| {});
    tracing::info_span!(
        "text",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = "many",
    )
    .in_scope(|| {});
    tracing::info_span!(
        "failed",
        llm.model_name = "gpt-4o",
        llm.provider = "openai",
        llm.token_count.prompt = 2_000_000_000u64,
    )
    .in_scope(|| tracing::error!(error.type = "Timeout", "timed out"));
}

fn get(points: &BTreeMap<(String, String), f64>, name: &str, attrs: &str) -> f64 {
    points
        .get(&(name.to_owned(), attrs.to_owned()))
        .copied()
        .unwrap_or(0.0)
}

#[test]
fn invalid_counts_are_counted_by_reason_and_neither_priced_nor_added() {
    let (_, alone) = run(valid_call);
    let (spans, points) = run(|| {
        valid_call();
        invalid_calls();
    });

    let invalid = "openinference.llm.tokens.invalid";
    assert_eq!(get(&points, invalid, "reason=too_large"), 2.0, "{points:?}");
    assert_eq!(get(&points, invalid, "reason=negative"), 1.0);
    assert_eq!(get(&points, invalid, "reason=not_a_number"), 1.0);
    assert_eq!(get(&alone, invalid, "reason=too_large"), 0.0);

    // Only the valid counts are added: 100 + 5 input, 20 + 7 output.
    let tokens = "openinference.llm.tokens";
    assert_eq!(get(&points, tokens, "gen_ai.token.type=input"), 105.0);
    assert_eq!(get(&points, tokens, "gen_ai.token.type=output"), 27.0);
    let usage = "gen_ai.client.token.usage";
    assert_eq!(get(&points, usage, "gen_ai.token.type=input"), 105.0);

    // The cost is the valid call's alone (u64::MAX tokens would add about $2.3e14).
    let cost = get(&points, "openinference.llm.cost", "");
    let valid_cost = get(&alone, "openinference.llm.cost", "");
    assert!(valid_cost > 0.0 && valid_cost < 0.01, "{valid_cost}");
    assert!((cost - valid_cost).abs() < 1e-12, "{cost} vs {valid_cost}");

    // The spans keep what was given, with no cost and no derived total.
    let attr = |name: &str, key: &str| attr(span(&spans, name), key).cloned();
    assert_eq!(
        attr("huge", "llm.token_count.prompt"),
        Some(Value::I64(i64::MAX))
    );
    assert_eq!(
        attr("negative", "llm.token_count.completion"),
        Some(Value::I64(-3))
    );
    assert_eq!(
        attr("text", "llm.token_count.prompt"),
        Some(Value::from("many"))
    );
    for name in ["huge", "negative", "text", "failed"] {
        let s = span(&spans, name);
        assert!(keys_with_prefix(s, "llm.cost.").is_empty(), "{name}");
        assert!(attr(name, "llm.token_count.total").is_none(), "{name}");
    }
    assert!(!keys_with_prefix(span(&spans, "valid"), "llm.cost.").is_empty());
    assert_eq!(
        attr("valid", "llm.token_count.total"),
        Some(Value::I64(120))
    );
}
