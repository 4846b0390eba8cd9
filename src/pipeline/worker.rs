//! The export thread: sampling decisions, mapping, batching and export, off the calling thread.

use super::outbound::{InFlight, Outbound, Waiting};
use super::outcome::{ExportError, Posted, Rejected};
use super::stats::{DropReason, KeepReason, PipelineStats};
use super::traces::{is_local_root, root_marker};
use super::PipelineConfig;
use crate::mapping::Mapper;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
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
    /// Exports one batch the caller keeps for a retry, and returns the spans the collector
    /// rejected in a successful answer. An exporter that takes ownership gets a copy.
    fn export_kept(&mut self, batch: &[SpanData]) -> Result<Option<Rejected>, ExportError> {
        self.export_blocking(batch.to_vec())
            .map(|()| None)
            .map_err(ExportError::from)
    }
    /// Starts exporting one batch the caller wants back if refused, on a thread of the
    /// exporter's own, and returns at once: [`ErasedExporter::poll`] gives the outcome.
    /// One at a time. `Err` gives the batch back when the exporter has no such thread (the
    /// default) or one is already running: the caller then exports it with
    /// [`ErasedExporter::export_kept`].
    fn start_kept(&mut self, batch: Vec<SpanData>) -> Result<(), Vec<SpanData>> {
        Err(batch)
    }
    /// The outcome of the export [`ErasedExporter::start_kept`] started, with the batch when
    /// it failed (empty otherwise), waiting at most `wait` (`None`: until it ends). `None`
    /// when none is running or it has not ended yet.
    fn poll(&mut self, _wait: Option<Duration>) -> Option<Posted> {
        None
    }
    /// Abandons the export in progress and any later one (a shutdown's deadline passed).
    fn abandon(&mut self) {}
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
    /// Batches waiting for the collectors (the retried exporters), oldest first; one is
    /// posted in the background while the export thread maps the next.
    pub(crate) outbound: Outbound,
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

/// How often the export thread looks for the outcome of a request in the background.
const POLL: Duration = Duration::from_millis(5);
/// How long a flush drives the waiting batches at most.
const FLUSH_LIMIT: Duration = Duration::from_secs(30);

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
            let now = Instant::now();
            let mut wait = next_export.saturating_duration_since(now);
            if self.outbound.in_flight.is_some() {
                wait = wait.min(POLL);
            } else if let Some(due) = self.outbound.due_at() {
                wait = wait.min(due.saturating_duration_since(now));
            }
            let message = control.recv_timeout(wait);
            self.drain(&queues);
            // LLM-span metric values the calling threads handed over (see `metrics::batch`).
            crate::metrics::record_handed();
            match message {
                Ok(Control::Wake) => {}
                Ok(Control::Flush(ack)) => {
                    self.export_ready();
                    let result = if self.drive(Instant::now() + FLUSH_LIMIT) {
                        self.flush_exporters()
                    } else {
                        Err(OTelSdkError::InternalFailure(format!(
                            "{} spans wait for a collector that refuses them",
                            self.outbound.spans()
                        )))
                    };
                    let _ = ack.send(result);
                }
                Ok(Control::Shutdown(ack, timeout)) => {
                    let result = self.finish(Instant::now() + timeout);
                    let _ = ack.send(result);
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= next_export {
                        self.export_ready();
                        next_export = Instant::now() + self.config.schedule_delay;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.finish(Instant::now() + super::DROP_WAIT);
                    return;
                }
            }
            self.pump();
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
            taken.bytes += super::queue_charge(
                crate::privacy::span_size(&span),
                self.config.queue_bytes as u64,
            ) as u64;
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

    /// Exports the batch: at once to the exporters that are not retried (console, a
    /// caller's), and through the [`Outbound`] line to the collectors.
    fn export_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.ready);
        self.ready_bytes = 0;
        let sizes = std::mem::take(&mut self.ready_sizes);
        // What the batch holds, for the outbound line's bound (fitting only shrinks it).
        let bytes = sizes.iter().sum::<usize>();
        self.mapper.privacy.fit_batch(&mut batch, sizes);
        let last = self.exporters.len().saturating_sub(1);
        let mut batch = Some(batch);
        for i in 0..self.exporters.len() {
            let this = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            if self.retried.get(i).copied().unwrap_or(false) {
                let dropped = self.outbound.push(Waiting {
                    exporter: i,
                    spans: this,
                    bytes,
                    maybe_delivered: false,
                });
                self.count_retry_full(dropped);
            } else {
                let n = this.len() as u64;
                let result = self.exporters[i].export_blocking(this);
                self.counted(i, n, result.map(|()| None).map_err(ExportError::from));
            }
        }
        self.pump();
    }

    /// Sends waiting batches: takes the outcome of the one in the background, if it has
    /// ended, and starts the next when its time has come. Never waits on the network (an
    /// exporter without a sending thread of its own exports on this thread).
    fn pump(&mut self) {
        loop {
            if let Some(flight) = self.outbound.in_flight {
                match self.exporters[flight.exporter].poll(Some(Duration::ZERO)) {
                    Some(posted) => {
                        self.outbound.in_flight = None;
                        self.attempted(flight, posted);
                    }
                    None => return,
                }
            }
            let Some(next) = self.outbound.next(false) else {
                return;
            };
            self.start(next);
        }
    }

    /// Starts one attempt in the background, or makes it here when the exporter cannot.
    fn start(&mut self, waiting: Waiting) {
        let flight = waiting.in_flight();
        match self.exporters[flight.exporter].start_kept(waiting.spans) {
            Ok(()) => self.outbound.in_flight = Some(flight),
            Err(spans) => {
                let result = self.exporters[flight.exporter].export_kept(&spans);
                self.attempted(flight, (spans, result));
            }
        }
    }

    /// Sends every waiting batch now, waiting for each outcome, until the line is empty
    /// (`true`), the collector fails a passing way (refused, timed out) or `deadline` passes
    /// (`false`; the rest keeps waiting). A batch the collector will never take (a 400) is
    /// dropped and counted, and the next one is sent.
    fn drive(&mut self, deadline: Instant) -> bool {
        loop {
            if let Some(flight) = self.outbound.in_flight {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.exporters[flight.exporter].poll(Some(left)) {
                    Some(posted) => {
                        self.outbound.in_flight = None;
                        if !self.attempted(flight, posted) {
                            return false;
                        }
                    }
                    None => return false,
                }
            }
            if self.outbound.is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if let Some(next) = self.outbound.next(true) {
                self.start(next);
            }
        }
    }

    /// Counts an attempt's outcome; a batch refused for a passing reason goes back first in
    /// line (unless it may already be stored twice). Whether the collector is taking
    /// requests: `false` after a passing failure, `true` after a success or an answer that
    /// refuses this batch for good (it is dropped and counted).
    fn attempted(&mut self, flight: InFlight, (back, result): Posted) -> bool {
        match result {
            Ok(rejected) => {
                self.outbound.succeeded();
                self.counted(flight.exporter, flight.spans, Ok(rejected))
            }
            Err(e) => {
                let twice = flight.maybe_delivered && e.maybe_delivered();
                if e.retryable() && !twice && !back.is_empty() {
                    self.stats.warn_retrying(&e.to_string());
                    self.outbound.failed(e.retry_after());
                    let dropped = self.outbound.push_front(Waiting {
                        exporter: flight.exporter,
                        spans: back,
                        bytes: flight.bytes,
                        maybe_delivered: flight.maybe_delivered || e.maybe_delivered(),
                    });
                    self.count_retry_full(dropped);
                    false
                } else {
                    self.counted(flight.exporter, flight.spans, Err(e));
                    if twice {
                        // The collector may hold it twice already: a third copy is not sent.
                        self.outbound.failed(None);
                    }
                    !twice
                }
            }
        }
    }

    /// Counts the outcome of an export of `n` spans to exporter `i`; whether it succeeded.
    fn counted(&mut self, i: usize, n: u64, result: Result<Option<Rejected>, ExportError>) -> bool {
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
                self.stats.export_failed(n, &e.to_string());
                false
            }
        }
    }

    /// Counts the waiting batches the byte bound dropped.
    fn count_retry_full(&self, dropped: Vec<Waiting>) {
        let spans = dropped.iter().map(|b| b.spans.len() as u64).sum();
        self.stats.spans_dropped(DropReason::RetryFull, spans);
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

    /// Exports what is ready and what waits, until `deadline`, then shuts the exporters
    /// down. Past the deadline a request in progress is abandoned, so the exporters'
    /// threads end at once.
    fn finish(&mut self, deadline: Instant) -> OTelSdkResult {
        self.export_ready();
        if !self.drive(deadline) {
            if let Some(flight) = self.outbound.in_flight.take() {
                let exporter = &mut self.exporters[flight.exporter];
                exporter.abandon();
                // A cancelled request answers within a few milliseconds.
                let _ = exporter.poll(Some(Duration::from_millis(200)));
                self.stats.export_failed(
                    flight.spans,
                    "the collector had not answered at the shutdown deadline",
                );
            }
            for waiting in self.outbound.take_all() {
                self.stats.export_failed(
                    waiting.spans.len() as u64,
                    "collector unavailable at shutdown",
                );
            }
        }
        let mut result = Ok(());
        for exporter in &mut self.exporters {
            if Instant::now() >= deadline {
                exporter.abandon();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = exporter.shutdown(left) {
                result = Err(e);
            }
        }
        result
    }
}
