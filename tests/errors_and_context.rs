//! Errors (err, ERROR events, panics), inherited context, and trace propagation.

mod common;
use common::*;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[derive(Debug)]
struct Timeout;
impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream timed out")
    }
}
impl std::error::Error for Timeout {}

#[tracing::instrument(fields(tool.name = "fetch"), err)]
fn failing_tool(url: &str) -> Result<(), Timeout> {
    Err(Timeout)
}

fn exception_attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    let event = span.events.events.iter().find(|e| e.name == "exception")?;
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[test]
fn err_sets_status_exception_event_and_error_type() {
    let spans = capture(|| {
        let _ = failing_tool("http://x");
    });
    let s = &spans[0];
    assert!(is_error(s));
    assert_eq!(
        exception_attr(s, "exception.message").as_deref(),
        Some("upstream timed out")
    );
    assert_eq!(
        exception_attr(s, "exception.type").as_deref(),
        Some("Error")
    );
    assert_eq!(str_attr(s, "error.type"), "Error");
    assert_eq!(
        s.events
            .events
            .iter()
            .filter(|e| e.name == "exception")
            .count(),
        1
    );
    assert!(
        attr(s, "exception.message").is_none(),
        "exception data lives on the event"
    );
}

#[test]
fn error_events_and_panics_fail_the_span() {
    let spans = capture(|| {
        tracing::info_span!("step", llm.model_name = "m").in_scope(|| {
            tracing::error!(error.type = "RateLimited", "429 from provider");
        });
        let result = std::panic::catch_unwind(|| {
            tracing::info_span!("boom", tool.name = "t").in_scope(|| panic!("kaboom"));
        });
        assert!(result.is_err());
        tracing::info_span!("fine").in_scope(|| tracing::warn!("not an error"));
    });
    let step = span(&spans, "step");
    assert!(is_error(step));
    assert_eq!(str_attr(step, "error.type"), "RateLimited");
    assert_eq!(
        exception_attr(step, "exception.message").as_deref(),
        Some("429 from provider")
    );
    let boom = span(&spans, "boom");
    assert!(is_error(boom));
    assert_eq!(str_attr(boom, "error.type"), "panic");
    assert!(!is_error(span(&spans, "fine")));
}

#[test]
fn context_is_inherited_by_descendants_unless_overridden() {
    let spans = capture(|| {
        tracing::info_span!(
            "root",
            session.id = "s-1",
            user.id = "u-1",
            metadata = r#"{"tier":"pro"}"#,
            tag.tags = r#"["beta"]"#
        )
        .in_scope(|| {
            tracing::info_span!("child", llm.model_name = "m").in_scope(|| {
                tracing::info_span!("grandchild", user.id = "u-2").in_scope(|| {});
            });
        });
        tracing::info_span!("other_trace").in_scope(|| {});
    });
    for name in ["root", "child", "grandchild"] {
        let s = span(&spans, name);
        assert_eq!(str_attr(s, "session.id"), "s-1", "{name}");
        assert_eq!(str_attr(s, "gen_ai.conversation.id"), "s-1", "{name}");
        assert_eq!(str_attr(s, "metadata"), r#"{"tier":"pro"}"#, "{name}");
        assert!(attr(s, "tag.tags").is_some(), "{name}");
    }
    assert_eq!(str_attr(span(&spans, "child"), "user.id"), "u-1");
    assert_eq!(str_attr(span(&spans, "grandchild"), "user.id"), "u-2");
    assert!(attr(span(&spans, "other_trace"), "session.id").is_none());
}

#[test]
fn context_crosses_await_and_spawned_tasks() {
    let spans = capture(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(
            async {
                tokio::task::yield_now().await;
                let child = tracing::info_span!("llm_in_task", llm.model_name = "m");
                tokio::spawn(
                    async {
                        tokio::task::yield_now().await;
                        tracing::info_span!("tool_in_task", tool.name = "t").in_scope(|| {});
                    }
                    .instrument(child),
                )
                .await
                .unwrap();
            }
            .instrument(tracing::info_span!("session_root", session.id = "s-9")),
        );
    });
    assert_eq!(str_attr(span(&spans, "llm_in_task"), "session.id"), "s-9");
    assert_eq!(str_attr(span(&spans, "tool_in_task"), "session.id"), "s-9");
}

#[test]
fn traceparent_in_and_out() {
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut outgoing = HashMap::new();
    let spans = capture(|| {
        let propagator = TraceContextPropagator::new();
        let carrier: HashMap<String, String> =
            [("traceparent".to_string(), incoming.to_string())].into();
        let parent = propagator.extract(&carrier);
        let span = tracing::info_span!("handle_request", llm.model_name = "m");
        span.set_parent(parent).unwrap();
        span.in_scope(|| {
            let cx = tracing::Span::current().context();
            propagator.inject_context(&cx, &mut outgoing);
            assert_eq!(
                cx.span().span_context().trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
        });
    });
    let s = span(&spans, "handle_request");
    assert_eq!(
        s.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(s.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(s.parent_span_is_remote);
    let out = outgoing.get("traceparent").expect("traceparent injected");
    assert!(
        out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{out}"
    );
    assert!(out.contains(&s.span_context.span_id().to_string()));
}

#[test]
fn strict_build_rejects_bad_settings() {
    use tracing_openinference::{BuildError, LlmLayer, LlmLayerBuilder};
    type L = LlmLayer<tracing_subscriber::Registry>;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        LlmLayerBuilder::from_env_with(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let e = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:6006")])
        .try_build::<tracing_subscriber::Registry>();
    assert!(matches!(e, Err(BuildError::InvalidUrl(_))));
    let e = env(&[("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign")])
        .with_otlp_endpoint("http://127.0.0.1:1")
        .try_build::<tracing_subscriber::Registry>();
    assert!(matches!(e, Err(BuildError::InvalidHeader(_))));
    let e = env(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ])
    .try_build::<tracing_subscriber::Registry>();
    assert!(matches!(e, Err(BuildError::InvalidRatio(_))));
    assert!(env(&[])
        .with_sampling_ratio(-0.1)
        .try_build::<tracing_subscriber::Registry>()
        .is_err());
    // The lenient build never panics and still works.
    let layer: L = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")])
        .with_console_exporter(false)
        .build();
    drop(layer);
}

#[test]
fn a_stream_dropped_early_closes_its_span_and_says_so() {
    let spans = capture(|| {
        let finished = tracing::info_span!("finished_stream", llm.model_name = "gpt-4o-mini");
        let mut guard = tracing_openinference::StreamGuard::new(finished.clone());
        guard.chunk();
        guard.finish();
        drop(finished);

        let cut = tracing::info_span!("cut_stream", llm.model_name = "gpt-4o-mini");
        let mut guard = tracing_openinference::StreamGuard::new(cut.clone());
        guard.chunk();
        drop(guard); // the consumer stopped reading
        drop(cut);
    });
    let finished = span(&spans, "finished_stream");
    assert!(attr(finished, "openinference.stream.incomplete").is_none());
    assert!(float_attr(finished, "gen_ai.response.time_to_first_chunk") >= 0.0);
    let cut = span(&spans, "cut_stream");
    assert_eq!(
        attr(cut, "openinference.stream.incomplete"),
        Some(&opentelemetry::Value::Bool(true))
    );
    assert!(float_attr(cut, "gen_ai.response.time_to_first_chunk") >= 0.0);
}
