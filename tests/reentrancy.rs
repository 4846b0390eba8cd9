//! An exporter that itself logs through `tracing` (as HTTP clients and the OpenTelemetry SDK do) must not
//! deadlock the layer, nor feed its own telemetry back into the pipeline without end.
//!
//! The layer is the global default subscriber here, so the exporter's events and spans, emitted on the
//! export thread, reach it. Every wait is bounded: the workload runs on a thread and the test waits on a
//! channel with `recv_timeout`.

mod common;
use common::*;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

/// Logs, errors and opens spans (one of them LLM-shaped) from inside `export`.
#[derive(Debug, Clone)]
struct NoisyExporter {
    inner: InMemorySpanExporter,
    calls: Arc<AtomicUsize>,
}

impl SpanExporter for NoisyExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tracing::info!(spans = batch.len(), "exporting a batch");
        tracing::error!(error = "connection reset", "export failed once, retrying");
        let span = tracing::info_span!(
            "inside_export",
            llm.model_name = "gpt-4o",
            llm.token_count.prompt = 1
        );
        span.in_scope(|| {
            tracing::warn!("inside a span inside export");
            tracing::info_span!("nested_inside_export").in_scope(|| tracing::info!("deeper"));
        });
        drop(span);
        self.inner.export(batch)
    }

    fn force_flush(&self) -> OTelSdkResult {
        tracing::info!("force_flush on the exporter");
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        tracing::info!("shutdown on the exporter");
        Ok(())
    }
}

#[test]
fn exporter_that_emits_tracing_events_neither_deadlocks_nor_recurses() {
    let inner = InMemorySpanExporter::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let exporter = NoisyExporter {
        inner: inner.clone(),
        calls: Arc::clone(&calls),
    };
    let layer: LlmLayer<_> = quiet_builder().with_span_exporter(exporter).build();
    let handle = layer.handle();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("the only global subscriber of this test binary");

    let (tx, rx) = mpsc::channel();
    let worker_handle = handle.clone();
    std::thread::spawn(move || {
        for i in 0..500 {
            tracing::info_span!(
                "chat",
                llm.model_name = "gpt-4o",
                llm.token_count.prompt = i
            )
            .in_scope(|| {
                tracing::info!(i, "calling the model");
                if i % 50 == 0 {
                    // Flush from inside a span, on the application thread.
                    let _ = worker_handle.force_flush(Duration::from_secs(5));
                }
            });
        }
        let flushed = worker_handle.force_flush(Duration::from_secs(5));
        let _ = tx.send(flushed);
    });
    let flushed = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the workload finished within 10 s (no deadlock)");
    assert!(flushed.is_ok(), "{flushed:?}");

    let spans = inner.get_finished_spans().unwrap();
    let chats = spans.iter().filter(|s| s.name == "chat").count();
    assert_eq!(chats, 500, "every application span was exported");

    // Whatever the exporter did on its own thread does not keep the pipeline busy: more flushes
    // with no new application spans settle at once instead of exporting the exporter's own spans.
    let own = |spans: &[SpanData]| {
        spans
            .iter()
            .filter(|s| s.name.contains("inside_export"))
            .count()
    };
    let (tx, rx) = mpsc::channel();
    let h = handle.clone();
    std::thread::spawn(move || {
        let mut results = Vec::new();
        for _ in 0..3 {
            results.push(h.force_flush(Duration::from_secs(2)));
        }
        let _ = tx.send(results);
    });
    let results = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("repeated flushes finished within 10 s");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let after = inner.get_finished_spans().unwrap();
    assert_eq!(
        own(&after),
        0,
        "spans created inside export were exported (telemetry feedback loop); export calls: {}",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(after.len(), spans.len(), "nothing new after the workload");

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(handle.shutdown(Duration::from_secs(5)));
    });
    let shut = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("shutdown finished within 10 s");
    assert!(shut.is_ok(), "{shut:?}");
}
