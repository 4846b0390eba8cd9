//! [`StreamGuard`]: time to first token and incomplete streams, on a streamed LLM span.

use crate::LlmSpanExt;

/// Watches a streamed LLM response on its span: the first [`StreamGuard::chunk`] sets time
/// to first token and each later one adds to time per output chunk, [`StreamGuard::finish`]
/// marks the normal end, and a guard dropped before `finish` (the consumer stopped reading, the task was cancelled) marks the span
/// `openinference.stream.incomplete = true`, so the span is exported with what it had and
/// says so.
///
/// ```
/// use tracing_openinference::StreamGuard;
///
/// let span = tracing::info_span!("chat", llm.model_name = "gpt-4o-mini");
/// let mut stream = StreamGuard::new(span.clone());
/// for _token in ["Hel", "lo"] {
///     stream.chunk(); // time to first token, then one interval per further chunk
/// }
/// assert_eq!(stream.chunks(), 2);
/// stream.finish();
/// ```
#[derive(Debug)]
pub struct StreamGuard {
    span: tracing::Span,
    chunks: u64,
    finished: bool,
}

impl StreamGuard {
    /// Starts watching the stream of `span`.
    ///
    /// ```
    /// let guard = tracing_openinference::StreamGuard::new(tracing::Span::current());
    /// # guard.finish();
    /// ```
    pub fn new(span: tracing::Span) -> Self {
        StreamGuard {
            span,
            chunks: 0,
            finished: false,
        }
    }

    /// Notes one received chunk ([`LlmSpanExt::mark_chunk`]): the first marks time to first
    /// token, each later one adds its interval from the previous chunk to the
    /// time-per-output-chunk histogram.
    ///
    /// ```
    /// let mut guard = tracing_openinference::StreamGuard::new(tracing::Span::none());
    /// guard.chunk();
    /// # guard.finish();
    /// ```
    pub fn chunk(&mut self) {
        let _ = self.span.mark_chunk();
        self.chunks = self.chunks.saturating_add(1);
    }

    /// Chunks seen so far.
    ///
    /// ```
    /// let guard = tracing_openinference::StreamGuard::new(tracing::Span::none());
    /// assert_eq!(guard.chunks(), 0);
    /// # guard.finish();
    /// ```
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Marks the stream complete; the span is not flagged incomplete.
    ///
    /// ```
    /// tracing_openinference::StreamGuard::new(tracing::Span::none()).finish();
    /// ```
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.span.mark_stream_incomplete();
        }
    }
}
