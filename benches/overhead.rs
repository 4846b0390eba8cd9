//! Calling-thread cost of one span (or trace), same process and run, three ways:
//!
//! - `a`: `registry()` + the `tracing-opentelemetry` bridge + SDK `BatchSpanProcessor` to a
//!   no-op exporter, with the same raw fields (`a_default`: the bridge with its defaults);
//! - `b`: `a` plus what users write by hand today: OpenInference / GenAI attributes through
//!   `OpenTelemetrySpanExt::set_attribute` and the GenAI metrics on an SDK meter;
//! - `c`: `LlmLayer` (mapping, metrics on a `ManualReader`, export to a no-op exporter).
//!
//! Run: `cargo bench --bench overhead`. Compare ratios within one run only.

#[macro_use]
#[path = "common/workload.rs"]
mod workload;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;
use tracing_openinference::otel::opentelemetry_sdk::trace::Sampler;
use workload::*;

const RATIO: f64 = 0.01;

fn ratio_sampler() -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(RATIO)))
}

fn plain(c: &mut Criterion) {
    let mut g = c.benchmark_group("plain_span");
    {
        let (d, p, _) = bridge_default_pipeline();
        g.bench_function("a_default", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_plain(plain_span!("plain.a_default")))
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, p, _) = bridge_pipeline(Sampler::AlwaysOn);
        g.bench_function("a", |b| {
            tracing::dispatcher::with_default(&d, || b.iter(|| finish_plain(plain_span!("plain.a"))))
        });
        let _ = p.shutdown();
    }
    {
        let (d, h, _) = llm_layer_pipeline(None, true);
        g.bench_function("c", |b| {
            tracing::dispatcher::with_default(&d, || b.iter(|| finish_plain(plain_span!("plain.c"))))
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

fn llm(c: &mut Criterion) {
    let (msgs, json) = messages(2048);
    let json = json.as_str();
    let mut g = c.benchmark_group("llm_span_2kb");
    {
        let (d, p, _) = bridge_pipeline(Sampler::AlwaysOn);
        g.bench_function("a", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_llm(llm_span!("llm.a", black_box(json))))
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, p, _, m) = hand_pipeline(Sampler::AlwaysOn);
        g.bench_function("b", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_llm_by_hand(llm_span!("llm.b", black_box(json)), &msgs, &m))
            })
        });
        let _ = p.shutdown();
    }
    for metrics in [true, false] {
        let (d, h, _) = llm_layer_pipeline(None, metrics);
        let id = if metrics { "c" } else { "c_no_metrics" };
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || {
                if metrics {
                    b.iter(|| finish_llm(llm_span!("llm.c", black_box(json))))
                } else {
                    b.iter(|| finish_llm(llm_span!("llm.c_no_metrics", black_box(json))))
                }
            })
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

fn agent(c: &mut Criterion) {
    let (msgs, json) = messages(512);
    let json = json.as_str();
    let mut g = c.benchmark_group("agent_trace_6_spans");
    {
        let (d, p, _) = bridge_pipeline(Sampler::AlwaysOn);
        g.bench_function("a", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| {
                    let root = agent_span!("agent.a");
                    {
                        let _e = root.enter();
                        for _ in 0..5 {
                            finish_llm(llm_span!("agent.a.llm", black_box(json)));
                        }
                    }
                    drop(root);
                })
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, p, _, m) = hand_pipeline(Sampler::AlwaysOn);
        g.bench_function("b", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| {
                    let root = agent_span!("agent.b");
                    mark_agent_by_hand(&root);
                    {
                        let _e = root.enter();
                        for _ in 0..5 {
                            finish_llm_by_hand(llm_span!("agent.b.llm", black_box(json)), &msgs, &m);
                        }
                    }
                    drop(root);
                })
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, h, _) = llm_layer_pipeline(None, true);
        g.bench_function("c", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| {
                    let root = agent_span!("agent.c");
                    {
                        let _e = root.enter();
                        for _ in 0..5 {
                            finish_llm(llm_span!("agent.c.llm", black_box(json)));
                        }
                    }
                    drop(root);
                })
            })
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

fn sampled_out(c: &mut Criterion) {
    let (msgs, json) = messages(2048);
    let json = json.as_str();
    let mut g = c.benchmark_group("llm_span_ratio_0.01");
    {
        let (d, p, _) = bridge_pipeline(ratio_sampler());
        g.bench_function("a", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_llm(llm_span!("sampled.a", black_box(json))))
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, p, _, m) = hand_pipeline(ratio_sampler());
        g.bench_function("b", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_llm_by_hand(llm_span!("sampled.b", black_box(json)), &msgs, &m))
            })
        });
        let _ = p.shutdown();
    }
    for metrics in [true, false] {
        let (d, h, _) = llm_layer_pipeline(Some(RATIO), metrics);
        let id = if metrics { "c" } else { "c_no_metrics" };
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || {
                if metrics {
                    b.iter(|| finish_llm(llm_span!("sampled.c", black_box(json))))
                } else {
                    b.iter(|| finish_llm(llm_span!("sampled.c_no_metrics", black_box(json))))
                }
            })
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

/// The cost of the metrics of one LLM span: the hand-written SDK calls alone, and `LlmLayer`
/// with and without a metric reader on the same small LLM span (the difference is the cost).
fn metrics(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_per_llm_span");
    {
        let m = HandMetrics::new();
        g.bench_function(BenchmarkId::new("b_sdk_calls_only", "3 records"), |b| {
            b.iter(|| {
                m.record(
                    black_box(0.42),
                    black_box(PROMPT_TOKENS),
                    black_box(COMPLETION_TOKENS),
                )
            })
        });
    }
    for metrics in [true, false] {
        let (d, h, _) = llm_layer_pipeline(None, metrics);
        let id = if metrics {
            "c_small_llm_span"
        } else {
            "c_small_llm_span_no_metrics"
        };
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || {
                if metrics {
                    b.iter(|| finish_llm(llm_span!("metrics.c", black_box("[]"))))
                } else {
                    b.iter(|| finish_llm(llm_span!("metrics.c_no_metrics", black_box("[]"))))
                }
            })
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = plain, llm, agent, sampled_out, metrics
}
criterion_main!(benches);
