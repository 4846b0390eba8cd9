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

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing_openinference::otel::opentelemetry::metrics::MeterProvider as _;
use tracing_openinference::otel::opentelemetry::KeyValue;
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
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_plain(plain_span!("plain.a")))
            })
        });
        let _ = p.shutdown();
    }
    {
        let (d, h, _) = llm_layer_pipeline(None, true);
        g.bench_function("c", |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_plain(plain_span!("plain.c")))
            })
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
                            finish_llm_by_hand(
                                llm_span!("agent.b.llm", black_box(json)),
                                &msgs,
                                &m,
                            );
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
/// with and without a metric reader on the 2 KB LLM span, with every span dropped by the
/// sampler (ratio 0, no error capture) so that no export work on another thread disturbs the
/// difference, which is the metrics' cost.
fn metrics(c: &mut Criterion) {
    let (_, json) = messages(2048);
    let json = json.as_str();
    let mut g = c.benchmark_group("metrics_per_llm_span");
    {
        let m = HandMetrics::new();
        g.bench_function("b_sdk_calls_only", |b| {
            b.iter(|| {
                m.record(
                    black_box(0.42),
                    black_box(PROMPT_TOKENS),
                    black_box(COMPLETION_TOKENS),
                )
            })
        });
    }
    {
        // The least any recorder on the SDK pays per LLM span: one clock read, the three
        // histogram values (duration, input and output tokens) on instruments bound once to
        // their attributes, and the cost (a float sum cannot be pre-added without changing
        // it). Call and token counters can be summed first and are left out.
        let m = HandMetrics::new();
        let base = [
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openai"),
            KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        ];
        let typed = |ty: &'static str| {
            let mut v = base.to_vec();
            v.push(KeyValue::new("gen_ai.token.type", ty));
            v
        };
        let duration = m.duration.bind(&base);
        let (input, output) = (
            m.tokens.bind(&typed("input")),
            m.tokens.bind(&typed("output")),
        );
        let cost = m
            .provider
            .meter("bench")
            .f64_counter("openinference.llm.cost")
            .build()
            .bind(&base);
        let start = Instant::now();
        g.bench_function("sdk_bound_floor", |b| {
            b.iter(|| {
                duration.record(black_box(start.elapsed().as_secs_f64()));
                input.record(black_box(PROMPT_TOKENS));
                output.record(black_box(COMPLETION_TOKENS));
                cost.add(black_box(0.000_42));
            })
        });
    }
    for metrics in [true, false] {
        let (d, h) = llm_layer_metrics_only(metrics);
        let id = if metrics {
            "c_llm_span_not_exported"
        } else {
            "c_llm_span_not_exported_no_metrics"
        };
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || {
                if metrics {
                    b.iter(|| finish_llm(llm_span!("metrics.c", black_box(json))))
                } else {
                    b.iter(|| finish_llm(llm_span!("metrics.c_no_metrics", black_box(json))))
                }
            })
        });
        let _ = h.shutdown(Duration::from_secs(10));
    }
    // The same difference measured in pairs: chunks of 64 spans alternate between the two
    // pipelines inside each sample, so a slower moment of this noisy machine hits both.
    // A sample whose difference comes out negative counts as 1 ns.
    {
        let (with, hw) = llm_layer_metrics_only(true);
        let (without, hn) = llm_layer_metrics_only(false);
        g.bench_function("c_metrics_paired_difference", |b| {
            b.iter_custom(|iters| {
                let (mut on, mut off) = (Duration::ZERO, Duration::ZERO);
                let mut left = iters;
                while left > 0 {
                    let n = left.min(64);
                    let t = Instant::now();
                    tracing::dispatcher::with_default(&with, || {
                        for _ in 0..n {
                            finish_llm(llm_span!("metrics.paired", black_box(json)))
                        }
                    });
                    on += t.elapsed();
                    let t = Instant::now();
                    tracing::dispatcher::with_default(&without, || {
                        for _ in 0..n {
                            finish_llm(llm_span!("metrics.paired_no_metrics", black_box(json)))
                        }
                    });
                    off += t.elapsed();
                    left -= n;
                }
                on.saturating_sub(off).max(Duration::from_nanos(1))
            })
        });
        let _ = hw.shutdown(Duration::from_secs(10));
        let _ = hn.shutdown(Duration::from_secs(10));
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

/// The median of one benchmark from criterion's saved estimates, in ns.
fn median_ns(dir: &std::path::Path, group: &str, id: &str) -> Option<f64> {
    let path = dir
        .join(group.replace('/', "_"))
        .join(id.replace('/', "_"))
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Prints (a), (b), (c) and the ratios of this run as a markdown table.
fn summary() {
    let dir = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| "target".into())
                .join("criterion")
        });
    let ns = |g: &str, id: &str| median_ns(&dir, g, id);
    let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => format!("{:.2}x", x / y),
        _ => "-".to_owned(),
    };
    println!("\n| workload (median ns) | (a) bridge | (b) by hand | (c) LlmLayer | (c) no metrics | (c)/(a) | (c)/(b) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (label, g) in [
        ("plain span", "plain_span"),
        ("LLM span, 6 fields + 2 KB messages", "llm_span_2kb"),
        ("agent trace, 6 spans", "agent_trace_6_spans"),
        ("LLM span, ratio 0.01 (sampled out)", "llm_span_ratio_0.01"),
    ] {
        let (a, b, c, cn) = (ns(g, "a"), ns(g, "b"), ns(g, "c"), ns(g, "c_no_metrics"));
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} |",
            fmt(a),
            fmt(b),
            fmt(c),
            fmt(cn),
            ratio(c, a),
            ratio(c, b)
        );
    }
    if let Some(d) = ns("plain_span", "a_default") {
        println!("\nplain span, bridge with its defaults (location, thread, target on): {d:.0} ns");
    }
    let g = "metrics_per_llm_span";
    let sdk = ns(g, "b_sdk_calls_only");
    let (with, without) = (
        ns(g, "c_llm_span_not_exported"),
        ns(g, "c_llm_span_not_exported_no_metrics"),
    );
    println!(
        "metrics of one LLM span: hand-written SDK calls {} ns; LlmLayer, spans not exported, with reader {} ns, without {} ns, difference {} ns",
        fmt(sdk),
        fmt(with),
        fmt(without),
        fmt(with.zip(without).map(|(w, wo)| w - wo))
    );
    println!(
        "  paired (64-span chunks alternating in each sample): difference {} ns; the SDK's own floor (clock, 3 bound histogram values, the cost) {} ns",
        fmt(ns(g, "c_metrics_paired_difference")),
        fmt(ns(g, "sdk_bound_floor"))
    );
    let (c, cn) = (ns("llm_span_2kb", "c"), ns("llm_span_2kb", "c_no_metrics"));
    println!(
        "  (2 KB LLM span: with reader {} ns, without {} ns, difference {} ns)",
        fmt(c),
        fmt(cn),
        fmt(c.zip(cn).map(|(w, wo)| w - wo))
    );
}

/// What [`paired`] measured: medians over the pairs.
struct Paired {
    /// How many pairs were measured.
    pairs: usize,
    /// Of the per-pair ratios (c) / base.
    ratio: f64,
    /// Of base, in ns per span.
    base_ns: f64,
    /// Of (c), in ns per span.
    c_ns: f64,
    /// Of the per-pair differences (c) − base, in ns per span.
    difference_ns: f64,
}

/// One side of a pair: its dispatch, and what waits until its export thread is idle.
struct Side<'a> {
    dispatch: &'a tracing::Dispatch,
    flush: &'a dyn Fn(),
}

/// How long pairs are measured for, per workload (at least [`MIN_PAIRS`], at most
/// [`MAX_PAIRS`]): the longer, the less one noisy moment moves the median.
const PAIRED_FOR: Duration = Duration::from_secs(3);
const MIN_PAIRS: usize = 30;
const MAX_PAIRS: usize = 2_000;

/// The median over pairs of (time of `n` spans through `c`) / (the same through `base`),
/// with the two alternating: a slower moment of this noisy machine hits both sides of a pair.
/// After each side's `n` spans, and outside the timing, its pipeline is flushed: the work its
/// export thread does while its calling thread runs is in its own time (that thread shares the
/// machine), and none of it is left to run during the other side's spans.
fn paired(base: Side<'_>, c: Side<'_>, n: usize, span: impl Fn(bool)) -> Paired {
    let time = |side: &Side<'_>, is_c: bool| {
        let t = Instant::now();
        tracing::dispatcher::with_default(side.dispatch, || (0..n).for_each(|_| span(is_c)));
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        (side.flush)();
        ns
    };
    // Warm both up first.
    let _ = (time(&base, false), time(&c, true));
    let started = Instant::now();
    let mut pairs = Vec::new();
    while pairs.len() < MAX_PAIRS && (pairs.len() < MIN_PAIRS || started.elapsed() < PAIRED_FOR) {
        pairs.push((time(&base, false), time(&c, true)));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Paired {
        pairs: pairs.len(),
        ratio: median(pairs.iter().map(|(b, c)| c / b).collect()),
        base_ns: median(pairs.iter().map(|p| p.0).collect()),
        c_ns: median(pairs.iter().map(|p| p.1).collect()),
        difference_ns: median(pairs.iter().map(|(b, c)| c - b).collect()),
    }
}

/// Paired ratios for the targets, printed after the criterion table.
fn paired_ratios() {
    let (msgs, json) = messages(2048);
    let json = json.as_str();
    let n = 2048;
    println!("\nPaired: {n}-span chunks alternate between the two pipelines, each flushed after its chunk outside the timing, for {} s per workload; median of the per-pair ratios (and median ns per span):\n", PAIRED_FOR.as_secs());
    println!("| workload | compared | ratio | base ns | (c) ns | pairs |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |label: &str, vs: &str, p: Paired| {
        println!(
            "| {label} | (c)/{vs} | {:.2}x | {:.0} | {:.0} | {} |",
            p.ratio, p.base_ns, p.c_ns, p.pairs
        )
    };
    let timeout = Duration::from_secs(30);
    {
        let (a, pa, _) = bridge_pipeline(Sampler::AlwaysOn);
        let (c, hc, _) = llm_layer_pipeline(None, true);
        let flush_a = || drop(pa.force_flush());
        let flush_c = || drop(hc.force_flush(timeout));
        let side_a = || Side {
            dispatch: &a,
            flush: &flush_a,
        };
        let side_c = || Side {
            dispatch: &c,
            flush: &flush_c,
        };
        row(
            "plain span",
            "(a)",
            paired(side_a(), side_c(), n, |_| {
                finish_plain(plain_span!("paired.plain"))
            }),
        );
        let (b, pb, _, m) = hand_pipeline(Sampler::AlwaysOn);
        let flush_b = || drop(pb.force_flush());
        let side_b = Side {
            dispatch: &b,
            flush: &flush_b,
        };
        row(
            "LLM span, 2 KB messages",
            "(b)",
            paired(side_b, side_c(), n, |is_c| {
                let span = llm_span!("paired.llm", black_box(json));
                if is_c {
                    finish_llm(span)
                } else {
                    finish_llm_by_hand(span, &msgs, &m)
                }
            }),
        );
        let _ = (pa.shutdown(), pb.shutdown(), hc.shutdown(timeout));
    }
    {
        let (a, pa, _) = bridge_pipeline(ratio_sampler());
        let (c, hc, _) = llm_layer_pipeline(Some(RATIO), true);
        let flush_a = || drop(pa.force_flush());
        let flush_c = || drop(hc.force_flush(timeout));
        row(
            "LLM span sampled out at 0.01",
            "(a)",
            paired(
                Side {
                    dispatch: &a,
                    flush: &flush_a,
                },
                Side {
                    dispatch: &c,
                    flush: &flush_c,
                },
                n,
                |_| finish_llm(llm_span!("paired.sampled", black_box(json))),
            ),
        );
        let _ = (pa.shutdown(), hc.shutdown(timeout));
    }
    {
        // The metrics of one LLM span: the same layer with and without a metric reader, every
        // span dropped by the sampler (see `metrics`). The flush after a chunk also records
        // the metric values still handed to the export thread.
        let (with, hw) = llm_layer_metrics_only(true);
        let (without, hn) = llm_layer_metrics_only(false);
        let flush_with = || drop(hw.force_flush(timeout));
        let flush_without = || drop(hn.force_flush(timeout));
        let p = paired(
            Side {
                dispatch: &without,
                flush: &flush_without,
            },
            Side {
                dispatch: &with,
                flush: &flush_with,
            },
            n,
            |metrics| {
                if metrics {
                    finish_llm(llm_span!("paired.metrics", black_box(json)))
                } else {
                    finish_llm(llm_span!("paired.no_metrics", black_box(json)))
                }
            },
        );
        println!(
            "\nMetrics of one LLM span, paired the same way: {:.0} ns (median per-pair difference; {:.0} ns without a reader, {:.0} ns with; {} pairs)",
            p.difference_ns, p.base_ns, p.c_ns, p.pairs
        );
        let _ = (hw.shutdown(timeout), hn.shutdown(timeout));
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
    paired_ratios();
}
