//! The export thread: sampling decisions, mapping, batching and export, off the calling thread.

use super::stats::{DropReason, KeepReason, PipelineStats};
use super::traces::{is_local_root, root_marker};
use super::PipelineConfig;
use crate::mapping::Mapper;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A [`SpanExporter`] behind a trait object, driven to completion on the export thread.
pub(crate) trait ErasedExporter: Send + std::fmt::Debug {
    /// Exports one batch, blocking the export thread until done.
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult;
    /// Exports one batch the caller keeps for a retry, and returns the spans the collector
    /// rejected in a successful answer. An exporter that takes ownership gets a copy.
    fn export_kept(&self, batch: &[SpanData]) -> Result<Option<Rejected>, OTelSdkError> {
        self.export_blocking(batch.to_vec()).map(|()| None)
    }
    /// Starts exporting one batch the caller wants back if refused, on a thread of the
    /// exporter's own, and returns at once: [`ErasedExporter::settle`] gives the outcome.
    /// One at a time. `Err` gives the batch back when the exporter has no such thread (the
    /// default) or one is already running: the caller then exports it with
    /// [`ErasedExporter::export_kept`].
    fn start_kept(&mut self, batch: Vec<SpanData>) -> Result<(), Vec<SpanData>> {
        Err(batch)
    }
    /// Waits for the export [`ErasedExporter::start_kept`] started: its outcome, with the
    /// batch when it failed (empty otherwise). `None` when none is running.
    fn settle(&mut self) -> Option<Posted> {
        None
    }
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

/// The outcome of an export started in the background, and the batch back when it failed.
pub(crate) type Posted = (Vec<SpanData>, Result<Option<Rejected>, OTelSdkError>);

/// Spans a collector accepted the request for but did not store (an OTLP partial success).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// How many spans it rejected.
    pub(crate) spans: u64,
    /// Its explanation.
    pub(crate) message: String,
}

/// What the calling threads queue for the export thread.
pub(crate) struct Queues {
    /// Finished sampled spans.
    pub(crate) spans: Receiver<SpanData>,
    /// Spans of sampled-out traces the layer kept (already marked).
    pub(crate) kept: Receiver<SpanData>,
}

/// What the export thread waits on. Spans do not wake it one by one: it drains the span
/// queue on a wake-up (a batch is waiting), on its schedule, and before a flush or shutdown.
pub(crate) enum Control {
    /// A batch waits in the span queue.
    Wake,
    /// Export everything queued and ready, then answer.
    Flush(SyncSender<OTelSdkResult>),
    /// Export everything queued and ready, shut the exporters down, answer and stop.
    Shutdown(SyncSender<OTelSdkResult>, Duration),
}

/// The export thread's state.
pub(crate) struct Worker {
    pub(crate) config: PipelineConfig,
    pub(crate) wake: Arc<super::WakeSignal>,
    pub(crate) mapper: Arc<Mapper>,
    pub(crate) exporters: Vec<Box<dyn ErasedExporter>>,
    /// Which exporters talk to a collector and get refused batches retried (the others,
    /// the console and callers' exporters, are not: a copy of each batch is kept for it).
    pub(crate) retried: Vec<bool>,
    pub(crate) stats: Arc<PipelineStats>,
    pub(crate) ready: Vec<SpanData>,
    pub(crate) ready_bytes: usize,
    /// The estimated size of each span in `ready`.
    pub(crate) ready_sizes: Vec<usize>,
    /// Batches an exporter refused with a retryable error, oldest first, per exporter index.
    pub(crate) retry: Retry,
    /// The exporter posting a batch in the background, and the batch's span count: the
    /// export thread maps the next batch meanwhile (see [`ErasedExporter::start_kept`]).
    pub(crate) in_flight: Option<(usize, u64)>,
}

/// Batches waiting to be retried while a collector is down, bounded in bytes.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    batches: VecDeque<(usize, Vec<SpanData>, usize)>,
    bytes: usize,
    /// The next attempt; backoff doubles up to [`MAX_BACKOFF`], with jitter.
    next_at: Option<Instant>,
    backoff: Duration,
    seed: u64,
}

/// Spans taken from the queue before the queue's counts are told.
const GIVE_BACK_EVERY: usize = 64;

/// Spans and bytes taken from the queue and not yet subtracted from its counts.
#[derive(Debug, Default)]
struct Taken {
    spans: usize,
    bytes: u64,
}

impl Taken {
    fn give_back(&mut self, wake: &super::WakeSignal, stats: &PipelineStats) {
        if self.spans > 0 {
            wake.pending.fetch_sub(self.spans, Ordering::Relaxed);
            stats.queue_bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        }
        *self = Taken::default();
    }
}

/// Longest wait between retries of a refused batch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// First wait after a refused batch.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

impl Retry {
    fn waiting_for(&self, exporter: usize) -> bool {
        self.batches.iter().any(|(i, ..)| *i == exporter)
    }

    /// Schedules the next attempt after a failure.
    fn backoff(&mut self) {
        self.backoff = if self.backoff.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.backoff * 2).min(MAX_BACKOFF)
        };
        // xorshift jitter: up to a quarter of the backoff.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let quarter = self.backoff.as_millis() as u64 / 4 + 1;
        let jitter = Duration::from_millis(self.seed % quarter);
        self.next_at = Some(Instant::now() + self.backoff + jitter);
    }
}

/// Whether an export error is worth retrying: no answer, a timeout, 429 or a 5xx gateway
/// or availability answer. Other 4xx will not change.
fn retryable(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    if let Some(code) = m.split("status code: ").nth(1) {
        let code: String = code.chars().take_while(|c| c.is_ascii_digit()).collect();
        return matches!(code.as_str(), "429" | "502" | "503" | "504");
    }
    m.contains("network")
        || m.contains("timed out")
        || m.contains("timeout")
        || m.contains("connect")
}

impl Worker {
    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, queues: Queues, control: Receiver<Control>) {
        // Telemetry the exporters produce (an HTTP client's own spans, `tracing` events) is
        // not recorded: exporting must never feed the pipeline it drains.
        let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
        // tonic (gRPC) needs a tokio reactor: a private one-worker runtime drives its I/O
        // while this thread waits on the export futures.
        #[cfg(feature = "grpc")]
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("openinference-grpc")
            .enable_all()
            .build()
            .map_err(|e| eprintln!("tracing-openinference: no runtime for gRPC export: {e}"))
            .ok();
        #[cfg(feature = "grpc")]
        let _entered = runtime.as_ref().map(|rt| rt.enter());
        let mut next_export = Instant::now() + self.config.schedule_delay;
        loop {
            let wait = next_export.saturating_duration_since(Instant::now());
            let message = control.recv_timeout(wait);
            self.drain(&queues);
            // LLM-span metric values the calling threads handed over (see `metrics::batch`).
            crate::metrics::record_handed();
            match message {
                Ok(Control::Wake) => {}
                Ok(Control::Flush(ack)) => {
                    self.retry_due(true);
                    self.export_ready();
                    self.settle();
                    let result = if self.retry.batches.is_empty() {
                        self.flush_exporters()
                    } else {
                        Err(OTelSdkError::InternalFailure(format!(
                            "{} spans wait for a collector that refuses them",
                            self.retry.batches.iter().map(|b| b.1.len()).sum::<usize>()
                        )))
                    };
                    let _ = ack.send(result);
                }
                Ok(Control::Shutdown(ack, timeout)) => {
                    let result = self.finish(timeout);
                    let _ = ack.send(result);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.retry_due(false);
                    self.export_ready();
                    self.settle();
                    next_export = Instant::now() + self.config.schedule_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.finish(Duration::from_secs(5));
                    return;
                }
            }
        }
    }

    /// Takes every span queued now, exporting full batches as they form.
    fn drain(&mut self, queues: &Queues) {
        // A wake-up is answered from here on: a new batch may ask for the next one.
        self.wake.sent.store(false, Ordering::Relaxed);
        // What was taken is given back to the queue's counts every few spans, not per span:
        // the calling threads write those counts at every span's end.
        let mut taken = Taken::default();
        let next = || {
            (queues.kept.try_recv().map(|span| (span, true)))
                .or_else(|_| queues.spans.try_recv().map(|span| (span, false)))
        };
        while let Ok((span, kept)) = next() {
            // The size the calling thread counted in (the same estimate of the same span).
            taken.spans += 1;
            taken.bytes += crate::privacy::span_size(&span) as u64;
            if kept {
                self.push_ready(span, None);
            } else {
                self.accept(span);
            }
            if self.ready.len() >= self.config.max_batch_spans {
                taken.give_back(&self.wake, &self.stats);
                self.export_ready();
            } else if taken.spans >= GIVE_BACK_EVERY {
                taken.give_back(&self.wake, &self.stats);
            }
        }
        taken.give_back(&self.wake, &self.stats);
    }

    /// Takes one sampled span (the SDK records no other: the layer holds sampled-out ones);
    /// a local root says why its trace is exported.
    fn accept(&mut self, span: SpanData) {
        if !span.span_context.is_sampled() {
            self.stats.spans_dropped(DropReason::SampledOut, 1);
            return;
        }
        let mut root = None;
        if is_local_root(&span) {
            let reason = if span.parent_span_is_remote {
                KeepReason::Parent
            } else {
                KeepReason::Ratio
            };
            self.stats.trace_kept(reason);
            root = Some(root_marker(reason));
        }
        self.push_ready(span, root);
    }

    /// Maps a kept span, with `extra` added to its attributes, and adds it to the batch,
    /// exporting first when the batch would go over the request byte budget.
    fn push_ready(&mut self, mut span: SpanData, extra: Option<opentelemetry::KeyValue>) {
        if self.config.root_trace_name {
            super::trace_name::tag_root(&mut span);
        }
        let size = self.mapper.map_span(&mut span, extra);
        let budget = self.mapper.privacy.max_request_bytes;
        if budget > 0 && !self.ready.is_empty() && self.ready_bytes + size > budget {
            self.export_ready();
        }
        self.ready_bytes += size;
        self.ready_sizes.push(size);
        self.ready.push(span);
    }

    /// Exports the batch to every exporter; an exporter whose collector refuses batches
    /// gets it queued behind its earlier ones instead.
    fn export_ready(&mut self) {
        // The batch before first: a refusal of it queues it ahead of this one.
        self.settle();
        if self.ready.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.ready);
        self.ready_bytes = 0;
        let sizes = std::mem::take(&mut self.ready_sizes);
        self.mapper.privacy.fit_batch(&mut batch, sizes);
        let last = self.exporters.len().saturating_sub(1);
        let mut batch = Some(batch);
        for i in 0..self.exporters.len() {
            let this = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            if self.retry.waiting_for(i) {
                self.queue_retry(i, this);
            } else {
                self.export_to(i, this, false);
            }
        }
    }

    /// One export attempt; a retryable failure queues the batch for later. Unless `wait`, a
    /// retried exporter may post it in the background, and its outcome is taken by the next
    /// [`Worker::settle`] (then `true` is returned now).
    fn export_to(&mut self, i: usize, batch: Vec<SpanData>, wait: bool) -> bool {
        let n = batch.len() as u64;
        let retried = self.retried.get(i).copied().unwrap_or(false);
        if !retried {
            let result = self.exporters[i].export_blocking(batch).map(|()| None);
            return self.outcome(i, n, result, None);
        }
        // One export in the background at a time.
        self.settle();
        match self.exporters[i].start_kept(batch) {
            Ok(()) => {
                self.in_flight = Some((i, n));
                !wait || self.settle()
            }
            // A retried exporter borrows the batch, so a refused one is kept without a copy.
            Err(batch) => {
                let result = self.exporters[i].export_kept(&batch);
                self.outcome(i, n, result, Some(batch))
            }
        }
    }

    /// Takes the outcome of the export running in the background, if any, as
    /// [`Worker::export_to`] would have; whether it succeeded.
    fn settle(&mut self) -> bool {
        let Some((i, n)) = self.in_flight.take() else {
            return true;
        };
        match self.exporters[i].settle() {
            Some((batch, result)) => {
                let kept = (!batch.is_empty()).then_some(batch);
                self.outcome(i, n, result, kept)
            }
            None => true,
        }
    }

    /// Counts an export's outcome; a batch refused with a retryable error is queued for later.
    fn outcome(
        &mut self,
        i: usize,
        n: u64,
        result: Result<Option<Rejected>, OTelSdkError>,
        kept: Option<Vec<SpanData>>,
    ) -> bool {
        match result {
            Ok(rejected) => {
                let rejected_spans = rejected.as_ref().map_or(0, |r| r.spans.min(n));
                if let Some(r) = rejected {
                    self.stats.export_failed(
                        rejected_spans,
                        &format!("the collector rejected spans: {}", r.message),
                    );
                }
                if i + 1 == self.exporters.len() {
                    self.stats
                        .spans_exported
                        .fetch_add(n - rejected_spans, Ordering::Relaxed);
                }
                true
            }
            Err(e) => {
                let message = e.to_string();
                if let Some(kept) = kept.filter(|_| retryable(&message)) {
                    self.stats.warn_retrying(&message);
                    self.queue_retry(i, kept);
                    if self.retry.next_at.is_none() {
                        self.retry.backoff();
                    }
                } else {
                    self.stats.export_failed(n, &message);
                }
                false
            }
        }
    }

    /// Keeps a refused batch for a later attempt, dropping the oldest past the byte bound.
    fn queue_retry(&mut self, i: usize, batch: Vec<SpanData>) {
        let bytes = batch.iter().map(crate::privacy::span_size).sum::<usize>();
        self.retry.bytes += bytes;
        self.retry.batches.push_back((i, batch, bytes));
        let bound = self.config.queue_bytes / 2;
        while self.retry.bytes > bound && self.retry.batches.len() > 1 {
            if let Some((_, old, b)) = self.retry.batches.pop_front() {
                self.retry.bytes -= b;
                self.stats
                    .export_failed(old.len() as u64, "collector unavailable, retry buffer full");
            }
        }
    }

    /// Retries refused batches, oldest first, when their time has come (or now, if `force`).
    fn retry_due(&mut self, force: bool) {
        let due = self.retry.next_at.is_some_and(|t| Instant::now() >= t);
        if self.retry.batches.is_empty() || !(due || force) {
            return;
        }
        // A batch in the background first: if refused, it goes behind the waiting ones.
        self.settle();
        while let Some((i, batch, bytes)) = self.retry.batches.pop_front() {
            self.retry.bytes -= bytes;
            if !self.export_to(i, batch, true) {
                // Still refused: `export_to` queued it at the back; put it first again, in
                // order, and wait.
                if let Some(back) = self.retry.batches.pop_back() {
                    self.retry.batches.push_front(back);
                }
                self.retry.backoff();
                return;
            }
        }
        self.retry.next_at = None;
        self.retry.backoff = Duration::ZERO;
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

    /// Exports what is ready, then shuts the exporters down.
    fn finish(&mut self, timeout: Duration) -> OTelSdkResult {
        self.retry_due(true);
        self.export_ready();
        self.settle();
        for (_, batch, _) in std::mem::take(&mut self.retry.batches) {
            self.stats
                .export_failed(batch.len() as u64, "collector unavailable at shutdown");
        }
        let mut result = Ok(());
        for exporter in &mut self.exporters {
            if let Err(e) = exporter.shutdown(timeout) {
                result = Err(e);
            }
        }
        result
    }
}
