//! [`LlmHandle`]: flush and shut the pipeline down, with a time limit.

use crate::evaluation::{AnnotateError, Annotation, Evaluations};
use crate::export::metrics_out::MetricsExtras;
use crate::pipeline::stats::PipelineStats;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// How long the hook of [`LlmHandle::install_panic_hook`] waits for its flush.
///
/// ```
/// assert_eq!(tracing_openinference::PANIC_FLUSH_TIMEOUT, std::time::Duration::from_secs(2));
/// ```
pub const PANIC_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Set while a panic hook is flushing, so a panic during that flush does not flush again.
static PANIC_FLUSHING: AtomicBool = AtomicBool::new(false);

/// Why a flush or shutdown did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleError {
    /// The time limit passed first; the work goes on in the background.
    Timeout(Duration),
    /// The pipeline reported an error.
    Pipeline(String),
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Timeout(d) => write!(f, "did not finish within {d:?}"),
            HandleError::Pipeline(e) => write!(f, "pipeline error: {e}"),
        }
    }
}

impl std::error::Error for HandleError {}

struct Providers {
    traces: SdkTracerProvider,
    metrics: Option<SdkMeterProvider>,
    extras: MetricsExtras,
    stats: Arc<PipelineStats>,
    /// Runs once before the span pipeline ends: the layer's sampled-out traces still open are
    /// decided (see `layer::held_traces`).
    at_end: Option<Box<dyn Fn() + Send + Sync>>,
    /// Where annotations go, if anywhere.
    evaluations: Option<Evaluations>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("traces", &self.traces)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl Drop for Providers {
    /// The last handle dropped without [`LlmHandle::shutdown`]: the meter provider's final
    /// export runs on a thread of its own, so the dropping thread is not held by a collector
    /// that does not answer (the SDK's meter shutdown ignores its time limit and waits up to
    /// 5 s). The span pipeline's own bound (0.7 s) is kept by its processor.
    fn drop(&mut self) {
        if let Some(at_end) = &self.at_end {
            at_end();
        }
        if self.stats.explicit_shutdown.load(Ordering::Relaxed) {
            return;
        }
        if let Some(metrics) = self.metrics.take() {
            let spawned = std::thread::Builder::new()
                .name("openinference-metrics-end".into())
                .spawn({
                    let metrics = metrics.clone();
                    move || {
                        let _ = metrics.shutdown();
                    }
                });
            if spawned.is_err() {
                let _ = metrics.shutdown();
            }
        }
    }
}

/// A handle to the layer's export pipeline. Works with no async runtime and on any runtime:
/// the waiting happens on a helper thread, never on a runtime worker's I/O.
///
/// ```
/// use std::time::Duration;
/// use tracing_openinference::LlmLayer;
///
/// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder().with_console_exporter(false).build();
/// let handle = layer.handle();
/// handle.force_flush(Duration::from_secs(2)).unwrap();
/// handle.shutdown(Duration::from_secs(2)).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct LlmHandle {
    providers: Arc<Providers>,
}

impl LlmHandle {
    pub(crate) fn new(
        traces: SdkTracerProvider,
        metrics: Option<SdkMeterProvider>,
        stats: Arc<PipelineStats>,
    ) -> Self {
        LlmHandle {
            providers: Arc::new(Providers {
                traces,
                metrics,
                extras: MetricsExtras::default(),
                stats,
                at_end: None,
                evaluations: None,
            }),
        }
    }

    /// Adds the Prometheus endpoint and the console summary's reader, right after [`new`].
    ///
    /// [`new`]: LlmHandle::new
    pub(crate) fn with_metrics_extras(mut self, extras: MetricsExtras) -> Self {
        if let Some(p) = Arc::get_mut(&mut self.providers) {
            p.extras = extras;
        }
        self
    }

    /// Runs `at_end` once before the span pipeline ends (at [`LlmHandle::shutdown`], or as
    /// the last handle goes).
    pub(crate) fn with_at_end(mut self, at_end: Option<Box<dyn Fn() + Send + Sync>>) -> Self {
        if let Some(p) = Arc::get_mut(&mut self.providers) {
            p.at_end = at_end;
        }
        self
    }

    /// Sets where annotations go, right after [`new`].
    ///
    /// [`new`]: LlmHandle::new
    pub(crate) fn with_evaluations(mut self, evaluations: Option<Evaluations>) -> Self {
        if let Some(p) = Arc::get_mut(&mut self.providers) {
            p.evaluations = evaluations;
        }
        self
    }

    /// Attaches an evaluation or a piece of feedback to a span or a trace (see
    /// [`crate::evaluation`]): to Phoenix as an annotation, to Langfuse as a score, else as an
    /// `EVALUATOR` span. Never blocks: it is queued for a sending thread, and a full queue
    /// drops it (counted, [`AnnotateError::QueueFull`]). With no destination it is accepted
    /// and not sent.
    ///
    /// ```
    /// use tracing_openinference::evaluation::{Annotation, AnnotatorKind};
    /// use tracing_openinference::LlmLayer;
    /// use tracing_subscriber::prelude::*;
    ///
    /// let layer = LlmLayer::builder().with_console_exporter(false).build();
    /// let handle = layer.handle();
    /// let _guard = tracing_subscriber::registry().with(layer).set_default();
    ///
    /// let span = tracing::info_span!("judge me", llm.model_name = "gpt-4o");
    /// handle
    ///     .annotate(Annotation::score(&span, "correctness", 1.0).annotator(AnnotatorKind::Llm))
    ///     .unwrap();
    /// ```
    pub fn annotate(&self, annotation: Annotation) -> Result<(), AnnotateError> {
        annotation.check()?;
        match &self.providers.evaluations {
            Some(evaluations) => evaluations.submit(annotation),
            None => Ok(()),
        }
    }

    /// The address the Prometheus endpoint listens on (feature `prometheus`), when it is on.
    /// With port 0 the OS picks the port; this tells which.
    ///
    /// ```
    /// use tracing_openinference::LlmLayer;
    /// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder()
    ///     .with_console_exporter(false)
    ///     .with_prometheus_endpoint("127.0.0.1:0")
    ///     .try_build()
    ///     .unwrap();
    /// let addr = layer.handle().prometheus_addr().unwrap();
    /// println!("scrape http://{addr}/metrics");
    /// assert_ne!(addr.port(), 0);
    /// layer.handle().shutdown(std::time::Duration::from_secs(2)).unwrap();
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.providers
            .extras
            .prometheus
            .as_ref()
            .map(|s| s.local_addr())
    }

    /// The console summary table as it would print now, if the summary is on and any LLM
    /// call was recorded.
    #[cfg(test)]
    pub(crate) fn summary_text(&self) -> Option<String> {
        let tap = self.providers.extras.summary.as_ref()?;
        crate::export::summary::render(&tap.snapshot().ok()?)
    }

    /// What the export pipeline has done so far: spans exported and dropped (by reason),
    /// traces kept (by reason) and dropped, bytes buffered.
    ///
    /// ```
    /// # let layer: tracing_openinference::LlmLayer<tracing_subscriber::Registry> =
    /// #     tracing_openinference::LlmLayer::builder().with_console_exporter(false).build();
    /// let stats = layer.handle().pipeline_stats();
    /// assert_eq!(stats.dropped("queue_full"), 0);
    /// ```
    pub fn pipeline_stats(&self) -> crate::PipelineSnapshot {
        self.providers.stats.snapshot()
    }

    /// The tracer provider, for code that wants more tracers on the same pipeline.
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// # let layer: tracing_openinference::LlmLayer<tracing_subscriber::Registry> =
    /// #     tracing_openinference::LlmLayer::builder().with_console_exporter(false).build();
    /// let tracer = layer.handle().tracer_provider().tracer("my-component");
    /// # drop(tracer);
    /// ```
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.providers.traces
    }

    /// The meter provider, when metrics are on.
    ///
    /// ```
    /// # let layer: tracing_openinference::LlmLayer<tracing_subscriber::Registry> =
    /// #     tracing_openinference::LlmLayer::builder().with_console_exporter(false).build();
    /// let _maybe = layer.handle().meter_provider();
    /// ```
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.providers.metrics.as_ref()
    }

    /// Exports everything accepted so far, waiting at most `timeout`.
    ///
    /// ```
    /// # let layer: tracing_openinference::LlmLayer<tracing_subscriber::Registry> =
    /// #     tracing_openinference::LlmLayer::builder().with_console_exporter(false).build();
    /// layer.handle().force_flush(std::time::Duration::from_secs(1)).unwrap();
    /// ```
    pub fn force_flush(&self, timeout: Duration) -> Result<(), HandleError> {
        let deadline = std::time::Instant::now() + timeout;
        self.run_with_timeout(timeout, move |p| {
            let traces = p.traces.force_flush();
            // After the spans, so that an annotation follows the span it is about.
            let annotations = match &p.evaluations {
                Some(e) => e.flush(deadline).map_err(HandleError::Pipeline),
                None => Ok(()),
            };
            let metrics = p
                .metrics
                .as_ref()
                .map(|m| m.force_flush())
                .unwrap_or(Ok(()));
            traces
                .and(metrics)
                .map_err(|e| HandleError::Pipeline(e.to_string()))
                .and(annotations)
        })
    }

    /// Flushes and stops the pipeline, waiting at most `timeout`. With the console exporter,
    /// the metrics summary is printed last, under the traces. The Prometheus endpoint stops.
    /// Calling it twice is harmless.
    ///
    /// ```
    /// # let layer: tracing_openinference::LlmLayer<tracing_subscriber::Registry> =
    /// #     tracing_openinference::LlmLayer::builder().with_console_exporter(false).build();
    /// layer.handle().shutdown(std::time::Duration::from_secs(1)).unwrap();
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> Result<(), HandleError> {
        self.providers
            .stats
            .explicit_shutdown
            .store(true, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + timeout;
        self.run_with_timeout(timeout, move |p| {
            if let Some(at_end) = &p.at_end {
                at_end();
            }
            let traces = p.traces.shutdown_with_timeout(timeout);
            let annotations = match &p.evaluations {
                Some(e) => e.shutdown(deadline).map_err(HandleError::Pipeline),
                None => Ok(()),
            };
            if let Some(tap) = &p.extras.summary {
                // Read before the meter provider shuts down; a second shutdown finds it
                // closed and prints nothing.
                if let Some(table) = tap
                    .snapshot()
                    .ok()
                    .and_then(|s| crate::export::summary::render(&s))
                {
                    use std::io::Write as _;
                    let _ = std::io::stderr().write_all(format!("\n{table}").as_bytes());
                }
            }
            #[cfg(feature = "prometheus")]
            if let Some(server) = &p.extras.prometheus {
                server.stop(timeout.min(Duration::from_secs(2)));
            }
            let metrics = p
                .metrics
                .as_ref()
                .map(|m| m.shutdown_with_timeout(timeout))
                .unwrap_or(Ok(()));
            match traces.and(metrics) {
                Ok(()) => annotations,
                Err(opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown) => annotations,
                Err(e) => Err(HandleError::Pipeline(e.to_string())),
            }
        })
    }

    /// Installs a process-wide panic hook that flushes this pipeline, so the spans that finished before a panic are
    /// exported even when the panic ends the process (a panic in `main`, `panic = "abort"`, or a supervisor that
    /// kills the process right after).
    ///
    /// Opt-in. The hook runs the previously installed hook first (the default one prints the panic message), then
    /// calls [`LlmHandle::force_flush`] with a limit of [`PANIC_FLUSH_TIMEOUT`] (2 s), so a panic never hangs on a
    /// collector that is down. A panic raised while the hook itself is flushing (on the exporter's thread, say) does
    /// not flush again. The span in which the panic happens is still open when the hook runs; it ends, with the
    /// panic as its error, while the stack unwinds, and is exported by the next flush or at shutdown. Installing the
    /// hook more than once chains the hooks.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use tracing_openinference::LlmLayer;
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemorySpanExporter::default(); // or OTLP, from the environment
    /// let layer = LlmLayer::builder()
    ///     .with_console_exporter(false)
    ///     .with_span_exporter(exporter.clone())
    ///     .build();
    /// let handle = layer.handle();
    /// handle.install_panic_hook();
    /// tracing_subscriber::registry().with(layer).init();
    ///
    /// tracing::info_span!("before_the_panic", llm.model_name = "gpt-4o").in_scope(|| {});
    /// let result = std::thread::spawn(|| panic!("boom")).join();
    /// assert!(result.is_err());
    /// // The hook flushed: the span is exported though the batch delay (5 s) has not passed.
    /// let spans = exporter.get_finished_spans().unwrap();
    /// assert!(spans.iter().any(|s| s.name == "before_the_panic"));
    /// ```
    pub fn install_panic_hook(&self) {
        let handle = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if PANIC_FLUSHING.swap(true, Ordering::SeqCst) {
                return;
            }
            let _ = handle.force_flush(PANIC_FLUSH_TIMEOUT);
            PANIC_FLUSHING.store(false, Ordering::SeqCst);
        }));
    }

    fn run_with_timeout(
        &self,
        timeout: Duration,
        work: impl FnOnce(&Providers) -> Result<(), HandleError> + Send + 'static,
    ) -> Result<(), HandleError> {
        let providers = Arc::clone(&self.providers);
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("openinference-flush".into())
            .spawn(move || {
                let _ = tx.send(work(&providers));
            });
        if spawned.is_err() {
            return Err(HandleError::Pipeline("could not start a thread".into()));
        }
        match rx.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(HandleError::Timeout(timeout)),
        }
    }
}
