//! Testing your own instrumentation: assert on the spans your code exports.
//!
//! [`Recorder::install`] puts an [`LlmLayer`] on the current thread that ignores the process
//! environment (no `OTEL_*` variable of your shell leaks into a test), prints nothing, and
//! keeps every exported span in memory, mapped exactly as Phoenix or Langfuse would receive
//! it. It works in plain `#[test]`s and in `#[tokio::test]`s (their runtime runs on the test's
//! thread).
//!
//! ```
//! use tracing_openinference::testing::Recorder;
//!
//! #[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.token_count.prompt))]
//! fn ask(question: &str) {
//!     tracing::Span::current().record("llm.token_count.prompt", 12);
//! }
//!
//! let recorder = Recorder::install();
//! ask("What is Rust?");
//! let spans = recorder.spans();
//! let span = &spans[0];
//! assert_eq!(Recorder::attribute(span, "openinference.span.kind"), Some("LLM".into()));
//! assert_eq!(Recorder::attribute(span, "llm.token_count.prompt"), Some("12".into()));
//! ```

use crate::{LlmHandle, LlmLayer, LlmLayerBuilder};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::prelude::*;

/// How long [`Recorder::spans`] waits for the export thread.
const FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// An [`LlmLayer`] for tests, installed on the current thread, that keeps what it exports.
///
/// Dropping it removes the layer and shuts its pipeline down.
///
/// ```
/// use tracing_openinference::testing::Recorder;
///
/// let recorder = Recorder::install();
/// tracing::info_span!("retrieve", retrieval.documents = r#"[{"id": 1, "content": "Rust"}]"#)
///     .in_scope(|| {});
/// let spans = recorder.spans();
/// assert_eq!(
///     Recorder::attribute(&spans[0], "retrieval.documents.0.document.content"),
///     Some("Rust".into())
/// );
/// ```
#[derive(Debug)]
pub struct Recorder {
    kept: KeptSpans,
    handle: LlmHandle,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Recorder {
    /// A builder that ignores the process environment and prints nothing: the start of
    /// [`Recorder::install_with`].
    ///
    /// ```
    /// let builder = tracing_openinference::testing::Recorder::builder().with_sampling_ratio(0.5);
    /// # drop(builder);
    /// ```
    pub fn builder() -> LlmLayerBuilder {
        LlmLayerBuilder::from_env_with(|_| None).with_console_exporter(false)
    }

    /// Installs a recorder with the default settings on the current thread.
    ///
    /// ```
    /// let recorder = tracing_openinference::testing::Recorder::install();
    /// assert!(recorder.spans().is_empty());
    /// ```
    pub fn install() -> Recorder {
        Recorder::install_with(Recorder::builder())
    }

    /// Installs a recorder built from `builder` (start from [`Recorder::builder`]: privacy
    /// settings, prices, sampling) on the current thread.
    ///
    /// ```
    /// use tracing_openinference::{privacy::Privacy, testing::Recorder};
    ///
    /// let recorder = Recorder::install_with(
    ///     Recorder::builder().with_privacy(Privacy::default().with_hide_inputs(true)),
    /// );
    /// #[tracing::instrument(fields(llm.model_name = "gpt-4o-mini"))]
    /// fn ask(question: &str) {}
    /// ask("secret plans");
    /// let spans = recorder.spans();
    /// assert!(spans[0].attributes.iter().all(|kv| !kv.value.as_str().contains("secret plans")));
    /// ```
    pub fn install_with(builder: LlmLayerBuilder) -> Recorder {
        let kept = KeptSpans::default();
        let layer: LlmLayer<_> = builder.with_span_exporter(kept.clone()).build();
        let handle = layer.handle();
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        Recorder {
            kept,
            handle,
            _guard: guard,
        }
    }

    /// Every span exported so far, after waiting for the spans that have ended to be
    /// exported. Spans still open are not among them.
    ///
    /// ```
    /// let recorder = tracing_openinference::testing::Recorder::install();
    /// tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {});
    /// assert_eq!(recorder.spans()[0].name, "chat");
    /// ```
    pub fn spans(&self) -> Vec<SpanData> {
        if let Err(e) = self.handle.force_flush(FLUSH_LIMIT) {
            crate::error::warn_once(&format!("the test recorder's flush failed: {e}"));
        }
        self.kept.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The handle of the recorder's pipeline (its counters, a shutdown).
    ///
    /// ```
    /// let recorder = tracing_openinference::testing::Recorder::install();
    /// tracing::info_span!("chat", llm.model_name = "gpt-4o-mini").in_scope(|| {});
    /// let _ = recorder.spans();
    /// assert_eq!(recorder.handle().pipeline_stats().spans_exported, 1);
    /// ```
    pub fn handle(&self) -> &LlmHandle {
        &self.handle
    }

    /// The value of attribute `key` on `span`, as text (`None` if absent).
    ///
    /// ```
    /// use tracing_openinference::testing::Recorder;
    ///
    /// let recorder = Recorder::install();
    /// tracing::info_span!("chat", llm.token_count.prompt = 12, llm.token_count.completion = 4)
    ///     .in_scope(|| {});
    /// let spans = recorder.spans();
    /// assert_eq!(Recorder::attribute(&spans[0], "llm.token_count.total"), Some("16".into()));
    /// assert_eq!(Recorder::attribute(&spans[0], "no.such.key"), None);
    /// ```
    pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.handle.shutdown(FLUSH_LIMIT);
    }
}

/// An exporter that keeps every span it is given (unlike the SDK's in-memory exporter, it
/// keeps them through a shutdown).
#[derive(Debug, Clone, Default)]
struct KeptSpans(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for KeptSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if let Ok(mut kept) = self.0.lock() {
            kept.extend(batch);
        }
        Ok(())
    }
}
