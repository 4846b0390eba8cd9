//! The export pipeline: one span processor that maps and exports off the calling thread,
//! and the buffer where sampled-out traces wait for their decision ([`traces`]).
//!
//! ```text
//! calling thread                                export thread ("openinference-export")
//! ──────────────                                ───────────────────────────────────────
//! sampled span ends → LlmSpanProcessor::on_end → map → batch → every exporter
//!   (size estimate, push on a bounded queue;
//!    full = drop + count; no wake-up until a
//!    batch waits)
//! sampled-out span ends (layer) → TraceBuffer until the local root ends
//!   error or slow → the layer finishes the whole trace's spans and queues them as above
//!   (LlmSpanProcessor::enqueue_kept); else freed there
//! ```
//!
//! Everything here works on finished spans (`SpanData`) handed to it: nothing reads the
//! layer's span state or calls back into the layer.
//!
//! - The calling thread never blocks: the queue is bounded in spans and bytes, and a full
//!   queue drops the span and counts it (`openinference.spans.dropped{reason="queue_full"}`).
//!   A span counts at most a quarter of the byte bound ([`queue_charge`]), so a huge prompt
//!   ended right after another is trimmed like it on the export thread, not dropped.
//! - Mapping to the conventions, masking and trimming run on the export thread, once per
//!   span whatever the number of exporters.
//! - Exporters are driven to completion on the export thread; the OTLP exporter retries
//!   retryable failures (no connection, a timeout, 408, 429, 502, 503, 504): batches for a
//!   collector wait in one line (bounded to half the queue's bytes; past it the oldest are
//!   dropped and counted as `retry_full`), are posted one at a time in the background, and
//!   a refused one is tried again first, after 250 ms doubling to 0.9 s (with jitter) or the
//!   collector's `Retry-After` (up to 30 s), so export resumes, in order, within about a
//!   second of the collector's return. A batch whose request timed out twice is not sent a
//!   third time (each span reaches a slow collector at most twice). Other failures (a 400,
//!   a 413) are dropped, counted and warned about once. See [`outbound`].

pub(crate) mod identity;
pub(crate) mod outbound;
pub(crate) mod outcome;
pub(crate) mod sampler;
pub(crate) mod stats;
pub(crate) mod trace_name;
pub(crate) mod traces;
pub(crate) mod worker;

use crate::mapping::Mapper;
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use parking_lot::Mutex;
use stats::{DropReason, PipelineStats};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use traces::BufferLimits;
use worker::{Control, ErasedExporter, Queues, Worker};

/// Default queue capacity in spans (`OTEL_BSP_MAX_QUEUE_SIZE`).
pub const DEFAULT_QUEUE_SPANS: usize = 2_048;
/// Default queue capacity in bytes: 64 MiB.
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Default sampling buffer bound in bytes: 32 MiB.
pub const DEFAULT_BUFFER_BYTES: usize = 32 * 1024 * 1024;
/// Default sampling buffer bound in spans.
pub const DEFAULT_BUFFER_SPANS: usize = 50_000;
/// The longest a shutdown the SDK starts itself (the tracer provider dropped without
/// `LlmHandle::shutdown`) holds the dropping thread: past it, what has not reached the
/// collector is dropped and counted, and the export threads end.
pub(crate) const DROP_WAIT: Duration = Duration::from_millis(700);

/// Settings of the export pipeline.
#[derive(Debug, Clone)]
pub(crate) struct PipelineConfig {
    /// Most spans waiting for the export thread.
    pub(crate) queue_spans: usize,
    /// Most bytes (estimated) waiting for the export thread.
    pub(crate) queue_bytes: usize,
    /// Longest wait before a partial batch is exported.
    pub(crate) schedule_delay: Duration,
    /// Most spans per export request (bytes are bounded by the privacy request budget).
    pub(crate) max_batch_spans: usize,
    /// The sampling buffer's bounds and rescue rules.
    pub(crate) buffer: BufferLimits,
    /// Each trace's root also carries its name as MLflow's trace name tag (see
    /// [`trace_name`]).
    pub(crate) root_trace_name: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            queue_spans: DEFAULT_QUEUE_SPANS,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            schedule_delay: Duration::from_millis(1_000),
            max_batch_spans: 512,
            buffer: BufferLimits {
                max_bytes: DEFAULT_BUFFER_BYTES,
                max_spans: DEFAULT_BUFFER_SPANS,
                keep_errors: true,
                slow: None,
            },
            root_trace_name: false,
        }
    }
}

/// What the pipeline has done so far: exported and dropped spans, kept and dropped traces,
/// buffered bytes. The same numbers are exported as the `openinference.spans.*`,
/// `openinference.traces.*` and `openinference.buffer.bytes` metrics.
///
/// ```
/// use tracing_openinference::LlmLayer;
/// let layer: LlmLayer<tracing_subscriber::Registry> =
///     LlmLayer::builder().with_console_exporter(false).build();
/// let stats = layer.handle().pipeline_stats();
/// assert_eq!(stats.spans_exported, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PipelineSnapshot {
    /// Spans handed to the exporters successfully.
    pub spans_exported: u64,
    /// Spans not exported, by reason: `queue_full`, `buffer_full`, `export_failed`,
    /// `sampled_out`, `shutdown`, `retry_full` (the oldest batches waiting for a
    /// collector that is down or slow, dropped for fresh ones past the bound).
    pub spans_dropped: Vec<(&'static str, u64)>,
    /// Traces exported, by reason: `ratio`, `parent`, `error`, `slow`.
    pub traces_kept: Vec<(&'static str, u64)>,
    /// Traces not exported, by reason (only reasons seen).
    pub traces_dropped: Vec<(&'static str, u64)>,
    /// Bytes waiting for the export thread now.
    pub queue_bytes: u64,
    /// Bytes of undecided sampled-out traces now.
    pub buffer_bytes: u64,
    /// The most bytes of undecided traces held at once.
    pub peak_buffer_bytes: u64,
    /// Annotations the collector accepted (see [`crate::evaluation`]).
    pub annotations_delivered: u64,
    /// Annotations not delivered, by reason: `queue_full`, `export_failed`, `shutdown`,
    /// `retry_full`.
    pub annotations_dropped: Vec<(&'static str, u64)>,
}

impl PipelineSnapshot {
    /// Spans dropped for `reason` (0 for an unknown reason).
    ///
    /// ```
    /// let s = tracing_openinference::PipelineSnapshot::default();
    /// assert_eq!(s.dropped("queue_full"), 0);
    /// ```
    pub fn dropped(&self, reason: &str) -> u64 {
        lookup(&self.spans_dropped, reason)
    }

    /// Traces kept for `reason` (0 for an unknown reason).
    ///
    /// ```
    /// let s = tracing_openinference::PipelineSnapshot::default();
    /// assert_eq!(s.kept("error"), 0);
    /// ```
    pub fn kept(&self, reason: &str) -> u64 {
        lookup(&self.traces_kept, reason)
    }

    /// Annotations dropped for `reason` (0 for an unknown reason).
    ///
    /// ```
    /// let s = tracing_openinference::PipelineSnapshot::default();
    /// assert_eq!(s.annotations_dropped_for("queue_full"), 0);
    /// ```
    pub fn annotations_dropped_for(&self, reason: &str) -> u64 {
        lookup(&self.annotations_dropped, reason)
    }
}

fn lookup(list: &[(&'static str, u64)], key: &str) -> u64 {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

/// What a span of `size` bytes counts against the queue's byte bound of `max_queue_bytes`:
/// its size, but at most a quarter of the bound. A huge span (a 100 MB prompt) is trimmed to
/// the span byte budget on the export thread; charged in full it would fill the queue alone,
/// and the next huge span, ended while the first is mapped, would be dropped instead of
/// trimmed like it. Capped, at most four spans over the cap are queued at once, so the memory
/// the queue keeps alive stays within four times the largest span the host built.
#[inline(always)]
pub(crate) fn queue_charge(size: usize, max_queue_bytes: u64) -> usize {
    let cap = usize::try_from(max_queue_bytes / 4)
        .unwrap_or(usize::MAX)
        .max(1);
    size.min(cap)
}

/// When the calling threads wake the export thread: only once a batch is waiting, so a span's
/// end costs a queue push and no system call (the export thread otherwise wakes on its
/// schedule). Every span's end writes it, so it has a cache line of its own.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct WakeSignal {
    /// Spans queued since the export thread last drained the queue.
    pub(crate) pending: AtomicUsize,
    /// Whether a wake-up is on its way (at most one is).
    pub(crate) sent: AtomicBool,
    /// Pending spans that call for a wake-up.
    pub(crate) at_spans: usize,
    /// Pending bytes that call for a wake-up.
    pub(crate) at_bytes: u64,
}

/// The span processor the layer installs: hands finished spans to the export thread. The
/// layer holds a clone, to hand over the spans it kept of sampled-out traces.
#[derive(Debug, Clone)]
pub(crate) struct LlmSpanProcessor(Arc<ProcessorShared>);

impl std::ops::Deref for LlmSpanProcessor {
    type Target = ProcessorShared;
    fn deref(&self) -> &ProcessorShared {
        &self.0
    }
}

/// A span counted into the queue, before its send.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    /// Its size.
    size: usize,
    /// Spans pending, this one included.
    pending: usize,
    /// Bytes queued, this one included.
    queued_bytes: u64,
}

/// What the clones of one [`LlmSpanProcessor`] share.
#[derive(Debug)]
pub(crate) struct ProcessorShared {
    /// Spans the SDK ended, drained by the export thread in batches. They travel as they
    /// are, not wrapped with their size (the export thread sizes them again): wrapping moved
    /// each 400-byte span once more on the calling thread.
    spans: SyncSender<SpanData>,
    /// Spans of sampled-out traces the layer kept (rare: at a kept trace's end).
    kept: SyncSender<SpanData>,
    /// Wake-ups, flushes and shutdown: what the export thread waits on.
    control: SyncSender<Control>,
    wake: Arc<WakeSignal>,
    stats: Arc<PipelineStats>,
    max_queue_bytes: u64,
    shut_down: AtomicBool,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl LlmSpanProcessor {
    /// Starts the export thread with `exporters` (each flagged when refused batches are
    /// retried).
    pub(crate) fn start(
        config: PipelineConfig,
        mapper: Arc<Mapper>,
        exporters: Vec<(Box<dyn ErasedExporter>, bool)>,
        stats: Arc<PipelineStats>,
    ) -> std::io::Result<Self> {
        let (exporters, retried): (Vec<_>, Vec<_>) = exporters.into_iter().unzip();
        let (spans, span_rx) = mpsc::sync_channel(config.queue_spans.max(1));
        let (kept, kept_rx) = mpsc::sync_channel(config.queue_spans.max(1));
        let (control, control_rx) = mpsc::sync_channel(16);
        let max_queue_bytes = config.queue_bytes as u64;
        let wake = Arc::new(WakeSignal {
            pending: AtomicUsize::new(0),
            sent: AtomicBool::new(false),
            at_spans: config.max_batch_spans.clamp(1, config.queue_spans.max(1)),
            at_bytes: (max_queue_bytes / 4).max(1),
        });
        let worker = Worker {
            wake: Arc::clone(&wake),
            outbound: outbound::Outbound::new(config.queue_bytes / 2),
            config,
            mapper,
            exporters,
            retried,
            stats: Arc::clone(&stats),
            ready: Vec::new(),
            ready_bytes: 0,
            ready_sizes: Vec::new(),
        };
        let handle = std::thread::Builder::new()
            .name("openinference-export".into())
            .spawn(move || {
                worker.run(
                    Queues {
                        spans: span_rx,
                        kept: kept_rx,
                    },
                    control_rx,
                )
            })?;
        Ok(LlmSpanProcessor(Arc::new(ProcessorShared {
            spans,
            kept,
            control,
            wake,
            stats,
            max_queue_bytes,
            shut_down: AtomicBool::new(false),
            worker: Mutex::new(Some(handle)),
        })))
    }

    /// Sends a control message, waiting for queue room at most until `deadline`.
    fn send_control(&self, mut message: Control, deadline: Instant) -> Result<(), OTelSdkError> {
        loop {
            match self.control.try_send(message) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(OTelSdkError::AlreadyShutdown),
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return Err(OTelSdkError::Timeout(Duration::ZERO));
                    }
                    message = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    fn request(
        &self,
        make: impl FnOnce(SyncSender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.send_control(make(ack_tx), deadline)?;
        match ack_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

impl LlmSpanProcessor {
    /// Queues a finished span for the export thread; when the queue is full (in spans or
    /// bytes) the span is dropped and counted. Never blocks.
    #[inline(always)]
    pub(crate) fn enqueue(&self, span: SpanData) {
        self.enqueue_on(&self.spans, span);
    }

    /// Queues a span of a sampled-out trace that was kept after all (see
    /// `layer::held_traces`), like [`LlmSpanProcessor::enqueue`].
    pub(crate) fn enqueue_kept(&self, span: SpanData) {
        self.enqueue_on(&self.kept, span);
    }

    /// Queues `span` on `queue`. The span goes straight from the SDK's hands into the
    /// channel: a span is some 400 bytes, and wrapping it (with its size, or in an enum)
    /// copied it once more.
    #[inline(always)]
    fn enqueue_on(&self, queue: &SyncSender<SpanData>, span: SpanData) {
        let size = queue_charge(crate::privacy::span_size(&span), self.max_queue_bytes);
        if let Some(admitted) = self.admit(size) {
            let sent = queue.try_send(span).is_ok();
            self.sent(admitted, sent);
        }
    }

    /// Counts a span of `size` bytes into the queue, if it has room (and is not shut down).
    #[inline(always)]
    fn admit(&self, size: usize) -> Option<Admitted> {
        if self.shut_down.load(Ordering::Relaxed) {
            self.stats.spans_dropped(DropReason::Shutdown, 1);
            return None;
        }
        let queued = self
            .stats
            .queue_bytes
            .fetch_add(size as u64, Ordering::Relaxed);
        if queued + size as u64 > self.max_queue_bytes && queued > 0 {
            self.queue_full(size, false);
            return None;
        }
        // Counted before the send, so the export thread never takes away more than was added.
        let pending = self.wake.pending.fetch_add(1, Ordering::Relaxed) + 1;
        Some(Admitted {
            size,
            pending,
            queued_bytes: queued + size as u64,
        })
    }

    /// After an admitted span's send: wakes the export thread if a batch waits, or, if the
    /// channel had no room, takes the span back off the counts.
    #[inline(always)]
    fn sent(&self, admitted: Admitted, sent: bool) {
        if sent {
            self.wake_if_batch_waits(admitted.pending, admitted.queued_bytes);
        } else {
            self.queue_full(admitted.size, true);
        }
    }

    /// A span of `size` bytes the queue had no room for (`counted`: after it was counted as
    /// pending): takes it back off the counts and counts it dropped.
    #[cold]
    #[inline(never)]
    fn queue_full(&self, size: usize, counted: bool) {
        if counted {
            self.wake.pending.fetch_sub(1, Ordering::Relaxed);
        }
        self.stats
            .queue_bytes
            .fetch_sub(size as u64, Ordering::Relaxed);
        self.stats.spans_dropped(DropReason::QueueFull, 1);
    }

    /// What wakes the export thread to record the metric values handed to it (see
    /// `metrics::batch`), unless a wake-up is already on its way. It does not keep the
    /// export thread alive.
    pub(crate) fn metrics_wake(&self) -> impl Fn() + Send + Sync + 'static {
        let shared = Arc::downgrade(&self.0);
        move || {
            if let Some(shared) = shared.upgrade() {
                shared.wake_once();
            }
        }
    }

    /// Wakes the export thread once a batch waits (by spans or by bytes).
    fn wake_if_batch_waits(&self, pending: usize, queued_bytes: u64) {
        if (pending >= self.wake.at_spans || queued_bytes >= self.wake.at_bytes)
            && !self.wake.sent.load(Ordering::Relaxed)
        {
            self.wake_once();
        }
    }
}

impl ProcessorShared {
    /// Wakes the export thread, unless a wake-up is already on its way (at most one is).
    fn wake_once(&self) {
        if !self.wake.sent.swap(true, Ordering::Relaxed)
            && self.control.try_send(Control::Wake).is_err()
        {
            self.wake.sent.store(false, Ordering::Relaxed);
        }
    }
}

impl SpanProcessor for LlmSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    #[inline(always)]
    fn on_end(&self, span: SpanData) {
        self.enqueue(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.request(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if self.shut_down.swap(true, Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Not from `LlmHandle::shutdown`: the provider is being dropped, and the dropping
        // thread (a request handler, `main` returning) is held only briefly.
        let timeout = if self.stats.explicit_shutdown.load(Ordering::Relaxed) {
            timeout
        } else {
            timeout.min(DROP_WAIT)
        };
        let result = self.request(|ack| Control::Shutdown(ack, timeout), timeout);
        if result.is_ok() {
            if let Some(worker) = self.worker.lock().take() {
                let _ = worker.join();
            }
        }
        result
    }
}
