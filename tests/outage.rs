//! The collector misbehaves; the host must not notice, and nothing accepted may be lost.
//!
//! Against a loopback OTLP/HTTP sink (tests/common/otlp_sink.rs) that goes down, turns slow,
//! answers 503, then recovers:
//! - closing a span on the calling thread stays fast (the worst case is printed; the only
//!   assertion is a generous bound that catches a blocking call);
//! - memory stays bounded (peak RSS printed);
//! - every span accepted after recovery arrives;
//! - `LlmHandle::shutdown` delivers every span accepted before it, with no runtime, on a
//!   current-thread runtime and on a multi-thread runtime;
//! - a slow collector holding one batch does not hold up the mapping of the next.

#[path = "common/otlp_sink.rs"]
mod otlp_sink;

use otlp_sink::{peak_rss_kib, rss_kib, Mode, OtlpSink};
use std::time::{Duration, Instant};
use tracing::instrument::WithSubscriber as _;
use tracing::{Dispatch, Instrument as _};
use tracing_openinference::{LlmHandle, LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

/// Generous: only a call that blocks on the network would take this long.
const BLOCKING_BOUND: Duration = Duration::from_secs(1);
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);

fn pipeline_to(sink: &OtlpSink) -> (Dispatch, LlmHandle) {
    let layer: LlmLayer<_> = LlmLayerBuilder::from_env_with(|_| None)
        .with_console_exporter(false)
        .with_otlp_endpoint(sink.endpoint())
        .build();
    let handle = layer.handle();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        handle,
    )
}

fn messages_json() -> String {
    let text = "Retrieval-augmented generation combines search with a model. ".repeat(10);
    serde_json::json!([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text},
        {"role": "assistant", "content": text},
        {"role": "user", "content": text},
    ])
    .to_string()
}

/// One LLM call with a literal span name; returns (time to close, whole span).
macro_rules! llm_call {
    ($name:literal, $messages:expr) => {{
        let whole = Instant::now();
        let span = tracing::info_span!(
            $name,
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai",
            llm.token_count.prompt = tracing::field::Empty,
            llm.token_count.completion = tracing::field::Empty,
            llm.input_messages = $messages,
        );
        {
            let _e = span.enter();
            span.record("llm.token_count.prompt", 812u64);
            span.record("llm.token_count.completion", 96u64);
        }
        let close = Instant::now();
        drop(span);
        (close.elapsed(), whole.elapsed())
    }};
}

#[derive(Debug, Default)]
struct Worst {
    close: Duration,
    whole: Duration,
    spans: u64,
}

impl Worst {
    fn add(&mut self, (close, whole): (Duration, Duration)) {
        self.close = self.close.max(close);
        self.whole = self.whole.max(whole);
        self.spans += 1;
    }
}

/// Emits `llm_call!($name)` for `duration`, in bursts of `burst` with a 1 ms pause.
macro_rules! emit_for {
    ($name:literal, $messages:expr, $duration:expr, $burst:expr, $worst:expr) => {{
        let until = Instant::now() + $duration;
        while Instant::now() < until {
            for _ in 0..$burst {
                $worst.add(llm_call!($name, $messages));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }};
}

/// How the pipeline came back once the collector did.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Recovery {
    /// Until the sink accepted the first export after recovery (None: not within the cap).
    first_export: Option<Duration>,
    /// Until the backlog was drained (no request for 300 ms).
    drained: Duration,
    /// Spans delivered in that time.
    backlog_spans: u64,
}

/// Gives the pipeline the chance to notice the collector is back (its backoff) and drain its
/// backlog: waits for a first accepted export (at most 30 s), then for 300 ms without a
/// request (at most 30 s more). Nothing is asserted on these times; they are printed.
fn wait_for_recovery(sink: &OtlpSink) -> Recovery {
    let start = Instant::now();
    let before = sink.stats();
    let mut first_export = None;
    while start.elapsed() < Duration::from_secs(30) {
        if sink.stats().accepted_requests > before.accepted_requests {
            first_export = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let drain_start = Instant::now();
    let (mut last, mut quiet_since) = (sink.stats().requests, Instant::now());
    while quiet_since.elapsed() < Duration::from_millis(300)
        && drain_start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(10));
        let now = sink.stats().requests;
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    Recovery {
        first_export,
        drained: start.elapsed(),
        backlog_spans: sink.stats().spans - before.spans,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
fn outage_down_slow_503_then_healthy() {
    let sink = OtlpSink::start(Mode::Down);
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    let messages = messages.as_str();
    let rss_start = rss_kib();
    let mut report = Vec::new();
    let mut recovery = None;

    tracing::dispatcher::with_default(&dispatch, || {
        let mut w = Worst::default();
        emit_for!("outage.down", messages, Duration::from_millis(1500), 20, w);
        report.push(("down", w, rss_kib()));

        sink.set_mode(Mode::Slow(Duration::from_millis(300)));
        let mut w = Worst::default();
        emit_for!("outage.slow", messages, Duration::from_millis(1500), 20, w);
        report.push(("slow (300 ms)", w, rss_kib()));

        sink.set_mode(Mode::Status(503));
        let mut w = Worst::default();
        emit_for!(
            "outage.unavailable",
            messages,
            Duration::from_millis(1500),
            20,
            w
        );
        report.push(("503", w, rss_kib()));

        sink.set_mode(Mode::Healthy);
        recovery = Some(wait_for_recovery(&sink));
        let mut w = Worst::default();
        // Paced well below any queue bound: every one of these must be accepted.
        for _ in 0..500 {
            w.add(llm_call!("outage.recovered", messages));
            std::thread::sleep(Duration::from_micros(200));
        }
        report.push(("healthy again", w, rss_kib()));
    });

    let shutdown = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!(
        "RSS at start {:.1} MiB, peak (VmHWM) {:.1} MiB",
        mib(rss_start),
        mib(peak_rss_kib())
    );
    println!("after the collector came back: {recovery:?}");
    for (phase, w, rss) in &report {
        println!(
            "{phase:>14}: {:>6} spans, worst close {:>9.3?}, worst whole span {:>9.3?}, RSS after {:.1} MiB",
            w.spans,
            w.close,
            w.whole,
            mib(*rss)
        );
    }
    println!(
        "sink: {} requests ({} accepted, {} rejected), spans by name: {:?}; shutdown: {shutdown:?}",
        stats.requests, stats.accepted_requests, stats.rejected_requests, stats.names
    );

    for (phase, w, _) in &report {
        assert!(
            w.close < BLOCKING_BOUND && w.whole < BLOCKING_BOUND,
            "closing a span blocked the calling thread during {phase}: {w:?}"
        );
    }
    assert!(
        mib(peak_rss_kib()) < 1024.0,
        "peak RSS {:.1} MiB: the outage buffer is not bounded",
        mib(peak_rss_kib())
    );
    assert_eq!(shutdown, Ok(()), "shutdown after recovery");
    assert_eq!(
        stats.named("outage.recovered"),
        500,
        "every span accepted after recovery must arrive; sink saw {:?}",
        stats.names
    );
}

/// A collector that answers 503 for a moment: the spans of that moment are retried, not lost
/// (issue 6: retries with backoff).
/// A collector that accepts a request but rejects some of its spans (an OTLP partial success):
/// the rejected spans are counted as dropped, the rest as exported.
#[test]
fn a_partial_success_counts_the_rejected_spans() {
    let sink = OtlpSink::start(Mode::Partial(2));
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..10 {
            llm_call!("partial.call", messages.as_str());
        }
    });
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let requests = sink.stats().accepted_requests;
    let stats = handle.pipeline_stats();
    assert!(requests >= 1);
    assert_eq!(stats.dropped("export_failed"), 2 * requests);
    assert_eq!(stats.spans_exported, 10 - 2 * requests);
    let _ = handle.shutdown(SHUTDOWN_LIMIT);
}

#[test]
fn short_503_spell_is_retried() {
    let sink = OtlpSink::start(Mode::Status(503));
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    let messages = messages.as_str();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..300 {
            llm_call!("brief503.during", messages);
        }
    });
    // Make the pipeline try while the collector still refuses, then let it recover.
    let flushed_during_outage = handle.force_flush(Duration::from_secs(2));
    sink.set_mode(Mode::Healthy);
    let shutdown = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!(
        "flush during 503: {flushed_during_outage:?}; shutdown: {shutdown:?}; sink: {} rejected requests, {} accepted, names {:?}",
        stats.rejected_requests, stats.accepted_requests, stats.names
    );
    assert!(stats.rejected_requests > 0, "the sink never saw the outage");
    assert_eq!(
        stats.named("brief503.during"),
        300,
        "spans refused with 503 must be retried after recovery"
    );
}

/// While a slow collector holds one batch, the export thread maps the next: the queue
/// empties before the collector has answered the first request (it did not while the export
/// thread waited for the answer).
#[test]
fn the_next_batch_is_mapped_while_a_slow_collector_holds_one() {
    let sink = OtlpSink::start(Mode::Slow(Duration::from_secs(3)));
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    let messages = messages.as_str();
    tracing::dispatcher::with_default(&dispatch, || {
        // Two default batches of 512.
        for _ in 0..1024 {
            llm_call!("pipelined.slow_sink", messages);
        }
    });
    let started = Instant::now();
    let mut emptied = None;
    while started.elapsed() < Duration::from_secs(2) {
        if handle.pipeline_stats().queue_bytes == 0 {
            emptied = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let answered = sink.stats().requests;
    println!("queue emptied after {emptied:?}; requests answered then: {answered}");
    assert!(emptied.is_some(), "the queue still held spans after 2 s");
    assert_eq!(answered, 0, "the collector had not answered yet");
    assert_eq!(handle.shutdown(SHUTDOWN_LIMIT), Ok(()));
    assert_eq!(sink.stats().named("pipelined.slow_sink"), 1024);
}

#[test]
fn shutdown_delivers_everything_without_a_runtime() {
    let sink = OtlpSink::start(Mode::Healthy);
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    let messages = messages.as_str();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..1000 {
            llm_call!("shutdown.no_runtime", messages);
        }
    });
    let result = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!("shutdown: {result:?}; sink names {:?}", stats.names);
    assert_eq!(result, Ok(()));
    assert_eq!(stats.named("shutdown.no_runtime"), 1000);
}

#[test]
fn shutdown_delivers_everything_with_a_slow_collector() {
    let sink = OtlpSink::start(Mode::Slow(Duration::from_millis(200)));
    let (dispatch, handle) = pipeline_to(&sink);
    let messages = messages_json();
    let messages = messages.as_str();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..1000 {
            llm_call!("shutdown.slow_sink", messages);
        }
    });
    let started = Instant::now();
    let result = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!(
        "shutdown took {:?}: {result:?}; sink names {:?}",
        started.elapsed(),
        stats.names
    );
    assert_eq!(result, Ok(()));
    assert_eq!(stats.named("shutdown.slow_sink"), 1000);
}

async fn traced_call(i: u64) {
    let span = tracing::info_span!(
        "shutdown.async",
        llm.model_name = "gpt-4o-mini",
        llm.provider = "openai",
        llm.token_count.prompt = tracing::field::Empty,
        llm.token_count.completion = tracing::field::Empty,
        call = i,
    );
    async {
        tokio::task::yield_now().await;
        tracing::Span::current()
            .record("llm.token_count.prompt", 812u64)
            .record("llm.token_count.completion", 96u64);
        tokio::task::yield_now().await;
    }
    .instrument(span)
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_delivers_everything_on_a_current_thread_runtime() {
    let sink = OtlpSink::start(Mode::Healthy);
    let (dispatch, handle) = pipeline_to(&sink);
    async {
        for i in 0..1000 {
            traced_call(i).await;
        }
    }
    .with_subscriber(dispatch.clone())
    .await;
    // Called on the runtime's only thread, as `main` does at the end.
    let result = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!("shutdown: {result:?}; sink names {:?}", stats.names);
    assert_eq!(result, Ok(()));
    assert_eq!(stats.named("shutdown.async"), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_everything_on_a_multi_thread_runtime() {
    let sink = OtlpSink::start(Mode::Healthy);
    let (dispatch, handle) = pipeline_to(&sink);
    let tasks: Vec<_> = (0..4u64)
        .map(|t| {
            tokio::spawn(
                async move {
                    for i in 0..250 {
                        traced_call(t * 1000 + i).await;
                    }
                }
                .with_subscriber(dispatch.clone()),
            )
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let result = handle.shutdown(SHUTDOWN_LIMIT);
    let stats = sink.stats();
    println!("shutdown: {result:?}; sink names {:?}", stats.names);
    assert_eq!(result, Ok(()));
    assert_eq!(stats.named("shutdown.async"), 1000);
}
