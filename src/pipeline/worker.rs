//! The export thread: sampling decisions, mapping, batching and export, off the calling thread.

use super::stats::{DropReason, KeepReason, PipelineStats};
use super::traces::{is_local_root, mark_root, TraceBuffer, Verdict};
use super::PipelineConfig;
use crate::mapping::Mapper;
use opentelemetry::trace::{SpanContext, TraceFlags};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A [`SpanExporter`] behind a trait object, driven to completion on the export thread.
pub(crate) trait ErasedExporter: Send + std::fmt::Debug {
    /// Exports one batch, blocking the export thread until done.
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult;
    /// Flushes the exporter.
    fn flush(&self) -> OTelSdkResult;
    /// Shuts the exporter down.
    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult;
    /// Tells the exporter the resource its spans come from.
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> ErasedExporter for E {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        futures_executor::block_on(SpanExporter::export(self, batch))
    }

    fn flush(&self) -> OTelSdkResult {
        SpanExporter::force_flush(self)
    }

    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// What the calling threads send to the export thread.
// Spans are nearly every message: kept inline, so sending one allocates nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Message {
    /// A finished span and its estimated size.
    Span(SpanData, usize),
    /// Export everything ready, then answer.
    Flush(SyncSender<OTelSdkResult>),
    /// Export everything ready, shut the exporters down, answer and stop.
    Shutdown(SyncSender<OTelSdkResult>, Duration),
}

/// The export thread's state.
pub(crate) struct Worker {
    pub(crate) config: PipelineConfig,
    pub(crate) mapper: Arc<Mapper>,
    pub(crate) exporters: Vec<Box<dyn ErasedExporter>>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) buffer: TraceBuffer,
    pub(crate) ready: Vec<SpanData>,
    pub(crate) ready_bytes: usize,
}

impl Worker {
    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Message>) {
        let mut next_export = Instant::now() + self.config.schedule_delay;
        loop {
            let wait = next_export.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Message::Span(span, size)) => {
                    self.stats
                        .queue_bytes
                        .fetch_sub(size as u64, Ordering::Relaxed);
                    self.accept(span, size);
                    if self.ready.len() >= self.config.max_batch_spans {
                        self.export_ready();
                    }
                }
                Ok(Message::Flush(ack)) => {
                    self.export_ready();
                    let result = self.flush_exporters();
                    let _ = ack.send(result);
                }
                Ok(Message::Shutdown(ack, timeout)) => {
                    let result = self.finish(timeout);
                    let _ = ack.send(result);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.export_ready();
                    next_export = Instant::now() + self.config.schedule_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.finish(Duration::from_secs(5));
                    return;
                }
            }
        }
    }

    /// Routes one span: straight to the batch when sampled, else through the trace buffer.
    fn accept(&mut self, mut span: SpanData, size: usize) {
        if span.span_context.is_sampled() {
            if is_local_root(&span) {
                let reason = if span.parent_span_is_remote {
                    KeepReason::Parent
                } else {
                    KeepReason::Ratio
                };
                self.stats.trace_kept(reason);
                mark_root(&mut span, reason);
            }
            self.push_ready(span);
            return;
        }
        match self.buffer.on_end(span, size, &self.stats) {
            Verdict::Keep(spans) => {
                for span in spans {
                    self.push_ready(set_sampled(span));
                }
            }
            Verdict::Held => {}
        }
        self.stats.set_buffer_bytes(self.buffer.bytes());
    }

    /// Maps a kept span and adds it to the batch, exporting first when the batch would go
    /// over the request byte budget.
    fn push_ready(&mut self, mut span: SpanData) {
        self.mapper.map_span(&mut span);
        let size = crate::privacy::span_size(&span);
        let budget = self.mapper.privacy.max_request_bytes;
        if budget > 0 && !self.ready.is_empty() && self.ready_bytes + size > budget {
            self.export_ready();
        }
        self.ready_bytes += size;
        self.ready.push(span);
    }

    /// Exports the batch to every exporter.
    fn export_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.ready);
        self.ready_bytes = 0;
        self.mapper.privacy.fit_batch(&mut batch);
        let n = batch.len() as u64;
        let last = self.exporters.len().saturating_sub(1);
        let mut batch = Some(batch);
        let mut all_ok = !self.exporters.is_empty();
        for (i, exporter) in self.exporters.iter().enumerate() {
            let this = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            if let Err(e) = exporter.export_blocking(this) {
                all_ok = false;
                self.stats.export_failed(n, &e.to_string());
            }
        }
        if all_ok {
            self.stats.spans_exported.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn flush_exporters(&self) -> OTelSdkResult {
        let mut result = Ok(());
        for exporter in &self.exporters {
            if let Err(e) = exporter.flush() {
                result = Err(e);
            }
        }
        result
    }

    /// Exports what is ready and the failed traces still waiting, then shuts the exporters down.
    fn finish(&mut self, timeout: Duration) -> OTelSdkResult {
        for span in self.buffer.drain_failed() {
            self.push_ready(set_sampled(span));
        }
        let undecided = self.buffer.held_spans() as u64;
        self.stats.spans_dropped(DropReason::SampledOut, undecided);
        self.export_ready();
        let mut result = Ok(());
        for exporter in &mut self.exporters {
            if let Err(e) = exporter.shutdown(timeout) {
                result = Err(e);
            }
        }
        result
    }
}

/// The span with its sampled flag set: a kept trace is exported as sampled.
fn set_sampled(mut span: SpanData) -> SpanData {
    let sc = &span.span_context;
    span.span_context = SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().with_sampled(true) | TraceFlags::SAMPLED,
        sc.is_remote(),
        sc.trace_state().clone(),
    );
    span
}
