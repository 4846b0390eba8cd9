//! Error-keeping sampling for a service's own provider: [`KeepErrorsSampler`] records what the
//! ratio does not sample, and [`KeepErrorsProcessor`] holds those spans until their local root
//! ends, then hands the whole trace on if anything in it failed (or its root was slow), with
//! `openinference.sampling.reason` on the root.
//!
//! The decisions and the bounded buffer are the ones [`LlmLayer`](crate::LlmLayer) uses.

use crate::pipeline::stats::PipelineStats;
use crate::pipeline::traces::{BufferLimits, TraceBuffer, Verdict};
use crate::PipelineSnapshot;
use opentelemetry::trace::{
    Link, SpanContext, SpanKind, TraceContextExt as _, TraceFlags, TraceId,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Parent-based trace-id ratio sampling that records (without sampling) what it drops, so
/// that [`KeepErrorsProcessor`] can still keep a failing trace. The sampled flag that other
/// services see is the ratio's decision.
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
/// use tracing_openinference::compose::{KeepErrorsProcessor, KeepErrorsSampler};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_sampler(KeepErrorsSampler::new(0.1))
///     .with_span_processor(KeepErrorsProcessor::new(SimpleSpanProcessor::new(exporter)))
///     .build();
/// # drop(provider);
/// ```
#[derive(Debug, Clone)]
pub struct KeepErrorsSampler {
    ratio: Sampler,
}

impl KeepErrorsSampler {
    /// Samples `ratio` (0..=1, clamped) of the root traces; children follow their parent.
    ///
    /// ```
    /// let sampler = tracing_openinference::compose::KeepErrorsSampler::new(0.25);
    /// # drop(sampler);
    /// ```
    pub fn new(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() { 1.0 } else { ratio };
        KeepErrorsSampler {
            ratio: Sampler::TraceIdRatioBased(ratio.clamp(0.0, 1.0)),
        }
    }
}

impl ShouldSample for KeepErrorsSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let (sampled, trace_state) = match parent {
            Some(sc) => (sc.is_sampled(), sc.trace_state().clone()),
            None => {
                let result = self
                    .ratio
                    .should_sample(None, trace_id, name, span_kind, attributes, links);
                (
                    result.decision == SamplingDecision::RecordAndSample,
                    result.trace_state,
                )
            }
        };
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::RecordOnly
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}

/// A span processor in front of another (usually a `BatchSpanProcessor`): sampled spans pass
/// straight on; recorded but unsampled spans wait, per trace, in a buffer bounded in bytes and
/// spans, and their trace is handed on whole, marked sampled, if a span in it failed or its
/// local root lasted longer than [`keep_slow`](KeepErrorsProcessor::keep_slow). Pair it with
/// [`KeepErrorsSampler`].
///
/// ```
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, InMemorySpanExporter};
/// use tracing_openinference::compose::KeepErrorsProcessor;
///
/// let processor = KeepErrorsProcessor::new(
///     BatchSpanProcessor::builder(InMemorySpanExporter::default()).build(),
/// )
/// .keep_slow(std::time::Duration::from_secs(5));
/// assert_eq!(processor.stats().spans_exported, 0);
/// ```
#[derive(Debug)]
pub struct KeepErrorsProcessor<P> {
    inner: P,
    buffer: Mutex<TraceBuffer<SpanData>>,
    stats: Arc<PipelineStats>,
}

impl<P: SpanProcessor> KeepErrorsProcessor<P> {
    /// Keeps failing traces for `inner`, in at most 32 MiB and 50,000 spans (as
    /// [`LlmLayer`](crate::LlmLayer) does by default).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    /// let p = tracing_openinference::compose::KeepErrorsProcessor::new(
    ///     SimpleSpanProcessor::new(InMemorySpanExporter::default()),
    /// );
    /// # drop(p);
    /// ```
    pub fn new(inner: P) -> Self {
        KeepErrorsProcessor {
            inner,
            buffer: Mutex::new(TraceBuffer::new(BufferLimits {
                max_bytes: 32 << 20,
                max_spans: 50_000,
                keep_errors: true,
                slow: None,
            })),
            stats: Arc::default(),
        }
    }

    /// Also keeps a trace whose local root lasts longer than `threshold`.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    /// let p = tracing_openinference::compose::KeepErrorsProcessor::new(
    ///     SimpleSpanProcessor::new(InMemorySpanExporter::default()),
    /// )
    /// .keep_slow(std::time::Duration::from_millis(1500));
    /// # drop(p);
    /// ```
    pub fn keep_slow(self, threshold: Duration) -> Self {
        self.limits(|l| l.slow = Some(threshold))
    }

    /// The buffer's bounds: past either, the oldest undecided traces are dropped whole and
    /// counted (`buffer_full`).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    /// let p = tracing_openinference::compose::KeepErrorsProcessor::new(
    ///     SimpleSpanProcessor::new(InMemorySpanExporter::default()),
    /// )
    /// .with_buffer(8 << 20, 10_000);
    /// # drop(p);
    /// ```
    pub fn with_buffer(self, max_bytes: usize, max_spans: usize) -> Self {
        self.limits(|l| {
            l.max_bytes = max_bytes;
            l.max_spans = max_spans.max(1);
        })
    }

    fn limits(self, change: impl FnOnce(&mut BufferLimits)) -> Self {
        let mut limits = self.buffer.lock().limits();
        change(&mut limits);
        KeepErrorsProcessor {
            buffer: Mutex::new(TraceBuffer::new(limits)),
            ..self
        }
    }

    /// Traces kept and spans dropped so far, by reason (`spans_exported` counts the spans
    /// handed on).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    /// let p = tracing_openinference::compose::KeepErrorsProcessor::new(
    ///     SimpleSpanProcessor::new(InMemorySpanExporter::default()),
    /// );
    /// assert_eq!(p.stats().kept("error"), 0);
    /// ```
    pub fn stats(&self) -> PipelineSnapshot {
        self.stats.snapshot()
    }

    fn pass_on(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            let sc = &span.span_context;
            span.span_context = SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().with_sampled(true),
                sc.is_remote(),
                sc.trace_state().clone(),
            );
        }
        self.stats.spans_exported.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }
}

/// A span's size for the buffer's byte bound: its strings and a fixed cost per value.
fn estimated_size(span: &SpanData) -> usize {
    let value = |kv: &KeyValue| kv.key.as_str().len() + kv.value.as_str().len() + 32;
    let events: usize = span
        .events
        .iter()
        .map(|e| e.name.len() + e.attributes.iter().map(value).sum::<usize>() + 32)
        .sum();
    256 + span.name.len() + span.attributes.iter().map(value).sum::<usize>() + events
}

impl<P: SpanProcessor> SpanProcessor for KeepErrorsProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.trace_flags() & TraceFlags::SAMPLED == TraceFlags::SAMPLED {
            self.stats.spans_exported.fetch_add(1, Ordering::Relaxed);
            self.inner.on_end(span);
            return;
        }
        let size = estimated_size(&span);
        let verdict = {
            let mut buffer = self.buffer.lock();
            let verdict = buffer.on_end(span, size, &self.stats);
            self.stats.set_buffer_bytes(buffer.bytes());
            verdict
        };
        if let Verdict::Keep(spans) = verdict {
            for span in spans {
                self.pass_on(span);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let failed = self.buffer.lock().drain_failed();
        for span in failed {
            self.pass_on(span);
        }
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
