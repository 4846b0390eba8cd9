//! The builder's settings read from the environment when not set in code: sampling, the
//! export pipeline's bounds, the event level; and the MLflow destination.

use super::{BuildError, LlmLayerBuilder};
use crate::export::env::{self, Getter};
use crate::pipeline::PipelineConfig;
use tracing_core::LevelFilter;

/// The variable that sets the event level.
pub(crate) const EVENT_LEVEL_VAR: &str = "OPENINFERENCE_EVENT_LEVEL";

impl LlmLayerBuilder {
    /// Sets the least severe event that becomes a span event (else `OPENINFERENCE_EVENT_LEVEL`,
    /// else INFO). Events below it, such as the DEBUG and TRACE events of HTTP clients and
    /// other dependencies, become no span event; the events that mean something to the span
    /// are kept at any setting: ERROR events and `#[instrument(err)]` (the span's error) and
    /// `#[instrument(ret)]` (its output). `LevelFilter::OFF` keeps only those.
    ///
    /// It decides only what this layer records: other layers (`fmt`, an `EnvFilter`) see every
    /// event as before.
    ///
    /// ```
    /// use tracing::Level;
    /// use tracing_openinference::LlmLayer;
    ///
    /// let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayer::builder()
    ///     .with_event_level(Level::DEBUG)
    ///     .with_console_exporter(false)
    ///     .build();
    /// # drop(layer);
    /// ```
    pub fn with_event_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.event_level = Some(level.into());
        self
    }

    /// Sends spans to an MLflow tracking server (`http://127.0.0.1:5000`), into the
    /// experiment with id `experiment_id`, like `MLFLOW_TRACKING_URI` and
    /// `MLFLOW_EXPERIMENT_ID`: OTLP/HTTP to `{tracking_uri}/v1/traces` with the
    /// `x-mlflow-experiment-id` header. Each trace's root also carries its name as MLflow's
    /// trace name (`mlflow.traceTag.mlflow.traceName`), which the traces table shows.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_mlflow("http://127.0.0.1:5000", "1");
    /// # drop(b);
    /// ```
    pub fn with_mlflow(
        self,
        tracking_uri: impl Into<String>,
        experiment_id: impl Into<String>,
    ) -> Self {
        self.with_otlp_endpoint(tracking_uri)
            .with_otlp_header(crate::export::mlflow::EXPERIMENT_HEADER, experiment_id)
    }

    /// Sends spans to an MLflow tracking server, into the experiment named `experiment_name`,
    /// like `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_NAME`: as [`Self::with_mlflow`], with
    /// the experiment's id looked up by name (and the experiment created if missing) on the
    /// export thread before the first export. Until the lookup succeeds, exports fail and are
    /// retried like those to a collector that is down.
    ///
    /// ```
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_mlflow_experiment_name("http://127.0.0.1:5000", "support-agent");
    /// # drop(b);
    /// ```
    pub fn with_mlflow_experiment_name(
        mut self,
        tracking_uri: impl Into<String>,
        experiment_name: impl Into<String>,
    ) -> Self {
        self.mlflow_experiment_name = Some(experiment_name.into());
        self.with_otlp_endpoint(tracking_uri)
    }

    /// The event level from the builder, else `OPENINFERENCE_EVENT_LEVEL`, else INFO.
    pub(super) fn event_level(&self, get: Getter<'_>) -> Result<LevelFilter, BuildError> {
        if let Some(level) = self.event_level {
            return Ok(level);
        }
        match get(EVENT_LEVEL_VAR) {
            None => Ok(crate::layer::event::DEFAULT_EVENT_LEVEL),
            Some(raw) => parse_level(EVENT_LEVEL_VAR, &raw),
        }
    }

    /// The root ratio and whether spans with a parent follow it, from the builder or
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, every trace).
    pub(super) fn sampler(&self, get: Getter<'_>) -> Result<(f64, bool), BuildError> {
        if let Some(r) = self.ratio {
            if !(0.0..=1.0).contains(&r) || r.is_nan() {
                return Err(BuildError::InvalidRatio(r));
            }
            return Ok((r, true));
        }
        let arg = || -> Result<f64, BuildError> {
            match get("OTEL_TRACES_SAMPLER_ARG") {
                None => Ok(1.0),
                Some(a) => {
                    let r: f64 = a.trim().parse().map_err(|_| BuildError::InvalidValue {
                        var: "OTEL_TRACES_SAMPLER_ARG".into(),
                        value: a.clone(),
                    })?;
                    if (0.0..=1.0).contains(&r) {
                        Ok(r)
                    } else {
                        Err(BuildError::InvalidRatio(r))
                    }
                }
            }
        };
        Ok(match get("OTEL_TRACES_SAMPLER").as_deref().map(str::trim) {
            None | Some("parentbased_always_on") => (1.0, true),
            Some("always_on") => (1.0, false),
            Some("always_off") => (0.0, false),
            Some("parentbased_always_off") => (0.0, true),
            Some("traceidratio") => (arg()?, false),
            Some("parentbased_traceidratio") => (arg()?, true),
            Some(other) => {
                return Err(BuildError::InvalidValue {
                    var: "OTEL_TRACES_SAMPLER".into(),
                    value: other.to_owned(),
                })
            }
        })
    }

    /// Queue, batch and sampling-buffer settings from the builder and the environment.
    pub(super) fn pipeline_config(&self, get: Getter<'_>) -> Result<PipelineConfig, BuildError> {
        let number = |var: &str| -> Result<Option<u64>, BuildError> {
            match get(var) {
                None => Ok(None),
                Some(v) => {
                    v.trim()
                        .parse::<u64>()
                        .map(Some)
                        .map_err(|_| BuildError::InvalidValue {
                            var: var.to_owned(),
                            value: v.clone(),
                        })
                }
            }
        };
        let mut c = PipelineConfig::default();
        c.buffer.keep_errors = match (self.keep_errors, get("OPENINFERENCE_KEEP_ERRORS")) {
            (Some(k), _) => k,
            (None, Some(v)) => env::parse_bool("OPENINFERENCE_KEEP_ERRORS", &v)?,
            (None, None) => true,
        };
        c.buffer.slow = match self.keep_slow {
            Some(t) => Some(t),
            None => number("OPENINFERENCE_KEEP_SLOW_MS")?.map(std::time::Duration::from_millis),
        };
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        if let Some(b) = self
            .buffer_bytes
            .or(number("OPENINFERENCE_SAMPLING_BUFFER_BYTES")?.map(to_usize))
        {
            c.buffer.max_bytes = b;
        }
        if let Some(n) = self
            .buffer_spans
            .or(number("OPENINFERENCE_SAMPLING_BUFFER_SPANS")?.map(to_usize))
        {
            c.buffer.max_spans = n;
        }
        if let Some(n) = self
            .queue_spans
            .or(number("OTEL_BSP_MAX_QUEUE_SIZE")?.map(to_usize))
        {
            c.queue_spans = n.max(1);
        }
        if let Some(ms) = number("OTEL_BSP_SCHEDULE_DELAY")? {
            c.schedule_delay = std::time::Duration::from_millis(ms.max(1));
        }
        if let Some(n) = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            c.max_batch_spans = to_usize(n).max(1);
        }
        Ok(c)
    }
}

/// Parses a level name (`trace`, `debug`, `info`, `warn`, `error`, `off`; any case).
pub(crate) fn parse_level(var: &str, raw: &str) -> Result<LevelFilter, BuildError> {
    let name = raw.trim().to_ascii_lowercase();
    match name.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => {
            name.parse().map_err(|_| BuildError::InvalidValue {
                var: var.to_owned(),
                value: raw.to_owned(),
            })
        }
        "warning" => Ok(LevelFilter::WARN),
        _ => Err(BuildError::InvalidValue {
            var: var.to_owned(),
            value: format!("{raw} (expected trace, debug, info, warn, error or off)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_parse_in_any_case() {
        assert_eq!(parse_level("V", "DEBUG").unwrap(), LevelFilter::DEBUG);
        assert_eq!(parse_level("V", " warn ").unwrap(), LevelFilter::WARN);
        assert_eq!(parse_level("V", "warning").unwrap(), LevelFilter::WARN);
        assert_eq!(parse_level("V", "off").unwrap(), LevelFilter::OFF);
        assert_eq!(parse_level("V", "Trace").unwrap(), LevelFilter::TRACE);
        assert!(matches!(
            parse_level("V", "verbose"),
            Err(BuildError::InvalidValue { var, .. }) if var == "V"
        ));
        assert!(parse_level("V", "3").is_err());
    }
}
