//! The export thread's privacy stage on one 2 KB chat message, for callgrind: maps a span whose
//! `llm.input_messages` hold a 2 KB conversation (prose, a code block, a URL, no credential)
//! `N` times, with the secret scan on (`scan`) or off (`noscan`); the difference per span is
//! what the credential scan costs.
//!
//! ```sh
//! cargo bench --bench secret_scan --no-run
//! valgrind --tool=callgrind --toggle-collect='*map_attributes*' \
//!     target/release/deps/secret_scan-* scan 1000
//! ```
//!
//! Arguments: `scan` or `noscan`, then the number of spans (default 1000). `cargo bench` runs
//! both with 1000 spans and prints the wall time per span.

use std::hint::black_box;
use std::time::Instant;
use tracing_openinference::otel::opentelemetry::KeyValue;
use tracing_openinference::privacy::Privacy;

/// About 2 KB of an ordinary assistant conversation.
fn conversation() -> String {
    let user = "Can you explain how the retry logic in our Rust client works? We see timeouts \
                against https://api.example.com/v1/items?page=2&sort=desc when the backend is \
                slow, and the logs say `attempt 3 of 5` before it gives up. Is the backoff \
                exponential, and where is the maximum delay configured?";
    let assistant = "Sure. The client wraps each request in a loop:\n\n```rust\nlet mut delay = \
                     Duration::from_millis(500);\nfor attempt in 1..=max_attempts {\n    match \
                     client.get(&url).send() {\n        Ok(resp) if resp.status().is_success() \
                     => return Ok(resp),\n        _ => std::thread::sleep(delay),\n    }\n    \
                     delay = (delay * 2).min(max_delay);\n}\n```\n\nSo yes, the backoff is \
                     exponential: 0.5 s, 1 s, 2 s and so on, capped by `max_delay` (30 s by \
                     default, set in `config.toml` under `[http]`). A slow backend that answers \
                     after the 10 s timeout counts as a failed attempt, which is why you see \
                     `attempt 3 of 5`. Raising the timeout to 20 s, or lowering the page size \
                     so each request finishes sooner, both help. Before changing anything, \
                     check the p95 latency of the endpoint in Grafana: if it is above the \
                     timeout, the retries only add load to an overloaded service.\n\nAs for the \
                     numbers you asked about last week: the batch job processed 48,213 items \
                     in 7 min 32 s, about 107 items a second, with 12 failures, all of them \
                     HTTP 503 from the storage backend between 02:14 and 02:16 UTC. The \
                     dashboard at https://grafana.example.com/d/abc123/backend-latency shows \
                     the same spike. If you want, I can draft a pull request that adds full \
                     jitter (a random delay between zero and the current backoff) and a \
                     circuit breaker that stops retrying after ten failures in a minute.";
    serde_json::json!([
        {"role": "system", "content": "You are a helpful assistant for the platform team."},
        {"role": "user", "content": user},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": "Thanks! And what about the jitter? Do we add any?"},
    ])
    .to_string()
}

fn run(privacy: &Privacy, text: &str, n: usize) {
    for _ in 0..n {
        let attrs = vec![
            KeyValue::new("openinference.span.kind", "LLM"),
            KeyValue::new("llm.model_name", "gpt-4o-mini"),
            KeyValue::new("llm.input_messages", text.to_owned()),
        ];
        black_box(tracing_openinference::__private::map_attributes(
            privacy, attrs,
        ));
    }
}

fn main() {
    let text = conversation();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let modes: Vec<&str> = match args.first().map(String::as_str) {
        Some(m @ ("scan" | "noscan")) => vec![m],
        _ => vec!["scan", "noscan"],
    };
    for mode in modes {
        let privacy = Privacy::default().with_redact_secrets(mode == "scan");
        let start = Instant::now();
        run(&privacy, &text, n);
        let per = start.elapsed().as_nanos() as f64 / n as f64;
        println!(
            "{mode}: {} bytes of messages, {per:.0} ns per span",
            text.len()
        );
    }
}
