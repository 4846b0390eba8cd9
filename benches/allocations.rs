//! Heap allocations per span for (a) the bridge, (b) the bridge plus hand-written attributes
//! and metrics, (c) `LlmLayer`: on the calling thread, and in the whole process (the export
//! thread included). Prints a markdown table.
//!
//! Run: `cargo bench --bench allocations`. Arguments, for profilers: `-- VARIANT N WORKLOAD`,
//! e.g. `-- =c 5000 "2 KB"` runs only variant `c` (`c` alone: every variant starting with
//! `c`), 5,000 spans, workloads whose name contains `2 KB`.
#![allow(unsafe_code)]

#[macro_use]
#[path = "common/workload.rs"]
mod workload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing::Dispatch;
use tracing_openinference::otel::opentelemetry_sdk::trace::Sampler;
use workload::*;

/// Counts allocations (and reallocations) process-wide and, while `LOCAL_ON` is set, per thread.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static LOCAL_ON: Cell<bool> = const { Cell::new(false) };
    static LOCAL_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static LOCAL_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn count(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    let _ = LOCAL_ON.try_with(|on| {
        if on.get() {
            let _ = LOCAL_ALLOCS.try_with(|c| c.set(c.get() + 1));
            let _ = LOCAL_BYTES.try_with(|c| c.set(c.get() + size as u64));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// allocator contract is `System`'s; the counting touches only atomics and const-initialized
// thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Row {
    workload: &'static str,
    variant: &'static str,
    local_allocs: f64,
    local_bytes: f64,
    process_allocs: f64,
    process_bytes: f64,
}

/// Runs `one` `n` times under `dispatch` (after a warm-up), flushing every `FLUSH_EVERY` spans
/// so the batch queue never drops; returns per-iteration counts.
fn measure(
    workload: &'static str,
    variant: &'static str,
    filter: &str,
    dispatch: &Dispatch,
    flush: &dyn Fn(),
    n: u64,
    one: &dyn Fn(),
) -> Option<Row> {
    const FLUSH_EVERY: u64 = 500;
    if !workload.contains(filter) {
        return None;
    }
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..200 {
            one();
        }
        flush();
        let (g0, gb0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        LOCAL_ALLOCS.with(|c| c.set(0));
        LOCAL_BYTES.with(|c| c.set(0));
        let mut done = 0;
        while done < n {
            let batch = FLUSH_EVERY.min(n - done);
            LOCAL_ON.with(|on| on.set(true));
            for _ in 0..batch {
                one();
            }
            LOCAL_ON.with(|on| on.set(false));
            flush();
            done += batch;
        }
        let (g1, gb1) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        let nf = n as f64;
        Some(Row {
            workload,
            variant,
            local_allocs: LOCAL_ALLOCS.with(Cell::get) as f64 / nf,
            local_bytes: LOCAL_BYTES.with(Cell::get) as f64 / nf,
            process_allocs: (g1 - g0) as f64 / nf,
            process_bytes: (gb1 - gb0) as f64 / nf,
        })
    })
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let only = args.first().cloned().unwrap_or_default();
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let workload_filter = args.get(2).cloned().unwrap_or_default();
    // `c` runs every variant starting with `c`; `=c` only `c`.
    let wanted = |variant: &str| match only.strip_prefix('=') {
        Some(exact) => variant == exact,
        None => only.is_empty() || variant.starts_with(only.as_str()),
    };

    let (msgs, json) = messages(2048);
    let json = json.as_str();
    let ratio = || Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.01)));
    let mut rows = Vec::new();

    // Plain span.
    if wanted("a") {
        let (d, p, _) = bridge_pipeline(Sampler::AlwaysOn);
        let flush = || {
            let _ = p.force_flush();
        };
        rows.extend(measure(
            "plain span",
            "a",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_plain(plain_span!("plain.a")),
        ));
        let _ = p.shutdown();
    }
    if wanted("c") {
        let (d, h, _) = llm_layer_pipeline(None, true);
        let flush = || {
            let _ = h.force_flush(Duration::from_secs(10));
        };
        rows.extend(measure(
            "plain span",
            "c",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_plain(plain_span!("plain.c")),
        ));
        let _ = h.shutdown(Duration::from_secs(10));
    }

    // LLM span, 2 KB of messages.
    if wanted("a") {
        let (d, p, _) = bridge_pipeline(Sampler::AlwaysOn);
        let flush = || {
            let _ = p.force_flush();
        };
        rows.extend(measure(
            "LLM span (2 KB)",
            "a",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_llm(llm_span!("llm.a", black_box(json))),
        ));
        let _ = p.shutdown();
    }
    if wanted("b") {
        let (d, p, _, m) = hand_pipeline(Sampler::AlwaysOn);
        let flush = || {
            let _ = p.force_flush();
        };
        rows.extend(measure(
            "LLM span (2 KB)",
            "b",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_llm_by_hand(llm_span!("llm.b", black_box(json)), &msgs, &m),
        ));
        let _ = p.shutdown();
    }
    for metrics in [true, false] {
        let variant = if metrics { "c" } else { "c_no_metrics" };
        if !wanted(variant) {
            continue;
        }
        let (d, h, _) = llm_layer_pipeline(None, metrics);
        let flush = || {
            let _ = h.force_flush(Duration::from_secs(10));
        };
        rows.extend(measure(
            "LLM span (2 KB)",
            variant,
            &workload_filter,
            &d,
            &flush,
            n,
            &|| {
                if metrics {
                    finish_llm(llm_span!("llm.c", black_box(json)))
                } else {
                    finish_llm(llm_span!("llm.c_no_metrics", black_box(json)))
                }
            },
        ));
        let _ = h.shutdown(Duration::from_secs(10));
    }

    // Sampled out at 0.01.
    if wanted("a") {
        let (d, p, _) = bridge_pipeline(ratio());
        let flush = || {
            let _ = p.force_flush();
        };
        rows.extend(measure(
            "LLM span, ratio 0.01",
            "a",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_llm(llm_span!("sampled.a", black_box(json))),
        ));
        let _ = p.shutdown();
    }
    if wanted("b") {
        let (d, p, _, m) = hand_pipeline(ratio());
        let flush = || {
            let _ = p.force_flush();
        };
        rows.extend(measure(
            "LLM span, ratio 0.01",
            "b",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_llm_by_hand(llm_span!("sampled.b", black_box(json)), &msgs, &m),
        ));
        let _ = p.shutdown();
    }
    if wanted("c") {
        let (d, h, _) = llm_layer_pipeline(Some(0.01), true);
        let flush = || {
            let _ = h.force_flush(Duration::from_secs(10));
        };
        rows.extend(measure(
            "LLM span, ratio 0.01",
            "c",
            &workload_filter,
            &d,
            &flush,
            n,
            &|| finish_llm(llm_span!("sampled.c", black_box(json))),
        ));
        let _ = h.shutdown(Duration::from_secs(10));
    }

    println!("\nAllocations per span ({n} spans; process = calling thread + export thread)\n");
    println!("| workload | variant | allocs/span (calling thread) | bytes/span (calling thread) | allocs/span (process) | bytes/span (process) |");
    println!("|---|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {:.0} |",
            r.workload, r.variant, r.local_allocs, r.local_bytes, r.process_allocs, r.process_bytes
        );
    }
}
