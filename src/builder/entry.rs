//! The one-line entry points: [`LlmLayer::new`], [`LlmLayer::builder`] and `Default`, which
//! build a layer from the environment.

use super::LlmLayerBuilder;
use crate::layer::LlmLayer;
use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer configured from the environment (`OTEL_*`, `PHOENIX_*`, `LANGFUSE_*`,
    /// `OPENINFERENCE_*`). It never panics: a bad setting is warned about once on stderr and
    /// the layer falls back to printing traces on stderr.
    ///
    /// ```
    /// use tracing_openinference::LlmLayer;
    /// use tracing_subscriber::prelude::*;
    ///
    /// let subscriber = tracing_subscriber::registry().with(LlmLayer::new());
    /// # drop(subscriber);
    /// ```
    pub fn new() -> Self {
        LlmLayerBuilder::from_env().build()
    }
}

impl LlmLayer<tracing_subscriber::Registry> {
    /// A builder for every setting in code; it starts from the environment.
    ///
    /// ```
    /// use tracing_openinference::LlmLayer;
    /// use tracing_subscriber::Registry;
    ///
    /// let layer: LlmLayer<Registry> = LlmLayer::builder().with_service_name("my-agent").build();
    /// # drop(layer);
    /// ```
    pub fn builder() -> LlmLayerBuilder {
        LlmLayerBuilder::from_env()
    }
}

impl<S> Default for LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn default() -> Self {
        Self::new()
    }
}
