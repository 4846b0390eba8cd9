//! [`HeldTraces`]: the sampling decision for sampled-out traces the layer keeps while error,
//! slow or rule capture is on.
//!
//! A finished span of a sampled-out trace waits here, in the buffer of
//! [`crate::pipeline::traces`], until its local root ends. A kept trace's spans get their
//! derived values here (on the thread that ended the root, as the rest of the layer's values)
//! and go to the export queue as finished spans; a dropped trace is freed here. The export
//! pipeline then sees only finished spans: nothing in it reads the layer's span state.

use super::held::HeldSpan;
use crate::keep::SharedRule;
use crate::pipeline::stats::{DropReason, PipelineStats};
use crate::pipeline::traces::{BufferLimits, TraceBuffer, Verdict};
use crate::pipeline::LlmSpanProcessor;
use crate::pricing::PriceCache;
use opentelemetry::InstrumentationScope;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Sampled-out traces waiting for their decision, and where a kept one goes.
#[derive(Debug)]
pub(crate) struct HeldTraces {
    buffer: Mutex<TraceBuffer<HeldSpan>>,
    /// The export queue kept traces go to.
    processor: LlmSpanProcessor,
    stats: Arc<PipelineStats>,
    /// The tracer's scope, for the spans of kept traces.
    scope: InstrumentationScope,
    /// The layer's prices, for the cost of a kept trace's spans.
    prices: Arc<PriceCache>,
    /// Whether the traces still open were handled at the pipeline's end (see
    /// [`HeldTraces::at_end`]).
    ended: AtomicBool,
}

impl HeldTraces {
    /// An empty buffer bounded by `limits`, kept traces going to `processor`; a trace that
    /// `rule` accepts is kept too (see [`crate::keep`]).
    pub(crate) fn new(
        limits: BufferLimits,
        rule: Option<SharedRule>,
        processor: LlmSpanProcessor,
        stats: Arc<PipelineStats>,
        scope: InstrumentationScope,
        prices: Arc<PriceCache>,
    ) -> Self {
        let buffer = match rule {
            Some(rule) => TraceBuffer::new(limits).with_rule(rule, Arc::clone(&prices)),
            None => TraceBuffer::new(limits),
        };
        HeldTraces {
            buffer: Mutex::new(buffer),
            processor,
            stats,
            scope,
            prices,
            ended: AtomicBool::new(false),
        }
    }

    /// Holds a finished span of a sampled-out trace until its local root ends; what a kept
    /// trace held goes to the export queue, a dropped trace is freed here.
    pub(crate) fn hold(&self, span: HeldSpan) {
        let size = span.size();
        let (verdict, bytes) = {
            let mut buffer = self.buffer.lock();
            let verdict = buffer.on_end(span, size, &self.stats);
            (verdict, buffer.bytes())
        };
        self.stats.set_buffer_bytes(bytes);
        match verdict {
            Verdict::Keep(spans) => self.release(spans),
            // What a dropped trace held is freed here, with the buffer unlocked.
            Verdict::Drop(span, spans) => drop((span, spans)),
            Verdict::Held => {}
        }
    }

    /// Hands the spans of a kept trace to the export queue.
    fn release(&self, spans: Vec<HeldSpan>) {
        for span in spans {
            self.processor
                .enqueue_kept(span.into_span_data(&self.scope, &self.prices));
        }
    }

    /// At the pipeline's end (before its shutdown, or as the last handle goes): traces still
    /// open that already failed are kept as they are, the undecided rest is counted as
    /// sampled out. Once.
    pub(crate) fn at_end(&self) {
        if self.ended.swap(true, Ordering::Relaxed) {
            return;
        }
        let (failed, undecided) = {
            let mut buffer = self.buffer.lock();
            let failed = buffer.drain_failed();
            (failed, buffer.held_spans() as u64)
        };
        self.release(failed);
        self.stats.spans_dropped(DropReason::SampledOut, undecided);
    }
}
