//! Export throughput: LLM spans per second through `LlmLayer` over OTLP http/protobuf to a
//! loopback sink (tests/common/otlp_sink.rs), and peak RSS after each phase.
//!
//! Two ways to push:
//! - `firehose`: as fast as the calling thread can; the sink's count says what the pipeline
//!   delivered, the rest was dropped by the bounded queue;
//! - `paced`: a flush every 1,024 spans, so nothing is dropped: the sustained rate.
//!
//! Run: `cargo bench --bench export_throughput` (optionally `-- 400000` for the largest phase,
//! and `-- paced` or `-- firehose` for one way of pushing).

#[macro_use]
#[path = "common/workload.rs"]
mod workload;
#[path = "../tests/common/otlp_sink.rs"]
mod otlp_sink;

use otlp_sink::{peak_rss_kib, rss_kib, Mode, OtlpSink};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;
use workload::*;

struct Row {
    shape: &'static str,
    how: &'static str,
    pushed: u64,
    received: u64,
    push_per_s: f64,
    delivered_per_s: f64,
    requests: u64,
    mib_per_s: f64,
    hwm_mib: f64,
}

fn phase(shape: &'static str, how: &'static str, n: u64, json: &str) -> Row {
    let sink = OtlpSink::start(Mode::Healthy);
    let layer: LlmLayer<_> = quiet().with_otlp_endpoint(sink.endpoint()).build();
    let handle = layer.handle();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    let paced = how == "paced";
    let start = Instant::now();
    let mut push_time = Duration::ZERO;
    tracing::dispatcher::with_default(&dispatch, || {
        let mut i = 0;
        while i < n {
            let burst = 1024.min(n - i);
            let t = Instant::now();
            for _ in 0..burst {
                finish_llm(llm_span!("throughput.llm", black_box(json)));
            }
            push_time += t.elapsed();
            if paced {
                let _ = handle.force_flush(Duration::from_secs(30));
            }
            i += burst;
        }
    });
    let _ = handle.shutdown(Duration::from_secs(60));
    let elapsed = start.elapsed();
    drop(dispatch);
    let stats = sink.stats();
    let received = stats.named("throughput.llm");
    Row {
        shape,
        how,
        pushed: n,
        received,
        push_per_s: n as f64 / push_time.as_secs_f64(),
        delivered_per_s: received as f64 / elapsed.as_secs_f64(),
        requests: stats.accepted_requests,
        mib_per_s: stats.body_bytes as f64 / elapsed.as_secs_f64() / (1024.0 * 1024.0),
        hwm_mib: peak_rss_kib() as f64 / 1024.0,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let big: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(200_000);
    // Other words pick the phases matching all of them: `paced`, `firehose`, `2 KB`, `256 B`.
    let picks: Vec<&str> = args
        .iter()
        .filter(|a| a.parse::<u64>().is_err())
        .map(String::as_str)
        .collect();
    let picked = |shape: &str, how: &str| picks.iter().all(|p| shape.contains(p) || how == *p);
    let (_, json_2k) = messages(2048);
    let (_, json_small) = messages(256);
    let start_rss = rss_kib() as f64 / 1024.0;
    let mut rows = Vec::new();
    for (shape, json) in [
        ("LLM span, 2 KB messages", json_2k.as_str()),
        ("LLM span, 256 B messages", json_small.as_str()),
    ] {
        for how in ["paced", "firehose"] {
            if !picked(shape, how) {
                continue;
            }
            for n in [big / 4, big] {
                let row = phase(shape, how, n, json);
                eprintln!(
                    "{shape} {how} {n}: received {} ({:.0}/s), HWM {:.1} MiB",
                    row.received, row.delivered_per_s, row.hwm_mib
                );
                rows.push(row);
            }
        }
    }
    println!(
        "\nExport over OTLP http/protobuf to a loopback sink (RSS at start {start_rss:.1} MiB)\n"
    );
    println!("| span | push | spans pushed | spans received | pushed/s (calling thread) | delivered/s (end to end) | requests | body MiB/s | peak RSS after (MiB) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {} | {:.1} | {:.1} |",
            r.shape,
            r.how,
            r.pushed,
            r.received,
            r.push_per_s,
            r.delivered_per_s,
            r.requests,
            r.mib_per_s,
            r.hwm_mib
        );
    }
}
