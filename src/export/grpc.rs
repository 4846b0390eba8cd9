//! [`LazyGrpcExporter`]: the OTLP/gRPC exporter, built on the export thread.
//!
//! tonic needs a tokio reactor both to create its channel and to drive it. The export thread
//! runs a private one-worker tokio runtime (see `pipeline::worker`), so the exporter is built
//! there, on first use, inside that runtime, rather than on the caller's thread, which may
//! have no runtime at all.

use super::OtlpTarget;
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
                use opentelemetry_otlp::WithExportConfig;
                // A panic here (no reactor) must not take the export thread down.
                let built = std::panic::catch_unwind(|| {
                    opentelemetry_otlp::SpanExporter::builder()
                        .with_tonic()
                        .with_endpoint(self.target.endpoint.clone())
                        .with_timeout(self.target.timeout)
                        .build()
                });
                let mut exporter = match built {
                    Ok(Ok(e)) => e,
                    Ok(Err(e)) => return Err(format!("OTLP/gRPC exporter: {e}")),
                    Err(_) => return Err("OTLP/gRPC exporter: construction panicked".into()),
                };
                if let Some(resource) = &self.resource {
                    exporter.set_resource(resource);
                }
                Ok(exporter)
            })
            .as_ref()
            .map_err(|e| OTelSdkError::InternalFailure(e.clone()))
    }
}

impl SpanExporter for LazyGrpcExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.inner()?.export(batch).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self.inner.get() {
            Some(Ok(e)) => e.shutdown_with_timeout(timeout),
            _ => Ok(()),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.inner.get() {
            Some(Ok(e)) => e.force_flush(),
            _ => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
    }
}
