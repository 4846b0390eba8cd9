//! One pipeline alone, for a profiler: chunks of 2,048 spans through the bridge (`a`) or
//! `LlmLayer` (`c`), each chunk flushed outside its timing as the paired ratios of
//! `overhead` are; prints the mean ns per span of the calling thread.
//!
//! It has no comparison of its own: run it under `perf stat` (page faults, CPU time of both
//! threads) or `perf record -e cpu-clock` (where the wall-clock time goes, cache misses
//! included, which callgrind's instruction counts do not show). For example:
//!
//! ```sh
//! cargo bench --bench one_pipeline --no-run
//! perf stat -e page-faults,task-clock target/release/deps/one_pipeline-* c plain 300
//! perf record -e cpu-clock target/release/deps/one_pipeline-* c sampled 300
//! ```
//!
//! Arguments, in order: the side (`a` bridge, `c` `LlmLayer`, `cn` `LlmLayer` without a
//! metric reader); the workload (`plain`, `llm`: the 2 KB LLM span, `sampled`: the same at
//! ratio 0.01 with error capture, `metrics`: every span dropped by the sampler, as the
//! metrics' own measurement); the number of chunks. `cargo bench` runs `c plain 20`.

#[macro_use]
#[path = "common/workload.rs"]
mod workload;

use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing_openinference::otel::opentelemetry_sdk::trace::Sampler;
use workload::*;

/// Spans per chunk, as in `overhead`'s paired ratios.
const CHUNK: usize = 2_048;

fn main() {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let side = args.first().map(String::as_str).unwrap_or("c");
    let work = args.get(1).map(String::as_str).unwrap_or("plain");
    let chunks: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (_, json) = messages(2048);
    let json = json.as_str();
    let timeout = Duration::from_secs(30);
    let sampled = work == "sampled";
    let (dispatch, flush): (tracing::Dispatch, Box<dyn Fn()>) = match (side, work) {
        ("a", _) => {
            let sampler = if sampled {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.01)))
            } else {
                Sampler::AlwaysOn
            };
            let (d, provider, _) = bridge_pipeline(sampler);
            (d, Box::new(move || drop(provider.force_flush())))
        }
        (_, "metrics") => {
            let (d, handle) = llm_layer_metrics_only(side != "cn");
            (d, Box::new(move || drop(handle.force_flush(timeout))))
        }
        _ => {
            let (d, handle, _) = llm_layer_pipeline(sampled.then_some(0.01), side != "cn");
            (d, Box::new(move || drop(handle.force_flush(timeout))))
        }
    };
    let mut total = Duration::ZERO;
    for _ in 0..chunks {
        let t = Instant::now();
        tracing::dispatcher::with_default(&dispatch, || {
            for _ in 0..CHUNK {
                if work == "plain" {
                    finish_plain(plain_span!("one.plain"))
                } else {
                    finish_llm(llm_span!("one.llm", black_box(json)))
                }
            }
        });
        total += t.elapsed();
        flush();
    }
    println!(
        "{side} {work}: {:.0} ns per span on the calling thread ({chunks} chunks of {CHUNK})",
        total.as_nanos() as f64 / (chunks * CHUNK) as f64
    );
}
