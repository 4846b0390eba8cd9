//! [`OtlpHttpExporter`]: spans to a collector over OTLP/HTTP with protobuf bodies.
//!
//! It posts what [`super::otlp_proto`] encodes from the batch in place, so the export thread
//! keeps the batch for a retry without copying it, and the spans are not copied into
//! intermediate protobuf structs first. The endpoint, headers, timeout, TLS and compression
//! come from [`OtlpTarget`]; a collector's partial-success answer is read and reported.
//!
//! Every request is made on a thread of the exporter's own ("openinference-otlp"), one at a
//! time, with an async client on a small private runtime: the export thread hands a batch
//! over ([`ErasedExporter::start_kept`]) and maps the next meanwhile, and a request can be
//! abandoned at once ([`ErasedExporter::abandon`]), so a collector that never answers holds
//! no thread past a shutdown's deadline.

use super::otlp_proto::{encode_request, rejected_spans, EncodedResource};
use super::transport::{compress, OtlpCompression};
use super::OtlpTarget;
use crate::error::BuildError;
use crate::pipeline::outcome::{parse_retry_after, ExportError, Posted, Rejected};
use crate::pipeline::worker::ErasedExporter;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// The most of a collector's answer that is read (an `ExportTraceServiceResponse` is a few
/// bytes; a longer answer is not one).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How often a request in progress checks whether it was abandoned.
const CANCEL_CHECK: Duration = Duration::from_millis(20);

/// The OTLP/HTTP protobuf span exporter.
#[derive(Debug)]
pub(crate) struct OtlpHttpExporter {
    /// `None` once shut down.
    poster: Option<Arc<Poster>>,
    /// The thread making the requests, from the first batch on.
    sender: Option<Sender>,
    /// Set to abandon the request in progress and any later one.
    cancel: Arc<AtomicBool>,
}

/// What a post needs: the client and where and how to post.
#[derive(Debug, Clone)]
struct Poster {
    client: reqwest::Client,
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    compression: OtlpCompression,
    resource: EncodedResource,
    /// An MLflow experiment given by name, whose id header is added once looked up.
    experiment: Option<Arc<super::mlflow::ExperimentByName>>,
}

/// The thread making the requests, and whether a batch is with it.
#[derive(Debug)]
struct Sender {
    jobs: SyncSender<Vec<SpanData>>,
    outcomes: Receiver<Posted>,
    thread: Option<JoinHandle<()>>,
    /// A batch was handed over and its outcome not yet taken.
    busy: bool,
}

impl Sender {
    fn start(poster: Arc<Poster>, cancel: Arc<AtomicBool>) -> std::io::Result<Sender> {
        let (jobs, job_rx) = sync_channel::<Vec<SpanData>>(1);
        let (outcome_tx, outcomes) = sync_channel::<Posted>(1);
        let thread = std::thread::Builder::new()
            .name("openinference-otlp".into())
            .spawn(move || {
                // As on the export thread: the client's own telemetry is not recorded.
                let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
                // Its blocking pool (name resolution) is named like the crate's other threads.
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("openinference-otlp-io")
                    .build();
                for batch in job_rx {
                    let result = match &runtime {
                        Ok(rt) => rt.block_on(poster.post(&batch, &cancel)),
                        Err(e) => Err(ExportError::Sdk(OTelSdkError::InternalFailure(format!(
                            "no runtime for the OTLP/HTTP client: {e}"
                        )))),
                    };
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
    /// An exporter for `target`.
    pub(crate) fn new(target: &OtlpTarget) -> Result<OtlpHttpExporter, BuildError> {
        let headers = super::transport::header_map(target, "application/x-protobuf")?;
        let client = super::transport::async_client(target)?;
        Ok(OtlpHttpExporter {
            poster: Some(Arc::new(Poster {
                client,
                endpoint: target.endpoint.clone(),
                headers,
                compression: target.transport.compression,
                resource: EncodedResource::default(),
                experiment: target.mlflow_experiment_name.as_deref().map(|name| {
                    Arc::new(super::mlflow::ExperimentByName::new(&target.endpoint, name))
                }),
            })),
            sender: None,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The sending thread, started on first use.
    fn sender(&mut self) -> Result<&mut Sender, ExportError> {
        let poster = self
            .poster
            .as_ref()
            .ok_or(ExportError::Sdk(OTelSdkError::AlreadyShutdown))?;
        if self.sender.is_none() {
            let sender =
                Sender::start(Arc::clone(poster), Arc::clone(&self.cancel)).map_err(|e| {
                    ExportError::Unreachable(format!("could not start the sending thread: {e}"))
                })?;
            self.sender = Some(sender);
        }
        self.sender
            .as_mut()
            .ok_or(ExportError::Sdk(OTelSdkError::AlreadyShutdown))
    }
}

impl Poster {
    /// Posts one batch; what the collector rejected in a successful answer is returned.
    /// Gives up with [`ExportError::Cancelled`] soon after `cancel` is set.
    async fn post(
        &self,
        batch: &[SpanData],
        cancel: &AtomicBool,
    ) -> Result<Option<Rejected>, ExportError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(ExportError::Cancelled);
        }
        let mut body = Vec::new();
        encode_request(batch, &self.resource, &mut body);
        let (body, encoding) = compress(body, self.compression);
        let mut request = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone());
        if let Some(experiment) = &self.experiment {
            let id = experiment
                .header(&self.client, &self.headers)
                .await
                .map_err(ExportError::Unreachable)?;
            request = request.header(super::mlflow::EXPERIMENT_HEADER, id);
        }
        if let Some(encoding) = encoding {
            request = request.header(reqwest::header::CONTENT_ENCODING, encoding);
        }
        let exchange = std::pin::pin!(exchange(request.body(body)));
        let mut exchange = exchange;
        loop {
            match tokio::time::timeout(CANCEL_CHECK, &mut exchange).await {
                Ok(result) => return result,
                Err(_) if cancel.load(Ordering::Relaxed) => return Err(ExportError::Cancelled),
                Err(_) => {}
            }
        }
    }
}

/// Sends the request and reads the answer (at most [`MAX_RESPONSE_BYTES`] of it).
async fn exchange(request: reqwest::RequestBuilder) -> Result<Option<Rejected>, ExportError> {
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            ExportError::Timeout
        } else if e.is_connect() {
            ExportError::Unreachable(e.to_string())
        } else {
            ExportError::Network(e.to_string())
        }
    };
    let mut response = request.send().await.map_err(classify)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let mut answer = Vec::new();
    while answer.len() < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) => break,
            // The status is what matters; a cut answer body is read as far as it came.
            Err(e) if status.is_success() && e.is_timeout() => return Err(ExportError::Timeout),
            Err(_) => break,
        }
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&answer);
        return Err(ExportError::Status {
            code: status.as_u16(),
            retry_after,
            message: text.chars().take(200).collect(),
        });
    }
    Ok(rejected_spans(&answer).map(|(spans, message)| Rejected { spans, message }))
}

impl ErasedExporter for OtlpHttpExporter {
    fn export_blocking(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        // Retried exporters are driven through `start_kept` / `export_kept`.
        Err(OTelSdkError::InternalFailure(
            "the OTLP/HTTP exporter posts kept batches only".into(),
        ))
    }

    fn export_kept(&mut self, batch: &[SpanData]) -> Result<Option<Rejected>, ExportError> {
        self.start_kept(batch.to_vec())
            .map_err(|_| ExportError::Unreachable("the sending thread is busy".into()))?;
        match self.poll(None) {
            Some((_, result)) => result,
            None => Err(ExportError::Cancelled),
        }
    }

    fn start_kept(&mut self, batch: Vec<SpanData>) -> Result<(), Vec<SpanData>> {
        let Ok(sender) = self.sender() else {
            return Err(batch);
        };
        if sender.busy {
            return Err(batch);
        }
        match sender.jobs.try_send(batch) {
            Ok(()) => {
                sender.busy = true;
                Ok(())
            }
            Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => Err(batch),
        }
    }

    fn poll(&mut self, wait: Option<Duration>) -> Option<Posted> {
        let sender = self.sender.as_mut().filter(|s| s.busy)?;
        let outcome = match wait {
            None => sender
                .outcomes
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(wait) => sender.outcomes.recv_timeout(wait),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => return None,
            Err(RecvTimeoutError::Disconnected) => {
                let stopped = "the OTLP/HTTP sending thread stopped".to_string();
                (Vec::new(), Err(ExportError::Network(stopped)))
            }
        };
        sender.busy = false;
        Some(outcome)
    }

    fn abandon(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult {
        // The sending thread ends when its queue closes; a request in progress past the
        // deadline is abandoned.
        if let Some(mut sender) = self.sender.take() {
            let deadline = Instant::now() + timeout;
            if sender.busy {
                let left = deadline.saturating_duration_since(Instant::now());
                if sender.outcomes.recv_timeout(left).is_err() {
                    self.cancel.store(true, Ordering::Relaxed);
                }
            }
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
