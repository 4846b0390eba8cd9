//! Where spans go: OTLP (Phoenix, Langfuse, any collector), the console, or a caller's exporter.

pub(crate) mod console;
pub(crate) mod env;
#[cfg(feature = "grpc")]
pub(crate) mod grpc;
pub(crate) mod metrics_out;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
pub(crate) mod snapshot;
pub(crate) mod summary;

use crate::builder::BuildError;
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
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP/gRPC.
    Grpc,
}

/// Builds the OTLP span exporter on a fresh thread, so no async runtime of the caller's is
/// involved (the blocking HTTP client must not be created or dropped inside one).
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
pub(crate) fn otlp_span_exporter(
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::SpanExporter, BuildError> {
    let target = target.clone();
    std::thread::spawn(move || build_otlp(&target))
        .join()
        .unwrap_or_else(|_| {
            Err(BuildError::Exporter(
                "exporter construction panicked".into(),
            ))
        })
}

#[cfg(any(feature = "otlp-http", feature = "grpc"))]
fn build_otlp(target: &OtlpTarget) -> Result<opentelemetry_otlp::SpanExporter, BuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    match target.protocol {
        Protocol::HttpProtobuf => {
            #[cfg(feature = "otlp-http")]
            {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(target.endpoint.clone())
                    .with_headers(target.headers.clone())
                    .with_timeout(target.timeout)
                    .build()
                    .map_err(|e| BuildError::Exporter(e.to_string()))
            }
            #[cfg(not(feature = "otlp-http"))]
            {
                Err(BuildError::Unsupported(
                    "OTLP over HTTP needs the `otlp-http` feature".into(),
                ))
            }
        }
        Protocol::Grpc => {
            #[cfg(feature = "grpc")]
            {
                // gRPC metadata comes from OTEL_EXPORTER_OTLP_HEADERS, read by the exporter.
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(target.timeout)
                    .build()
                    .map_err(|e| BuildError::Exporter(e.to_string()))
            }
            #[cfg(not(feature = "grpc"))]
            {
                Err(BuildError::Unsupported(
                    "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the `grpc` feature".into(),
                ))
            }
        }
    }
}

/// Builds the OTLP metric exporter, on a fresh thread for the same reason.
#[cfg(feature = "otlp-http")]
pub(crate) fn otlp_metric_exporter(
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::MetricExporter, BuildError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let target = target.clone();
    std::thread::spawn(move || {
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.endpoint.clone())
            .with_headers(target.headers.clone())
            .with_timeout(target.timeout)
            .build()
            .map_err(|e| BuildError::Exporter(e.to_string()))
    })
    .join()
    .unwrap_or_else(|_| {
        Err(BuildError::Exporter(
            "exporter construction panicked".into(),
        ))
    })
}
