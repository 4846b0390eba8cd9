//! GenAI metrics from every recognized span, checked through the SDK's in-memory exporter.

mod common;
use common::*;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use std::time::Duration;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

fn run_workload() -> Vec<ResourceMetrics> {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder().with_metric_reader(reader).build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..3 {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.provider = "openai",
                llm.token_count.prompt = 100,
                llm.token_count.completion = 20,
                llm.token_count.prompt_details.cache_read = 50,
            )
            .in_scope(|| {});
        }
        tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.provider = "openai")
            .in_scope(|| tracing::error!(error.type = "RateLimited", "429"));
        tracing::info_span!("tool", tool.name = "search").in_scope(|| {});
    });
    handle.force_flush(Duration::from_secs(5)).unwrap();
    exporter.get_finished_metrics().unwrap()
}

#[test]
fn known_workload_gives_exact_counts_sums_and_attributes() {
    let metrics = run_workload();
    let durations = histogram(&metrics, "gen_ai.client.operation.duration");
    let ok: u64 = durations
        .iter()
        .filter(|p| !p.attrs.iter().any(|s| s.starts_with("error.type")))
        .map(|p| p.count)
        .sum();
    let failed: Vec<_> = durations
        .iter()
        .filter(|p| p.attrs.contains(&"error.type=RateLimited".to_string()))
        .collect();
    assert_eq!(ok, 3);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].count, 1);
    assert!(failed[0]
        .attrs
        .contains(&"gen_ai.request.model=gpt-4o".to_string()));
    assert!(failed[0]
        .attrs
        .contains(&"gen_ai.provider.name=openai".to_string()));
    assert!(failed[0]
        .attrs
        .contains(&"gen_ai.operation.name=chat".to_string()));
    assert_eq!(
        durations[0].bounds,
        tracing_openinference::metrics::DURATION_BUCKETS.to_vec()
    );

    let tokens = histogram(&metrics, "gen_ai.client.token.usage");
    let input = tokens
        .iter()
        .find(|p| p.attrs.contains(&"gen_ai.token.type=input".to_string()))
        .expect("input tokens");
    assert_eq!((input.count, input.sum), (3, 300.0));
    let output = tokens
        .iter()
        .find(|p| p.attrs.contains(&"gen_ai.token.type=output".to_string()))
        .expect("output tokens");
    assert_eq!((output.count, output.sum), (3, 60.0));
    assert_eq!(
        input.bounds,
        tracing_openinference::metrics::TOKEN_BUCKETS.to_vec()
    );

    let tools = histogram(&metrics, "openinference.tool.duration");
    assert_eq!(tools.len(), 1);
    assert!(tools[0]
        .attrs
        .contains(&"gen_ai.tool.name=search".to_string()));
}

/// A mixed workload: two models, cache reads, a failed call, a streamed call, a tool and a
/// retrieval, run at `ratio`.
fn mixed_workload(ratio: f64) -> Vec<ResourceMetrics> {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder()
        .with_sampling_ratio(ratio)
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .with_metric_reader(reader)
        .build();
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..10u64 {
            tracing::info_span!("agent").in_scope(|| {
                tracing::info_span!(
                    "chat",
                    llm.model_name = "gpt-4o-mini",
                    llm.provider = "openai",
                    llm.token_count.prompt = 1_000 + i,
                    llm.token_count.completion = 50u64,
                    llm.token_count.prompt_details.cache_read = 400u64,
                )
                .in_scope(|| {});
                tracing::info_span!("search", tool.name = "web_search").in_scope(|| {});
            });
        }
        for _ in 0..4 {
            tracing::info_span!(
                "chat",
                llm.model_name = "claude-3-5-sonnet",
                llm.provider = "anthropic",
                llm.token_count.prompt = 200u64,
                llm.token_count.completion = 80u64,
                llm.token_count.completion_details.reasoning = 30u64,
            )
            .in_scope(|| {});
        }
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai",
            llm.token_count.prompt = 10u64
        )
        .in_scope(|| tracing::error!(error.type = "RateLimitError", "429 Too Many Requests"));
        let stream = tracing::info_span!(
            "stream",
            llm.model_name = "gpt-4o-mini",
            llm.provider = "openai",
            llm.token_count.prompt = 5u64,
            llm.token_count.completion = 3u64,
        );
        stream.in_scope(|| {
            let mut guard = tracing_openinference::StreamGuard::new(tracing::Span::current());
            for _ in 0..3 {
                guard.chunk();
            }
            guard.finish();
        });
        drop(stream);
        tracing::info_span!("retrieve", retrieval.documents = %serde_json::json!([
            {"id": "a", "content": "x", "score": 0.9},
            {"id": "b", "content": "y", "score": 0.5},
        ]))
        .in_scope(|| {});
    });
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let out = exporter.get_finished_metrics().unwrap();
    handle.shutdown(Duration::from_secs(10)).unwrap();
    out
}

fn point(
    p: &std::collections::BTreeMap<(String, String), (u64, f64)>,
    name: &str,
    attrs: &str,
) -> (u64, f64) {
    *p.get(&(name.to_string(), attrs.to_string()))
        .unwrap_or_else(|| {
            panic!(
                "no point {name}{{{attrs}}}; have {:#?}",
                p.keys().filter(|k| k.0 == name).collect::<Vec<_>>()
            )
        })
}

#[test]
fn mixed_workload_gives_exact_points() {
    let p = points(&mixed_workload(1.0));
    let openai =
        "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o-mini";
    let anthropic =
        "gen_ai.operation.name=chat,gen_ai.provider.name=anthropic,gen_ai.request.model=claude-3-5-sonnet";
    // Durations: 10 + 1 streamed ok calls, 1 failed, 4 anthropic.
    assert_eq!(point(&p, "gen_ai.client.operation.duration", openai).0, 11);
    assert_eq!(
        point(
            &p,
            "gen_ai.client.operation.duration",
            &format!("error.type=RateLimitError,{openai}")
        )
        .0,
        1
    );
    assert_eq!(
        point(&p, "gen_ai.client.operation.duration", anthropic).0,
        4
    );
    // Token usage: input sums 10*1000 + 45 + 10 (failed call) + 5 (stream).
    assert_eq!(
        point(
            &p,
            "gen_ai.client.token.usage",
            &format!("{openai},gen_ai.token.type=input")
        ),
        (12, 10_060.0)
    );
    assert_eq!(
        point(
            &p,
            "gen_ai.client.token.usage",
            &format!("{openai},gen_ai.token.type=output")
        ),
        (11, 503.0)
    );
    assert_eq!(
        point(
            &p,
            "gen_ai.client.token.usage",
            &format!("{anthropic},gen_ai.token.type=output")
        ),
        (4, 320.0)
    );
    // The crate's token counter carries cache reads and reasoning separately.
    let tok_attrs = |model: &str, provider: &str, ty: &str| {
        format!("gen_ai.operation.name=chat,gen_ai.provider.name={provider},gen_ai.request.model={model},gen_ai.token.type={ty}")
    };
    assert_eq!(
        point(
            &p,
            "openinference.llm.tokens",
            &tok_attrs("gpt-4o-mini", "openai", "cache_read")
        )
        .0,
        4_000
    );
    assert_eq!(
        point(
            &p,
            "openinference.llm.tokens",
            &tok_attrs("claude-3-5-sonnet", "anthropic", "reasoning")
        )
        .0,
        120
    );
    // Cost is counted per model and is positive for known models.
    let cost = point(&p, "openinference.llm.cost", openai).1;
    assert!(cost > 0.0, "cost {cost}");
    // Time to first chunk: the one streamed call.
    assert_eq!(
        point(&p, "gen_ai.client.operation.time_to_first_chunk", openai).0,
        1
    );
    // Tools and retrievals.
    assert_eq!(
        point(
            &p,
            "openinference.tool.duration",
            "gen_ai.tool.name=web_search"
        )
        .0,
        10
    );
    assert_eq!(point(&p, "openinference.retrieval.documents", ""), (1, 2.0));
    // Self-observation: every span exported, none dropped.
    let spans = 10 * 3 + 4 + 1 + 1 + 1;
    assert_eq!(point(&p, "openinference.spans.exported", "").0, spans);
    assert_eq!(
        point(&p, "openinference.spans.dropped", "reason=queue_full").0,
        0
    );
    assert_eq!(
        point(&p, "openinference.traces.kept", "reason=ratio").0,
        10 + 4 + 1 + 1 + 1
    );
}

#[test]
fn metrics_are_identical_at_ratio_zero_and_one() {
    let genai = |p: std::collections::BTreeMap<(String, String), (u64, f64)>| {
        p.into_iter()
            .filter(|((name, _), _)| {
                !name.starts_with("openinference.spans")
                    && !name.starts_with("openinference.traces")
                    && !name.starts_with("openinference.buffer")
            })
            .collect::<Vec<_>>()
    };
    let all = genai(points(&mixed_workload(1.0)));
    let none = genai(points(&mixed_workload(0.0)));
    assert!(all.len() > 10);
    // Counts and integer sums are equal; a cost, a float summed per batch of calls, may
    // differ in its last bits with how the calls were batched (collections on other threads
    // record what a thread gathered so far).
    assert_eq!(
        all.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        none.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for ((key, (count, sum)), (_, (count0, sum0))) in all.iter().zip(&none) {
        assert_eq!(count, count0, "{key:?}");
        if key.0 == "openinference.llm.cost" {
            assert!(
                (sum - sum0).abs() <= sum.abs() * 1e-12,
                "{key:?}: {sum} vs {sum0}"
            );
        } else {
            assert_eq!(sum, sum0, "{key:?}");
        }
    }
}

#[test]
fn model_names_past_the_limit_fold_into_other() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder().with_metric_reader(reader).build();
    let handle = layer.handle();
    let limit = tracing_openinference::metrics::MAX_LABEL_VALUES;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..limit + 36 {
            let model = format!("finetune-{i}");
            tracing::info_span!(
                "chat",
                llm.model_name = model.as_str(),
                llm.provider = "openai"
            )
            .in_scope(|| {});
        }
    });
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let p = points(&exporter.get_finished_metrics().unwrap());
    let models: std::collections::BTreeSet<String> = p
        .keys()
        .filter(|(name, _)| name == "gen_ai.client.operation.duration")
        .filter_map(|(_, attrs)| {
            attrs
                .split(',')
                .find_map(|a| a.strip_prefix("gen_ai.request.model="))
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(models.len(), limit + 1);
    assert!(models.contains("_OTHER"));
    let other = point(
        &p,
        "gen_ai.client.operation.duration",
        "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=_OTHER",
    );
    assert_eq!(other.0, 36);
}

/// `n` chat calls to gpt-4o (openai) of 10 input and 1 output tokens, under `dispatch`.
fn gpt_4o_calls(dispatch: &tracing::Dispatch, n: u64) {
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..n {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.provider = "openai",
                llm.token_count.prompt = 10,
                llm.token_count.completion = 1,
            )
            .in_scope(|| {});
        }
    })
}

/// A metric collection alone, as a periodic reader or a Prometheus scrape makes it: the export
/// thread is not flushed first.
fn collect(handle: &tracing_openinference::LlmHandle) {
    handle
        .meter_provider()
        .expect("metrics are on")
        .force_flush()
        .unwrap();
}

/// LLM-span values are gathered per thread and recorded in batches; a collection still sees
/// every span ended before it, on threads that are alive (mid-batch) and on threads gone.
#[test]
fn every_collection_sees_spans_ended_on_other_threads() {
    every_collection_sees_spans_ended_on_other_threads_with(false);
}

/// The same with an export thread, to which full batches are handed to record.
#[test]
fn every_collection_sees_spans_ended_on_other_threads_with_an_export_thread() {
    every_collection_sees_spans_ended_on_other_threads_with(true);
}

fn every_collection_sees_spans_ended_on_other_threads_with(export_thread: bool) {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let mut builder = quiet_builder().with_metric_reader(reader);
    if export_thread {
        builder =
            builder.with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default());
    }
    let layer: LlmLayer<_> = builder.build();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let series =
        "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o";
    let input = format!("{series},gen_ai.token.type=input");
    // 45 spans per thread and round: one full batch of 32 recorded, 13 still gathered.
    let round = |dispatch: &tracing::Dispatch| gpt_4o_calls(dispatch, 45);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut go = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        go.push(go_tx);
        let (dispatch, done_tx) = (dispatch.clone(), done_tx.clone());
        workers.push(std::thread::spawn(move || {
            round(&dispatch);
            done_tx.send(()).unwrap();
            go_rx.recv_timeout(Duration::from_secs(30)).unwrap();
            round(&dispatch);
        }));
    }
    for _ in 0..3 {
        done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    }
    collect(&handle);
    let p = points(&exporter.get_finished_metrics().unwrap());
    assert_eq!(point(&p, "openinference.llm.calls", series).0, 135);
    assert_eq!(point(&p, "openinference.llm.tokens", &input).0, 1350);
    assert_eq!(
        point(&p, "gen_ai.client.token.usage", &input),
        (135, 1350.0)
    );
    assert_eq!(point(&p, "gen_ai.client.operation.duration", series).0, 135);

    go.iter().for_each(|g| g.send(()).unwrap());
    workers.into_iter().for_each(|w| w.join().unwrap());
    collect(&handle);
    let p = points(&exporter.get_finished_metrics().unwrap());
    assert_eq!(point(&p, "openinference.llm.calls", series).0, 270);
    assert_eq!(
        point(&p, "gen_ai.client.token.usage", &input),
        (270, 2700.0)
    );
    let _ = handle.shutdown(Duration::from_secs(5));
}

/// Four threads end 3,000 LLM spans each (so full batches are handed to the export thread,
/// wake it, and at times find it behind), while another thread collects without pause: each
/// instrument's count only grows from one collection to the next, and the last collection,
/// once the spans have ended, has every call in every instrument. (A collection made while a
/// batch is being recorded may see it in one instrument before another: the SDK reads its
/// instruments one by one.)
#[test]
fn collections_during_a_burst_see_counts_grow_to_every_call() {
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder()
        .with_metric_reader(reader)
        .with_sampling_ratio(0.0)
        .with_keep_errors(false)
        .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
        .build();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let series =
        "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=gpt-4o";
    let input = format!("{series},gen_ai.token.type=input");
    let (threads, spans) = (4u64, 3_000u64);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (handle, done) = (handle.clone(), std::sync::Arc::clone(&done));
        std::thread::spawn(move || {
            let mut collections = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !done.load(std::sync::atomic::Ordering::Relaxed)
                && std::time::Instant::now() < deadline
            {
                collect(&handle);
                collections += 1;
            }
            collections
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || gpt_4o_calls(&dispatch, spans))
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(collector.join().unwrap() > 0);
    collect(&handle);
    let collected = exporter.get_finished_metrics().unwrap();
    // Calls, tokens, token-usage values and durations, as each collection saw them.
    let mut last = [0u64; 4];
    for rm in &collected {
        let p = points(std::slice::from_ref(rm));
        if !p.contains_key(&("openinference.llm.calls".to_string(), series.to_string())) {
            continue;
        }
        // A series the first recording has not reached yet is a count of zero.
        let count = |name: &str, attrs: &str| {
            p.get(&(name.to_string(), attrs.to_string()))
                .map_or(0, |v| v.0)
        };
        let seen = [
            count("openinference.llm.calls", series),
            count("openinference.llm.tokens", &input),
            count("gen_ai.client.token.usage", &input),
            count("gen_ai.client.operation.duration", series),
        ];
        for (i, (was, now)) in last.iter().zip(seen).enumerate() {
            assert!(now >= *was, "instrument {i} went from {was} to {now}");
        }
        last = seen;
    }
    let calls = threads * spans;
    assert_eq!(last, [calls, calls * 10, calls, calls]);
    let p = points(&collected[collected.len() - 1..]);
    assert_eq!(
        point(&p, "gen_ai.client.token.usage", &input),
        (calls, calls as f64 * 10.0)
    );
    let _ = handle.shutdown(Duration::from_secs(5));
}

/// `openinference.llm.cost` is the sum of every call's cost (each call's own breakdown, with
/// cache reads and reasoning clamped to their totals), whether the call was gathered in a
/// batch, ended on another thread, or failed; a call whose cost the caller gave is not priced.
#[test]
fn the_cost_counter_is_the_sum_of_each_calls_cost() {
    use tracing_openinference::pricing::{ModelPrice, TokenUsage};
    let price = ModelPrice::new(3.0, 15.0)
        .with_cache_read(0.3)
        .with_cache_write(3.75)
        .with_reasoning(20.0);
    let exporter = InMemoryMetricExporter::default();
    let reader = PeriodicReader::builder(exporter.clone()).build();
    let layer: LlmLayer<_> = quiet_builder()
        .with_metric_reader(reader)
        .with_model_price("m-1", price)
        .build();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    // Call i's usage; some report more cache reads or reasoning than their totals.
    let usage = |i: u64| TokenUsage {
        prompt: 100 + i * 37,
        completion: 10 + i * 11,
        cache_read: if i.is_multiple_of(5) { 10_000 } else { i * 13 },
        cache_write: (i % 3) * 7,
        reasoning: if i.is_multiple_of(7) { 50_000 } else { i * 3 },
    };
    let call = move |i: u64| {
        let u = usage(i);
        tracing::info_span!(
            "chat",
            llm.model_name = "m-1",
            llm.provider = "openai",
            llm.token_count.prompt = u.prompt,
            llm.token_count.completion = u.completion,
            llm.token_count.prompt_details.cache_read = u.cache_read,
            llm.token_count.prompt_details.cache_write = u.cache_write,
            llm.token_count.completion_details.reasoning = u.reasoning,
        )
        .in_scope(|| {
            if i % 50 == 49 {
                tracing::error!(error.type = "Timeout", "timed out");
            }
        });
    };
    let mut expected = 0.0;
    // 100 calls here (three batches and a part), 37 on another thread.
    tracing::dispatcher::with_default(&dispatch, || (0..100).for_each(call));
    let other = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&other, || (100..137).for_each(call))
    })
    .join()
    .unwrap();
    for i in 0..137 {
        expected += price.cost(&usage(i)).total;
    }
    // A call whose cost the caller gave: not priced by the table.
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!(
            "chat",
            llm.model_name = "m-1",
            llm.provider = "openai",
            llm.token_count.prompt = 1_000_000u64,
            llm.cost.total = 0.5,
        )
        .in_scope(|| {});
    });
    handle.force_flush(Duration::from_secs(5)).unwrap();
    let p = points(&exporter.get_finished_metrics().unwrap());
    let series = "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.request.model=m-1";
    let counted = point(&p, "openinference.llm.cost", series).1;
    assert!(
        (counted - expected).abs() <= expected * 1e-12,
        "counted {counted}, expected {expected}"
    );
    assert_eq!(point(&p, "openinference.llm.calls", series).0, 138 - 2);
}
