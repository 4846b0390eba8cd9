//! Evaluations and feedback on traces: attach a score, a label or an explanation to a span
//! or a trace by its ids, from a person ([`AnnotatorKind::Human`]: a thumbs-down), a model
//! (an LLM-as-a-judge) or code, with [`crate::LlmHandle::annotate`].
//!
//! Where an annotation goes follows where the traces go, with the same endpoint, keys, TLS
//! settings and retries:
//!
//! | Traces go to | Annotations are |
//! |---|---|
//! | Phoenix (`PHOENIX_COLLECTOR_ENDPOINT`, a `PHOENIX_*` variable, or port 6006) | span or trace annotations, `POST {base}/v1/span_annotations` (`/v1/trace_annotations`) |
//! | Langfuse (its OTLP endpoint, `LANGFUSE_*` keys) | scores, `POST {base}/api/public/scores`, Basic auth from the keys |
//! | anything else (another collector, the console, your exporter) | an `EVALUATOR` span in the evaluated trace, with `evaluations.0.evaluation.*` and a `gen_ai.evaluation.result` event |
//! | nowhere (`OTEL_SDK_DISABLED`) | not sent |
//!
//! [`LlmLayerBuilder::with_evaluations`](crate::LlmLayerBuilder::with_evaluations) chooses
//! another route ([`EvaluationBackend`]). The calling thread never waits: annotations are
//! posted from a sending thread behind a bounded queue; drops are counted
//! (`openinference.annotations.dropped{reason}`, [`crate::PipelineSnapshot`]) and warned
//! about once. [`crate::LlmHandle::force_flush`] and [`crate::LlmHandle::shutdown`] send what
//! waits, after the spans.
//!
//! ```
//! use opentelemetry_sdk::trace::InMemorySpanExporter;
//! use std::time::Duration;
//! use tracing_openinference::evaluation::{Annotation, AnnotationTarget, AnnotatorKind};
//! use tracing_openinference::LlmLayer;
//! use tracing_subscriber::prelude::*;
//!
//! let exporter = InMemorySpanExporter::default();
//! let layer = LlmLayer::builder()
//!     .with_console_exporter(false)
//!     .with_span_exporter(exporter.clone())
//!     .build();
//! let handle = layer.handle();
//! let _guard = tracing_subscriber::registry().with(layer).set_default();
//!
//! let span = tracing::info_span!("answer", llm.model_name = "gpt-4o-mini");
//! let target = AnnotationTarget::span(&span); // keep it (it prints as hex ids) for later
//! drop(span);
//!
//! // Later, when the user clicks thumbs-down:
//! handle
//!     .annotate(Annotation::score(target, "user_feedback", 0.0)
//!         .label("thumbs_down")
//!         .explanation("wrong refund policy")
//!         .annotator(AnnotatorKind::Human))
//!     .unwrap();
//! handle.force_flush(Duration::from_secs(5)).unwrap();
//! let spans = exporter.get_finished_spans().unwrap();
//! assert!(spans.iter().any(|s| s.name == "user_feedback"));
//! ```

#[cfg(feature = "otlp-http")]
pub(crate) mod delivery;
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
pub(crate) mod langfuse;
#[cfg(feature = "otlp-http")]
mod masking;
mod model;
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
pub(crate) mod phoenix;
pub(crate) mod span;

pub use model::{AnnotateError, Annotation, AnnotationTarget, AnnotatorKind};

use crate::error::BuildError;
use crate::export::values::Getter;
use crate::export::{OtlpTarget, Protocol};
use crate::pipeline::stats::PipelineStats;
use opentelemetry_sdk::trace::SdkTracer;
use std::sync::Arc;
use std::time::Instant;

/// Where annotations go ([`crate::LlmLayerBuilder::with_evaluations`]).
///
/// ```
/// use tracing_openinference::evaluation::EvaluationBackend;
/// let b = tracing_openinference::LlmLayerBuilder::from_env()
///     .with_otlp_endpoint("http://phoenix.internal:8080")
///     .with_evaluations(EvaluationBackend::Phoenix);
/// # drop(b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvaluationBackend {
    /// Follow the traces' destination (see [`crate::evaluation`]).
    #[default]
    Auto,
    /// Phoenix span and trace annotations at the OTLP endpoint's base URL.
    Phoenix,
    /// Langfuse scores at the base URL of Langfuse's OTLP endpoint.
    Langfuse,
    /// `EVALUATOR` spans through the span pipeline, whatever the destination.
    Spans,
    /// Annotations are accepted and not sent.
    Off,
}

/// How the layer sends annotations.
#[derive(Debug)]
pub(crate) enum Evaluations {
    /// Posted to Phoenix or Langfuse.
    #[cfg(feature = "otlp-http")]
    Http(Box<delivery::HttpSink>),
    /// As `EVALUATOR` spans on this tracer.
    Spans(SdkTracer),
}

impl Evaluations {
    /// Hands `a` (checked) on; never blocks.
    pub(crate) fn submit(&self, a: Annotation) -> Result<(), AnnotateError> {
        match self {
            #[cfg(feature = "otlp-http")]
            Evaluations::Http(sink) => sink.submit(a),
            Evaluations::Spans(tracer) => {
                span::emit(tracer, &a);
                Ok(())
            }
        }
    }

    /// Sends what waits, until `deadline` (the spans' flush sends `EVALUATOR` spans).
    pub(crate) fn flush(&self, deadline: Instant) -> Result<(), String> {
        match self {
            #[cfg(feature = "otlp-http")]
            Evaluations::Http(sink) => sink.flush(deadline),
            Evaluations::Spans(_) => {
                let _ = deadline;
                Ok(())
            }
        }
    }

    /// Sends what waits until `deadline` and stops.
    pub(crate) fn shutdown(&self, deadline: Instant) -> Result<(), String> {
        match self {
            #[cfg(feature = "otlp-http")]
            Evaluations::Http(sink) => sink.shutdown(deadline),
            Evaluations::Spans(_) => {
                let _ = deadline;
                Ok(())
            }
        }
    }
}

/// What the builder knows when it decides where annotations go.
pub(crate) struct Setup<'a> {
    /// The route asked for.
    pub(crate) backend: EvaluationBackend,
    /// The traces' OTLP target, when spans go over OTLP.
    pub(crate) target: Option<&'a OtlpTarget>,
    /// Whether any exporter receives the spans.
    pub(crate) exporting: bool,
    /// The environment.
    pub(crate) get: Getter<'a>,
    /// The layer's tracer, for `EVALUATOR` spans.
    pub(crate) tracer: &'a SdkTracer,
    /// The pipeline's counters.
    pub(crate) stats: &'a Arc<PipelineStats>,
    /// The privacy settings the spans get.
    pub(crate) privacy: &'a crate::privacy::Privacy,
}

/// Where annotations go, or `None` when nowhere.
pub(crate) fn resolve(setup: Setup<'_>) -> Result<Option<Evaluations>, BuildError> {
    if !setup.exporting || setup.backend == EvaluationBackend::Off {
        return Ok(None);
    }
    let spans = || Ok(Some(Evaluations::Spans(setup.tracer.clone())));
    let http = setup
        .target
        .filter(|t| t.protocol == Protocol::HttpProtobuf);
    let destination = match (setup.backend, http) {
        (EvaluationBackend::Spans, _) => return spans(),
        (EvaluationBackend::Phoenix | EvaluationBackend::Langfuse, None) => {
            return Err(BuildError::Unsupported(
                "Phoenix and Langfuse evaluations need the traces' OTLP/HTTP endpoint".into(),
            ))
        }
        (EvaluationBackend::Phoenix, Some(t)) => Route::Phoenix(phoenix::base_url(&t.endpoint)),
        (EvaluationBackend::Langfuse, Some(t)) => match langfuse::base_url(&t.endpoint) {
            Some(base) => Route::Langfuse(base),
            None => Route::Langfuse(phoenix::base_url(&t.endpoint)),
        },
        (_, None) => return spans(),
        (_, Some(t)) => match langfuse::base_url(&t.endpoint) {
            Some(base) => Route::Langfuse(base),
            None if looks_like_phoenix(&t.endpoint, setup.get) => {
                Route::Phoenix(phoenix::base_url(&t.endpoint))
            }
            None => return spans(),
        },
    };
    http_route(destination, http, setup.stats, setup.privacy)
}

/// An HTTP destination before its client is built.
#[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
enum Route {
    Phoenix(String),
    Langfuse(String),
}

#[cfg(feature = "otlp-http")]
fn http_route(
    route: Route,
    target: Option<&OtlpTarget>,
    stats: &Arc<PipelineStats>,
    privacy: &crate::privacy::Privacy,
) -> Result<Option<Evaluations>, BuildError> {
    let Some(target) = target else {
        return Ok(None);
    };
    let destination = match route {
        Route::Phoenix(base) => delivery::Destination::Phoenix(base),
        Route::Langfuse(base) => delivery::Destination::Langfuse(base),
    };
    let sink = delivery::HttpSink::new(destination, target, Arc::clone(stats), privacy.clone())?;
    Ok(Some(Evaluations::Http(Box::new(sink))))
}

#[cfg(not(feature = "otlp-http"))]
fn http_route(
    _route: Route,
    _target: Option<&OtlpTarget>,
    _stats: &Arc<PipelineStats>,
    _privacy: &crate::privacy::Privacy,
) -> Result<Option<Evaluations>, BuildError> {
    Err(BuildError::Unsupported(
        "Phoenix and Langfuse evaluations need the `otlp-http` feature".into(),
    ))
}

/// Whether the traces go to Phoenix: its preset or another `PHOENIX_*` setting is there, or
/// the endpoint is on Phoenix's port.
fn looks_like_phoenix(endpoint: &str, get: Getter<'_>) -> bool {
    let preset = [
        "PHOENIX_COLLECTOR_ENDPOINT",
        "PHOENIX_API_KEY",
        "PHOENIX_PROJECT_NAME",
    ]
    .iter()
    .any(|v| get(v).is_some());
    preset || port(endpoint) == Some(6006)
}

/// The explicit port of an `http(s)://host:port/...` URL.
fn port(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    if host.ends_with(']') || !host.contains(']') {
        port.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phoenix_is_recognised_by_its_port_or_variables() {
        let none = |_: &str| None;
        assert!(looks_like_phoenix("http://localhost:6006/v1/traces", &none));
        assert!(looks_like_phoenix("http://[::1]:6006/v1/traces", &none));
        assert!(!looks_like_phoenix(
            "http://localhost:4318/v1/traces",
            &none
        ));
        let preset = |k: &str| (k == "PHOENIX_API_KEY").then(|| "k".to_owned());
        assert!(looks_like_phoenix(
            "https://app.phoenix.arize.com/v1/traces",
            &preset
        ));
        assert_eq!(port("http://h/v1/traces"), None);
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn routes_follow_the_traces_destination() {
        use delivery::Destination;
        use opentelemetry::trace::TracerProvider as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let stats = Arc::new(PipelineStats::default());
        let route = |vars: &[(&str, &str)], backend, exporting| {
            let get = crate::export::values::test_env(vars);
            let target = crate::export::env::otlp_target(&get, "traces").unwrap();
            let setup = Setup {
                backend,
                target: target.as_ref(),
                exporting,
                get: &get,
                tracer: &tracer,
                stats: &stats,
                privacy: &crate::privacy::Privacy::default(),
            };
            match resolve(setup).unwrap() {
                Some(Evaluations::Http(sink)) => Some(sink.destination()),
                Some(Evaluations::Spans(_)) => Some(None),
                None => None,
            }
        };
        let auto = EvaluationBackend::Auto;
        let langfuse = [
            ("LANGFUSE_PUBLIC_KEY", "pk"),
            ("LANGFUSE_SECRET_KEY", "sk"),
            ("LANGFUSE_HOST", "http://127.0.0.1:3000"),
        ];
        assert_eq!(
            route(&langfuse, auto, true),
            Some(Some(Destination::Langfuse("http://127.0.0.1:3000".into())))
        );
        let phoenix = [("PHOENIX_COLLECTOR_ENDPOINT", "http://127.0.0.1:6006")];
        assert_eq!(
            route(&phoenix, auto, true),
            Some(Some(Destination::Phoenix("http://127.0.0.1:6006".into())))
        );
        let collector = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")];
        assert_eq!(route(&collector, auto, true), Some(None));
        assert_eq!(
            route(&collector, EvaluationBackend::Phoenix, true),
            Some(Some(Destination::Phoenix("http://127.0.0.1:4318".into())))
        );
        assert_eq!(route(&phoenix, EvaluationBackend::Spans, true), Some(None));
        assert_eq!(route(&phoenix, EvaluationBackend::Off, true), None);
        assert_eq!(route(&phoenix, auto, false), None);
        assert_eq!(route(&[], auto, true), Some(None));
    }
}
