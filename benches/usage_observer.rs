//! What the usage observer costs the calling thread: the same LLM-span workload (6 fields,
//! 2 KB of messages, usage) through the same layer with no observer, with an observer that
//! does nothing, and with an observer plus running totals per session and user.
//!
//! Criterion medians for the three, then paired ratios: chunks of spans alternate between the
//! two pipelines compared (each flushed after its chunk, outside the timing), and the median of
//! the per-pair ratios is printed, the figure that repeats on a noisy machine.
//!
//! Run: `cargo bench --bench usage_observer`. For a profiler, `-- spans VARIANT N` runs only
//! `N` spans through one pipeline (`none`, `noop_observer` or `observer_and_totals`), e.g.
//! `valgrind --tool=callgrind --separate-threads=yes target/release/deps/usage_observer-* spans
//! none 5000`: the difference of the calling thread's instructions between two `N` is the cost
//! per span.

#[macro_use]
#[path = "common/workload.rs"]
mod workload;

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_openinference::usage::{LlmCall, UsageTotals};
use tracing_openinference::{LlmHandle, LlmLayer, LlmLayerBuilder};
use tracing_subscriber::prelude::*;
use workload::*;

/// What is registered on the layer.
#[derive(Clone, Copy)]
enum Observer {
    None,
    /// A closure that only reads the call.
    Noop,
    /// The same closure plus `UsageTotals` (per-session and per-user running totals).
    WithTotals,
}

fn pipeline(observer: Observer) -> (Dispatch, LlmHandle) {
    let mut builder: LlmLayerBuilder = quiet().with_span_exporter(NoopExporter::default());
    match observer {
        Observer::None => {}
        Observer::Noop => {
            builder = builder.with_usage_observer(|call: &LlmCall<'_>| {
                black_box(call.total_tokens);
            })
        }
        Observer::WithTotals => {
            builder = builder
                .with_usage_observer(|call: &LlmCall<'_>| {
                    black_box(call.total_tokens);
                })
                .with_usage_totals(UsageTotals::new(1_024))
        }
    }
    let layer: LlmLayer<_> = builder.build();
    let handle = layer.handle();
    (
        Dispatch::new(tracing_subscriber::registry().with(layer)),
        handle,
    )
}

const CASES: [(&str, Observer); 3] = [
    ("none", Observer::None),
    ("noop_observer", Observer::Noop),
    ("observer_and_totals", Observer::WithTotals),
];

fn observer(c: &mut Criterion) {
    let (_, json) = messages(2048);
    let json = json.as_str();
    let mut g = c.benchmark_group("usage_observer_llm_span_2kb");
    for (id, observer) in CASES {
        let (d, h) = pipeline(observer);
        g.bench_function(id, |b| {
            tracing::dispatcher::with_default(&d, || {
                b.iter(|| finish_llm(llm_span!("observer.llm", black_box(json))))
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
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = observer
}

/// How long each paired comparison runs.
const PAIRED_FOR: Duration = Duration::from_secs(6);
/// Spans per chunk.
const CHUNK: usize = 1_024;

/// The median per-pair ratio (`c` / `base`), and the median ns per span of each side.
fn paired(
    base: &(Dispatch, LlmHandle),
    c: &(Dispatch, LlmHandle),
    json: &str,
) -> (f64, f64, f64, usize) {
    let time = |side: &(Dispatch, LlmHandle)| {
        let t = Instant::now();
        tracing::dispatcher::with_default(&side.0, || {
            for _ in 0..CHUNK {
                finish_llm(llm_span!("observer.paired", black_box(json)));
            }
        });
        let ns = t.elapsed().as_nanos() as f64 / CHUNK as f64;
        let _ = side.1.force_flush(Duration::from_secs(30));
        ns
    };
    let _ = (time(base), time(c));
    let started = Instant::now();
    let mut pairs = Vec::new();
    while pairs.len() < 2_000 && (pairs.len() < 30 || started.elapsed() < PAIRED_FOR) {
        pairs.push((time(base), time(c)));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(pairs.iter().map(|(b, c)| c / b).collect()),
        median(pairs.iter().map(|p| p.0).collect()),
        median(pairs.iter().map(|p| p.1).collect()),
        pairs.len(),
    )
}

fn paired_ratios() {
    let (_, json) = messages(2048);
    let none = pipeline(Observer::None);
    let noop = pipeline(Observer::Noop);
    let totals = pipeline(Observer::WithTotals);
    let none_again = pipeline(Observer::None);
    println!("\nPaired: {CHUNK}-span chunks alternate between two pipelines for {} s; median per-pair ratio (and median ns per span):\n", PAIRED_FOR.as_secs());
    println!("| compared | ratio | base ns | compared ns | pairs |");
    println!("|---|---:|---:|---:|---:|");
    for (label, other) in [
        (
            "no observer / no observer (two layers: the noise floor)",
            &none_again,
        ),
        ("no-op observer / no observer", &noop),
        ("observer and totals / no observer", &totals),
    ] {
        let (ratio, base, c, n) = paired(&none, other, &json);
        println!("| {label} | {ratio:.3}x | {base:.0} | {c:.0} | {n} |");
    }
    for (_, h) in [none, noop, totals, none_again] {
        let _ = h.shutdown(Duration::from_secs(10));
    }
}

/// Runs `n` spans through the pipeline of `variant` (a warm-up of 100 first), nothing else.
fn spans_only(variant: &str, n: usize) {
    let Some((_, observer)) = CASES.into_iter().find(|(id, _)| *id == variant) else {
        eprintln!("unknown variant {variant}; one of none, noop_observer, observer_and_totals");
        std::process::exit(2)
    };
    let (_, json) = messages(2048);
    let (d, h) = pipeline(observer);
    tracing::dispatcher::with_default(&d, || {
        for _ in 0..100 + n {
            finish_llm(llm_span!("observer.spans", black_box(json.as_str())));
        }
    });
    let _ = h.shutdown(Duration::from_secs(30));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, variant, n, ..] = args.as_slice() {
        if mode == "spans" {
            spans_only(variant, n.parse().unwrap_or(5_000));
            return;
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    paired_ratios();
}
