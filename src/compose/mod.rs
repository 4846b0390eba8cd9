//! Parts for a service that already has its own OpenTelemetry pipeline.
//!
//! A service that runs `tracing-opentelemetry` with its own `SdkTracerProvider` (its sampler,
//! resource, processors and exporters) keeps all of it. It adds
//! [`OpenInferenceExporter`] around the exporter of each destination that should read the LLM
//! spans: the wrapper recognizes LLM, tool, retriever, embedding, reranker and agent spans by
//! their fields, exactly as [`LlmLayer`](crate::LlmLayer) does, and maps them to the
//! OpenInference and GenAI attributes with the same privacy masks and limits; it leaves every
//! other span as the plain bridge exported it, or drops it for an LLM-only destination.
//!
//! Each destination sits behind its own `BatchSpanProcessor`, so it has its own bounded queue,
//! and a collector that fails does not hold up the others.
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::{BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider};
//! use tracing_openinference::compose::{OpenInferenceExporter, PlainSpans};
//! use tracing_subscriber::prelude::*;
//!
//! let company = InMemorySpanExporter::default(); // the service's collector, for every span
//! let phoenix = InMemorySpanExporter::default(); // Phoenix, for the LLM spans
//! let provider = SdkTracerProvider::builder()
//!     .with_span_processor(BatchSpanProcessor::builder(
//!         OpenInferenceExporter::new(company.clone()),
//!     ).build())
//!     .with_span_processor(BatchSpanProcessor::builder(
//!         OpenInferenceExporter::new(phoenix.clone()).with_plain_spans(PlainSpans::Drop),
//!     ).build())
//!     .build();
//! let bridge = tracing_opentelemetry::layer().with_tracer(provider.tracer("my-service"));
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(bridge), || {
//!     tracing::info_span!("GET /chat", http.route = "/chat").in_scope(|| {
//!         tracing::info_span!("chat", llm.model_name = "gpt-4o-mini", llm.token_count.prompt = 12)
//!             .in_scope(|| {});
//!     });
//! });
//! provider.force_flush().unwrap();
//! assert_eq!(company.get_finished_spans().unwrap().len(), 2);
//! assert_eq!(phoenix.get_finished_spans().unwrap().len(), 1);
//! ```
//!
//! The LLM semantics that need the spans as they happen (`session.id`, `user.id`, `metadata`
//! and `tag.tags` inherited from ancestor spans, `output.value` from `#[instrument(ret)]`, the
//! error type, and the GenAI metrics of every call, sampled or not) come from
//! [`LlmSemantics`], a layer next to the service's own bridge; without it, spans carry only
//! what was recorded on them. Error-keeping sampling comes as a pair for the provider:
//! [`KeepErrorsSampler`] and [`KeepErrorsProcessor`].
//!
//! [`LlmLayer`](crate::LlmLayer) is these parts assembled around a bridge and pipeline of its
//! own: the same per-span state, derivation and metrics as [`LlmSemantics`], the same mapping,
//! privacy and limits as [`OpenInferenceExporter`].

mod exporter;
mod keep_errors;
mod recognize;
mod semantics;

pub use exporter::{OpenInferenceExporter, PlainSpans};
pub use keep_errors::{KeepErrorsProcessor, KeepErrorsSampler};
pub use semantics::LlmSemantics;
