//! The export pipeline's self-observation: spans and traces exported, kept and dropped,
//! buffered bytes and annotations, read from [`PipelineStats`] at each collection (nothing is
//! recorded per span).

use super::PREFIX;
use crate::pipeline::stats::{AnnotationDrop, DropReason, KeepReason, PipelineStats};
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;
use std::sync::Arc;

/// A counter of pipeline events split by `reason`, read from the stats at each collection.
fn counter_by_reason<R: Copy + Send + Sync + 'static>(
    meter: &Meter,
    name: String,
    unit: &'static str,
    description: &'static str,
    reasons: &'static [R],
    name_of: fn(R) -> &'static str,
    read: impl Fn(R) -> u64 + Send + Sync + 'static,
) -> ObservableCounter<u64> {
    meter
        .u64_observable_counter(name)
        .with_unit(unit)
        .with_description(description)
        .with_callback(move |o| {
            for &r in reasons {
                o.observe(read(r), &[KeyValue::new("reason", name_of(r))]);
            }
        })
        .build()
}

/// The self-observation instruments; kept alive with the layer.
#[derive(Debug)]
pub(super) struct PipelineInstruments {
    _exported: ObservableCounter<u64>,
    _dropped: ObservableCounter<u64>,
    _kept: ObservableCounter<u64>,
    _traces_dropped: ObservableCounter<u64>,
    _bytes: ObservableGauge<u64>,
    _annotations: [ObservableCounter<u64>; 2],
}

impl PipelineInstruments {
    pub(super) fn new(meter: &Meter, stats: Arc<PipelineStats>) -> Self {
        let p = PREFIX;
        let s = Arc::clone(&stats);
        let exported = meter
            .u64_observable_counter(format!("{p}.spans.exported"))
            .with_unit("{span}")
            .with_description("Spans handed to the exporters successfully")
            .with_callback(move |o| {
                // Collection starts with the callbacks: LLM-span values still gathered per
                // thread are recorded first, so this collection sees them.
                super::batch::flush_all();
                o.observe(
                    s.spans_exported.load(std::sync::atomic::Ordering::Relaxed),
                    &[],
                )
            })
            .build();
        let s = Arc::clone(&stats);
        let dropped = counter_by_reason(
            meter,
            format!("{p}.spans.dropped"),
            "{span}",
            "Spans not exported, by reason",
            &DropReason::ALL,
            DropReason::as_str,
            move |r| s.dropped(r),
        );
        let s = Arc::clone(&stats);
        let kept = counter_by_reason(
            meter,
            format!("{p}.traces.kept"),
            "{trace}",
            "Traces exported, by the reason they were kept",
            &KeepReason::ALL,
            KeepReason::as_str,
            move |r| s.kept(r),
        );
        let s = Arc::clone(&stats);
        let traces_dropped = counter_by_reason(
            meter,
            format!("{p}.traces.dropped"),
            "{trace}",
            "Traces not exported, by reason",
            &[DropReason::SampledOut, DropReason::BufferFull],
            DropReason::as_str,
            move |r| s.traces_dropped(r),
        );
        let s = Arc::clone(&stats);
        let annotations_dropped = counter_by_reason(
            meter,
            format!("{p}.annotations.dropped"),
            "{annotation}",
            "Annotations not delivered, by reason",
            &AnnotationDrop::ALL,
            AnnotationDrop::as_str,
            move |r| s.annotations.dropped_for(r),
        );
        let s = Arc::clone(&stats);
        let annotations_delivered = meter
            .u64_observable_counter(format!("{p}.annotations.delivered"))
            .with_unit("{annotation}")
            .with_description("Annotations the collector accepted")
            .with_callback(move |o| {
                let n = s
                    .annotations
                    .delivered
                    .load(std::sync::atomic::Ordering::Relaxed);
                o.observe(n, &[]);
            })
            .build();
        let s = stats;
        let bytes = meter
            .u64_observable_gauge(format!("{p}.buffer.bytes"))
            .with_unit("By")
            .with_description("Bytes waiting in the export queue and the sampling buffer")
            .with_callback(move |o| {
                use std::sync::atomic::Ordering::Relaxed;
                o.observe(
                    s.queue_bytes.load(Relaxed),
                    &[KeyValue::new("buffer", "queue")],
                );
                o.observe(
                    s.buffer_bytes.load(Relaxed),
                    &[KeyValue::new("buffer", "sampling")],
                );
            })
            .build();
        PipelineInstruments {
            _exported: exported,
            _dropped: dropped,
            _kept: kept,
            _traces_dropped: traces_dropped,
            _bytes: bytes,
            _annotations: [annotations_delivered, annotations_dropped],
        }
    }
}
