//! [`OpenInferenceExporter`]: the mapping to the conventions, privacy and limits in front of
//! any `SpanExporter` of a service's own provider.

use super::recognize::recognize;
use crate::mapping::Mapper;
use crate::pricing::PriceTable;
use crate::privacy::Privacy;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::time::Duration;

/// What [`OpenInferenceExporter`] does with a span that has none of the LLM fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainSpans {
    /// Exported as the plain bridge exported it (the default: a company collector sees the
    /// service's spans unchanged).
    #[default]
    Unchanged,
    /// Mapped and tagged `openinference.span.kind = CHAIN`, as [`LlmLayer`](crate::LlmLayer)
    /// exports it (Phoenix then shows no span as `UNKNOWN`).
    AsChain,
    /// Not exported (a destination for LLM spans only).
    Drop,
}

/// A `SpanExporter` that maps the LLM spans of a service's own pipeline to the OpenInference
/// and GenAI attributes, then hands the batch to `E`.
///
/// Spans are recognized by their fields as [`LlmLayer`](crate::LlmLayer) recognizes them
/// (see [the module docs](super)); JSON fields are flattened, token counts are integers, the
/// total and the cost (from the built-in price table, or [`with_price_table`]) are added, and
/// the privacy masks and limits apply (from the `OPENINFERENCE_*` environment, or
/// [`with_privacy`]).
///
/// [`with_price_table`]: OpenInferenceExporter::with_price_table
/// [`with_privacy`]: OpenInferenceExporter::with_privacy
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use tracing_openinference::compose::OpenInferenceExporter;
///
/// let provider = SdkTracerProvider::builder()
///     .with_simple_exporter(OpenInferenceExporter::new(InMemorySpanExporter::default()))
///     .build();
/// # drop(provider);
/// ```
#[derive(Debug)]
pub struct OpenInferenceExporter<E> {
    inner: E,
    mapper: Mapper,
    prices: PriceTable,
    plain: PlainSpans,
}

impl<E: SpanExporter> OpenInferenceExporter<E> {
    /// Wraps `inner`, with the privacy settings of the `OPENINFERENCE_*` environment (their
    /// defaults if a value is bad: the layer's [`try_build`] reports those) and the built-in
    /// prices.
    ///
    /// [`try_build`]: crate::LlmLayerBuilder::try_build
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use tracing_openinference::compose::OpenInferenceExporter;
    ///
    /// let exporter = OpenInferenceExporter::new(InMemorySpanExporter::default());
    /// # drop(exporter);
    /// ```
    pub fn new(inner: E) -> Self {
        OpenInferenceExporter {
            inner,
            mapper: Mapper::new(Privacy::from_env().unwrap_or_default()),
            prices: PriceTable::builtin(),
            plain: PlainSpans::Unchanged,
        }
    }

    /// The masks and limits to apply.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use tracing_openinference::{compose::OpenInferenceExporter, privacy::Privacy};
    ///
    /// let exporter = OpenInferenceExporter::new(InMemorySpanExporter::default())
    ///     .with_privacy(Privacy::default().with_hide_inputs(true));
    /// # drop(exporter);
    /// ```
    pub fn with_privacy(mut self, privacy: Privacy) -> Self {
        self.mapper = Mapper::new(privacy);
        self
    }

    /// The prices that cost is computed from (USD per million tokens).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use tracing_openinference::compose::OpenInferenceExporter;
    /// use tracing_openinference::pricing::{ModelPrice, PriceTable};
    ///
    /// let prices = PriceTable::builtin().with_price("my-model", ModelPrice::new(0.5, 1.5));
    /// let exporter = OpenInferenceExporter::new(InMemorySpanExporter::default())
    ///     .with_price_table(prices);
    /// # drop(exporter);
    /// ```
    pub fn with_price_table(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// What to do with spans that carry none of the LLM fields (default
    /// [`PlainSpans::Unchanged`]).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use tracing_openinference::compose::{OpenInferenceExporter, PlainSpans};
    ///
    /// let llm_only = OpenInferenceExporter::new(InMemorySpanExporter::default())
    ///     .with_plain_spans(PlainSpans::Drop);
    /// # drop(llm_only);
    /// ```
    pub fn with_plain_spans(mut self, plain: PlainSpans) -> Self {
        self.plain = plain;
        self
    }

    /// The span mapped, or `None` if it is not to be exported.
    fn map(&self, mut span: SpanData) -> Option<SpanData> {
        let found = recognize(&mut span.attributes);
        if found.kind.is_none() {
            match self.plain {
                PlainSpans::Unchanged => return Some(span),
                PlainSpans::Drop => return None,
                PlainSpans::AsChain => {}
            }
        }
        span.attributes.extend(found.derived(&self.prices));
        self.mapper.map_span(&mut span, None);
        Some(span)
    }
}

impl<E: SpanExporter> SpanExporter for OpenInferenceExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mapped: Vec<SpanData> = batch.into_iter().filter_map(|s| self.map(s)).collect();
        if mapped.is_empty() {
            return Ok(());
        }
        self.inner.export(mapped).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
