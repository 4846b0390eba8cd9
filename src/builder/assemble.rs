//! Assembling a layer from the builder's settings: where traces and metrics go, the
//! sampler, the pipeline and its export thread.

use super::*;

impl LlmLayerBuilder {
    pub(super) fn assemble<S>(mut self, strict: bool) -> Result<LlmLayer<S>, BuildError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        #[cfg(feature = "tls")]
        crate::export::transport::tls::install_default_provider();
        let get_box = std::mem::replace(&mut self.get, Box::new(|_: &str| None));
        let get: Getter<'_> = &*get_box;
        if let Some(e) = self.errors.first() {
            return Err(e.clone());
        }
        let disabled = match get("OTEL_SDK_DISABLED") {
            Some(v) => env::parse_bool("OTEL_SDK_DISABLED", &v)?,
            None => false,
        };

        let (ratio, parent_based) = self.sampler(get)?;
        let mut pipeline = self.pipeline_config(get)?;
        let event_level = self.event_level(get)?;
        let capturing = pipeline.buffer.keep_errors
            || pipeline.buffer.slow.is_some()
            || self.keep_rule.is_some();
        let sampler = LlmSampler::new(ratio, parent_based, capturing);
        let privacy = match self.privacy.take() {
            Some(p) => p,
            None => Privacy::from_env_with(|k| get(k)).map_err(|e| BuildError::InvalidValue {
                var: "OPENINFERENCE_*".into(),
                value: e,
            })?,
        };
        let price_file = self
            .price_file
            .take()
            .or_else(|| get("OPENINFERENCE_PRICE_FILE").map(PathBuf::from));
        if let Some(path) = price_file {
            match PriceTable::load_json_file(&path) {
                Ok(file) => self.prices.merge(file),
                Err(e) => {
                    let err = BuildError::PriceFile(format!("{}: {e}", path.display()));
                    if strict {
                        return Err(err);
                    }
                    warn_once(&err.to_string());
                }
            }
        }

        // Where traces go.
        let named = match get("OTEL_TRACES_EXPORTER") {
            Some(raw) => Some(env::parse_exporters("OTEL_TRACES_EXPORTER", &raw)?),
            None => None,
        };
        let mut target = target::resolve(get, "traces", self.otlp_settings())?;
        if let Some(t) = &mut target {
            if let Some(name) = self.mlflow_experiment_name.take() {
                t.mlflow_experiment_name = Some(name);
            }
            crate::export::mlflow::fit_target(t);
        }
        let wants = |n: Named| named.as_ref().is_some_and(|list| list.contains(&n));
        // An exporter given in code does not replace a configured endpoint: both get the spans.
        let use_otlp = !disabled
            && match &named {
                Some(_) => wants(Named::Otlp),
                None => target.is_some(),
            };
        if use_otlp && target.is_none() {
            target = Some(target::local_default(get, "traces", self.otlp_settings())?);
        }
        let nothing_else = !use_otlp && self.exporters.is_empty();
        let use_console = !disabled
            && match self.console {
                Some(explicit) => explicit,
                None => wants(Named::Console) || (nothing_else && named.is_none()),
            };

        let gen_ai_latest = self.gen_ai_latest(get);
        let mapper = Arc::new(Mapper::new(privacy).with_gen_ai_latest(gen_ai_latest));
        let annotation_privacy = mapper.privacy.clone();
        let resource = mapper.privacy.clean_resource(self.resource(get));
        // Each exporter, and whether batches it refuses are retried (collectors only).
        let mut exporters: Vec<(Box<dyn ErasedExporter>, bool)> = Vec::new();
        if !disabled {
            for factory in self.exporters.drain(..) {
                exporters.push((factory(&resource), false));
            }
        }
        if use_otlp {
            if let Some(t) = &target {
                let mut exporter = target::span_exporter(t)?;
                exporter.set_resource(&resource);
                exporters.push((exporter, true));
            }
        }
        if use_console {
            exporters.push((Box::new(ConsoleExporter::stderr()), false));
            if nothing_else && self.console.is_none() {
                eprintln!(
                    "tracing-openinference: printing traces to stderr. To send them to Phoenix, \
                     Langfuse or a collector, set OTEL_EXPORTER_OTLP_ENDPOINT (Phoenix: \
                     http://localhost:6006) or LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY."
                );
            }
        }
        let stats = Arc::new(PipelineStats::default());
        let mut provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_limits(span_limits())
            .with_resource(resource.clone());
        if let Some(ids) = self.id_generator.take() {
            provider = provider.with_id_generator(GivenIds(ids));
        }
        let scope = InstrumentationScope::builder("tracing-openinference")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let prices = Arc::new(PriceCache::new(std::mem::replace(
            &mut self.prices,
            PriceTable::empty(),
        )));
        let mut capture = None;
        let mut export_thread = None;
        // MLflow names a trace only from a tag on its root.
        pipeline.root_trace_name = use_otlp
            && target
                .as_ref()
                .is_some_and(crate::export::mlflow::is_mlflow);
        let mut at_end = None;
        if !exporters.is_empty() {
            let limits = pipeline.buffer;
            let processor =
                LlmSpanProcessor::start(pipeline, mapper, exporters, Arc::clone(&stats))
                    .map_err(|e| BuildError::Exporter(format!("export thread: {e}")))?;
            if capturing {
                let held = Arc::new(HeldTraces::new(
                    limits,
                    self.keep_rule.take(),
                    processor.clone(),
                    Arc::clone(&stats),
                    scope.clone(),
                    Arc::clone(&prices),
                ));
                let end = Arc::clone(&held);
                at_end = Some(Box::new(move || end.at_end()) as Box<dyn Fn() + Send + Sync>);
                capture = Some(CaptureSettings {
                    held,
                    roots_may_be_unsampled: ratio < 1.0 || !parent_based,
                    parent_based,
                });
            }
            export_thread = Some(processor.metrics_wake());
            provider = provider.with_span_processor(processor);
        }
        let tracer_provider = provider.build();
        let tracer = tracer_provider.tracer_with_scope(scope);
        let evaluations = crate::evaluation::resolve(crate::evaluation::Setup {
            backend: self.evaluations,
            target: target.as_ref().filter(|_| use_otlp),
            exporting: export_thread.is_some(),
            get,
            tracer: &tracer,
            stats: &stats,
            privacy: &annotation_privacy,
        })?;

        let meter_provider = if disabled {
            None
        } else {
            self.meter_provider(get, strict, use_console && nothing_else, resource)?
        };
        let metrics = match &meter_provider {
            Some(mp) => {
                use opentelemetry::metrics::MeterProvider as _;
                Metrics::new(
                    &mp.meter_with_scope(
                        InstrumentationScope::builder("tracing-openinference")
                            .with_version(env!("CARGO_PKG_VERSION"))
                            .build(),
                    ),
                    Arc::clone(&stats),
                    Arc::clone(&prices),
                    gen_ai_latest,
                )
            }
            None => Metrics::disabled(),
        };
        // Full batches of LLM-span values are recorded on the export thread.
        let metrics = match export_thread {
            Some(wake) => metrics.with_export_thread(Box::new(wake)),
            None => metrics,
        };
        let core = Arc::new(Core {
            prices,
            metrics,
            capture,
            event_level,
            observation: std::mem::take(&mut self.observation),
        });
        let handle = LlmHandle::new(tracer_provider, meter_provider, stats)
            .with_metrics_extras(std::mem::take(&mut self.metrics_out.extras))
            .with_at_end(at_end)
            .with_evaluations(evaluations);
        Ok(LlmLayer::from_parts(tracer, core, handle))
    }

    /// The OTLP settings made in code.
    fn otlp_settings(&self) -> target::CodeSettings<'_> {
        target::CodeSettings {
            endpoint: self.otlp_endpoint.as_deref(),
            headers: &self.otlp_headers,
            transport: &self.transport,
        }
    }

    fn resource(&self, get: Getter<'_>) -> Resource {
        let mut b = Resource::builder();
        if let Some(name) = &self.service_name {
            b = b.with_service_name(name.clone());
        }
        if let Some(project) = get("PHOENIX_PROJECT_NAME") {
            b = b.with_attribute(KeyValue::new("openinference.project.name", project));
        }
        b.with_attributes(self.resource.clone()).build()
    }

    fn meter_provider(
        &mut self,
        get: Getter<'_>,
        strict: bool,
        summary: bool,
        resource: Resource,
    ) -> Result<Option<SdkMeterProvider>, BuildError> {
        let named = match get("OTEL_METRICS_EXPORTER") {
            Some(raw) => Some(env::parse_exporters("OTEL_METRICS_EXPORTER", &raw)?),
            None => None,
        };
        let mut builder = SdkMeterProvider::builder().with_resource(resource);
        let mut any = false;
        for factory in self.readers.drain(..) {
            builder = factory(builder);
            any = true;
        }
        let (with_tap, added) = crate::export::metrics_out::attach(
            builder,
            &mut self.metrics_out,
            get,
            named.as_deref(),
            strict,
            summary,
        )?;
        builder = with_tap;
        any |= added;
        let wants_otlp = named.as_ref().is_some_and(|l| l.contains(&Named::Otlp));
        let target = target::resolve(get, "metrics", self.otlp_settings())?;
        // Metrics go over OTLP only when asked for: Phoenix and Langfuse take no metrics, so a
        // base endpoint alone must not make every flush fail.
        let asked = wants_otlp || get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some();
        if let Some(t) = target.filter(|_| asked) {
            let (with_otlp, added) = target::attach_metrics(builder, &t, get)?;
            builder = with_otlp;
            any |= added;
        }
        Ok(any.then(|| builder.build()))
    }
}

/// Limits that do not cut a long conversation at 128 attributes; size is bounded by the
/// byte budgets of [`Privacy`] instead.
fn span_limits() -> SpanLimits {
    SpanLimits {
        max_attributes_per_span: 16_384,
        max_events_per_span: 1_024,
        max_links_per_span: 128,
        max_attributes_per_event: 128,
        max_attributes_per_link: 128,
    }
}

impl<S> LlmLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer that exports nothing: the last resort when even the console cannot be set up.
    pub(super) fn minimal() -> Self {
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("tracing-openinference");
        let core = Arc::new(Core {
            prices: Arc::new(PriceCache::new(PriceTable::empty())),
            metrics: Metrics::disabled(),
            capture: None,
            event_level: crate::layer::event::DEFAULT_EVENT_LEVEL,
            observation: Default::default(),
        });
        LlmLayer::from_parts(
            tracer,
            core,
            LlmHandle::new(provider, None, Arc::new(PipelineStats::default())),
        )
    }
}

/// The id generator given with `with_id_generator`, as the provider takes one.
#[derive(Debug)]
struct GivenIds(Box<dyn IdGenerator>);

impl IdGenerator for GivenIds {
    fn new_trace_id(&self) -> opentelemetry::trace::TraceId {
        self.0.new_trace_id()
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        self.0.new_span_id()
    }
}
