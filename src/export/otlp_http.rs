//! [`OtlpHttpExporter`]: spans to a collector over OTLP/HTTP with protobuf bodies.
//!
//! It posts what [`super::otlp_proto`] encodes from the batch in place, so the export thread
//! keeps the batch for a retry without copying it, and the spans are not copied into
//! intermediate protobuf structs first. Transport and settings are those of the
//! `opentelemetry-otlp` HTTP exporter: the blocking `reqwest` client, the endpoint, headers
//! and timeout from [`OtlpTarget`], a collector's partial-success answer read and reported.
//!
//! Batches the export thread sends as they fill ([`ErasedExporter::start_kept`]) are encoded
//! and posted on a thread of the exporter's own, one at a time, while the export thread maps
//! the next batch; a refused batch comes back to the export thread for a retry.

use super::otlp_proto::{encode_request, rejected_spans, EncodedResource};
use super::OtlpTarget;
use crate::builder::BuildError;
use crate::pipeline::worker::{ErasedExporter, Posted, Rejected};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The most of a collector's answer that is read (an `ExportTraceServiceResponse` is a few
/// bytes; a longer answer is not one).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// The OTLP/HTTP protobuf span exporter.
#[derive(Debug)]
pub(crate) struct OtlpHttpExporter {
    /// `None` once shut down.
    poster: Option<Arc<Poster>>,
    /// The thread posting started batches, from the first one on.
    sender: Option<Sender>,
    /// The thread could not be started (the system refused one): the export thread posts
    /// every batch itself, as it does for an exporter without one, and no start is tried again.
    no_thread: bool,
}

/// What a post needs: the client and where and how to post.
#[derive(Debug, Clone)]
struct Poster {
    client: reqwest::blocking::Client,
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    resource: EncodedResource,
    /// An MLflow experiment given by name, whose id header is added once looked up.
    experiment: Option<Arc<super::mlflow::ExperimentByName>>,
}

/// The thread posting started batches, and the batch it is posting.
#[derive(Debug)]
struct Sender {
    jobs: SyncSender<Vec<SpanData>>,
    outcomes: Receiver<Posted>,
    thread: Option<JoinHandle<()>>,
    /// A batch was handed over and its outcome not yet taken.
    busy: bool,
}

impl Sender {
    fn start(poster: Arc<Poster>) -> std::io::Result<Sender> {
        let (jobs, job_rx) = sync_channel::<Vec<SpanData>>(1);
        let (outcome_tx, outcomes) = sync_channel::<Posted>(1);
        let thread = std::thread::Builder::new()
            .name("openinference-otlp".into())
            .spawn(move || {
                // As on the export thread: the client's own telemetry is not recorded.
                let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
                for batch in job_rx {
                    let result = poster.post(&batch);
                    // An exported batch is dropped here, off the export thread.
                    let back = if result.is_err() { batch } else { Vec::new() };
                    if outcome_tx.send((back, result)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Sender {
            jobs,
            outcomes,
            thread: Some(thread),
            busy: false,
        })
    }
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
            poster: Some(Arc::new(Poster {
                client,
                endpoint: target.endpoint.clone(),
                headers,
                resource: EncodedResource::default(),
                experiment: target.mlflow_experiment_name.as_deref().map(|name| {
                    Arc::new(super::mlflow::ExperimentByName::new(&target.endpoint, name))
                }),
            })),
            sender: None,
            no_thread: false,
        })
    }

    fn poster(&self) -> Result<&Arc<Poster>, OTelSdkError> {
        self.poster.as_ref().ok_or(OTelSdkError::AlreadyShutdown)
    }
}

impl Poster {
    /// Posts one batch; what the collector rejected in a successful answer is returned.
    fn post(&self, batch: &[SpanData]) -> Result<Option<Rejected>, OTelSdkError> {
        let mut headers = self.headers.clone();
        if let Some(experiment) = &self.experiment {
            let id = experiment
                .header(&self.client, &self.headers)
                .map_err(OTelSdkError::InternalFailure)?;
            headers.insert(super::mlflow::EXPERIMENT_HEADER, id);
        }
        let mut body = Vec::new();
        encode_request(batch, &self.resource, &mut body);
        let response = self
            .client
            .post(&self.endpoint)
            .headers(headers)
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
        self.poster()?.post(&batch).map(|_| ())
    }

    fn export_kept(&self, batch: &[SpanData]) -> Result<Option<Rejected>, OTelSdkError> {
        self.poster()?.post(batch)
    }

    fn start_kept(&mut self, batch: Vec<SpanData>) -> Result<(), Vec<SpanData>> {
        let Some(poster) = self.poster.as_ref().filter(|_| !self.no_thread) else {
            return Err(batch);
        };
        if self.sender.is_none() {
            match Sender::start(Arc::clone(poster)) {
                Ok(sender) => self.sender = Some(sender),
                Err(_) => {
                    self.no_thread = true;
                    return Err(batch);
                }
            }
        }
        match &mut self.sender {
            Some(sender) if !sender.busy => match sender.jobs.try_send(batch) {
                Ok(()) => {
                    sender.busy = true;
                    Ok(())
                }
                Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => Err(batch),
            },
            _ => Err(batch),
        }
    }

    fn settle(&mut self) -> Option<Posted> {
        let sender = self.sender.as_mut().filter(|s| s.busy)?;
        sender.busy = false;
        Some(sender.outcomes.recv().unwrap_or_else(|_| {
            let stopped = "the OTLP/HTTP sending thread stopped".to_string();
            (Vec::new(), Err(OTelSdkError::InternalFailure(stopped)))
        }))
    }

    fn flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown(&mut self, _timeout: Duration) -> OTelSdkResult {
        // The sending thread ends when its queue closes (its post in progress, if any, is
        // bounded by the client's timeout). The client is dropped on one of these two plain
        // threads, outside any async runtime.
        if let Some(mut sender) = self.sender.take() {
            let thread = sender.thread.take();
            drop(sender);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
        match self.poster.take() {
            Some(_) => Ok(()),
            None => Err(OTelSdkError::AlreadyShutdown),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Told once, before the first batch starts the sending thread (which keeps the
        // poster it started with).
        if let Some(poster) = &mut self.poster {
            Arc::make_mut(poster).resource = EncodedResource::new(resource);
        }
    }
}
