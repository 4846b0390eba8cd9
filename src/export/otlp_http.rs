//! [`OtlpHttpExporter`]: spans to a collector over OTLP/HTTP with protobuf bodies.
//!
//! It posts what [`super::otlp_proto`] encodes from the batch in place, so the export thread
//! keeps the batch for a retry without copying it, and the spans are not copied into
//! intermediate protobuf structs first. Transport and settings are those of the
//! `opentelemetry-otlp` HTTP exporter: the blocking `reqwest` client, the endpoint, headers
//! and timeout from [`OtlpTarget`], a collector's partial-success answer read and reported.

use super::otlp_proto::{encode_request, rejected_spans, EncodedResource};
use super::OtlpTarget;
use crate::builder::BuildError;
use crate::pipeline::worker::{ErasedExporter, Rejected};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::io::Read;
use std::time::Duration;

/// The most of a collector's answer that is read (an `ExportTraceServiceResponse` is a few
/// bytes; a longer answer is not one).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The OTLP/HTTP protobuf span exporter.
#[derive(Debug)]
pub(crate) struct OtlpHttpExporter {
    client: Option<reqwest::blocking::Client>,
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    resource: EncodedResource,
}

impl OtlpHttpExporter {
    /// An exporter for `target`; its blocking client is built off any caller's runtime.
    pub(crate) fn new(target: &OtlpTarget) -> Result<OtlpHttpExporter, BuildError> {
        use reqwest::header::{HeaderName, HeaderValue};
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &target.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| BuildError::InvalidHeader(k.clone()))?;
            let value =
                HeaderValue::from_str(v).map_err(|_| BuildError::InvalidHeader(k.clone()))?;
            headers.insert(name, value);
        }
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        let timeout = target.timeout;
        let client = super::off_runtime(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("tracing-openinference/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| BuildError::Exporter(e.to_string()))
        })?;
        Ok(OtlpHttpExporter {
            client: Some(client),
            endpoint: target.endpoint.clone(),
            headers,
            resource: EncodedResource::default(),
        })
    }

    /// Posts one batch; what the collector rejected in a successful answer is returned.
    fn post(&self, batch: &[SpanData]) -> Result<Option<Rejected>, OTelSdkError> {
        let client = self.client.as_ref().ok_or(OTelSdkError::AlreadyShutdown)?;
        let mut body = Vec::new();
        encode_request(batch, &self.resource, &mut body);
        let response = client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .map_err(|e| {
                // The words `retryable` in the export thread looks for: "timed out", "network".
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "network error"
                };
                OTelSdkError::InternalFailure(format!("OTLP/HTTP export {what}: {e}"))
            })?;
        let status = response.status();
        let mut answer = Vec::new();
        let _ = response.take(MAX_RESPONSE_BYTES).read_to_end(&mut answer);
        if !status.is_success() {
            let text = String::from_utf8_lossy(&answer);
            let text = text.chars().take(200).collect::<String>();
            return Err(OTelSdkError::InternalFailure(format!(
                "OTLP/HTTP export failed with status code: {} {text}",
                status.as_u16()
            )));
        }
        Ok(rejected_spans(&answer).map(|(spans, message)| Rejected { spans, message }))
    }
}

impl ErasedExporter for OtlpHttpExporter {
    fn export_blocking(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.post(&batch).map(|_| ())
    }

    fn export_kept(&self, batch: &[SpanData]) -> Result<Option<Rejected>, OTelSdkError> {
        self.post(batch)
    }

    fn flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown(&mut self, _timeout: Duration) -> OTelSdkResult {
        // Dropped here, on the export thread, outside any async runtime.
        match self.client.take() {
            Some(_) => Ok(()),
            None => Err(OTelSdkError::AlreadyShutdown),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
    }
}
