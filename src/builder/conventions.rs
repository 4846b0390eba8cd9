//! The edition of the OpenTelemetry GenAI names the layer emits (see `crate::semconv`).

use super::LlmLayerBuilder;
use crate::export::env::Getter;
use crate::semconv::{opts_in_gen_ai_latest, OPT_IN_VAR};

impl LlmLayerBuilder {
    /// Emits the latest experimental OpenTelemetry GenAI names instead of those of
    /// semantic-conventions v1.41.0, like `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
    /// (`false` keeps the v1.41.0 names whatever the variable says):
    ///
    /// - metrics: `gen_ai.client.inference.duration`, `gen_ai.client.inference.time_to_first_chunk`,
    ///   `gen_ai.client.inference.time_per_output_chunk`, the `gen_ai.client.inference.usage.*` token counters (input, output,
    ///   `cache_read.input`, `cache_write.input`, `reasoning.output`) and the
    ///   `gen_ai.client.inference.operation.{input,output}_tokens` histograms in place of
    ///   `gen_ai.client.token.usage`, and `gen_ai.execute_tool.duration` for tools;
    /// - span attributes: `gen_ai.usage.cache_write.input_tokens` in place of
    ///   `gen_ai.usage.cache_creation.input_tokens`, `gen_ai.request.top_k` as an integer, and
    ///   no `gen_ai.provider.name` or cache token counts on agent spans.
    ///
    /// The OpenInference attributes and the crate's own `openinference.*` metrics do not change.
    ///
    /// ```
    /// use tracing_openinference::LlmLayer;
    ///
    /// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder()
    ///     .with_gen_ai_latest_conventions(true)
    ///     .with_console_exporter(false)
    ///     .build();
    /// # drop(layer);
    /// ```
    pub fn with_gen_ai_latest_conventions(mut self, latest: bool) -> Self {
        self.gen_ai_latest = Some(latest);
        self
    }

    /// The setting made in code, else `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub(super) fn gen_ai_latest(&self, get: Getter<'_>) -> bool {
        self.gen_ai_latest
            .unwrap_or_else(|| get(OPT_IN_VAR).is_some_and(|v| opts_in_gen_ai_latest(&v)))
    }
}
