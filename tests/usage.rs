//! The usage observer and the running totals: every finished LLM call, on the thread that
//! ended it, sampled or not; totals per session and user under concurrency, bounded.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_openinference::usage::{LlmCall, UsageTotals};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// What the observer saw of one call.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    thread: std::thread::ThreadId,
    tokens: u64,
    cost: Option<f64>,
    error: Option<String>,
    session: Option<String>,
    user: Option<String>,
    trace: Option<opentelemetry::trace::TraceId>,
}

fn observing(
    ratio: f64,
) -> (
    LlmLayer<tracing_subscriber::Registry>,
    Arc<Mutex<Vec<Seen>>>,
    UsageTotals,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let totals = UsageTotals::new(2);
    let layer = quiet_builder()
        .with_sampling_ratio(ratio)
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .with_usage_observer(move |call: &LlmCall<'_>| {
            sink.lock().unwrap().push(Seen {
                name: call.name.to_owned(),
                thread: std::thread::current().id(),
                tokens: call.total_tokens,
                cost: call.cost.as_ref().map(|c| c.total),
                error: call.error.map(str::to_owned),
                session: call.session_id.map(str::to_owned),
                user: call.user_id.map(str::to_owned),
                trace: call.trace_id,
            })
        })
        .with_usage_totals(totals.clone())
        .build();
    (layer, seen, totals)
}

fn chat(session: &str, user: &str, prompt: u64) {
    let agent = tracing::info_span!(
        "agent",
        agent.name = "helper",
        session.id = session,
        user.id = user
    );
    agent.in_scope(|| {
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.token_count.prompt = prompt,
            llm.token_count.completion = 10_u64
        )
        .in_scope(|| {});
        tracing::info_span!("tool", tool.name = "search").in_scope(|| {});
    });
}

#[test]
fn each_finished_llm_call_reaches_the_observer_on_its_own_thread_with_inherited_context() {
    let (layer, seen, totals) = observing(1.0);
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        chat("s-1", "u-1", 100);
        tracing::info_span!(
            "failing",
            llm.model_name = "gpt-4o-mini",
            session.id = "s-1"
        )
        .in_scope(|| tracing::error!(error.type = "RateLimited", "429 from the provider"));
    });
    handle.shutdown(Duration::from_secs(5)).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let call = &seen[0];
    assert_eq!(call.name, "chat");
    assert_eq!(call.thread, std::thread::current().id());
    assert_eq!(call.tokens, 110);
    assert!(call.cost.is_some_and(|c| c > 0.0));
    assert_eq!(call.session.as_deref(), Some("s-1"));
    assert_eq!(call.user.as_deref(), Some("u-1"));
    assert!(call.trace.is_some());
    assert_eq!(seen[1].error.as_deref(), Some("RateLimited"));

    let s1 = totals.session("s-1").unwrap();
    assert_eq!((s1.calls, s1.errors, s1.tokens), (2, 1, 110));
    assert_eq!(totals.user("u-1").unwrap().calls, 1);
}

#[test]
fn sampled_out_calls_are_observed_too() {
    let (layer, seen, totals) = observing(0.0);
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..5 {
            chat("s-2", "u-2", 1);
        }
    });
    handle.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 5);
    assert_eq!(totals.session("s-2").unwrap().tokens, 55);
}

#[test]
fn totals_add_up_under_concurrency_and_stay_bounded() {
    let (layer, seen, totals) = observing(1.0);
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for _ in 0..250 {
                        chat("shared", "u-shared", 5);
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let shared = totals.session("shared").unwrap();
    assert_eq!((shared.calls, shared.tokens), (1_000, 15_000));
    assert_eq!(seen.lock().unwrap().len(), 1_000);

    // Capacity 2: a third and fourth session push out the least recently updated ones.
    tracing::dispatcher::with_default(&dispatch, || {
        chat("a", "u-a", 1);
        chat("b", "u-b", 1);
    });
    assert!(totals.session("shared").is_none());
    assert!(totals.session("a").is_some() && totals.session("b").is_some());
    assert!(totals.user("u-shared").is_none());
    drop(dispatch);
    handle.shutdown(Duration::from_secs(5)).unwrap();
}
