//! [`PipelineStats`]: what the export pipeline did, counted in atomics.
//!
//! The counters are read by the self-metrics (observable instruments, see
//! [`crate::metrics`]) at collection time, so the hot path never calls into OpenTelemetry.
//! The first drop of each reason is also warned about once on stderr.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Why spans were not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The queue to the export thread was full (spans or bytes).
    QueueFull,
    /// The sampling buffer was full; the oldest undecided traces were dropped.
    BufferFull,
    /// The exporter failed after its retries.
    ExportFailed,
    /// The trace was sampled out and nothing rescued it (no error, not slow).
    SampledOut,
    /// The pipeline was shut down.
    Shutdown,
    /// A collector refused or was slow, and the batches waiting for it outgrew their bound
    /// (half the queue's bytes): the oldest waiting batch was dropped for the fresh one.
    RetryFull,
}

impl DropReason {
    /// Every reason, in index order.
    pub(crate) const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::BufferFull,
        DropReason::ExportFailed,
        DropReason::SampledOut,
        DropReason::Shutdown,
        DropReason::RetryFull,
    ];

    /// The `reason` attribute value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::BufferFull => "buffer_full",
            DropReason::ExportFailed => "export_failed",
            DropReason::SampledOut => "sampled_out",
            DropReason::Shutdown => "shutdown",
            DropReason::RetryFull => "retry_full",
        }
    }

    fn warning(self) -> Option<&'static str> {
        match self {
            DropReason::QueueFull => Some(
                "the export queue is full; spans are being dropped (is the collector slow or down?)",
            ),
            DropReason::BufferFull => Some(
                "the sampling buffer is full; the oldest undecided traces are being dropped",
            ),
            DropReason::ExportFailed => None, // warned with the exporter's message
            DropReason::SampledOut => None,   // expected, not a failure
            DropReason::Shutdown => Some("spans ended after shutdown are dropped"),
            DropReason::RetryFull => Some(
                "the collector is down or slow and the retry buffer is full; the oldest waiting \
                 spans are being dropped for fresh ones",
            ),
        }
    }
}

/// Why a trace was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepReason {
    /// The trace-id ratio sampled it.
    Ratio,
    /// A remote parent's sampled flag was set.
    Parent,
    /// A span in it ended in error.
    Error,
    /// Its local root lasted longer than the slow threshold.
    Slow,
    /// The application's keep-rule accepted it.
    Rule,
}

impl KeepReason {
    /// Every reason, in index order.
    pub(crate) const ALL: [KeepReason; 5] = [
        KeepReason::Ratio,
        KeepReason::Parent,
        KeepReason::Error,
        KeepReason::Slow,
        KeepReason::Rule,
    ];

    /// The `reason` attribute value, also set as `openinference.sampling.reason` on the root.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeepReason::Ratio => "ratio",
            KeepReason::Parent => "parent",
            KeepReason::Error => "error",
            KeepReason::Slow => "slow",
            KeepReason::Rule => "rule",
        }
    }
}

/// Counters shared by the processor, the export thread and the self-metrics.
#[derive(Debug, Default)]
pub(crate) struct PipelineStats {
    /// Spans handed to the exporters successfully.
    pub(crate) spans_exported: AtomicU64,
    spans_dropped: [AtomicU64; 6],
    traces_kept: [AtomicU64; 5],
    traces_dropped: [AtomicU64; 6],
    /// Bytes (estimated) waiting in the queue to the export thread. Every span's end adds to
    /// it, so it has a cache line of its own: the export thread's counts do not take that
    /// line from the calling threads.
    pub(crate) queue_bytes: OwnLine<AtomicU64>,
    /// Bytes (estimated) of undecided traces in the sampling buffer.
    pub(crate) buffer_bytes: AtomicU64,
    /// The largest `buffer_bytes` seen.
    pub(crate) peak_buffer_bytes: AtomicU64,
    warned: [AtomicBool; 6],
    /// Set by `LlmHandle::shutdown` before it shuts the tracer provider down: a shutdown
    /// without it comes from the provider's drop, and waits at most `pipeline::DROP_WAIT`.
    pub(crate) explicit_shutdown: AtomicBool,
    warned_export: AtomicBool,
    warned_retry: AtomicBool,
    /// Annotations (evaluations, feedback) delivered and dropped.
    pub(crate) annotations: AnnotationStats,
}

/// Why annotations were not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnnotationDrop {
    /// The queue to the sending thread was full.
    QueueFull,
    /// The collector refused them for good (a 4xx), or they cannot be sent there.
    ExportFailed,
    /// The collector was down at shutdown, or they were made after it.
    Shutdown,
    /// The collector was down and the annotations waiting for it outgrew their bound.
    RetryFull,
}

impl AnnotationDrop {
    /// Every reason, in index order.
    pub(crate) const ALL: [AnnotationDrop; 4] = [
        AnnotationDrop::QueueFull,
        AnnotationDrop::ExportFailed,
        AnnotationDrop::Shutdown,
        AnnotationDrop::RetryFull,
    ];

    /// The `reason` attribute value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AnnotationDrop::QueueFull => "queue_full",
            AnnotationDrop::ExportFailed => "export_failed",
            AnnotationDrop::Shutdown => "shutdown",
            AnnotationDrop::RetryFull => "retry_full",
        }
    }
}

/// Annotations delivered and dropped; each reason of drop is warned about once.
#[derive(Debug, Default)]
pub(crate) struct AnnotationStats {
    /// Annotations the collector accepted.
    pub(crate) delivered: AtomicU64,
    dropped: [AtomicU64; 4],
    warned: [AtomicBool; 4],
    warned_retry: AtomicBool,
}

impl AnnotationStats {
    /// Counts `n` annotations dropped for `reason`, warning the first time with `why`.
    pub(crate) fn dropped(&self, reason: AnnotationDrop, n: u64, why: &str) {
        if n == 0 {
            return;
        }
        let i = index_of(&AnnotationDrop::ALL, &reason);
        self.dropped[i].fetch_add(n, Ordering::Relaxed);
        if !self.warned[i].swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracing-openinference: {n} annotations dropped ({why}); counted in \
                 openinference.annotations.dropped{{reason=\"{}\"}}, further drops are not printed",
                reason.as_str()
            );
        }
    }

    /// Annotations dropped so far for `reason`.
    pub(crate) fn dropped_for(&self, reason: AnnotationDrop) -> u64 {
        self.dropped[index_of(&AnnotationDrop::ALL, &reason)].load(Ordering::Relaxed)
    }

    /// Warns once that a collector refuses annotations and they are retried.
    pub(crate) fn warn_retrying(&self, message: &str) {
        if !self.warned_retry.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracing-openinference: the collector refused annotations ({message}); \
                 retrying with backoff (further refusals are not printed)"
            );
        }
    }
}

/// A value alone on its cache line (64 bytes), so that writes to its neighbours do not take
/// the line away from the threads that write it (false sharing).
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct OwnLine<T>(pub(crate) T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn index_of<T: PartialEq>(all: &[T], x: &T) -> usize {
    all.iter().position(|y| y == x).unwrap_or(0)
}

impl PipelineStats {
    /// Counts `n` spans dropped for `reason`, warning the first time.
    pub(crate) fn spans_dropped(&self, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        let i = index_of(&DropReason::ALL, &reason);
        self.spans_dropped[i].fetch_add(n, Ordering::Relaxed);
        if let Some(message) = reason.warning() {
            if !self.warned[i].swap(true, Ordering::Relaxed) {
                eprintln!("tracing-openinference: {message}");
            }
        }
    }

    /// Counts a failed export of `n` spans, warning once with the exporter's message.
    pub(crate) fn export_failed(&self, n: u64, message: &str) {
        self.spans_dropped(DropReason::ExportFailed, n);
        if !self.warned_export.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracing-openinference: export failed, {n} spans dropped: {message} \
                 (counted in openinference.spans.dropped{{reason=\"export_failed\"}}; \
                 further failures are not printed)"
            );
        }
    }

    /// Warns once that a collector refuses batches and they are kept for retries.
    pub(crate) fn warn_retrying(&self, message: &str) {
        if !self.warned_retry.swap(true, Ordering::Relaxed) {
            eprintln!(
                "tracing-openinference: the collector refused a batch ({message}); \
                 retrying with backoff (further refusals are not printed)"
            );
        }
    }

    /// Counts a trace dropped for `reason`.
    pub(crate) fn trace_dropped(&self, reason: DropReason) {
        let i = index_of(&DropReason::ALL, &reason);
        self.traces_dropped[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a trace kept for `reason`.
    pub(crate) fn trace_kept(&self, reason: KeepReason) {
        let i = index_of(&KeepReason::ALL, &reason);
        self.traces_kept[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the sampling buffer's size, tracking the peak.
    pub(crate) fn set_buffer_bytes(&self, bytes: usize) {
        let bytes = bytes as u64;
        self.buffer_bytes.store(bytes, Ordering::Relaxed);
        self.peak_buffer_bytes.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Spans dropped so far for `reason`.
    pub(crate) fn dropped(&self, reason: DropReason) -> u64 {
        self.spans_dropped[index_of(&DropReason::ALL, &reason)].load(Ordering::Relaxed)
    }

    /// Traces dropped so far for `reason`.
    pub(crate) fn traces_dropped(&self, reason: DropReason) -> u64 {
        self.traces_dropped[index_of(&DropReason::ALL, &reason)].load(Ordering::Relaxed)
    }

    /// Traces kept so far for `reason`.
    pub(crate) fn kept(&self, reason: KeepReason) -> u64 {
        self.traces_kept[index_of(&KeepReason::ALL, &reason)].load(Ordering::Relaxed)
    }

    /// A snapshot for callers outside the pipeline.
    pub(crate) fn snapshot(&self) -> crate::PipelineSnapshot {
        crate::PipelineSnapshot {
            spans_exported: self.spans_exported.load(Ordering::Relaxed),
            spans_dropped: DropReason::ALL
                .iter()
                .map(|r| (r.as_str(), self.dropped(*r)))
                .collect(),
            traces_kept: KeepReason::ALL
                .iter()
                .map(|r| (r.as_str(), self.kept(*r)))
                .collect(),
            traces_dropped: DropReason::ALL
                .iter()
                .map(|r| (r.as_str(), self.traces_dropped(*r)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            queue_bytes: self.queue_bytes.load(Ordering::Relaxed),
            buffer_bytes: self.buffer_bytes.load(Ordering::Relaxed),
            peak_buffer_bytes: self.peak_buffer_bytes.load(Ordering::Relaxed),
            annotations_delivered: self.annotations.delivered.load(Ordering::Relaxed),
            annotations_dropped: AnnotationDrop::ALL
                .iter()
                .map(|r| (r.as_str(), self.annotations.dropped_for(*r)))
                .collect(),
        }
    }
}
