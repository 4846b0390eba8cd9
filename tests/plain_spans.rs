//! Plain spans (no field the layer reads): the layer keeps no state for them until they need
//! one, and they must export exactly as if it did: errors, panics, return values, unsigned
//! integers, helpers that make them LLM spans, context passed through them.

mod common;
use common::*;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use std::time::Duration;
use tracing_openinference::{LlmLayer, LlmSpanExt};
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct Refused;
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}
impl std::error::Error for Refused {}

#[tracing::instrument(err)]
fn plain_failure() -> Result<(), Refused> {
    Err(Refused)
}

#[tracing::instrument(ret)]
fn plain_answer() -> u32 {
    42
}

#[test]
fn plain_spans_fail_return_and_keep_unsigned_integers() {
    let spans = capture(|| {
        let _ = plain_failure();
        let _ = plain_answer();
        tracing::info_span!("logged").in_scope(|| tracing::error!("disk full"));
        let caught = std::panic::catch_unwind(|| {
            tracing::info_span!("panicked").in_scope(|| panic!("kaboom"));
        });
        assert!(caught.is_err());
        let counted = tracing::info_span!("counted", rows = 5u64, later = tracing::field::Empty);
        counted.record("later", 7u64);
        drop(counted);
        tracing::info_span!("clean", attempt = 1i64).in_scope(|| tracing::warn!("slow"));
    });

    let failed = span(&spans, "plain_failure");
    assert!(is_error(failed));
    assert_eq!(str_attr(failed, "error.type"), "Error");
    assert!(failed.events.events.iter().any(|e| e.name == "exception"));

    assert_eq!(str_attr(span(&spans, "plain_answer"), "output.value"), "42");

    let logged = span(&spans, "logged");
    assert!(is_error(logged));
    let exception = logged.events.events.iter().find(|e| e.name == "exception");
    let message = exception.and_then(|e| {
        e.attributes
            .iter()
            .find(|kv| kv.key.as_str() == "exception.message")
    });
    assert_eq!(
        message.map(|kv| kv.value.to_string()).as_deref(),
        Some("disk full")
    );

    let panicked = span(&spans, "panicked");
    assert!(is_error(panicked));
    assert_eq!(str_attr(panicked, "error.type"), "panic");

    let counted = span(&spans, "counted");
    // A CHAIN span's own fields become its input; unsigned integers stay numbers.
    assert_eq!(str_attr(counted, "input.value"), r#"{"later":7,"rows":5}"#);

    let clean = span(&spans, "clean");
    assert!(!is_error(clean));
    assert_eq!(str_attr(clean, "input.value"), "1");
    assert_eq!(str_attr(clean, "openinference.span.kind"), "CHAIN");
}

#[test]
fn context_passes_through_plain_spans() {
    let spans = capture(|| {
        tracing::info_span!("request", session.id = "s-9").in_scope(|| {
            tracing::info_span!("plain").in_scope(|| {
                tracing::info_span!("plainer").in_scope(|| {
                    tracing::info_span!("chat", llm.model_name = "gpt-4o").in_scope(|| {});
                });
            });
        });
        tracing::info_span!("alone").in_scope(|| {
            tracing::info_span!("chat_alone", llm.model_name = "gpt-4o").in_scope(|| {});
        });
    });
    for name in ["request", "plain", "plainer", "chat"] {
        assert_eq!(str_attr(span(&spans, name), "session.id"), "s-9", "{name}");
    }
    assert!(attr(span(&spans, "chat_alone"), "session.id").is_none());
    let chat = span(&spans, "chat");
    let plainer = span(&spans, "plainer");
    assert_eq!(chat.parent_span_id, plainer.span_context.span_id());
}

/// A plain span that a helper makes an LLM span measures its duration from its creation.
#[test]
fn a_helper_making_a_plain_span_an_llm_span_keeps_its_start() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let spans_out = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let layer: LlmLayer<_> = quiet_builder()
        .with_span_exporter(spans_out.clone())
        .with_metric_reader(reader)
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let span = tracing::info_span!("call");
        std::thread::sleep(Duration::from_millis(60));
        span.record_semantic("openinference.span.kind", "LLM")
            .unwrap();
        span.record_semantic("llm.model_name", "gpt-4o").unwrap();
        span.record_semantic("llm.token_count.prompt", 10i64)
            .unwrap();
        drop(span);
    });
    handle.force_flush(Duration::from_secs(5)).unwrap();
    let spans = spans_out.get_finished_spans().unwrap();
    let call = span(&spans, "call");
    assert_eq!(str_attr(call, "openinference.span.kind"), "LLM");
    let mut seconds = None;
    for rm in exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm
                .metrics()
                .filter(|m| m.name() == "gen_ai.client.operation.duration")
            {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() {
                    for p in h.data_points() {
                        seconds = Some((p.count(), p.sum()));
                    }
                }
            }
        }
    }
    let (count, sum) = seconds.expect("a duration point");
    assert_eq!(count, 1);
    assert!(
        sum >= 0.06,
        "duration {sum}s, measured from the helper call"
    );
    let _ = handle.shutdown(Duration::from_secs(5));
}

/// Plain spans under a sampled root are exported; under a sampled-out one they are kept
/// only when the trace fails, whole.
#[test]
fn plain_spans_follow_their_trace_at_any_ratio() {
    let work = || {
        tracing::info_span!("root").in_scope(|| {
            tracing::info_span!("step").in_scope(|| {
                tracing::info_span!("inner").in_scope(|| {});
            });
        });
        tracing::info_span!("failing_root").in_scope(|| {
            tracing::info_span!("step2").in_scope(|| {
                tracing::info_span!("inner2").in_scope(|| tracing::error!("boom"));
            });
        });
    };
    let all = capture_with(quiet_builder().with_sampling_ratio(1.0), work);
    assert_eq!(all.len(), 6);
    let none = capture_with(quiet_builder().with_sampling_ratio(0.0), work);
    let mut names: Vec<_> = none.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["failing_root", "inner2", "step2"]);
    let root = span(&none, "failing_root");
    let step = span(&none, "step2");
    assert_eq!(step.parent_span_id, root.span_context.span_id());
    assert!(none.iter().all(|s| s.span_context.is_sampled()));
}

/// A generic function's one callsite serves every type it is used with: an unsigned value
/// there, after others that were not, is still handed over as an integer (at the latest on
/// the 64th span of the thread after it first appears, and from then on always).
fn generic_span<T: tracing::Value>(value: T) {
    tracing::info_span!("generic", n = value, tag = "t").in_scope(|| {});
}

#[test]
fn an_unsigned_value_at_a_generic_callsite_stays_an_integer() {
    let spans = capture(|| {
        for _ in 0..3 {
            generic_span("text");
        }
        for _ in 0..200 {
            generic_span(5u64);
        }
        // A callsite never given all its values is searched every time.
        for i in 0..5u64 {
            tracing::info_span!("partly", a = "x", b = tracing::field::Empty, c = i)
                .in_scope(|| {});
        }
    });
    let generic: Vec<_> = spans.iter().filter(|s| s.name == "generic").collect();
    assert_eq!(generic.len(), 203);
    // A CHAIN span's fields become its input: `"n":5` for an integer, `"n":"5"` for text.
    let typed: Vec<bool> = generic[3..]
        .iter()
        .map(|s| str_attr(s, "input.value") == r#"{"n":5,"tag":"t"}"#)
        .collect();
    let first = typed
        .iter()
        .position(|t| *t)
        .expect("an integer at some point");
    assert!(first < 64, "first integer at {first}");
    assert!(typed[first..].iter().all(|t| *t), "integers from then on");
    for (i, s) in spans.iter().filter(|s| s.name == "partly").enumerate() {
        assert_eq!(
            str_attr(s, "input.value"),
            format!(r#"{{"a":"x","c":{i}}}"#)
        );
    }
}

/// A plain span keeps nothing in the registry; the thread that made it notes it. It must
/// export the same when it fails on another thread, when it closes on another thread, and
/// when a helper reaches it from another thread.
#[test]
fn plain_spans_moved_between_threads_keep_their_errors_and_helpers() {
    let spans = capture(|| {
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        // Made here, failed there, closed here.
        let failed_there = tracing::info_span!("failed_there");
        let moved = failed_there.clone();
        let d = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&d, || {
                moved.in_scope(|| tracing::error!(error.type = "Timeout", "timed out"));
            })
        })
        .join()
        .unwrap();
        drop(failed_there);
        // Made here, failed and closed there.
        let closed_there = tracing::info_span!("closed_there");
        let d = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&d, || {
                closed_there.in_scope(|| tracing::error!("lost connection"));
                drop(closed_there);
            })
        })
        .join()
        .unwrap();
        // Made here, given LLM values there by a helper.
        let helped = tracing::info_span!("helped");
        let moved = helped.clone();
        let d = dispatch.clone();
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&d, || {
                moved
                    .record_semantic("llm.model_name", "gpt-4o")
                    .expect("the layer records it");
            })
        })
        .join()
        .unwrap();
        drop(helped);
        // Unrelated spans made here after the others: still exported as plain.
        tracing::info_span!("after", rows = 3u64, tag = "t").in_scope(|| {});
    });
    let failed = span(&spans, "failed_there");
    assert!(is_error(failed));
    assert_eq!(str_attr(failed, "error.type"), "Timeout");
    let closed = span(&spans, "closed_there");
    assert!(is_error(closed));
    assert_eq!(str_attr(span(&spans, "helped"), "llm.model_name"), "gpt-4o");
    assert!(!is_error(span(&spans, "after")));
    assert_eq!(
        str_attr(span(&spans, "after"), "input.value"),
        r#"{"rows":3,"tag":"t"}"#
    );
}

/// A helper answers that no layer records a span when none does: no `LlmLayer` at all, or
/// one whose filter leaves the span out.
#[test]
fn a_helper_on_a_span_no_layer_records_says_so() {
    use tracing_openinference::RecordError;
    use tracing_subscriber::filter::filter_fn;
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("unrecorded");
        assert!(matches!(
            span.record_semantic("llm.model_name", "m"),
            Err(RecordError::NoLayer)
        ));
    });
    let layer: LlmLayer<_> = quiet_builder()
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .build();
    let handle = layer.handle();
    let filtered = layer.with_filter(filter_fn(|m| m.name() != "left_out"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(filtered), || {
        let left_out = tracing::info_span!("left_out");
        assert!(matches!(
            left_out.record_semantic("llm.model_name", "m"),
            Err(RecordError::NoLayer)
        ));
        let kept = tracing::info_span!("kept");
        assert!(kept.record_semantic("llm.model_name", "m").is_ok());
    });
    let _ = handle.shutdown(Duration::from_secs(5));
}

/// A plain span made on one thread and closed on another leaves its note in the first
/// thread's table; once the registry gives its id to a new span (it reuses a slot with a new
/// generation, which wraps), that note must not pass the new span off as plain: every LLM span
/// the first thread makes afterwards is still recorded.
#[test]
fn an_id_reused_after_a_plain_span_closed_elsewhere_is_not_taken_for_it() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder()
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .with_metric_reader(reader)
        .build();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    const CALLS: u64 = 70_000;
    tracing::dispatcher::with_default(&dispatch, || {
        let away = tracing::info_span!("closed_elsewhere");
        // Spans held open so that the registry's first page on this thread is full, and the
        // next span made here takes the slot freed by the span closed elsewhere.
        let held: Vec<_> = (0..31).map(|_| tracing::info_span!("held")).collect();
        let d = dispatch.clone();
        std::thread::spawn(move || tracing::dispatcher::with_default(&d, || drop(away)))
            .join()
            .unwrap();
        for _ in 0..CALLS {
            tracing::info_span!("chat", llm.model_name = "m", llm.provider = "openai")
                .in_scope(|| {});
        }
        drop(held);
    });
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let mut calls = 0;
    if let Some(rm) = exporter.get_finished_metrics().unwrap().last() {
        for sm in rm.scope_metrics() {
            for m in sm
                .metrics()
                .filter(|m| m.name() == "openinference.llm.calls")
            {
                if let AggregatedMetrics::U64(MetricData::Sum(s)) = m.data() {
                    calls += s.data_points().map(|p| p.value()).sum::<u64>();
                }
            }
        }
    }
    assert_eq!(calls, CALLS);
    let _ = handle.shutdown(Duration::from_secs(10));
}
