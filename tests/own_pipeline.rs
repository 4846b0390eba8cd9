//! A service's own OpenTelemetry pipeline (its provider, its `tracing-opentelemetry` layer)
//! with `OpenInferenceExporter` in front of its destinations.

mod common;
use common::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Value;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_openinference::compose::{OpenInferenceExporter, PlainSpans};
use tracing_openinference::privacy::Privacy;
use tracing_subscriber::prelude::*;

/// The service's work: an HTTP handler span with an LLM call and a tool call under it.
fn handle_request() {
    let http = tracing::info_span!("GET /chat", http.route = "/chat", otel.kind = "server");
    http.in_scope(|| {
        let messages =
            r#"[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]"#;
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai",
            llm.input_messages = messages,
            llm.token_count.prompt = 12_u64,
            llm.token_count.completion = 4_u64,
            session.id = "s-1",
        )
        .in_scope(|| {});
        tracing::info_span!("lookup", tool.name = "weather", city = "Paris").in_scope(|| {});
    });
}

/// Runs [`handle_request`] under the service's own bridge and provider.
fn run(provider: &SdkTracerProvider) {
    let bridge = tracing_opentelemetry::layer().with_tracer(provider.tracer("svc"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(bridge), handle_request);
    // A refusing destination makes the flush report an error; the others are flushed anyway.
    let _ = provider.force_flush();
}

fn quiet(exporter: InMemorySpanExporter) -> OpenInferenceExporter<InMemorySpanExporter> {
    OpenInferenceExporter::new(exporter).with_privacy(Privacy::default())
}

#[test]
fn llm_spans_are_mapped_under_the_service_s_http_span_and_plain_spans_stay_as_they_were() {
    let company = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(quiet(company.clone()))
        .build();
    run(&provider);
    let spans = company.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 3);

    let http = span(&spans, "GET /chat");
    assert!(attr(http, "openinference.span.kind").is_none());
    assert_eq!(str_attr(http, "http.route"), "/chat");
    assert!(
        http.attributes.iter().all(|kv| {
            let k = kv.key.as_str();
            !k.starts_with("gen_ai.") && !k.starts_with("input.") && !k.starts_with("llm.")
        }),
        "{:?}",
        http.attributes
    );

    let chat = span(&spans, "chat");
    assert_eq!(chat.span_context.trace_id(), http.span_context.trace_id());
    assert_eq!(chat.parent_span_id, http.span_context.span_id());
    assert_eq!(str_attr(chat, "openinference.span.kind"), "LLM");
    assert_eq!(
        str_attr(chat, "llm.input_messages.0.message.role"),
        "system"
    );
    assert_eq!(str_attr(chat, "llm.input_messages.1.message.content"), "Hi");
    assert!(attr(chat, "llm.input_messages").is_none(), "not also raw");
    assert_eq!(int_attr(chat, "llm.token_count.prompt"), 12);
    assert_eq!(int_attr(chat, "llm.token_count.total"), 16);
    assert_eq!(int_attr(chat, "gen_ai.usage.input_tokens"), 12);
    assert_eq!(str_attr(chat, "gen_ai.request.model"), "gpt-4o-mini");
    assert!(float_attr(chat, "llm.cost.total") > 0.0);

    let tool = span(&spans, "lookup");
    assert_eq!(str_attr(tool, "openinference.span.kind"), "TOOL");
    assert_eq!(tool.parent_span_id, http.span_context.span_id());
}

#[test]
fn two_destinations_one_for_everything_and_one_for_llm_spans_only() {
    let company = InMemorySpanExporter::default();
    let phoenix = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(company.clone()).build())
        .with_span_processor(
            BatchSpanProcessor::builder(quiet(phoenix.clone()).with_plain_spans(PlainSpans::Drop))
                .build(),
        )
        .build();
    run(&provider);

    let everything = company.get_finished_spans().unwrap();
    assert_eq!(everything.len(), 3);
    assert!(everything
        .iter()
        .all(|s| attr(s, "openinference.span.kind").is_none()));

    let llm_only = phoenix.get_finished_spans().unwrap();
    let mut names: Vec<&str> = llm_only.iter().map(|s| s.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["chat", "lookup"]);
    let http_id = span(&everything, "GET /chat").span_context.span_id();
    assert!(llm_only.iter().all(|s| s.parent_span_id == http_id));
}

#[test]
fn plain_spans_as_chain_are_tagged_as_the_layer_tags_them() {
    let phoenix = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(quiet(phoenix.clone()).with_plain_spans(PlainSpans::AsChain))
        .build();
    run(&provider);
    let spans = phoenix.get_finished_spans().unwrap();
    assert_eq!(
        str_attr(span(&spans, "GET /chat"), "openinference.span.kind"),
        "CHAIN"
    );
}

#[test]
fn the_privacy_settings_apply_to_the_service_s_spans() {
    let phoenix = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(
            OpenInferenceExporter::new(phoenix.clone())
                .with_privacy(Privacy::default().with_hide_input_messages(true)),
        )
        .build();
    run(&provider);
    let spans = phoenix.get_finished_spans().unwrap();
    let chat = span(&spans, "chat");
    assert!(keys_with_prefix(chat, "llm.input_messages")
        .iter()
        .all(|k| !k.ends_with("message.content")
            || attr(chat, k) == Some(&Value::from("__REDACTED__"))));
    assert!(!chat
        .attributes
        .iter()
        .any(|kv| kv.value.as_str().contains("Be brief.")));
}

/// A collector that refuses every batch.
#[derive(Debug)]
struct Refusing;

impl SpanExporter for Refusing {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Err(OTelSdkError::InternalFailure("refused".into()))
    }
}

#[test]
fn a_failing_destination_does_not_stop_the_other() {
    let phoenix = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(OpenInferenceExporter::new(Refusing)).build(),
        )
        .with_span_processor(BatchSpanProcessor::builder(quiet(phoenix.clone())).build())
        .build();
    for _ in 0..3 {
        run(&provider);
    }
    assert_eq!(phoenix.get_finished_spans().unwrap().len(), 9);
}

#[path = "common/otlp_sink.rs"]
mod otlp_sink;

#[test]
fn an_exporter_given_in_code_and_a_configured_endpoint_both_get_the_spans() {
    let sink = otlp_sink::OtlpSink::start(otlp_sink::Mode::Healthy);
    let spans = InMemorySpanExporter::default();
    let builder = quiet_builder()
        .with_otlp_endpoint(sink.endpoint())
        .with_span_exporter(spans.clone());
    let layer: tracing_openinference::LlmLayer<_> = builder.try_build().unwrap();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {});
    });
    // (The SDK's in-memory exporter forgets its spans at shutdown: read them after a flush.)
    handle
        .force_flush(std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(spans.get_finished_spans().unwrap().len(), 1);
    let stats = sink.wait_for_spans(1, std::time::Duration::from_secs(10));
    assert_eq!(stats.named("chat"), 1);
}

#[test]
fn error_keeping_sampling_in_the_service_s_provider_keeps_exactly_the_failing_traces_whole() {
    use tracing_openinference::compose::{KeepErrorsProcessor, KeepErrorsSampler};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let phoenix = InMemorySpanExporter::default();
    let keep = KeepErrorsProcessor::new(opentelemetry_sdk::trace::SimpleSpanProcessor::new(quiet(
        phoenix.clone(),
    )));
    let provider = SdkTracerProvider::builder()
        .with_sampler(KeepErrorsSampler::new(0.0))
        .with_span_processor(keep)
        .build();
    let bridge = tracing_opentelemetry::layer().with_tracer(provider.tracer("svc"));
    let mut propagated_sampled = None;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(bridge), || {
        for _ in 0..20 {
            handle_request();
        }
        let root = tracing::info_span!("GET /failing", http.route = "/failing");
        root.in_scope(|| {
            use opentelemetry::trace::TraceContextExt as _;
            propagated_sampled = Some(root.context().span().span_context().is_sampled());
            tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {
                tracing::error!(error.type = "RateLimited", "429 from the provider");
            });
            tracing::info_span!("cleanup", step = 1).in_scope(|| {});
        });
    });
    let _ = provider.force_flush();
    let spans = phoenix.get_finished_spans().unwrap();
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["GET /failing", "chat", "cleanup"]);
    let root = span(&spans, "GET /failing");
    assert_eq!(str_attr(root, "openinference.sampling.reason"), "error");
    assert!(spans.iter().all(|s| s.span_context.is_sampled()));
    assert!(is_error(span(&spans, "chat")));
    // Downstream services saw the ratio's decision.
    assert_eq!(propagated_sampled, Some(false));
}

mod semantics {
    //! `LlmSemantics` next to the service's own bridge: inheritance, derived values and GenAI
    //! metrics in the own-provider mode, with the layers in either order.

    use super::*;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    use tracing_openinference::compose::LlmSemantics;

    /// A request whose handler span carries the session and the user.
    fn handle_session_request() {
        let http = tracing::info_span!(
            "GET /chat",
            http.route = "/chat",
            otel.kind = "server",
            session.id = "s-7",
            user.id = "u-3",
        );
        http.in_scope(|| {
            tracing::info_span!("plan", step = 1).in_scope(|| {
                tracing::info_span!(
                    "chat",
                    llm.model_name = "gpt-4o-mini",
                    llm.provider = "openai",
                    llm.token_count.prompt = 12_u64,
                    llm.token_count.completion = 4_u64,
                )
                .in_scope(|| {});
            });
            tracing::info_span!("lookup", tool.name = "weather").in_scope(|| {});
            tracing::info_span!(
                "retry",
                llm.model_name = "gpt-4o-mini",
                llm.provider = "openai"
            )
            .in_scope(|| tracing::error!(error.type = "RateLimited", "429 from the provider"));
        });
    }

    struct Run {
        spans: Vec<SpanData>,
        metrics: Vec<ResourceMetrics>,
    }

    /// Runs [`handle_session_request`] with `LlmSemantics` before (`first`) or after the
    /// service's bridge.
    fn run_with_semantics(first: bool) -> Run {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(quiet(spans.clone()))
            .build();
        let exporter = InMemoryMetricExporter::default();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let semantics = LlmSemantics::new().with_meter_provider(&meters);
        let tracer = provider.tracer("svc");
        if first {
            let bridge = tracing_opentelemetry::layer().with_tracer(tracer);
            let subscriber = tracing_subscriber::registry().with(semantics).with(bridge);
            tracing::subscriber::with_default(subscriber, handle_session_request);
        } else {
            let bridge = tracing_opentelemetry::layer().with_tracer(tracer);
            let subscriber = tracing_subscriber::registry().with(bridge).with(semantics);
            tracing::subscriber::with_default(subscriber, handle_session_request);
        }
        provider.force_flush().unwrap();
        meters.force_flush().unwrap();
        Run {
            spans: spans.get_finished_spans().unwrap(),
            metrics: exporter.get_finished_metrics().unwrap(),
        }
    }

    fn check_spans(run: &Run) {
        let spans = &run.spans;
        assert_eq!(
            spans.len(),
            5,
            "{:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        let http = span(spans, "GET /chat");
        let plan = span(spans, "plan");
        let chat = span(spans, "chat");
        let lookup = span(spans, "lookup");
        let retry = span(spans, "retry");
        for s in [plan, chat, lookup, retry] {
            assert_eq!(s.span_context.trace_id(), http.span_context.trace_id());
        }
        assert_eq!(chat.parent_span_id, plan.span_context.span_id());
        assert_eq!(plan.parent_span_id, http.span_context.span_id());
        assert_eq!(lookup.parent_span_id, http.span_context.span_id());
        // Inherited through a plain span in between, once each, as text.
        for s in [chat, lookup, retry] {
            assert_eq!(str_attr(s, "session.id"), "s-7", "{}", s.name);
            assert_eq!(str_attr(s, "user.id"), "u-3", "{}", s.name);
            assert_eq!(str_attr(s, "gen_ai.conversation.id"), "s-7", "{}", s.name);
            let sessions = s
                .attributes
                .iter()
                .filter(|kv| kv.key.as_str() == "session.id")
                .count();
            assert_eq!(sessions, 1, "{}", s.name);
        }
        assert_eq!(str_attr(chat, "openinference.span.kind"), "LLM");
        assert_eq!(int_attr(chat, "llm.token_count.total"), 16);
        assert!(float_attr(chat, "llm.cost.total") > 0.0);
        assert_eq!(str_attr(lookup, "openinference.span.kind"), "TOOL");
        assert!(is_error(retry));
    }

    fn check_metrics(run: &Run) {
        let durations = histogram(&run.metrics, "gen_ai.client.operation.duration");
        let ok: u64 = durations
            .iter()
            .filter(|p| !p.attrs.iter().any(|s| s.starts_with("error.type")))
            .map(|p| p.count)
            .sum();
        let failed: Vec<_> = durations
            .iter()
            .filter(|p| p.attrs.iter().any(|s| s == "error.type=RateLimited"))
            .collect();
        assert_eq!(ok, 1, "{durations:?}");
        assert_eq!(failed.len(), 1, "{durations:?}");
        assert_eq!(failed[0].count, 1);
        assert!(durations.iter().all(|p| p
            .attrs
            .iter()
            .any(|s| s == "gen_ai.request.model=gpt-4o-mini")));
        let usage = histogram(&run.metrics, "gen_ai.client.token.usage");
        let by_type = |ty: &str| -> f64 {
            usage
                .iter()
                .filter(|p| {
                    p.attrs
                        .iter()
                        .any(|s| *s == format!("gen_ai.token.type={ty}"))
                })
                .map(|p| p.sum)
                .sum()
        };
        assert_eq!(by_type("input"), 12.0, "{usage:?}");
        assert_eq!(by_type("output"), 4.0, "{usage:?}");
        let tools = histogram(&run.metrics, "openinference.tool.duration");
        assert_eq!(tools.iter().map(|p| p.count).sum::<u64>(), 1, "{tools:?}");
    }

    #[test]
    fn before_the_bridge_llm_spans_inherit_session_and_user_and_metrics_are_recorded() {
        let run = run_with_semantics(true);
        check_spans(&run);
        check_metrics(&run);
        // Values derived at close reach a bridge that closes after this layer.
        assert_eq!(
            str_attr(span(&run.spans, "retry"), "error.type"),
            "RateLimited"
        );
    }

    #[test]
    fn after_the_bridge_llm_spans_inherit_session_and_user_and_metrics_are_recorded() {
        let run = run_with_semantics(false);
        check_spans(&run);
        check_metrics(&run);
    }

    #[test]
    fn metrics_count_every_call_whatever_the_service_s_sampler_keeps() {
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
            .with_simple_exporter(quiet(spans.clone()))
            .build();
        let exporter = InMemoryMetricExporter::default();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(LlmSemantics::new().with_meter_provider(&meters))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("svc")));
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..5 {
                handle_session_request();
            }
        });
        provider.force_flush().unwrap();
        meters.force_flush().unwrap();
        assert!(spans.get_finished_spans().unwrap().is_empty());
        let metrics = exporter.get_finished_metrics().unwrap();
        let calls: u64 = histogram(&metrics, "gen_ai.client.operation.duration")
            .iter()
            .map(|p| p.count)
            .sum();
        assert_eq!(calls, 10);
    }
}
