//! Steady, varied, simulated LLM traffic with the Prometheus endpoint on: the workload the
//! Grafana dashboard in `examples/grafana/` is checked against.
//!
//! ```text
//! cargo run --example llm_traffic --features prometheus
//! PROMETHEUS_ADDR=127.0.0.1:9464 TRAFFIC_SECONDS=0 cargo run --example llm_traffic --features prometheus
//! ```
//!
//! - `PROMETHEUS_ADDR`: where `/metrics` listens (default `127.0.0.1:9464`; port 0 picks one).
//! - `TRAFFIC_SECONDS`: how long to run (default 60; 0 runs until killed).
//! - `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`: the latest GenAI metric names
//!   (`gen_ai.client.inference.duration`, ...), which the dashboard reads as well.
//!
//! Several models and providers, streamed calls (`mark_chunk`), cache-read tokens,
//! tool calls and retrievals, and a few errors (rate limits, timeouts, a failing tool).
//! Nothing leaves the machine: traces go to an exporter that discards them (so the export
//! pipeline and its sampling counters run as in production, quietly; console off), metrics
//! only to the loopback endpoint. The model latencies are simulated with short sleeps.

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::time::{Duration, Instant};
use tracing_openinference::{Document, LlmLayer, LlmSpanExt, Message, Usage};
use tracing_subscriber::prelude::*;

/// A small deterministic pseudo-random generator (xorshift), so runs are alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A span exporter that drops what it is given: the example has no backend to send to.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// The simulated models: name, provider, base latency (ms).
const MODELS: [(&str, &str, u64); 5] = [
    ("gpt-4o-mini", "openai", 40),
    ("gpt-4o", "openai", 90),
    ("claude-sonnet-4", "anthropic", 120),
    ("gemini-2.0-flash", "gcp.gemini", 30),
    ("mistral-large-latest", "mistral_ai", 70),
];

fn main() {
    let addr = std::env::var("PROMETHEUS_ADDR").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let seconds: u64 = match std::env::var("TRAFFIC_SECONDS") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("TRAFFIC_SECONDS must be a whole number of seconds, got `{v}`");
            std::process::exit(2)
        }),
        Err(_) => 60,
    };
    let layer: LlmLayer<_> = match LlmLayer::builder()
        .with_service_name("llm-traffic")
        .with_console_exporter(false)
        .with_span_exporter(Discard)
        // Half the traces are sampled out (errors are still kept): the dashboard's sampling
        // panel has both kept and dropped traces to show.
        .with_sampling_ratio(0.5)
        .with_prometheus_endpoint(addr.as_str())
        .try_build()
    {
        Ok(layer) => layer,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(1)
        }
    };
    let handle = layer.handle();
    let endpoint = handle.prometheus_addr().expect("the endpoint is on");
    tracing_subscriber::registry().with(layer).init();
    println!("Prometheus endpoint: http://{endpoint}/metrics");
    match seconds {
        0 => println!("Generating traffic until stopped (Ctrl-C)."),
        s => println!("Generating traffic for {s} s (TRAFFIC_SECONDS)."),
    }

    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut requests = 0u64;
    while seconds == 0 || started.elapsed() < Duration::from_secs(seconds) {
        handle_request(&mut rng, requests);
        requests += 1;
        std::thread::sleep(Duration::from_millis(20 + rng.below(40)));
    }
    println!("Done: {requests} simulated requests.");
    if let Err(e) = handle.shutdown(Duration::from_secs(5)) {
        eprintln!("shutdown: {e}");
    }
}

/// One user request: sometimes a retrieval, one model call (streamed every third time),
/// sometimes a tool call and a follow-up call.
fn handle_request(rng: &mut Rng, n: u64) {
    let agent = tracing::info_span!(
        "agent",
        openinference.span.kind = "AGENT",
        session.id = "traffic"
    );
    let _enter = agent.enter();
    if rng.chance(60) {
        retrieve(rng);
    }
    let (model, provider, base_ms) = MODELS[rng.below(MODELS.len() as u64) as usize];
    let wants_tool = chat(rng, model, provider, base_ms, n.is_multiple_of(3));
    if wants_tool {
        tool(rng);
        chat(rng, model, provider, base_ms, false);
    }
}

/// A vector search over a simulated index; fails now and then.
fn retrieve(rng: &mut Rng) {
    let span = tracing::info_span!("retrieve", openinference.span.kind = "RETRIEVER");
    span.in_scope(|| {
        std::thread::sleep(Duration::from_millis(2 + rng.below(15)));
        if rng.chance(3) {
            tracing::error!(error.type = "IndexUnavailable", "vector index did not answer");
            return;
        }
        let docs: Vec<Document> = (0..1 + rng.below(5))
            .map(|i| {
                Document::new(
                    format!("doc-{i}"),
                    "simulated passage",
                    0.9 - i as f64 * 0.1,
                )
            })
            .collect();
        let _ = span.record_documents(&docs);
    });
}

/// One model call. Returns whether the model asked for a tool.
fn chat(rng: &mut Rng, model: &str, provider: &str, base_ms: u64, stream: bool) -> bool {
    let span = tracing::info_span!(
        "chat",
        llm.model_name = model,
        llm.provider = provider,
        llm.token_count.prompt = tracing::field::Empty,
    );
    span.in_scope(|| {
        let _ = span.record_input_messages(&[Message::user("simulated question")]);
        let latency = base_ms + rng.below(base_ms * 2);
        if stream {
            // The first chunk after a quarter of the latency, then eight more spread over the
            // rest: time to first chunk and eight times per output chunk.
            std::thread::sleep(Duration::from_millis(latency / 4));
            let _ = span.mark_chunk();
            let rest = latency - latency / 4;
            for _ in 0..8 {
                std::thread::sleep(Duration::from_millis(rest / 8));
                let _ = span.mark_chunk();
            }
        } else {
            std::thread::sleep(Duration::from_millis(latency));
        }
        if rng.chance(4) {
            let kind = if rng.chance(50) {
                "RateLimitError"
            } else {
                "Timeout"
            };
            tracing::error!(error.type = kind, "the provider refused the call");
            return false;
        }
        let prompt = 200 + rng.below(3000);
        let _ = span.record_usage(Usage {
            prompt,
            completion: 20 + rng.below(600),
            cache_read: if rng.chance(40) { prompt / 2 } else { 0 },
            ..Usage::default()
        });
        let _ = span.record_output_messages(&[Message::assistant("simulated answer")]);
        rng.chance(30)
    })
}

/// A tool call; one of the tools fails sometimes.
fn tool(rng: &mut Rng) {
    let name = ["get_weather", "search_orders", "send_email"][rng.below(3) as usize];
    tracing::info_span!("tool", tool.name = name).in_scope(|| {
        std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
        if name == "search_orders" && rng.chance(15) {
            tracing::error!(error.type = "ServiceUnavailable", "orders service is down");
        }
    });
}
