//! # tracing-openinference
//!
//! LLM observability for Rust services that already use [`tracing`]: every LLM call, tool
//! call and retrieval becomes a typed OpenTelemetry span with OpenInference attributes (what
//! Arize Phoenix renders) and the OpenTelemetry GenAI attributes (what Langfuse and GenAI-aware
//! backends read), plus GenAI metrics.
//!
//! ```
//! use tracing_openinference::LlmLayer;
//! use tracing_subscriber::prelude::*;
//!
//! let layer = LlmLayer::builder().with_console_exporter(false).build();
//! let handle = layer.handle();
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     #[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai",
//!                                  llm.token_count.prompt, llm.token_count.completion), ret)]
//!     fn answer(question: &str) -> String {
//!         tracing::Span::current()
//!             .record("llm.token_count.prompt", 12)
//!             .record("llm.token_count.completion", 4);
//!         "Rust is a systems language.".to_owned()
//!     }
//!     answer("What is Rust?");
//! });
//! handle.shutdown(std::time::Duration::from_secs(5)).unwrap();
//! ```
//!
//! With no configuration, finished traces print on stderr as trees; with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (Phoenix: `http://localhost:6006`) or the Langfuse keys, they
//! go there over OTLP. See the README for the field contract and every setting.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod builder;
mod export;
mod fnv;
mod handle;
mod kind;
mod layer;
mod macros;
mod mapping;
pub mod metrics;
mod pipeline;
pub mod pricing;
pub mod privacy;
mod span_ext;
mod thread_cache;

pub use builder::{BuildError, LlmLayerBuilder};
pub use export::transport::OtlpCompression;
pub use handle::{HandleError, LlmHandle, PANIC_FLUSH_TIMEOUT};
pub use kind::SpanKind;
pub use layer::LlmLayer;
pub use pipeline::PipelineSnapshot;
pub use span_ext::{
    Document, FunctionCall, LlmSpanExt, Message, RecordError, SemanticValue, StreamGuard, ToolCall,
    Usage,
};

/// The OpenTelemetry crates this crate was built against, so versions always match.
///
/// ```
/// use tracing_openinference::otel::opentelemetry::trace::TraceContextExt as _;
/// use tracing_openinference::otel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
/// ```
pub mod otel {
    pub use opentelemetry;
    pub use opentelemetry_sdk;
    pub use tracing_opentelemetry;
}

#[doc(hidden)]
pub mod __private {
    pub use crate::mapping::{fuzz_map_field, map_attributes};
    pub use tracing;
}
