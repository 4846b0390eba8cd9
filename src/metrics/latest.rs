//! The instruments of the latest GenAI names, made when the layer opts in to them
//! (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`, see `crate::semconv`), and
//! which instrument each LLM series binds to under either naming.
//!
//! The choice is made once per (operation, provider, model) series, when its instruments are
//! bound: recording a span costs the same under both namings.

use super::{Instruments, DURATION_BUCKETS, TOKEN_BUCKETS};
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram, Meter};
use opentelemetry::KeyValue;

/// The `gen_ai.client.inference.usage.*` counters, in the order of the crate's token types
/// (input, output, cache read, cache write, reasoning).
const USAGE_COUNTERS: [(&str, &str); 5] = [
    (
        "gen_ai.client.inference.usage.input_tokens",
        "The number of input (prompt) tokens used, including cached tokens",
    ),
    (
        "gen_ai.client.inference.usage.output_tokens",
        "The number of output (completion) tokens used, including reasoning tokens",
    ),
    (
        "gen_ai.client.inference.usage.cache_read.input_tokens",
        "The number of input tokens served from a provider-managed cache",
    ),
    (
        "gen_ai.client.inference.usage.cache_write.input_tokens",
        "The number of input tokens written to a provider-managed cache",
    ),
    (
        "gen_ai.client.inference.usage.reasoning.output_tokens",
        "The number of output tokens used for reasoning",
    ),
];

/// `gen_ai.token.modality` for counts that no provider splits by modality.
const UNKNOWN_MODALITY: &str = "unknown";

/// The instruments only the latest names have.
#[derive(Debug)]
pub(super) struct LatestInstruments {
    /// `gen_ai.client.inference.duration`.
    inference_duration: Histogram<f64>,
    /// `gen_ai.client.inference.time_to_first_chunk`.
    ttfc: Histogram<f64>,
    /// `gen_ai.client.inference.time_per_output_chunk`.
    tpoc: Histogram<f64>,
    /// `gen_ai.client.inference.operation.{input,output}_tokens`.
    operation_tokens: [Histogram<u64>; 2],
    /// The `gen_ai.client.inference.usage.*` counters, in [`USAGE_COUNTERS`] order.
    usage: [Counter<u64>; 5],
    /// `gen_ai.execute_tool.duration`.
    pub(super) tool_duration: Histogram<f64>,
}

impl LatestInstruments {
    pub(super) fn new(meter: &Meter) -> LatestInstruments {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        let tokens = |name: &'static str, description: &'static str| {
            meter
                .u64_histogram(name)
                .with_unit("{token}")
                .with_description(description)
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build()
        };
        LatestInstruments {
            inference_duration: seconds(
                "gen_ai.client.inference.duration",
                "GenAI inference operation duration",
            ),
            ttfc: seconds(
                "gen_ai.client.inference.time_to_first_chunk",
                "Time to receive the first chunk of a streamed response",
            ),
            tpoc: seconds(
                "gen_ai.client.inference.time_per_output_chunk",
                "Time per output chunk after the first one, from the end of the previous chunk",
            ),
            operation_tokens: [
                tokens(
                    "gen_ai.client.inference.operation.input_tokens",
                    "Input tokens per inference operation",
                ),
                tokens(
                    "gen_ai.client.inference.operation.output_tokens",
                    "Output tokens per inference operation",
                ),
            ],
            usage: USAGE_COUNTERS.map(|(name, description)| {
                meter
                    .u64_counter(name)
                    .with_unit("{token}")
                    .with_description(description)
                    .build()
            }),
            tool_duration: seconds(
                "gen_ai.execute_tool.duration",
                "The duration of a single tool execution",
            ),
        }
    }
}

/// Whether `op` is an inference operation, which the latest names measure under
/// `gen_ai.client.inference.*` (other operations keep `gen_ai.client.operation.duration`).
fn is_inference(op: &str) -> bool {
    matches!(op, "chat" | "text_completion" | "generate_content")
}

/// The instruments one LLM series records into, bound to its attributes.
#[derive(Debug)]
pub(super) struct Bound {
    /// Duration, bound to the series' attributes.
    pub(super) duration: BoundHistogram<f64>,
    /// The same instrument unbound, for a failed call (which adds `error.type`).
    pub(super) failed_duration: Histogram<f64>,
    /// Time to first chunk (unbound: bound at a series' first streamed call; none for
    /// embeddings under the latest names).
    pub(super) ttfc: Option<Histogram<f64>>,
    /// Time per output chunk (unbound, as `ttfc`); none where `ttfc` is none.
    pub(super) tpoc: Option<Histogram<f64>>,
    /// Input and output tokens per call (none for embeddings under the latest names).
    pub(super) usage: Vec<BoundHistogram<u64>>,
    /// The `gen_ai.client.inference.usage.*` counters by token type (latest names only).
    pub(super) usage_counters: Vec<BoundCounter<u64>>,
}

/// Binds the duration, chunk-time and token instruments of one series: `base` is
/// its operation, provider and model, `input` / `output` the same with `gen_ai.token.type`.
pub(super) fn bind(
    m: &Instruments,
    op: &str,
    base: &[KeyValue],
    input: &[KeyValue],
    output: &[KeyValue],
) -> Bound {
    let Some(latest) = &m.latest else {
        return Bound {
            duration: m.duration.bind(base),
            failed_duration: m.duration.clone(),
            ttfc: Some(m.ttfc.clone()),
            tpoc: Some(m.tpoc.clone()),
            usage: vec![m.token_usage.bind(input), m.token_usage.bind(output)],
            usage_counters: Vec::new(),
        };
    };
    if !is_inference(op) {
        return Bound {
            duration: m.duration.bind(base),
            failed_duration: m.duration.clone(),
            ttfc: None,
            tpoc: None,
            usage: Vec::new(),
            usage_counters: Vec::new(),
        };
    }
    let mut modal = base.to_vec();
    modal.push(KeyValue::new("gen_ai.token.modality", UNKNOWN_MODALITY));
    Bound {
        duration: latest.inference_duration.bind(base),
        failed_duration: latest.inference_duration.clone(),
        ttfc: Some(latest.ttfc.clone()),
        tpoc: Some(latest.tpoc.clone()),
        usage: latest
            .operation_tokens
            .iter()
            .map(|h| h.bind(base))
            .collect(),
        usage_counters: latest.usage.iter().map(|c| c.bind(&modal)).collect(),
    }
}
