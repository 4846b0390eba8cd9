#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod builder;
mod chunk_gaps;
pub mod compose;
mod error;
pub mod evaluation;
mod export;
mod flag;
mod fnv;
mod handle;
#[cfg(feature = "async-openai")]
pub mod integrations;
pub mod keep;
mod kind;
mod layer;
mod macros;
mod mapping;
mod message_parts;
pub mod metrics;
mod pipeline;
pub mod pricing;
pub mod privacy;
pub mod propagation;
mod semconv;
mod span_ext;
mod span_state;
mod span_values;
mod stream_guard;
pub mod testing;
mod thread_cache;
pub mod usage;

pub use builder::{BuildError, LlmLayerBuilder};
pub use export::transport::OtlpCompression;
pub use handle::{HandleError, LlmHandle, PANIC_FLUSH_TIMEOUT};
pub use kind::SpanKind;
pub use layer::LlmLayer;
pub use message_parts::{ContentPart, MultipartMessage};
pub use pipeline::PipelineSnapshot;
pub use span_ext::{LlmSpanExt, RecordError, SemanticValue};
pub use span_values::{Document, FunctionCall, Message, Prompt, ToolCall, Usage};
pub use stream_guard::StreamGuard;

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
