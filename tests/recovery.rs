//! Collector faults, measured: a loopback collector refuses, black-holes, answers 500,
//! 429 + `Retry-After`, 400, is slower than the timeout, then becomes healthy, while spans
//! keep coming at a steady rate. For each fault: the time from healthy to the first accepted
//! export, the fresh spans (produced after recovery) lost, copies per span, and
//! produced = received + dropped. Then the threads: dropping the subscriber without
//! `shutdown`, and a `shutdown` that times out, hold nothing.
//!
//! The tests run one at a time (they count the process's threads); the numbers are printed
//! (`cargo test --test recovery -- --nocapture`).

#[path = "common/otlp_sink.rs"]
mod otlp_sink;

use otlp_sink::{Mode, OtlpSink};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_openinference::{LlmHandle, LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spans per burst and the pause between bursts: about 4,000 spans a second.
const BURST: usize = 20;
const PAUSE: Duration = Duration::from_millis(5);

fn pipeline(sink: &OtlpSink, timeout_ms: u64) -> (Dispatch, LlmHandle) {
    let timeout = timeout_ms.to_string();
    let layer: LlmLayer<_> = LlmLayerBuilder::from_env_with(move |k| {
        (k == "OTEL_EXPORTER_OTLP_TIMEOUT").then(|| timeout.clone())
    })
    .with_console_exporter(false)
    .with_otlp_endpoint(sink.endpoint())
    .try_build()
    .expect("valid settings");
    let handle = layer.handle();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        handle,
    )
}

/// Emits spans named `name` for `duration`; returns how many.
fn emit(dispatch: &Dispatch, name: &'static str, duration: Duration) -> u64 {
    let mut n = 0;
    let until = Instant::now() + duration;
    tracing::dispatcher::with_default(dispatch, || {
        while Instant::now() < until {
            for _ in 0..BURST {
                let span = match name {
                    "fault" => tracing::info_span!("fault", llm.model_name = "gpt-4o-mini"),
                    "early" => tracing::info_span!(
                        "early",
                        llm.model_name = "gpt-4o-mini",
                        input.value = BIG.as_str()
                    ),
                    "late" => tracing::info_span!(
                        "late",
                        llm.model_name = "gpt-4o-mini",
                        input.value = BIG.as_str()
                    ),
                    _ => tracing::info_span!("fresh", llm.model_name = "gpt-4o-mini"),
                };
                span.in_scope(|| {});
                n += 1;
            }
            std::thread::sleep(PAUSE);
        }
    });
    n
}

/// A 4 KiB prompt: a few seconds of these outgrow the 32 MiB the collector's line may hold.
static BIG: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| "Retrieval-augmented generation. ".repeat(128));

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Report {
    fault: Mode,
    /// From the switch to healthy to the first request the collector accepted.
    first_export: Option<Duration>,
    produced: u64,
    fresh_produced: u64,
    fresh_received: u64,
    /// Distinct spans the collector accepted.
    received: u64,
    dropped: Vec<(&'static str, u64)>,
    max_copies: u32,
    requests_during_fault: usize,
}

impl Report {
    fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

/// `fault` for `fault_for` while spans come, then healthy for 2 s, then shutdown.
fn scenario(fault: Mode, fault_for: Duration, timeout_ms: u64) -> Report {
    let sink = OtlpSink::start(fault);
    let (dispatch, handle) = pipeline(&sink, timeout_ms);
    let during = emit(&dispatch, "fault", fault_for);
    sink.set_mode(Mode::Healthy);
    let healthy_at = sink.now();
    let fresh = emit(&dispatch, "fresh", Duration::from_secs(2));
    let shutdown = handle.shutdown(Duration::from_secs(20));
    let stats = sink.stats();
    let snapshot = handle.pipeline_stats();
    let first_export = stats
        .arrivals
        .iter()
        .find(|(at, status)| *at >= healthy_at && *status == 200)
        .map(|(at, _)| *at - healthy_at);
    let report = Report {
        fault,
        first_export,
        produced: during + fresh,
        fresh_produced: fresh,
        fresh_received: stats.named("fresh"),
        received: stats.copies.len() as u64,
        dropped: snapshot
            .spans_dropped
            .iter()
            .copied()
            .filter(|(_, n)| *n > 0)
            .collect(),
        max_copies: stats.max_copies(),
        requests_during_fault: stats
            .arrivals
            .iter()
            .filter(|(at, _)| *at < healthy_at)
            .count(),
    };
    println!("{report:?}; shutdown {shutdown:?}");
    assert_eq!(shutdown, Ok(()), "{report:?}");
    report
}

/// What every recovery must show.
fn recovered(r: &Report) {
    let first = r
        .first_export
        .expect("no export after the collector came back");
    assert!(
        first < Duration::from_secs(2),
        "export resumed {first:?} after the collector came back: {r:?}"
    );
    assert_eq!(
        r.fresh_received, r.fresh_produced,
        "fresh spans lost: {r:?}"
    );
    assert!(r.max_copies <= 1, "{r:?}");
    assert_eq!(r.produced, r.received + r.dropped_total(), "{r:?}");
}

#[test]
fn refused_then_healthy() {
    let _one = serial();
    let r = scenario(Mode::Down, Duration::from_secs(3), 10_000);
    recovered(&r);
    assert_eq!(
        r.dropped_total(),
        0,
        "nothing is lost to a 3 s refusal: {r:?}"
    );
}

#[test]
fn unavailable_503_then_healthy() {
    let _one = serial();
    let r = scenario(Mode::Status(503), Duration::from_secs(3), 10_000);
    recovered(&r);
    assert_eq!(r.dropped_total(), 0, "{r:?}");
    // Probes, not a stream of requests: one attempt at a time, at most about 4 a second.
    assert!(r.requests_during_fault <= 16, "{r:?}");
}

#[test]
fn black_hole_then_healthy() {
    let _one = serial();
    let r = scenario(Mode::BlackHole, Duration::from_secs(3), 1_000);
    recovered(&r);
}

/// 500 is not a passing failure (OTLP retries 429, 502, 503, 504): those batches are dropped
/// and counted, and export goes on.
#[test]
fn error_500_drops_and_counts_then_healthy() {
    let _one = serial();
    let r = scenario(Mode::Status(500), Duration::from_secs(2), 10_000);
    recovered(&r);
    assert!(r
        .dropped
        .iter()
        .any(|(k, n)| *k == "export_failed" && *n > 0));
}

#[test]
fn bad_request_400_is_not_retried() {
    let _one = serial();
    let sink = OtlpSink::start(Mode::Status(400));
    let (dispatch, handle) = pipeline(&sink, 10_000);
    let produced = emit(&dispatch, "fault", Duration::from_secs(1));
    let _ = handle.shutdown(Duration::from_secs(10));
    let stats = sink.stats();
    let snapshot = handle.pipeline_stats();
    println!(
        "400: {} requests, {} spans refused, produced {produced}, dropped {:?}",
        stats.requests, stats.rejected_spans, snapshot.spans_dropped
    );
    assert_eq!(stats.rejected_spans, produced, "each span was sent once");
    assert_eq!(snapshot.dropped("export_failed"), produced);
}

#[test]
fn retry_after_is_honoured() {
    let _one = serial();
    let sink = OtlpSink::start(Mode::RetryAfter(429, 2));
    let (dispatch, handle) = pipeline(&sink, 10_000);
    emit(&dispatch, "fault", Duration::from_millis(4500));
    let arrivals = sink.stats().arrivals;
    sink.set_mode(Mode::Healthy);
    assert_eq!(handle.shutdown(Duration::from_secs(20)), Ok(()));
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1].0 - w[0].0).collect();
    println!("429 + Retry-After: 2 → requests at {arrivals:?}, gaps {gaps:?}");
    assert!(arrivals.len() >= 2, "{arrivals:?}");
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(1900)),
        "a retry came before the 2 s the collector asked for: {gaps:?}"
    );
    assert!(arrivals.len() <= 4, "{arrivals:?}");
    let stats = sink.stats();
    assert_eq!(stats.named("fault"), stats.copies.len() as u64);
}

/// A collector slower than the timeout stores what the client gave up on: each span reaches
/// it at most twice (a batch that timed out twice is not sent again).
#[test]
fn slow_past_the_timeout_delivers_each_span_at_most_twice() {
    let _one = serial();
    let r = scenario(
        Mode::Slow(Duration::from_millis(1500)),
        Duration::from_secs(3),
        500,
    );
    assert!(r.max_copies <= 2, "{r:?}");
    assert!(r.received > 0, "{r:?}");
}

/// A refusal long enough to outgrow the line's bound: the oldest waiting spans are dropped
/// (counted as `retry_full`), the fresh ones are not.
#[test]
fn a_long_refusal_drops_the_oldest_waiting_spans_not_the_fresh_ones() {
    let _one = serial();
    let sink = OtlpSink::start(Mode::Down);
    let (dispatch, handle) = pipeline(&sink, 10_000);
    let early = emit(&dispatch, "early", Duration::from_secs(3));
    let late = emit(&dispatch, "late", Duration::from_secs(3));
    sink.set_mode(Mode::Healthy);
    let fresh = emit(&dispatch, "fresh", Duration::from_secs(2));
    assert_eq!(handle.shutdown(Duration::from_secs(30)), Ok(()));
    let stats = sink.stats();
    let snapshot = handle.pipeline_stats();
    println!(
        "long refusal: early {}/{early} received, late {}/{late}, fresh {}/{fresh}; dropped {:?}",
        stats.named("early"),
        stats.named("late"),
        stats.named("fresh"),
        snapshot.spans_dropped
    );
    assert!(snapshot.dropped("retry_full") > 0, "{snapshot:?}");
    assert_eq!(stats.named("fresh"), fresh, "fresh spans lost");
    assert!(
        stats.named("early") < stats.named("late"),
        "the oldest go first"
    );
    let dropped: u64 = snapshot.spans_dropped.iter().map(|(_, n)| n).sum();
    assert_eq!(early + late + fresh, stats.copies.len() as u64 + dropped);
}

/// Threads of this crate alive now (`openinference-*`; `comm` keeps 15 characters).
fn crate_threads() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
                if name.starts_with("openinference") {
                    names.push(name.trim().to_owned());
                }
            }
        }
    }
    names
}

/// Waits up to `limit` for the crate's threads to end; returns how long it took (or `None`).
fn threads_end_within(limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if crate_threads().is_empty() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn dropping_without_shutdown_returns_within_a_second_whatever_the_collector_does() {
    let _one = serial();
    assert!(threads_end_within(Duration::from_secs(5)).is_some());
    for mode in [Mode::BlackHole, Mode::Down, Mode::Healthy] {
        let sink = OtlpSink::start(mode);
        let (dispatch, handle) = pipeline(&sink, 10_000);
        emit(&dispatch, "fault", Duration::from_millis(500));
        drop(handle);
        let started = Instant::now();
        drop(dispatch);
        let took = started.elapsed();
        let ended = threads_end_within(Duration::from_secs(2));
        println!("{mode:?}: drop took {took:?}; threads ended after {ended:?}");
        assert!(
            took <= Duration::from_secs(1),
            "{mode:?}: drop held {took:?}"
        );
        assert!(
            ended.is_some(),
            "{mode:?}: threads left: {:?}",
            crate_threads()
        );
    }
}

#[test]
fn after_a_timed_out_shutdown_the_threads_end_promptly() {
    let _one = serial();
    assert!(threads_end_within(Duration::from_secs(5)).is_some());
    let sink = OtlpSink::start(Mode::BlackHole);
    let (dispatch, handle) = pipeline(&sink, 10_000);
    emit(&dispatch, "fault", Duration::from_millis(500));
    let started = Instant::now();
    let result = handle.shutdown(Duration::from_millis(500));
    let took = started.elapsed();
    let ended = threads_end_within(Duration::from_secs(2));
    println!("shutdown(500 ms) to a black hole: {result:?} after {took:?}; threads ended {ended:?} later");
    assert!(result.is_err(), "the black hole never answered");
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert!(ended.is_some(), "threads left: {:?}", crate_threads());
    drop(dispatch);
}

#[test]
fn dropping_without_shutdown_with_otlp_metrics_returns_within_a_second() {
    let _one = serial();
    let sink = OtlpSink::start(Mode::BlackHole);
    let layer: LlmLayer<_> = LlmLayerBuilder::from_env_with(|k| match k {
        "OTEL_METRICS_EXPORTER" => Some("otlp".to_owned()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("200".to_owned()),
        _ => None,
    })
    .with_console_exporter(false)
    .with_otlp_endpoint(sink.endpoint())
    .try_build()
    .expect("valid settings");
    let handle = layer.handle();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    emit(&dispatch, "fault", Duration::from_millis(500));
    drop(handle);
    let started = Instant::now();
    drop(dispatch);
    let took = started.elapsed();
    let ended = threads_end_within(Duration::from_secs(2));
    // The meter provider's last export, on a thread of its own, ends with the SDK's 5 s
    // shutdown limit.
    let all_ended = ended.or_else(|| threads_end_within(Duration::from_secs(10)));
    println!(
        "with OTLP metrics to a black hole: drop took {took:?}; span threads gone, every \
         crate thread ended after {all_ended:?}"
    );
    assert!(took <= Duration::from_secs(1), "drop held {took:?}");
    assert!(all_ended.is_some(), "threads left: {:?}", crate_threads());
}
