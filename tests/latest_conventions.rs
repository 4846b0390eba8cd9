//! The latest GenAI metric and attribute names under
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`, and the v1.41.0 names by default.

mod common;
use common::*;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use std::time::Duration;
use tracing_openinference::{LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

/// [`points`], after checking every histogram's buckets: durations and token counts each have
/// the conventions' boundaries.
fn checked_points(metrics: &[ResourceMetrics]) -> Points {
    for p in histograms(&metrics[metrics.len().saturating_sub(1)..]) {
        let expected = if p.integers {
            tracing_openinference::metrics::TOKEN_BUCKETS.to_vec()
        } else {
            tracing_openinference::metrics::DURATION_BUCKETS.to_vec()
        };
        assert_eq!(p.bounds, expected, "{}", p.name);
    }
    points(metrics)
}

/// Two chat calls (cache reads and writes, reasoning), one failed, one streamed, a tool call
/// that fails and one that succeeds, an embedding; returns the metric points and the spans.
fn workload(builder: LlmLayerBuilder) -> (Points, Vec<opentelemetry_sdk::trace::SpanData>) {
    let metrics = InMemoryMetricExporter::default();
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let layer: LlmLayer<_> = builder
        .with_console_exporter(false)
        .with_span_exporter(spans.clone())
        .with_metric_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..2 {
            tracing::info_span!(
                "chat",
                llm.model_name = "claude-sonnet-4",
                llm.provider = "anthropic",
                llm.token_count.prompt = 1_000u64,
                llm.token_count.completion = 100u64,
                llm.token_count.prompt_details.cache_read = 600u64,
                gen_ai.usage.cache_creation.input_tokens = 300u64,
                llm.token_count.completion_details.reasoning = 40u64,
            )
            .in_scope(|| {});
        }
        tracing::info_span!(
            "chat",
            llm.model_name = "claude-sonnet-4",
            llm.provider = "anthropic"
        )
        .in_scope(|| tracing::error!(error.type = "overloaded", "529"));
        let stream = tracing::info_span!(
            "stream",
            llm.model_name = "claude-sonnet-4",
            llm.provider = "anthropic",
            llm.token_count.prompt = 5u64,
            llm.token_count.completion = 3u64,
        );
        stream.in_scope(|| {
            let mut guard = tracing_openinference::StreamGuard::new(tracing::Span::current());
            guard.chunk();
            guard.chunk();
            guard.finish();
        });
        drop(stream);
        tracing::info_span!("search", tool.name = "web_search").in_scope(|| {});
        tracing::info_span!("search", tool.name = "web_search")
            .in_scope(|| tracing::error!(error.type = "timeout", "search timed out"));
        tracing::info_span!(
            "CreateEmbeddings",
            embedding.model_name = "text-embedding-3-small",
            llm.provider = "openai",
            llm.token_count.prompt = 8u64,
        )
        .in_scope(|| {});
    });
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let out = checked_points(&metrics.get_finished_metrics().unwrap());
    let spans = spans.get_finished_spans().unwrap();
    handle.shutdown(Duration::from_secs(10)).unwrap();
    (out, spans)
}

fn point(p: &Points, name: &str, attrs: &str) -> (u64, f64) {
    *p.get(&(name.to_string(), attrs.to_string()))
        .unwrap_or_else(|| {
            panic!(
                "no point {name}{{{attrs}}}; have {:#?}",
                p.keys().filter(|k| k.0 == name).collect::<Vec<_>>()
            )
        })
}

fn names(p: &Points) -> Vec<&str> {
    let mut n: Vec<&str> = p.keys().map(|(name, _)| name.as_str()).collect();
    n.dedup();
    n
}

const CHAT: &str =
    "gen_ai.operation.name=chat,gen_ai.provider.name=anthropic,gen_ai.request.model=claude-sonnet-4";
const EMBED: &str = "gen_ai.operation.name=embeddings,gen_ai.provider.name=openai,gen_ai.request.model=text-embedding-3-small";

fn opted_in() -> LlmLayerBuilder {
    LlmLayerBuilder::from_env_with(|k| {
        (k == "OTEL_SEMCONV_STABILITY_OPT_IN").then(|| "http,gen_ai_latest_experimental".into())
    })
}

#[test]
fn by_default_the_v1_41_names_stay_and_no_latest_name_appears() {
    let (p, spans) = workload(quiet_builder());
    assert_eq!(point(&p, "gen_ai.client.operation.duration", CHAT).0, 3);
    let failed = format!("error.type=overloaded,{CHAT}");
    assert_eq!(point(&p, "gen_ai.client.operation.duration", &failed).0, 1);
    assert_eq!(
        point(&p, "gen_ai.client.operation.time_to_first_chunk", CHAT).0,
        1
    );
    assert_eq!(
        point(&p, "gen_ai.client.operation.time_per_output_chunk", CHAT).0,
        1
    );
    let input = format!("{CHAT},gen_ai.token.type=input");
    assert_eq!(point(&p, "gen_ai.client.token.usage", &input), (3, 2_005.0));
    assert_eq!(point(&p, "gen_ai.client.operation.duration", EMBED).0, 1);
    let write = format!("{CHAT},gen_ai.token.type=cache_write");
    assert_eq!(point(&p, "openinference.llm.tokens", &write).0, 600);
    for n in names(&p) {
        assert!(
            !n.starts_with("gen_ai.client.inference") && !n.starts_with("gen_ai.execute_tool"),
            "{n} without the opt-in"
        );
    }
    let chat = span(&spans, "chat");
    assert_eq!(
        int_attr(chat, "gen_ai.usage.cache_creation.input_tokens"),
        300
    );
    assert_eq!(
        int_attr(chat, "llm.token_count.prompt_details.cache_write"),
        300
    );
    assert!(attr(chat, "gen_ai.usage.cache_write.input_tokens").is_none());
}

#[test]
fn the_opt_in_emits_the_latest_names_instead() {
    let (p, spans) = workload(opted_in());
    // Inference durations move to `gen_ai.client.inference.duration`, failures included.
    assert_eq!(point(&p, "gen_ai.client.inference.duration", CHAT).0, 3);
    let failed = format!("error.type=overloaded,{CHAT}");
    assert_eq!(point(&p, "gen_ai.client.inference.duration", &failed).0, 1);
    assert_eq!(
        point(&p, "gen_ai.client.inference.time_to_first_chunk", CHAT).0,
        1
    );
    assert_eq!(
        point(&p, "gen_ai.client.inference.time_per_output_chunk", CHAT).0,
        1
    );
    // Per-call token histograms without a token type; usage counters by modality.
    assert_eq!(
        point(&p, "gen_ai.client.inference.operation.input_tokens", CHAT),
        (3, 2_005.0)
    );
    assert_eq!(
        point(&p, "gen_ai.client.inference.operation.output_tokens", CHAT),
        (3, 203.0)
    );
    let modal = format!("{CHAT},gen_ai.token.modality=unknown");
    for (name, total) in [
        ("gen_ai.client.inference.usage.input_tokens", 2_005),
        ("gen_ai.client.inference.usage.output_tokens", 203),
        (
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            1_200,
        ),
        (
            "gen_ai.client.inference.usage.cache_write.input_tokens",
            600,
        ),
        ("gen_ai.client.inference.usage.reasoning.output_tokens", 80),
    ] {
        assert_eq!(point(&p, name, &modal).0, total, "{name}");
    }
    // Tools: `gen_ai.execute_tool.duration` next to the crate's own tool histogram.
    let tool = "gen_ai.tool.name=web_search";
    assert_eq!(point(&p, "gen_ai.execute_tool.duration", tool).0, 1);
    let tool_failed = format!("error.type=timeout,{tool}");
    assert_eq!(point(&p, "gen_ai.execute_tool.duration", &tool_failed).0, 1);
    assert_eq!(point(&p, "openinference.tool.duration", tool).0, 1);
    // Embeddings are not inference: they keep `gen_ai.client.operation.duration`.
    assert_eq!(point(&p, "gen_ai.client.operation.duration", EMBED).0, 1);
    assert!(!p.contains_key(&("gen_ai.client.operation.duration".into(), CHAT.into())));
    for gone in [
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ] {
        assert!(!names(&p).contains(&gone), "{gone} with the opt-in");
    }
    // The crate's own metrics do not change.
    let write = format!("{CHAT},gen_ai.token.type=cache_write");
    assert_eq!(point(&p, "openinference.llm.tokens", &write).0, 600);

    let chat = span(&spans, "chat");
    assert_eq!(int_attr(chat, "gen_ai.usage.cache_write.input_tokens"), 300);
    assert_eq!(
        int_attr(chat, "llm.token_count.prompt_details.cache_write"),
        300
    );
    assert!(attr(chat, "gen_ai.usage.cache_creation.input_tokens").is_none());
}

#[test]
fn the_builder_switch_wins_over_the_variable() {
    let (p, _) = workload(opted_in().with_gen_ai_latest_conventions(false));
    assert_eq!(point(&p, "gen_ai.client.operation.duration", CHAT).0, 3);
    assert!(!names(&p).contains(&"gen_ai.client.inference.duration"));
    let (p, spans) = workload(quiet_builder().with_gen_ai_latest_conventions(true));
    assert_eq!(point(&p, "gen_ai.client.inference.duration", CHAT).0, 3);
    let chat = span(&spans, "chat");
    assert_eq!(int_attr(chat, "gen_ai.usage.cache_write.input_tokens"), 300);
}

#[test]
fn a_span_recording_the_latest_attribute_name_counts_its_cache_writes() {
    let (p, spans) = {
        let metrics = InMemoryMetricExporter::default();
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let layer: LlmLayer<_> = quiet_builder()
            .with_span_exporter(exporter.clone())
            .with_metric_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let handle = layer.handle();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info_span!(
                "chat",
                llm.model_name = "claude-sonnet-4",
                llm.provider = "anthropic",
                gen_ai.usage.cache_write.input_tokens = 70u64,
            )
            .in_scope(|| {});
        });
        handle.force_flush(Duration::from_secs(10)).unwrap();
        let p = checked_points(&metrics.get_finished_metrics().unwrap());
        (p, exporter.get_finished_spans().unwrap())
    };
    let write = format!("{CHAT},gen_ai.token.type=cache_write");
    assert_eq!(point(&p, "openinference.llm.tokens", &write).0, 70);
    let chat = span(&spans, "chat");
    assert_eq!(
        int_attr(chat, "gen_ai.usage.cache_creation.input_tokens"),
        70
    );
    assert_eq!(
        int_attr(chat, "llm.token_count.prompt_details.cache_write"),
        70
    );
}
