//! Where spans go: OTLP (Phoenix, Langfuse, MLflow, any collector), the console, or a caller's exporter.

pub(crate) mod console;
pub(crate) mod env;
#[cfg(feature = "grpc")]
pub(crate) mod grpc;
pub(crate) mod metrics_out;
pub(crate) mod mlflow;
#[cfg(feature = "otlp-http")]
pub(crate) mod otlp_http;
#[cfg(feature = "otlp-http")]
pub(crate) mod otlp_proto;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
pub(crate) mod snapshot;
pub(crate) mod summary;
pub(crate) mod target;
pub(crate) mod transport;
pub(crate) mod values;

#[cfg(feature = "otlp-http")]
use crate::error::BuildError;
use std::collections::HashMap;

/// An OTLP destination resolved from the builder and the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpTarget {
    /// The full URL spans are posted to (`.../v1/traces`).
    pub(crate) endpoint: String,
    /// Headers sent with every request.
    pub(crate) headers: HashMap<String, String>,
    /// `http/protobuf` or `grpc`.
    pub(crate) protocol: Protocol,
    /// Request timeout.
    pub(crate) timeout: std::time::Duration,
    /// An MLflow experiment given by name: its id is looked up (created if missing) on the
    /// export thread before the first post, for the `x-mlflow-experiment-id` header.
    pub(crate) mlflow_experiment_name: Option<String>,
    /// TLS roots and compression.
    pub(crate) transport: transport::Transport,
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP/gRPC.
    Grpc,
}

/// Runs `build` on a fresh thread and returns what it built: a blocking HTTP client must not
/// be created (or dropped) inside a caller's async runtime.
#[cfg(feature = "otlp-http")]
pub(crate) fn off_runtime<T: Send + 'static>(
    build: impl FnOnce() -> Result<T, BuildError> + Send + 'static,
) -> Result<T, BuildError> {
    std::thread::spawn(build).join().unwrap_or_else(|_| {
        Err(BuildError::Exporter(
            "exporter construction panicked".into(),
        ))
    })
}

/// Builds the OTLP metric exporter, off any caller's runtime.
#[cfg(feature = "otlp-http")]
pub(crate) fn otlp_metric_exporter(
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::MetricExporter, BuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let target = target.clone();
    let client = transport::http_client(&target)?;
    let compression = match target.transport.compression {
        transport::OtlpCompression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
        _ => None,
    };
    off_runtime(move || {
        let builder = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.endpoint.clone())
            .with_headers(target.headers.clone())
            .with_timeout(target.timeout);
        let builder = match compression {
            Some(c) => builder.with_compression(c),
            None => builder,
        };
        builder
            .build()
            .map_err(|e| BuildError::Exporter(e.to_string()))
    })
}
