//! [`LazyGrpcExporter`]: the OTLP/gRPC exporter, built on the export thread.
//!
//! tonic needs a tokio reactor both to create its channel and to drive it. The export thread
//! runs a private one-worker tokio runtime (see `pipeline::worker`), so the exporter is built
//! there, on first use, inside that runtime, rather than on the caller's thread, which may
//! have no runtime at all. Every configured header (the builder's, the environment's, the
//! Phoenix and Langfuse presets') is sent as gRPC metadata.

use super::OtlpTarget;
use crate::pipeline::outcome::{ExportError, Rejected};
use crate::pipeline::worker::ErasedExporter;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::OnceLock;
use std::time::Duration;

/// An OTLP/gRPC span exporter created on the first export.
#[derive(Debug)]
pub(crate) struct LazyGrpcExporter {
    target: OtlpTarget,
    resource: Option<Resource>,
    inner: OnceLock<Result<opentelemetry_otlp::SpanExporter, String>>,
}

/// The target's headers as gRPC metadata (names are lower-case already; a header that is
/// not valid metadata was refused when the target was resolved).
pub(crate) fn metadata(
    target: &OtlpTarget,
) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    let mut headers = http::HeaderMap::new();
    for (k, v) in &target.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            headers.insert(name, value);
        }
    }
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers)
}

impl LazyGrpcExporter {
    /// An exporter for `target`, built when first needed.
    pub(crate) fn new(target: OtlpTarget) -> Self {
        LazyGrpcExporter {
            target,
            resource: None,
            inner: OnceLock::new(),
        }
    }

    fn inner(&self) -> Result<&opentelemetry_otlp::SpanExporter, OTelSdkError> {
        self.inner
            .get_or_init(|| {
                use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
                // A panic here (no reactor) must not take the export thread down.
                let built = std::panic::catch_unwind(|| {
                    opentelemetry_otlp::SpanExporter::builder()
                        .with_tonic()
                        .with_endpoint(self.target.endpoint.clone())
                        .with_timeout(self.target.timeout)
                        .with_metadata(metadata(&self.target))
                        .build()
                });
                let mut exporter = match built {
                    Ok(Ok(e)) => e,
                    Ok(Err(e)) => return Err(format!("OTLP/gRPC exporter: {e}")),
                    Err(_) => return Err("OTLP/gRPC exporter: construction panicked".into()),
                };
                if let Some(resource) = &self.resource {
                    SpanExporter::set_resource(&mut exporter, resource);
                }
                Ok(exporter)
            })
            .as_ref()
            .map_err(|e| OTelSdkError::InternalFailure(e.clone()))
    }
}

/// The gRPC codes a retry may get past. The OTLP exporter reports a failure only as text
/// (`... failed with gRPC code: Unavailable ...`), so the code is read from it here, at the
/// one place that text enters the pipeline.
fn classify(e: OTelSdkError) -> ExportError {
    let OTelSdkError::InternalFailure(message) = &e else {
        return ExportError::Sdk(e);
    };
    const PASSING: [&str; 4] = [
        "code: Unavailable",
        "code: DeadlineExceeded",
        "code: ResourceExhausted",
        "code: Aborted",
    ];
    if PASSING.iter().any(|code| message.contains(code)) {
        ExportError::Unavailable(message.clone())
    } else {
        ExportError::Sdk(e)
    }
}

impl ErasedExporter for LazyGrpcExporter {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        futures_executor::block_on(self.inner()?.export(batch))
    }

    fn export_kept(&mut self, batch: &[SpanData]) -> Result<Option<Rejected>, ExportError> {
        self.export_blocking(batch.to_vec())
            .map(|()| None)
            .map_err(classify)
    }

    fn flush(&self) -> OTelSdkResult {
        match self.inner.get() {
            Some(Ok(e)) => SpanExporter::force_flush(e),
            _ => Ok(()),
        }
    }

    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult {
        match self.inner.get() {
            Some(Ok(e)) => SpanExporter::shutdown_with_timeout(e, timeout),
            _ => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_becomes_metadata() {
        let target = OtlpTarget {
            endpoint: "http://127.0.0.1:4317".into(),
            headers: [
                ("authorization".to_owned(), "Basic cGs6c2s=".to_owned()),
                ("x-langfuse-ingestion-version".to_owned(), "4".to_owned()),
            ]
            .into_iter()
            .collect(),
            protocol: super::super::Protocol::Grpc,
            timeout: Duration::from_secs(1),
            mlflow_experiment_name: None,
            transport: Default::default(),
        };
        let md = metadata(&target);
        assert_eq!(md.get("authorization").unwrap(), "Basic cGs6c2s=");
        assert_eq!(md.get("x-langfuse-ingestion-version").unwrap(), "4");
    }

    #[test]
    fn unavailable_is_retried_and_invalid_argument_is_not() {
        let unavailable = OTelSdkError::InternalFailure(
            "TonicTracesClient export failed with gRPC code: Unavailable: refused".into(),
        );
        assert!(classify(unavailable).retryable());
        let invalid = OTelSdkError::InternalFailure(
            "TonicTracesClient export failed with gRPC code: InvalidArgument".into(),
        );
        assert!(!classify(invalid).retryable());
    }
}
