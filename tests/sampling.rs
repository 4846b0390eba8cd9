//! Sampling: parent-based ratio, error and slow traces kept whole, bounded buffering.

mod common;
use common::*;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, InMemorySpanExporter, SpanData};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing_openinference::{LlmHandle, LlmLayer, LlmLayerBuilder};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

/// Runs `f` under a layer from `builder`; returns the exported spans and the handle.
fn run(builder: LlmLayerBuilder, f: impl FnOnce()) -> (Vec<SpanData>, LlmHandle) {
    let exporter = InMemorySpanExporter::default();
    let layer: LlmLayer<_> = builder
        .with_queue_capacity(200_000)
        .with_span_exporter(exporter.clone())
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    handle.force_flush(Duration::from_secs(30)).expect("flush");
    (exporter.get_finished_spans().expect("spans"), handle)
}

/// Spans by trace id.
fn by_trace(spans: &[SpanData]) -> BTreeMap<u128, Vec<&SpanData>> {
    let mut map: BTreeMap<u128, Vec<&SpanData>> = BTreeMap::new();
    for s in spans {
        let id = u128::from_be_bytes(s.span_context.trace_id().to_bytes());
        map.entry(id).or_default().push(s);
    }
    map
}

/// A three-span trace: root, child, grandchild.
fn small_trace() {
    let root = tracing::info_span!("root");
    root.in_scope(|| {
        tracing::info_span!("child").in_scope(|| {
            tracing::info_span!("grandchild").in_scope(|| {});
        });
    });
}

#[test]
fn ratio_keeps_its_share_and_every_trace_is_whole() {
    const TRACES: usize = 10_000;
    let (spans, handle) = run(quiet_builder().with_sampling_ratio(0.1), || {
        for _ in 0..TRACES {
            small_trace();
        }
    });
    let traces = by_trace(&spans);
    for (id, spans) in &traces {
        assert_eq!(spans.len(), 3, "trace {id:032x} exported partly");
    }
    let p = 0.1;
    let expected = TRACES as f64 * p;
    let sd = (TRACES as f64 * p * (1.0 - p)).sqrt();
    let kept = traces.len() as f64;
    assert!(
        (kept - expected).abs() <= 3.0 * sd,
        "kept {kept} traces of {TRACES}, expected {expected} ± {}",
        3.0 * sd
    );
    let stats = handle.pipeline_stats();
    assert_eq!(stats.kept("ratio"), traces.len() as u64);
    assert_eq!(
        stats.dropped("sampled_out"),
        (TRACES - traces.len()) as u64 * 3
    );
    assert_eq!(stats.dropped("queue_full"), 0);
    // The export thread took every span it was handed off the queue's byte count.
    assert_eq!(stats.queue_bytes, 0);
    // The root says why it was kept.
    for spans in traces.values() {
        let root = spans.iter().find(|s| s.name == "root").unwrap();
        assert_eq!(str_attr(root, "openinference.sampling.reason"), "ratio");
    }
}

/// Trace ids from a counter, the same sequence in every instance.
#[derive(Debug, Default)]
struct CountingIds(AtomicU64, AtomicU64);

impl IdGenerator for CountingIds {
    fn new_trace_id(&self) -> TraceId {
        let n = self.0.fetch_add(1, Ordering::Relaxed) as u128;
        // Spread the counter over the low bytes, which the ratio algorithm reads.
        TraceId::from(n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1)
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.1.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

#[test]
fn two_layers_with_the_same_ratio_agree() {
    let kept = || {
        let (spans, _) = run(
            quiet_builder()
                .with_sampling_ratio(0.3)
                .with_id_generator(CountingIds::default()),
            || {
                for _ in 0..2_000 {
                    small_trace();
                }
            },
        );
        by_trace(&spans).keys().copied().collect::<BTreeSet<_>>()
    };
    let a = kept();
    let b = kept();
    assert!(a.len() > 400 && a.len() < 800, "kept {}", a.len());
    assert_eq!(a, b);
}

fn remote_parent(sampled: bool) -> opentelemetry::Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7u64),
        flags,
        true,
        TraceState::default(),
    ))
}

fn handle_request(parent: opentelemetry::Context, fail: bool) {
    let span = tracing::info_span!("request");
    let _ = span.set_parent(parent);
    span.in_scope(|| {
        tracing::info_span!("chat", llm.model_name = "gpt-4o").in_scope(|| {
            if fail {
                tracing::error!("upstream failed");
            }
        });
    });
}

#[test]
fn a_sampled_remote_parent_is_kept_at_ratio_zero() {
    let (spans, handle) = run(quiet_builder().with_sampling_ratio(0.0), || {
        handle_request(remote_parent(true), false)
    });
    assert_eq!(spans.len(), 2);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id()
                == remote_parent(true).span().span_context().trace_id())
    );
    assert_eq!(
        str_attr(span(&spans, "request"), "openinference.sampling.reason"),
        "parent"
    );
    assert_eq!(handle.pipeline_stats().kept("parent"), 1);
}

#[test]
fn an_unsampled_remote_parent_is_dropped_at_ratio_one_unless_it_fails() {
    let (spans, _) = run(quiet_builder().with_sampling_ratio(1.0), || {
        handle_request(remote_parent(false), false)
    });
    assert!(spans.is_empty(), "exported {spans:?}");

    let (spans, _) = run(quiet_builder().with_sampling_ratio(1.0), || {
        handle_request(remote_parent(false), true)
    });
    assert_eq!(spans.len(), 2);
    assert_eq!(
        str_attr(span(&spans, "request"), "openinference.sampling.reason"),
        "error"
    );
    assert!(spans.iter().all(|s| s.span_context.is_sampled()));
}

#[test]
fn at_ratio_zero_an_error_in_a_grandchild_keeps_the_whole_trace() {
    let (spans, handle) = run(quiet_builder().with_sampling_ratio(0.0), || {
        // An error-free trace first: nothing of it may be exported.
        small_trace();
        tracing::info_span!("agent").in_scope(|| {
            tracing::info_span!("retrieve", retrieval.documents = tracing::field::Empty)
                .in_scope(|| {});
            tracing::info_span!("plan").in_scope(|| {
                tracing::info_span!("sibling_before").in_scope(|| {});
                tracing::info_span!("tool_call", tool.name = "search")
                    .in_scope(|| tracing::error!(error.type = "Timeout", "search timed out"));
                tracing::info_span!("sibling_after").in_scope(|| {});
            });
        });
    });
    let names: BTreeSet<_> = spans.iter().map(|s| s.name.to_string()).collect();
    let expected: BTreeSet<_> = [
        "agent",
        "retrieve",
        "plan",
        "sibling_before",
        "tool_call",
        "sibling_after",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, expected);
    assert_eq!(by_trace(&spans).len(), 1);
    assert_eq!(
        str_attr(span(&spans, "agent"), "openinference.sampling.reason"),
        "error"
    );
    let stats = handle.pipeline_stats();
    assert_eq!(stats.kept("error"), 1);
    assert_eq!(stats.dropped("sampled_out"), 3);
}

#[test]
fn errors_are_not_rescued_when_keep_errors_is_off() {
    let (spans, _) = run(
        quiet_builder()
            .with_sampling_ratio(0.0)
            .with_keep_errors(false),
        || {
            tracing::info_span!("agent")
                .in_scope(|| tracing::info_span!("x").in_scope(|| tracing::error!("boom")));
        },
    );
    assert!(spans.is_empty());
}

fn slow_trace() {
    tracing::info_span!("slow_root").in_scope(|| {
        tracing::info_span!("work").in_scope(|| std::thread::sleep(Duration::from_millis(60)));
    });
}

#[test]
fn a_slow_trace_is_kept_only_with_a_threshold() {
    let (spans, handle) = run(
        quiet_builder()
            .with_sampling_ratio(0.0)
            .with_keep_slow(Duration::from_millis(30)),
        || {
            small_trace(); // fast: dropped
            slow_trace();
        },
    );
    let names: BTreeSet<_> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["slow_root", "work"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(
        str_attr(span(&spans, "slow_root"), "openinference.sampling.reason"),
        "slow"
    );
    assert_eq!(handle.pipeline_stats().kept("slow"), 1);

    let (spans, _) = run(quiet_builder().with_sampling_ratio(0.0), slow_trace);
    assert!(spans.is_empty());
}

/// A span that is a child of `root` in OpenTelemetry only (a detached task, say), so it can
/// end after `root` does; `tracing` itself keeps a parent open while its children live.
fn detached_child(root: &tracing::Span, name: &'static str) -> tracing::Span {
    let child = match name {
        "late_child" => tracing::info_span!(parent: None, "late_child"),
        _ => tracing::info_span!(parent: None, "late_failure"),
    };
    let _ = child.set_parent(root.context());
    child
}

/// A trace whose root fails, with a detached child that ends after the root, and `meanwhile`
/// run between the two ends.
fn failed_root_then_late_child(meanwhile: impl FnOnce()) {
    let root = tracing::info_span!("kept_root");
    let late = detached_child(&root, "late_child");
    root.in_scope(|| tracing::error!("root failed"));
    drop(root);
    meanwhile();
    late.in_scope(|| {});
    drop(late);
}

/// The names of `spans`, sorted.
fn names(spans: &[SpanData]) -> Vec<String> {
    let names: BTreeSet<_> = spans.iter().map(|s| s.name.to_string()).collect();
    names.into_iter().collect()
}

#[test]
fn spans_ending_after_their_root_follow_its_decision() {
    let (spans, _) = run(quiet_builder().with_sampling_ratio(0.0), || {
        // Kept trace: the error is in the root; a child outlives it.
        failed_root_then_late_child(|| {});
        // Dropped trace: clean root; a child outlives it and then fails.
        let root = tracing::info_span!("dropped_root");
        let late = detached_child(&root, "late_failure");
        drop(root);
        late.in_scope(|| tracing::error!("too late"));
        drop(late);
    });
    assert_eq!(names(&spans), ["kept_root", "late_child"]);
    let ids: BTreeSet<_> = spans
        .iter()
        .map(|s| s.span_context.trace_id())
        .map(|t| t.to_string())
        .collect();
    assert_eq!(ids.len(), 1, "the late child belongs to the root's trace");
}

/// The decisions table replaces a dropped trace's decision before a kept one's: however many
/// clean traces end in between, a kept trace's late span is still exported.
#[test]
fn a_kept_trace_s_late_span_is_kept_after_50_000_dropped_traces() {
    let (spans, handle) = run(quiet_builder().with_sampling_ratio(0.0), || {
        failed_root_then_late_child(|| {
            // Each of these traces writes its decision ("drop") to the table.
            for _ in 0..50_000 {
                tracing::info_span!("clean_root").in_scope(|| {});
            }
        })
    });
    assert_eq!(names(&spans), ["kept_root", "late_child"]);
    assert_eq!(handle.pipeline_stats().kept("error"), 1);
}

#[test]
fn a_flood_stays_within_the_buffer_bound_and_fitting_error_traces_are_kept() {
    const BOUND: usize = 64 * 1024;
    let (spans, handle) = run(
        quiet_builder()
            .with_sampling_ratio(0.0)
            .with_sampling_buffer(BOUND, 100_000),
        || {
            // 500 traces open at once, each with 20 finished children of ~1 KiB.
            let payload = "x".repeat(1_000);
            let roots: Vec<_> = (0..500)
                .map(|_| tracing::info_span!("flood_root"))
                .collect();
            for root in &roots {
                root.in_scope(|| {
                    for _ in 0..20 {
                        tracing::info_span!("flood_child", input.value = payload.as_str())
                            .in_scope(|| {});
                    }
                });
            }
            drop(roots);
            // An error trace that fits is still kept.
            tracing::info_span!("error_root").in_scope(|| {
                tracing::info_span!("ok_child").in_scope(|| {});
                tracing::info_span!("failing_child").in_scope(|| tracing::error!("boom"));
            });
        },
    );
    let stats = handle.pipeline_stats();
    assert!(
        stats.peak_buffer_bytes <= BOUND as u64,
        "peak {} over the bound {BOUND}",
        stats.peak_buffer_bytes
    );
    assert!(
        stats.peak_buffer_bytes > BOUND as u64 / 2,
        "the flood never filled the buffer"
    );
    assert!(stats.dropped("buffer_full") > 0);
    assert!(
        stats
            .traces_dropped
            .iter()
            .any(|(r, n)| *r == "buffer_full" && *n > 0),
        "{stats:?}"
    );
    let names: BTreeSet<_> = spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(
        names,
        ["error_root", "ok_child", "failing_child"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(stats.buffer_bytes, 0);
}

#[test]
fn sampler_variables_are_read() {
    let env = |sampler: &'static str, arg: &'static str| {
        LlmLayerBuilder::from_env_with(move |k| match k {
            "OTEL_TRACES_SAMPLER" => Some(sampler.to_owned()),
            "OTEL_TRACES_SAMPLER_ARG" => Some(arg.to_owned()),
            _ => None,
        })
        .with_console_exporter(false)
    };
    let (spans, _) = run(env("always_off", ""), small_trace);
    assert!(spans.is_empty());
    let (spans, _) = run(env("parentbased_traceidratio", "1.0"), small_trace);
    assert_eq!(spans.len(), 3);
    let err = env("traceidratio", "2")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert_eq!(err, tracing_openinference::BuildError::InvalidRatio(2.0));
}

#[derive(Debug)]
struct UpstreamError;
impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream refused")
    }
}
impl std::error::Error for UpstreamError {}

#[tracing::instrument(err, ret, fields(openinference.span.kind = "TOOL", tool.name = "lookup"))]
fn lookup(city: &str, fail: bool) -> Result<String, String> {
    tracing::info!(attempt = 1u64, cached = false, "looking up");
    if fail {
        Err(format!("no weather for {city}"))
    } else {
        Ok("18°C".to_owned())
    }
}

/// A trace that uses every way of recording: declared and later fields of every type,
/// `otel.*` fields, the helpers, events with fields, an error value and `#[instrument]`.
fn every_kind_of_field() {
    use tracing_openinference::{LlmSpanExt, Message, Usage};
    let root = tracing::info_span!(
        "agent",
        otel.name = "weather agent",
        otel.kind = "server",
        session.id = "s-1",
        user.id = tracing::field::Empty
    );
    root.record("user.id", "u-9");
    root.in_scope(|| {
        let chat = tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai",
            llm.invocation_parameters = r#"{"temperature":0.2}"#,
            retries = 2u64,
            offset = -3i64,
            ratio = 0.5f64,
            streamed = true,
            shape = ?(1, "x"),
            error = tracing::field::Empty,
        );
        chat.in_scope(|| {
            chat.record_input_messages(&[Message::user("Weather in Paris?")])
                .unwrap();
            tracing::debug!(chunk = 3i64, "first chunk");
            chat.record_output_messages(&[Message::assistant("Let me check.")])
                .unwrap();
            chat.record_usage(Usage {
                prompt: 11,
                completion: 7,
                ..Usage::default()
            })
            .unwrap();
            let e = UpstreamError;
            chat.record("error", &e as &(dyn std::error::Error + 'static));
        });
        let _ = lookup("Paris", false);
        let _ = lookup("Atlantis", true);
        tracing::warn!(target: "agent", reason = "no weather", "gave up");
    });
}

/// A value with its type, as an OTLP receiver sees it.
fn typed(value: &opentelemetry::Value) -> String {
    use opentelemetry::Value;
    let kind = match value {
        Value::Bool(_) => "bool",
        Value::I64(_) => "int",
        Value::F64(_) => "double",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        _ => "other",
    };
    format!("{kind}:{value}")
}

/// What a user sees of a span, without ids, times or why its trace was kept.
fn view(spans: &[SpanData]) -> BTreeMap<String, String> {
    let names: std::collections::HashMap<SpanId, String> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    spans
        .iter()
        .map(|s| {
            let mut attrs: Vec<String> = s
                .attributes
                .iter()
                .filter(|kv| kv.key.as_str() != "openinference.sampling.reason")
                .map(|kv| format!("{}={}", kv.key, typed(&kv.value)))
                .collect();
            attrs.sort();
            let events: Vec<String> = s
                .events
                .iter()
                .map(|e| {
                    let mut a: Vec<String> = e
                        .attributes
                        .iter()
                        .map(|kv| format!("{}={}", kv.key, typed(&kv.value)))
                        .collect();
                    a.sort();
                    format!("{}{a:?}", e.name)
                })
                .collect();
            let parent = names.get(&s.parent_span_id).cloned().unwrap_or_default();
            let text = format!(
                "parent={parent} kind={:?} status={:?} sampled={}\nattributes={attrs:#?}\nevents={events:#?}",
                s.span_kind,
                s.status,
                s.span_context.is_sampled()
            );
            let city = attr(s, "input.value").map(|v| format!(" {v}")).unwrap_or_default();
            (format!("{}{city}", s.name), text)
        })
        .collect()
}

#[test]
fn a_rescued_trace_is_exported_as_a_sampled_one_would_be() {
    let (sampled, _) = run(
        quiet_builder().with_sampling_ratio(1.0),
        every_kind_of_field,
    );
    let (rescued, handle) = run(
        quiet_builder().with_sampling_ratio(0.0),
        every_kind_of_field,
    );
    assert_eq!(handle.pipeline_stats().kept("error"), 1);
    assert_eq!(sampled.len(), 4, "{:?}", view(&sampled).keys());
    let (sampled, rescued) = (view(&sampled), view(&rescued));
    assert_eq!(sampled.len(), 4, "{:#?}", sampled.keys());
    assert_same_spans(&sampled, &rescued, "rescued");
}

/// Asserts two exports show the same spans (see [`view`]), span by span.
fn assert_same_spans(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
    label: &str,
) {
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>()
    );
    for (name, seen) in expected {
        assert_eq!(
            seen, &actual[name],
            "span {name}: sampled (left) and {label} (right) differ"
        );
    }
}

/// Every trace gets the same id: its low half decides the ratio's verdict.
#[derive(Debug)]
struct OneTrace(u64, AtomicU64);

impl IdGenerator for OneTrace {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from((0xabcdu128 << 64) | self.0 as u128)
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.1.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

#[test]
fn under_a_ratio_sampled_and_rescued_traces_match_an_always_sampled_one() {
    let (always, _) = run(
        quiet_builder().with_sampling_ratio(1.0),
        every_kind_of_field,
    );
    // Low half 0: sampled by any ratio above 0; the layer holds the fields until the bridge's
    // span is known to be sampled, then hands them over.
    let (by_ratio, handle) = run(
        quiet_builder()
            .with_sampling_ratio(0.5)
            .with_id_generator(OneTrace(0, AtomicU64::new(0))),
        every_kind_of_field,
    );
    assert_eq!(handle.pipeline_stats().kept("ratio"), 1);
    // Low half all ones: sampled out at 0.5, rescued by the failing lookup.
    let (rescued, handle) = run(
        quiet_builder()
            .with_sampling_ratio(0.5)
            .with_id_generator(OneTrace(u64::MAX, AtomicU64::new(0))),
        every_kind_of_field,
    );
    assert_eq!(handle.pipeline_stats().kept("error"), 1);
    let always = view(&always);
    assert_eq!(always.len(), 4);
    for (label, other) in [
        ("sampled by ratio", view(&by_ratio)),
        ("rescued", view(&rescued)),
    ] {
        assert_same_spans(&always, &other, label);
    }
}

#[test]
fn a_span_never_entered_is_exported_whole_under_a_ratio() {
    let fields = || {
        let span = tracing::info_span!("idle", llm.model_name = "m", n = 3u64, ok = true);
        span.record("n", 4u64);
    };
    let (always, _) = run(quiet_builder().with_sampling_ratio(1.0), fields);
    let (by_ratio, _) = run(
        quiet_builder()
            .with_sampling_ratio(0.5)
            .with_id_generator(OneTrace(0, AtomicU64::new(0))),
        fields,
    );
    assert_eq!(view(&always), view(&by_ratio));
    assert_eq!(str_attr(&by_ratio[0], "llm.model_name"), "m");
    // The unnamed fields, with the later value of `n`.
    assert_eq!(
        str_attr(&by_ratio[0], "input.value"),
        r#"{"n":4,"ok":true}"#
    );
}

#[test]
fn sampled_out_traces_on_many_threads_are_decided_each_on_its_own() {
    let (spans, handle) = run(quiet_builder().with_sampling_ratio(0.0), || {
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let dispatch = dispatch.clone();
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..50 {
                            let fail = i % 10 == 0;
                            let root = tracing::info_span!("job", thread = t, i, fail);
                            root.in_scope(|| {
                                for _ in 0..3 {
                                    tracing::info_span!("step").in_scope(|| {});
                                }
                                if fail {
                                    tracing::info_span!("call", llm.model_name = "m")
                                        .in_scope(|| tracing::error!("refused"));
                                }
                            });
                        }
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
    });
    // 4 threads x 5 failing jobs, each kept whole: root, 3 steps, the failing call.
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 20);
    assert!(
        traces.values().all(|t| t.len() == 5),
        "every kept trace is whole"
    );
    assert!(spans.iter().all(|s| s.span_context.is_sampled()));
    let stats = handle.pipeline_stats();
    assert_eq!(stats.kept("error"), 20);
    assert_eq!(stats.dropped("sampled_out"), 4 * 45 * 4);
    assert_eq!(stats.buffer_bytes, 0, "nothing left held");
}

/// A value whose `Debug` logs: formatting it re-enters the layer.
struct Chatty;

impl std::fmt::Debug for Chatty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::warn!("formatting a chatty value");
        f.write_str("Chatty")
    }
}

#[test]
fn an_event_whose_value_logs_does_not_deadlock_a_sampled_out_span() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (spans, _) = run(quiet_builder().with_sampling_ratio(0.0), || {
            tracing::info_span!("root").in_scope(|| {
                let chat = tracing::info_span!(
                    "chat",
                    llm.model_name = "m",
                    detail = tracing::field::Empty
                );
                chat.in_scope(|| {
                    chat.record("detail", tracing::field::debug(Chatty));
                    tracing::info!(value = ?Chatty, "first");
                    tracing::error!(value = ?Chatty, "failed");
                });
            });
        });
        let _ = tx.send(spans);
    });
    let spans = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no deadlock within 20 s");
    let chat = span(&spans, "chat");
    let names: Vec<_> = chat.events.iter().map(|e| e.name.to_string()).collect();
    assert!(names.contains(&"first".to_owned()) && names.contains(&"failed".to_owned()));
    assert!(is_error(chat));
    assert!(str_attr(chat, "input.value").contains("Chatty"), "{chat:?}");
}

/// An exporter that keeps what it received through its shutdown.
#[derive(Debug, Clone, Default)]
struct Keeping(std::sync::Arc<std::sync::Mutex<Vec<SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for Keeping {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

#[test]
fn at_shutdown_an_open_trace_is_exported_if_it_failed_and_counted_as_sampled_out_if_not() {
    let exporter = Keeping::default();
    let layer: LlmLayer<_> = quiet_builder()
        .with_sampling_ratio(0.0)
        .with_span_exporter(exporter.clone())
        .build();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let open_roots = tracing::dispatcher::with_default(&dispatch, || {
        let failing = tracing::info_span!("failing_root");
        failing.in_scope(|| {
            tracing::info_span!("chat", llm.model_name = "gpt-4o-mini")
                .in_scope(|| tracing::error!(error.type = "RateLimited", "429"));
        });
        let clean = tracing::info_span!("clean_root");
        clean.in_scope(|| tracing::info_span!("step").in_scope(|| {}));
        (failing, clean)
    });
    handle.shutdown(Duration::from_secs(10)).expect("shutdown");
    let spans = exporter.0.lock().unwrap().clone();
    assert_eq!(names(&spans), ["chat"]);
    let chat = span(&spans, "chat");
    assert_eq!(str_attr(chat, "error.type"), "RateLimited");
    assert!(chat.span_context.is_sampled());
    assert_eq!(handle.pipeline_stats().dropped("sampled_out"), 1);
    drop(open_roots);
}

#[test]
fn a_kept_trace_under_an_unsampled_remote_parent_keeps_its_parent_and_no_internal_state() {
    let mut propagated = None;
    let mut injected = std::collections::HashMap::new();
    let (spans, _) = run(quiet_builder().with_sampling_ratio(0.0), || {
        let span = tracing::info_span!("request");
        let _ = span.set_parent(remote_parent(false));
        // What an outgoing call made directly in the request span sends on.
        let mut headers = std::collections::HashMap::new();
        tracing_openinference::propagation::inject_context(&span, &mut headers);
        injected = headers;
        span.in_scope(|| {
            let chat = tracing::info_span!("chat", llm.model_name = "gpt-4o");
            // What an outgoing call made inside the LLM span sends on.
            propagated = Some(chat.context().span().span_context().clone());
            chat.in_scope(|| tracing::error!("upstream failed"));
        });
    });
    let request = span(&spans, "request");
    assert_eq!(request.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(request.parent_span_is_remote);
    assert_eq!(
        request.span_context.trace_id(),
        remote_parent(false).span().span_context().trace_id()
    );
    let chat = span(&spans, "chat");
    assert_eq!(chat.parent_span_id, request.span_context.span_id());
    assert!(!chat.parent_span_is_remote);
    for s in &spans {
        assert_eq!(s.span_context.trace_state().header(), "", "{}", s.name);
    }
    let propagated = propagated.expect("ran");
    assert!(!propagated.is_sampled());
    assert_eq!(propagated.trace_state().header(), "");
    let traceparent = injected.get("traceparent").expect("traceparent sent");
    assert!(traceparent.ends_with("-00"), "{traceparent}");
    assert!(
        injected
            .get("tracestate")
            .is_none_or(|t| !t.contains("openinference")),
        "{injected:?}"
    );
}
