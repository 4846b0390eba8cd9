//! Graceful shutdown: on Ctrl-C or SIGTERM (what `docker stop` and Kubernetes send), stop taking
//! work, let the requests in flight finish, then flush and stop the exporter with a time limit, so
//! no span that was accepted is lost.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 cargo run --example graceful_shutdown
//! # ... then press Ctrl-C, or `kill -TERM <pid>`
//! ```
//!
//! With `GRACEFUL_SHUTDOWN_SELF_TEST=1` the program sends itself SIGTERM after a moment (on
//! non-Unix systems it simulates the signal), counts the spans the exporter received, and exits
//! non-zero unless every request it finished was exported. CI runs it that way.

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing_openinference::{LlmLayer, LlmLayerBuilder, LlmSpanExt, Usage};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() {
    let self_test = std::env::var("GRACEFUL_SHUTDOWN_SELF_TEST").is_ok_and(|v| v == "1");

    let mut builder = LlmLayerBuilder::from_env();
    let exported = Arc::new(AtomicUsize::new(0));
    if self_test {
        builder = builder
            .with_console_exporter(false)
            .with_span_exporter(CountingExporter(Arc::clone(&exported)));
    }
    let layer: LlmLayer<_> = builder.build();
    let handle = layer.handle();
    tracing_subscriber::registry().with(layer).init();

    // 1. Listen for the signals before anything can send them.
    let simulated = Arc::new(Notify::new());
    let signal = shutdown_signal(Arc::clone(&simulated));
    if self_test {
        tokio::spawn(send_self_sigterm(simulated));
    }

    // 2. Serve until told to stop.
    let (stop_tx, stop_rx) = watch::channel(false);
    let handled = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(serve(stop_rx, Arc::clone(&handled)));

    let which = signal.await;
    eprintln!("{which} received: finishing the requests in flight");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .is_err()
    {
        eprintln!("requests still running after 10 s; shutting down anyway");
    }

    // 3. Flush and stop the pipeline. `shutdown` blocks (at most the time limit), so it runs on a
    //    blocking thread, not on a runtime worker.
    let result = tokio::task::spawn_blocking(move || handle.shutdown(Duration::from_secs(5)))
        .await
        .expect("the shutdown task");
    match result {
        Ok(()) => eprintln!("telemetry flushed; bye"),
        Err(e) => eprintln!("telemetry not fully flushed: {e}"),
    }

    if self_test {
        let handled = handled.load(Ordering::SeqCst);
        let exported = exported.load(Ordering::SeqCst);
        println!("self-test: {handled} requests handled, {exported} request spans exported");
        if handled == 0 || exported != handled {
            eprintln!("self-test FAILED: spans were lost at shutdown");
            std::process::exit(1);
        }
        println!("self-test passed");
    }
}

/// Resolves on Ctrl-C, on SIGTERM (Unix), or when `simulated` is notified; says which.
async fn shutdown_signal(simulated: Arc<Notify>) -> &'static str {
    #[cfg(unix)]
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    let terminate = async move {
        #[cfg(unix)]
        sigterm.recv().await;
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::select! {
        _ = ctrl_c => "Ctrl-C",
        _ = terminate => "SIGTERM",
        _ = simulated.notified() => "simulated SIGTERM",
    }
}

/// Self-test only: after a moment of traffic, sends this process SIGTERM (`kill -TERM`), or
/// simulates it where there is no `kill`.
async fn send_self_sigterm(simulated: Arc<Notify>) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = std::process::id().to_string();
    let sent = cfg!(unix)
        && tokio::task::spawn_blocking(move || {
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .is_ok_and(|s| s.success())
        })
        .await
        .unwrap_or(false);
    if !sent {
        simulated.notify_one();
    }
}

/// A stand-in for a server: one LLM request every 20 ms until `stop` turns true. A request that
/// has started always finishes.
async fn serve(mut stop: watch::Receiver<bool>, handled: Arc<AtomicUsize>) {
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        n += 1;
        handle_request(n).await;
        handled.fetch_add(1, Ordering::SeqCst);
    }
}

#[tracing::instrument(fields(llm.model_name = "gpt-4o-mini", llm.provider = "openai"))]
async fn handle_request(n: u64) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let _ = tracing::Span::current().record_usage(Usage {
        prompt: 12,
        completion: 4,
        ..Usage::default()
    });
}

/// Self-test only: counts the `handle_request` spans it receives.
#[derive(Debug)]
struct CountingExporter(Arc<AtomicUsize>);

impl SpanExporter for CountingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let requests = batch.iter().filter(|s| s.name == "handle_request").count();
        self.0.fetch_add(requests, Ordering::SeqCst);
        Ok(())
    }
}
