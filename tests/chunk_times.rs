//! Time per output chunk: one histogram value per chunk after the first of a streamed call,
//! under the v1.41.0 name by default and the latest name under the opt-in.

mod common;
use common::*;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use std::time::{Duration, Instant};
use tracing_openinference::{LlmLayer, LlmLayerBuilder, LlmSpanExt, StreamGuard};
use tracing_subscriber::prelude::*;

const DEFAULT_NAME: &str = "gen_ai.client.operation.time_per_output_chunk";
const LATEST_NAME: &str = "gen_ai.client.inference.time_per_output_chunk";

/// The points of the duration histogram `name` in the last collection, checked to be `f64`
/// seconds with the duration buckets.
fn histogram(metrics: &[ResourceMetrics], name: &str) -> Vec<HistogramPoint> {
    let points = common::histogram(&metrics[metrics.len().saturating_sub(1)..], name);
    for p in &points {
        assert_eq!(p.unit, "s", "{name}");
        assert!(!p.integers, "{name} is not an f64 histogram");
        assert_eq!(
            p.bounds,
            tracing_openinference::metrics::DURATION_BUCKETS.to_vec()
        );
    }
    points
}

/// Runs `f` under a layer built from `builder`; returns the metrics collected after it.
fn collect(builder: LlmLayerBuilder, f: impl FnOnce()) -> Vec<ResourceMetrics> {
    let exporter = InMemoryMetricExporter::default();
    let layer: LlmLayer<_> = builder
        .with_metric_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let metrics = exporter.get_finished_metrics().unwrap();
    handle.shutdown(Duration::from_secs(10)).unwrap();
    metrics
}

fn chat_span() -> tracing::Span {
    tracing::info_span!(
        "chat",
        llm.model_name = "gpt-4o-mini",
        llm.provider = "openai",
        llm.token_count.prompt = 10u64,
        llm.token_count.completion = 5u64,
    )
}

const CHAT: [&str; 3] = [
    "gen_ai.operation.name=chat",
    "gen_ai.provider.name=openai",
    "gen_ai.request.model=gpt-4o-mini",
];

/// Streams `chunks` chunks `gap` apart through a [`StreamGuard`]; returns how long the span
/// lasted, measured around it.
fn stream(chunks: usize, gap: Duration) -> Duration {
    let started = Instant::now();
    let span = chat_span();
    span.in_scope(|| {
        let mut guard = StreamGuard::new(tracing::Span::current());
        for i in 0..chunks {
            if i > 0 {
                std::thread::sleep(gap);
            }
            guard.chunk();
        }
        guard.finish();
    });
    drop(span);
    started.elapsed()
}

#[test]
fn a_stream_of_n_chunks_gives_n_minus_one_intervals_that_add_up_to_its_length() {
    let mut elapsed = Duration::ZERO;
    let metrics = collect(quiet_builder(), || {
        elapsed = stream(6, Duration::from_millis(15));
    });
    let points = histogram(&metrics, DEFAULT_NAME);
    assert_eq!(points.len(), 1, "{points:?}");
    let p = &points[0];
    assert_eq!(p.attrs, CHAT);
    assert_eq!(p.count, 5);
    // Five sleeps of 15 ms, and no more than the whole span lasted.
    assert!(p.sum >= 0.075, "sum {}", p.sum);
    assert!(
        p.sum <= elapsed.as_secs_f64(),
        "sum {} of {elapsed:?}",
        p.sum
    );
    // Each interval lies in (0.01, 0.02] or above: none in the first bucket.
    assert_eq!(p.buckets[0], 0, "{:?}", p.buckets);
    assert_eq!(p.buckets.iter().sum::<u64>(), 5);
    // The same span's time to first chunk: one value.
    let ttfc = histogram(&metrics, "gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(ttfc[0].count, 1);
}

#[test]
fn mark_chunk_on_the_span_counts_the_same_way() {
    let metrics = collect(quiet_builder(), || {
        let span = chat_span();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(5));
            span.mark_chunk().unwrap();
        }
    });
    let points = histogram(&metrics, DEFAULT_NAME);
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].count, 3);
    assert!(points[0].sum >= 0.015, "sum {}", points[0].sum);
}

#[test]
fn a_call_not_streamed_or_of_one_chunk_gives_no_interval() {
    let metrics = collect(quiet_builder(), || {
        chat_span().in_scope(|| {});
        stream(1, Duration::ZERO);
    });
    let p = histogram(&metrics, DEFAULT_NAME);
    assert!(p.is_empty(), "{p:?}");
    assert!(histogram(&metrics, LATEST_NAME).is_empty());
    let ttfc = histogram(&metrics, "gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(ttfc[0].count, 1);
}

#[test]
fn a_series_never_streamed_exports_no_empty_first_chunk_point() {
    let metrics = collect(quiet_builder(), || {
        chat_span().in_scope(|| {});
    });
    let ttfc = histogram(&metrics, "gen_ai.client.operation.time_to_first_chunk");
    assert!(ttfc.is_empty(), "{ttfc:?}");
    let durations = histogram(&metrics, "gen_ai.client.operation.duration");
    assert_eq!(durations.len(), 1, "{durations:?}");
}

#[test]
fn a_failed_stream_records_its_intervals_under_its_error_type() {
    let metrics = collect(quiet_builder(), || {
        let span = chat_span();
        span.in_scope(|| {
            let mut guard = StreamGuard::new(tracing::Span::current());
            for _ in 0..3 {
                guard.chunk();
            }
            tracing::error!(error.type = "overloaded", "the stream broke");
        });
    });
    let points = histogram(&metrics, DEFAULT_NAME);
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].count, 2, "{points:?}");
    assert!(points[0]
        .attrs
        .contains(&"error.type=overloaded".to_string()));
    let durations = histogram(&metrics, "gen_ai.client.operation.duration");
    let failed = durations
        .iter()
        .find(|p| p.attrs.contains(&"error.type=overloaded".to_string()));
    assert_eq!(failed.map(|p| p.count), Some(1), "{durations:?}");
}

#[test]
fn the_opt_in_uses_the_latest_name_and_the_default_the_v1_41_name() {
    let opted_in = LlmLayerBuilder::from_env_with(|k| {
        (k == "OTEL_SEMCONV_STABILITY_OPT_IN").then(|| "gen_ai_latest_experimental".into())
    })
    .with_console_exporter(false)
    .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default());
    let latest = collect(opted_in, || {
        stream(3, Duration::from_millis(1));
    });
    assert!(histogram(&latest, DEFAULT_NAME).is_empty());
    let p = histogram(&latest, LATEST_NAME);
    assert_eq!((p.len(), p[0].count), (1, 2));
    assert_eq!(p[0].attrs, CHAT);

    let default = collect(quiet_builder(), || {
        stream(3, Duration::from_millis(1));
    });
    assert!(histogram(&default, LATEST_NAME).is_empty());
    assert_eq!(histogram(&default, DEFAULT_NAME)[0].count, 2);
}

#[test]
fn a_long_stream_keeps_every_interval_in_fixed_memory() {
    // 200,000 chunks as fast as they come: far past any per-interval list; the summary on
    // the span stays 15 buckets, and the histogram still gets one value per interval.
    let mut elapsed = Duration::ZERO;
    let metrics = collect(quiet_builder(), || {
        elapsed = stream(200_000, Duration::ZERO);
    });
    let p = histogram(&metrics, DEFAULT_NAME);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].count, 199_999);
    assert!(p[0].sum > 0.0 && p[0].sum <= elapsed.as_secs_f64());
}
