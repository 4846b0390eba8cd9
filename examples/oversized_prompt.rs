//! One LLM call with a 50 MB prompt, exported like any other: the layer truncates the value (at a
//! UTF-8 boundary, with a marker and the original length) and keeps the span under its byte budget,
//! so the collector accepts the request instead of rejecting it as too large.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 cargo run --release --example oversized_prompt -- run-1
//! ```
//!
//! The argument (default `oversized-prompt`) becomes the span's `session.id`, so a check can find
//! this very span; CI's Phoenix step does (`.ci/phoenix_oversized_check.py`). Exits non-zero when
//! the export fails or does not finish in time.

use std::time::{Duration, Instant};
use tracing_openinference::{LlmLayer, LlmSpanExt, Message, Usage};
use tracing_subscriber::prelude::*;

/// 50 MiB.
const PROMPT_BYTES: usize = 50 << 20;

fn main() {
    let run_id = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "oversized-prompt".into());
    let layer = LlmLayer::new();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    // Two-byte and three-byte characters, so a cut at the cap would split one if the layer were careless.
    let unit = "Résumé of the contract, clause 7 € ";
    let mut prompt = unit.repeat(PROMPT_BYTES / unit.len() + 1);
    let mut end = PROMPT_BYTES;
    while !prompt.is_char_boundary(end) {
        end -= 1;
    }
    prompt.truncate(end);
    let started = Instant::now();
    summarize(&run_id, &prompt);
    let recorded = started.elapsed();

    let flush_started = Instant::now();
    let result = handle.shutdown(Duration::from_secs(60));
    eprintln!(
        "oversized_prompt: {} byte prompt, span recorded in {recorded:?}, mapped and exported in {:?}",
        prompt.len(),
        flush_started.elapsed()
    );
    if let Err(e) = result {
        eprintln!("oversized_prompt: export failed: {e}");
        std::process::exit(1);
    }
    println!("{}", prompt.len());
}

#[tracing::instrument(skip_all, fields(session.id = %run_id, llm.model_name = "gpt-4o-mini",
                                       llm.provider = "openai", input.value = %prompt))]
fn summarize(run_id: &str, prompt: &str) {
    let span = tracing::Span::current();
    let _ = span.record_input_messages(&[
        Message::system("Summarize the document."),
        Message::user(prompt),
    ]);
    let _ = span.record_output_messages(&[Message::assistant("A long contract.")]);
    let _ = span.record_usage(Usage {
        prompt: 12_000_000,
        completion: 4,
        ..Usage::default()
    });
}
