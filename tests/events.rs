//! Which events become span events: INFO and above by default, one setting for the level,
//! and the events that mean something to the span (errors, returns) at any level.

mod common;
use common::*;
use opentelemetry_sdk::trace::SpanData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_openinference::{BuildError, LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

/// What an HTTP client says inside an LLM call, and one INFO event of the caller's own.
fn llm_call_with_chatter() {
    let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
    let _entered = span.enter();
    tracing::debug!(target: "hyper_util::client::legacy::connect::http", "connecting to 127.0.0.1:443");
    tracing::debug!(target: "hyper_util::client::legacy::pool", "pooling idle connection for (\"https\", api.example)");
    tracing::trace!(target: "reqwest::connect", "starting new connection: https://api.example/");
    tracing::info!(finish_reason = "stop", "model replied");
    tracing::warn!("retrying once");
}

fn event_names(span: &SpanData) -> Vec<String> {
    span.events.iter().map(|e| e.name.to_string()).collect()
}

#[test]
fn dependency_debug_and_trace_events_leave_no_span_event_by_default() {
    let spans = capture(llm_call_with_chatter);
    let chat = span(&spans, "chat");
    assert_eq!(str_attr(chat, "openinference.span.kind"), "LLM");
    assert_eq!(event_names(chat), ["model replied", "retrying once"]);
}

#[test]
fn the_level_is_one_builder_setting() {
    let spans = capture_with(
        quiet_builder().with_event_level(Level::DEBUG),
        llm_call_with_chatter,
    );
    assert_eq!(
        event_names(span(&spans, "chat")),
        [
            "connecting to 127.0.0.1:443",
            "pooling idle connection for (\"https\", api.example)",
            "model replied",
            "retrying once"
        ]
    );
    let spans = capture_with(
        quiet_builder().with_event_level(Level::WARN),
        llm_call_with_chatter,
    );
    assert_eq!(event_names(span(&spans, "chat")), ["retrying once"]);
}

#[test]
fn the_level_is_one_environment_variable() {
    let from_env = |value: &'static str| {
        LlmLayerBuilder::from_env_with(move |k| {
            (k == "OPENINFERENCE_EVENT_LEVEL").then(|| value.to_owned())
        })
        .with_console_exporter(false)
    };
    let spans = capture_with(from_env("trace"), llm_call_with_chatter);
    assert_eq!(event_names(span(&spans, "chat")).len(), 5);
    let spans = capture_with(from_env("Error"), llm_call_with_chatter);
    assert!(event_names(span(&spans, "chat")).is_empty());
    // The builder wins over the variable.
    let spans = capture_with(
        from_env("error").with_event_level(Level::INFO),
        llm_call_with_chatter,
    );
    assert_eq!(event_names(span(&spans, "chat")).len(), 2);

    let err = from_env("loud")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::InvalidValue { var, .. } if var == "OPENINFERENCE_EVENT_LEVEL"),
        "{err:?}"
    );
}

#[derive(Debug)]
struct Refused;
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model refused")
    }
}
impl std::error::Error for Refused {}

#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini"), err)]
fn failing_chat(prompt: &str) -> Result<String, Refused> {
    Err(Refused)
}

#[tracing::instrument(fields(tool.name = "lookup"), ret(level = "debug"))]
fn quiet_tool(key: &str) -> String {
    format!("value of {key}")
}

#[tracing::instrument(fields(tool.name = "probe"), err(level = "debug"))]
fn quietly_failing_tool(key: &str) -> Result<(), Refused> {
    Err(Refused)
}

#[test]
fn errors_and_returns_count_at_any_level() {
    let spans = capture_with(quiet_builder().with_event_level(LevelFilter::OFF), || {
        let _ = failing_chat("hi");
        let _ = quiet_tool("k");
        let _ = quietly_failing_tool("k");
        let span = tracing::info_span!("rerank", reranker.model_name = "r1");
        span.in_scope(|| {
            tracing::debug!(target: "hyper::proto", "flushed 120 bytes");
            // A library's DEBUG event with an error field is chatter, not the span's error.
            tracing::debug!(
                target: "hyper_util::client::legacy::pool",
                error = "connection closed",
                "pooled connection was not ready"
            );
            tracing::error!("index unavailable");
        });
    });
    let chat = span(&spans, "failing_chat");
    assert!(is_error(chat));
    assert_eq!(str_attr(chat, "error.type"), "Error");
    let exception = chat
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("exception event");
    assert!(exception
        .attributes
        .iter()
        .any(|kv| kv.value.as_str() == "the model refused"));

    let tool = span(&spans, "quiet_tool");
    assert_eq!(str_attr(tool, "output.value"), "value of k");
    assert!(!is_error(tool));

    // The `err` event at DEBUG still reaches the span (the error's exception event).
    let probe = span(&spans, "quietly_failing_tool");
    assert!(
        probe.events.iter().any(|e| e.name == "exception"),
        "{:?}",
        event_names(probe)
    );

    let rerank = span(&spans, "rerank");
    assert!(is_error(rerank));
    // The ERROR event itself and the exception event the error adds; not the DEBUG one.
    assert_eq!(event_names(rerank), ["index unavailable", "exception"]);
}

#[test]
fn a_kept_sampled_out_trace_records_the_same_events() {
    // Ratio 0 with errors kept: the trace is held by the layer until its root fails.
    let spans = capture_with(quiet_builder().with_sampling_ratio(0.0), || {
        let root = tracing::info_span!("agent", agent.name = "a");
        root.in_scope(|| {
            llm_call_with_chatter();
            tracing::error!("gave up");
        });
    });
    assert_eq!(
        event_names(span(&spans, "chat")),
        ["model replied", "retrying once"]
    );
    assert!(is_error(span(&spans, "agent")));
}

/// Counts the events a layer beside the `LlmLayer` sees.
struct Counting(Arc<AtomicUsize>);
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn other_layers_still_see_every_event() {
    let seen = Arc::new(AtomicUsize::new(0));
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let layer: LlmLayer<_> = quiet_builder().with_span_exporter(exporter.clone()).build();
    let handle = layer.handle();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(Counting(Arc::clone(&seen)));
    tracing::subscriber::with_default(subscriber, llm_call_with_chatter);
    handle
        .force_flush(std::time::Duration::from_secs(10))
        .expect("flush");
    assert_eq!(seen.load(Ordering::Relaxed), 5);
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(event_names(span(&spans, "chat")).len(), 2);
}

/// A `fmt` writer into a shared buffer.
#[derive(Clone, Default)]
struct Printed(Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn readme_composition_with_fmt_and_env_filter() {
    use tracing_subscriber::{fmt, EnvFilter};
    let printed = Printed::default();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let llm: LlmLayer<_> = quiet_builder().with_span_exporter(exporter.clone()).build();
    let handle = llm.handle();
    let console = printed.clone();
    // As in the README, with RUST_LOG given as a string and `fmt` printing into a buffer.
    let subscriber = tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(move || console.clone())
                .with_filter(EnvFilter::new("info,hyper_util=debug")),
        )
        .with(llm);
    tracing::subscriber::with_default(subscriber, llm_call_with_chatter);
    handle
        .force_flush(std::time::Duration::from_secs(10))
        .expect("flush");

    let text = String::from_utf8(printed.0.lock().unwrap().clone()).unwrap();
    // The console prints what RUST_LOG asks for: hyper_util's DEBUG events, not reqwest's TRACE.
    assert!(text.contains("connecting to 127.0.0.1:443"), "{text}");
    assert!(text.contains("model replied"), "{text}");
    assert!(!text.contains("starting new connection"), "{text}");
    // The LLM span has the INFO and WARN events only.
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(
        event_names(span(&spans, "chat")),
        ["model replied", "retrying once"]
    );
}
