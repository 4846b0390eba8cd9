//! Which edition of the OpenTelemetry GenAI names the layer emits.
//!
//! By default the layer keeps the names of semantic-conventions v1.41.0, the last GenAI
//! release in the main repository. The conventions' transition plan asks instrumentations to
//! keep those until told otherwise, and to emit the latest experimental names *instead* when
//! `OTEL_SEMCONV_STABILITY_OPT_IN` (a comma-separated list) holds
//! `gen_ai_latest_experimental`. With that opt-in, following open-telemetry/
//! semantic-conventions-genai (`docs/gen-ai/client-inference.md`,
//! `gen-ai-token-metrics.md`, `gen-ai-metrics.md` and the migration guide):
//!
//! | default (v1.41.0) | latest |
//! |---|---|
//! | `gen_ai.client.operation.duration` (chat) | `gen_ai.client.inference.duration` |
//! | `gen_ai.client.operation.time_to_first_chunk` | `gen_ai.client.inference.time_to_first_chunk` |
//! | `gen_ai.client.operation.time_per_output_chunk` | `gen_ai.client.inference.time_per_output_chunk` |
//! | `gen_ai.client.token.usage` (histogram by `gen_ai.token.type`) | `gen_ai.client.inference.operation.{input,output}_tokens` histograms and `gen_ai.client.inference.usage.{input_tokens, output_tokens, cache_read.input_tokens, cache_write.input_tokens, reasoning.output_tokens}` counters by `gen_ai.token.modality` |
//! | — | `gen_ai.execute_tool.duration` (by `gen_ai.tool.name`) |
//! | span attribute `gen_ai.usage.cache_creation.input_tokens` | `gen_ai.usage.cache_write.input_tokens` |
//! | span attribute `gen_ai.request.top_k`, a double | an integer |
//! | `gen_ai.provider.name` and cache token counts on agent spans | left out (in-process `invoke_agent`) |
//!
//! Embeddings keep `gen_ai.client.operation.duration` either way (it stays for operations
//! other than inference). The crate's own `openinference.*` metrics are the same in both.

/// The standard variable that opts in to newer semantic conventions.
pub(crate) const OPT_IN_VAR: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";

/// The value of [`OPT_IN_VAR`] that selects the latest GenAI names.
pub(crate) const GEN_AI_LATEST: &str = "gen_ai_latest_experimental";

/// Whether a value of [`OPT_IN_VAR`] lists [`GEN_AI_LATEST`].
pub(crate) fn opts_in_gen_ai_latest(value: &str) -> bool {
    value.split(',').any(|v| v.trim() == GEN_AI_LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_in_is_one_entry_of_a_comma_separated_list() {
        assert!(opts_in_gen_ai_latest("gen_ai_latest_experimental"));
        assert!(opts_in_gen_ai_latest(
            "http, gen_ai_latest_experimental ,database"
        ));
        assert!(!opts_in_gen_ai_latest("http"));
        assert!(!opts_in_gen_ai_latest("gen_ai_latest_experimental/dup"));
        assert!(!opts_in_gen_ai_latest(""));
    }
}
