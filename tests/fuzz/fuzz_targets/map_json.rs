//! Fuzzes the mapping of one field, as the exporter does it: a semantic key (picked by the first byte) and a
//! JSON-or-not string (the rest, decoded lossily), through `Mapper::map_span` and the privacy limits.
//!
//! Beyond "no panic", it checks the promises on the output: a span kind is always set and no exported string is
//! longer than the value cap plus the truncation marker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracing_openinference::otel::opentelemetry::{Array, Value};
use tracing_openinference::privacy::DEFAULT_MAX_VALUE_LEN;

const KEYS: &[&str] = &[
    "llm.input_messages",
    "llm.output_messages",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "retrieval.documents",
    "reranker.input_documents",
    "reranker.output_documents",
    "gen_ai.retrieval.documents",
    "llm.tools",
    "gen_ai.tool.definitions",
    "embedding.embeddings",
    "tag.tags",
    "llm.prompts",
    "llm.choices",
    "llm.invocation_parameters",
    "embedding.invocation_parameters",
    "metadata",
    "tool.parameters",
    "input.value",
    "output.value",
    "llm.function_call",
    "llm.prompt_template.variables",
    "gen_ai.tool.call.arguments",
    "openinference.span.kind",
    "llm.model_name",
    "question",
    "api_key",
];

/// The longest truncation marker: `…[truncated, ` + 20 digits + ` bytes]`.
const MARKER_MAX: usize = "…[truncated, ".len() + 20 + " bytes]".len();

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let key = KEYS[usize::from(selector) % KEYS.len()];
    let raw = String::from_utf8_lossy(rest);
    let out = tracing_openinference::__private::fuzz_map_field(key, &raw);
    assert!(out
        .iter()
        .any(|kv| kv.key.as_str() == "openinference.span.kind"));
    for kv in &out {
        let strings: Vec<&str> = match &kv.value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(Array::String(v)) => v.iter().map(|s| s.as_str()).collect(),
            _ => Vec::new(),
        };
        for s in strings {
            assert!(
                s.len() <= DEFAULT_MAX_VALUE_LEN + MARKER_MAX,
                "{} is {} bytes",
                kv.key,
                s.len()
            );
        }
    }
});
