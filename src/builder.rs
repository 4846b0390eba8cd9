//! [`LlmLayerBuilder`]: every setting in code, starting from the environment.

pub(crate) use crate::error::warn_once;
pub use crate::error::BuildError;
use crate::export::env::{self, Getter, Named};
use crate::export::{console::ConsoleExporter, target};
use crate::handle::LlmHandle;
use crate::layer::held_traces::HeldTraces;
use crate::layer::CaptureSettings;
use crate::layer::{Core, LlmLayer};
use crate::mapping::Mapper;
use crate::metrics::Metrics;
use crate::pipeline::sampler::LlmSampler;
use crate::pipeline::stats::PipelineStats;
use crate::pipeline::worker::ErasedExporter;
use crate::pipeline::LlmSpanProcessor;
use crate::pricing::{ModelPrice, PriceCache, PriceTable};
use crate::privacy::Privacy;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::metrics::{MeterProviderBuilder, SdkMeterProvider};
use opentelemetry_sdk::trace::{IdGenerator, SdkTracerProvider, SpanExporter, SpanLimits};
use opentelemetry_sdk::Resource;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tracing_core::Subscriber;
use tracing_subscriber::registry::LookupSpan;

mod assemble;
mod conventions;
mod entry;
mod extensions;
mod settings;

/// Reads one configuration variable.
type EnvReader = Box<dyn Fn(&str) -> Option<String> + Send>;
/// Prepares a caller's exporter for the export thread, once the resource is known.
type ExporterFactory = Box<dyn FnOnce(&Resource) -> Box<dyn ErasedExporter> + Send>;
/// Adds a caller's metric reader to the meter provider.
type ReaderFactory = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

/// Every setting of [`LlmLayer`], in code. It starts from the environment: a setting made
/// here wins over the variable.
///
/// ```
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use tracing_openinference::LlmLayer;
/// use tracing_subscriber::Registry;
///
/// let spans = InMemorySpanExporter::default();
/// let layer: LlmLayer<Registry> = LlmLayer::builder()
///     .with_service_name("support-bot")
///     .with_span_exporter(spans.clone())
///     .try_build()
///     .expect("valid settings");
/// # drop(layer);
/// ```
///
#[doc = include_str!("../docs/configuration.md")]
pub struct LlmLayerBuilder {
    get: EnvReader,
    service_name: Option<String>,
    resource: Vec<KeyValue>,
    otlp_endpoint: Option<String>,
    otlp_headers: Vec<(String, String)>,
    exporters: Vec<ExporterFactory>,
    readers: Vec<ReaderFactory>,
    metrics_out: crate::export::metrics_out::MetricsOut,
    /// TLS roots and compression set in code (see `export::transport`).
    pub(crate) transport: crate::export::transport::TransportOverrides,
    console: Option<bool>,
    ratio: Option<f64>,
    keep_errors: Option<bool>,
    keep_slow: Option<std::time::Duration>,
    buffer_bytes: Option<usize>,
    buffer_spans: Option<usize>,
    queue_spans: Option<usize>,
    id_generator: Option<Box<dyn IdGenerator>>,
    prices: PriceTable,
    price_file: Option<PathBuf>,
    privacy: Option<Privacy>,
    event_level: Option<tracing_core::LevelFilter>,
    mlflow_experiment_name: Option<String>,
    observation: crate::usage::Observation,
    keep_rule: Option<crate::keep::SharedRule>,
    evaluations: crate::evaluation::EvaluationBackend,
    /// The latest GenAI names instead of v1.41.0's (see `crate::semconv`).
    gen_ai_latest: Option<bool>,
    errors: Vec<BuildError>,
}

impl fmt::Debug for LlmLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmLayerBuilder")
            .field("service_name", &self.service_name)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("exporters", &self.exporters.len())
            .field("readers", &self.readers.len())
            .field("ratio", &self.ratio)
            .finish_non_exhaustive()
    }
}

impl LlmLayerBuilder {
    /// A builder that reads the process environment.
    ///
    /// ```
    /// let builder = tracing_openinference::LlmLayerBuilder::from_env();
    /// # drop(builder);
    /// ```
    pub fn from_env() -> Self {
        Self::from_env_with(env::process_env)
    }

    /// A builder that reads variables through `get` instead of the process environment
    /// (for tests, or configuration from elsewhere).
    ///
    /// ```
    /// use tracing_openinference::LlmLayerBuilder;
    /// let builder = LlmLayerBuilder::from_env_with(|name| {
    ///     (name == "OTEL_SERVICE_NAME").then(|| "from-a-map".to_string())
    /// });
    /// # drop(builder);
    /// ```
    pub fn from_env_with(get: impl Fn(&str) -> Option<String> + Send + 'static) -> Self {
        LlmLayerBuilder {
            get: Box::new(move |k: &str| get(k).filter(|v| !v.trim().is_empty())),
            service_name: None,
            resource: Vec::new(),
            otlp_endpoint: None,
            otlp_headers: Vec::new(),
            exporters: Vec::new(),
            readers: Vec::new(),
            metrics_out: Default::default(),
            transport: Default::default(),
            console: None,
            ratio: None,
            keep_errors: None,
            keep_slow: None,
            buffer_bytes: None,
            buffer_spans: None,
            queue_spans: None,
            id_generator: None,
            prices: PriceTable::builtin(),
            price_file: None,
            privacy: None,
            event_level: None,
            mlflow_experiment_name: None,
            observation: Default::default(),
            keep_rule: None,
            evaluations: Default::default(),
            gen_ai_latest: None,
            errors: Vec::new(),
        }
    }

    /// Sets `service.name` (else `OTEL_SERVICE_NAME`, else the SDK default).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_service_name("rag-api");
    /// # drop(b);
    /// ```
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute (after `OTEL_RESOURCE_ATTRIBUTES`).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_resource_attribute("deployment.environment.name", "staging");
    /// # drop(b);
    /// ```
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<opentelemetry::Key>,
        value: impl Into<opentelemetry::Value>,
    ) -> Self {
        self.resource.push(KeyValue::new(key, value));
        self
    }

    /// Sets the Phoenix project (`openinference.project.name`; else `PHOENIX_PROJECT_NAME`).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_project_name("agents");
    /// # drop(b);
    /// ```
    pub fn with_project_name(self, name: impl Into<String>) -> Self {
        self.with_resource_attribute("openinference.project.name", name.into())
    }

    /// Sends spans over OTLP to `endpoint`, a base URL (`http://localhost:6006`) to which
    /// `/v1/traces` is added, like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_otlp_endpoint("http://127.0.0.1:6006");
    /// # drop(b);
    /// ```
    pub fn with_otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }

    /// Adds an OTLP header (after `OTEL_EXPORTER_OTLP_HEADERS`).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_otlp_header("x-project-name", "agents");
    /// # drop(b);
    /// ```
    pub fn with_otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp_headers.push((name.into(), value.into()));
        self
    }

    /// Sends spans to any SDK exporter (the in-memory one in tests), through the same mapping
    /// and batching as OTLP. May be called several times. A configured OTLP endpoint
    /// (`with_otlp_endpoint` or `OTEL_EXPORTER_OTLP_*`) still gets the spans too; the console
    /// tree is printed only when asked for.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::InMemorySpanExporter;
    /// let spans = InMemorySpanExporter::default();
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_span_exporter(spans.clone());
    /// # drop(b);
    /// ```
    pub fn with_span_exporter<E>(mut self, exporter: E) -> Self
    where
        E: SpanExporter + 'static,
    {
        self.exporters.push(Box::new(move |resource| {
            let mut exporter: Box<dyn ErasedExporter> = Box::new(exporter);
            exporter.set_resource(resource);
            exporter
        }));
        self
    }

    /// Adds any SDK metric reader (the in-memory exporter's `PeriodicReader`, a `ManualReader`,
    /// a Prometheus reader). Turns metrics on.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
    /// let reader = PeriodicReader::builder(InMemoryMetricExporter::default()).build();
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_metric_reader(reader);
    /// # drop(b);
    /// ```
    pub fn with_metric_reader<R>(mut self, reader: R) -> Self
    where
        R: opentelemetry_sdk::metrics::reader::MetricReader,
    {
        self.readers.push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// Serves the metrics for Prometheus on `GET http://{addr}/metrics` (feature `prometheus`;
    /// else `OTEL_METRICS_EXPORTER=prometheus` with `OTEL_EXPORTER_PROMETHEUS_HOST` /
    /// `OTEL_EXPORTER_PROMETHEUS_PORT`, default `localhost:9464`). Port 0 picks a free port
    /// ([`LlmHandle::prometheus_addr`](crate::LlmHandle::prometheus_addr) tells which).
    /// `try_build` fails when the address cannot be bound; `build` warns and goes on without
    /// the endpoint. It stops on [`LlmHandle::shutdown`](crate::LlmHandle::shutdown).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_prometheus_endpoint("127.0.0.1:9464");
    /// # drop(b);
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn with_prometheus_endpoint(
        mut self,
        addr: impl std::net::ToSocketAddrs + fmt::Debug,
    ) -> Self {
        let shown = format!("{addr:?}");
        self.metrics_out.prometheus_addrs = Some(crate::export::metrics_out::resolve(addr, &shown));
        self
    }

    /// Prints each finished trace as a tree on stderr: `true` always, `false` never. Unset,
    /// the tree is printed only when no other destination is configured.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_console_exporter(false);
    /// # drop(b);
    /// ```
    pub fn with_console_exporter(mut self, enabled: bool) -> Self {
        self.console = Some(enabled);
        self
    }

    /// Samples traces parent-based by trace-id ratio (`0.0..=1.0`; else
    /// `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, else every trace).
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_sampling_ratio(0.1);
    /// # drop(b);
    /// ```
    pub fn with_sampling_ratio(mut self, ratio: f64) -> Self {
        self.ratio = Some(ratio);
        self
    }

    /// Keeps a trace the ratio dropped when any span in it ends in error (default `true`;
    /// else `OPENINFERENCE_KEEP_ERRORS`). The trace is exported whole, its root saying
    /// `openinference.sampling.reason = "error"`.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_sampling_ratio(0.05)
    ///     .with_keep_errors(true);
    /// # drop(b);
    /// ```
    pub fn with_keep_errors(mut self, keep: bool) -> Self {
        self.keep_errors = Some(keep);
        self
    }

    /// Keeps a trace the ratio dropped when its local root lasts longer than `threshold`
    /// (off by default; else `OPENINFERENCE_KEEP_SLOW_MS`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_sampling_ratio(0.05)
    ///     .with_keep_slow(Duration::from_secs(10));
    /// # drop(b);
    /// ```
    pub fn with_keep_slow(mut self, threshold: std::time::Duration) -> Self {
        self.keep_slow = Some(threshold);
        self
    }

    /// Bounds the memory that holds sampled-out traces until their decision (defaults
    /// 32 MiB and 50,000 spans; else `OPENINFERENCE_SAMPLING_BUFFER_BYTES` and
    /// `OPENINFERENCE_SAMPLING_BUFFER_SPANS`). Past a bound the oldest undecided traces are
    /// dropped whole and counted in `openinference.traces.dropped{reason="buffer_full"}`.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_sampling_buffer(8 * 1024 * 1024, 10_000);
    /// # drop(b);
    /// ```
    pub fn with_sampling_buffer(mut self, max_bytes: usize, max_spans: usize) -> Self {
        self.buffer_bytes = Some(max_bytes);
        self.buffer_spans = Some(max_spans);
        self
    }

    /// Bounds the queue between the calling threads and the export thread, in spans
    /// (default 2048; else `OTEL_BSP_MAX_QUEUE_SIZE`). A full queue drops the span and counts
    /// it in `openinference.spans.dropped{reason="queue_full"}`; it never blocks.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_queue_capacity(8_192);
    /// # drop(b);
    /// ```
    pub fn with_queue_capacity(mut self, spans: usize) -> Self {
        self.queue_spans = Some(spans);
        self
    }

    /// Generates trace and span ids with `generator` instead of the SDK's random one (for
    /// ids that must follow a scheme, or deterministic ids in tests).
    ///
    /// ```
    /// use opentelemetry_sdk::trace::RandomIdGenerator;
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_id_generator(RandomIdGenerator::default());
    /// # drop(b);
    /// ```
    pub fn with_id_generator(mut self, generator: impl IdGenerator + 'static) -> Self {
        self.id_generator = Some(Box::new(generator));
        self
    }

    /// Sets or overrides one model's price (USD per million tokens).
    ///
    /// ```
    /// use tracing_openinference::pricing::ModelPrice;
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_model_price(
    ///     "my-finetune",
    ///     ModelPrice { input: 1.0, output: 2.0, cache_read: None, cache_write: None, reasoning: None },
    /// );
    /// # drop(b);
    /// ```
    pub fn with_model_price(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.prices.set_price(model, price);
        self
    }

    /// Replaces the whole price table.
    ///
    /// ```
    /// use tracing_openinference::pricing::PriceTable;
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_price_table(PriceTable::empty());
    /// # drop(b);
    /// ```
    pub fn with_price_table(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// Loads prices from a JSON file (its entries win over the built-in ones; else
    /// `OPENINFERENCE_PRICE_FILE`).
    ///
    /// ```no_run
    /// let b = tracing_openinference::LlmLayerBuilder::from_env().with_price_file("prices.json");
    /// # drop(b);
    /// ```
    pub fn with_price_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.price_file = Some(path.into());
        self
    }

    /// Sets the privacy masks and size limits (else from `OPENINFERENCE_HIDE_*`).
    ///
    /// ```
    /// use tracing_openinference::privacy::Privacy;
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_privacy(Privacy::default().with_hide_inputs(true));
    /// # drop(b);
    /// ```
    pub fn with_privacy(mut self, privacy: Privacy) -> Self {
        self.privacy = Some(privacy);
        self
    }

    /// Builds the layer, or says which setting is wrong.
    ///
    /// ```
    /// use tracing_openinference::{BuildError, LlmLayer};
    /// let err = LlmLayer::builder()
    ///     .with_sampling_ratio(1.5)
    ///     .try_build::<tracing_subscriber::Registry>()
    ///     .unwrap_err();
    /// assert_eq!(err, BuildError::InvalidRatio(1.5));
    /// ```
    pub fn try_build<S>(self) -> Result<LlmLayer<S>, BuildError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        self.assemble(true)
    }

    /// Builds the layer. It never panics: a bad setting is warned about once on stderr and
    /// the layer falls back to printing traces on stderr.
    ///
    /// ```
    /// use tracing_openinference::LlmLayer;
    /// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder().build();
    /// # drop(layer);
    /// ```
    pub fn build<S>(self) -> LlmLayer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let console = self.console;
        let fallback_prices = self.prices.clone();
        let fallback_observation = self.observation.clone();
        let fallback_rule = self.keep_rule.clone();
        match self.assemble(false) {
            Ok(layer) => layer,
            Err(e) => {
                warn_once(&format!("{e}; printing traces to stderr instead"));
                let mut b = LlmLayerBuilder::from_env_with(|_| None)
                    .with_price_table(fallback_prices)
                    .with_console_exporter(console.unwrap_or(true));
                b.observation = fallback_observation;
                b.keep_rule = fallback_rule;
                b.assemble(false).unwrap_or_else(|_| LlmLayer::minimal())
            }
        }
    }
}
