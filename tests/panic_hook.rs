//! `LlmHandle::install_panic_hook`: a panic flushes what finished before it, and the previous hook still runs.

mod common;
use common::*;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_openinference::LlmLayer;
use tracing_subscriber::prelude::*;

fn names(exporter: &InMemorySpanExporter) -> Vec<String> {
    exporter
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| s.name.to_string())
        .collect()
}

#[test]
fn panic_hook_flushes_spans_finished_before_the_panic() {
    // A batch delay far longer than the test: without a flush nothing reaches the exporter.
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "600000");
    let previous_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&previous_ran);
    std::panic::set_hook(Box::new(move |_| flag.store(true, Ordering::SeqCst)));

    let exporter = InMemorySpanExporter::default();
    let layer: LlmLayer<_> = quiet_builder().with_span_exporter(exporter.clone()).build();
    let handle = layer.handle();
    let subscriber = Arc::new(tracing_subscriber::registry().with(layer));

    // Control: a finished span is not exported on its own within the test's time frame.
    let sub = Arc::clone(&subscriber);
    std::thread::spawn(move || {
        tracing::subscriber::with_default(sub, || {
            tracing::info_span!("control", llm.model_name = "m").in_scope(|| {});
        })
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        names(&exporter).is_empty(),
        "the pipeline exported without a flush; this test cannot tell the hook's work apart"
    );

    handle.install_panic_hook();
    let sub = Arc::clone(&subscriber);
    let started = Instant::now();
    let result = std::thread::spawn(move || {
        tracing::subscriber::with_default(sub, || {
            tracing::info_span!("before_the_panic", llm.model_name = "gpt-4o").in_scope(|| {});
            tracing::info_span!("agent_step").in_scope(|| panic!("tool returned garbage"));
        })
    })
    .join();
    let elapsed = started.elapsed();
    assert!(result.is_err(), "the thread panicked");
    assert!(previous_ran.load(Ordering::SeqCst), "the previous hook ran");
    // No flush from the test: the hook's flush is what exported these.
    let exported = names(&exporter);
    assert!(
        exported.iter().any(|n| n == "before_the_panic"),
        "{exported:?}"
    );
    assert!(exported.iter().any(|n| n == "control"), "{exported:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // The span the panic unwound through is exported by the next flush, marked as failed.
    handle.force_flush(Duration::from_secs(10)).unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let step = span(&spans, "agent_step");
    assert!(is_error(step), "{:?}", step.status);
    drop(std::panic::take_hook());
}
