//! The builder settings whose concern lives in another module (usage observer and totals,
//! keep-rules, TLS roots and compression): the settings are stored here, on the builder;
//! those modules only define what is set.

use super::LlmLayerBuilder;
use crate::export::transport::OtlpCompression;
use crate::keep::{KeepRule, SharedRule};
use crate::usage::{UsageObserver, UsageTotals};
use std::sync::Arc;

impl LlmLayerBuilder {
    /// Calls `observer` for each finished LLM and embedding call, on the thread that ended it
    /// (see [`crate::usage`]).
    ///
    /// ```
    /// use tracing_openinference::usage::LlmCall;
    ///
    /// let builder = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_usage_observer(|call: &LlmCall<'_>| println!("{} tokens", call.total_tokens));
    /// # drop(builder);
    /// ```
    pub fn with_usage_observer(mut self, observer: impl UsageObserver) -> Self {
        self.observation.set_observer(Arc::new(observer));
        self
    }

    /// Keeps running totals per session and per user in `totals` (see [`UsageTotals`]).
    ///
    /// ```
    /// use tracing_openinference::usage::UsageTotals;
    ///
    /// let totals = UsageTotals::new(10_000);
    /// let builder = tracing_openinference::LlmLayerBuilder::from_env().with_usage_totals(totals.clone());
    /// # drop(builder);
    /// ```
    pub fn with_usage_totals(mut self, totals: UsageTotals) -> Self {
        self.observation.set_totals(totals);
        self
    }
}

impl LlmLayerBuilder {
    /// Sends annotations ([`crate::LlmHandle::annotate`]) by `backend` instead of the route
    /// that follows the traces' destination (see [`crate::evaluation`]).
    ///
    /// ```
    /// use tracing_openinference::evaluation::EvaluationBackend;
    ///
    /// let builder = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_evaluations(EvaluationBackend::Spans);
    /// # drop(builder);
    /// ```
    pub fn with_evaluations(mut self, backend: crate::evaluation::EvaluationBackend) -> Self {
        self.evaluations = backend;
        self
    }
}

impl LlmLayerBuilder {
    /// Exports a sampled-out trace after all when `rule` says so (see [`crate::keep`]). It
    /// turns on the sampling buffer, as error keeping does.
    ///
    /// ```
    /// use tracing_openinference::keep::TraceSummary;
    ///
    /// let builder = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_sampling_ratio(0.1)
    ///     .with_keep_rule(|t: &TraceSummary| t.tags.iter().any(|tag| tag == "tenant:acme"));
    /// # drop(builder);
    /// ```
    pub fn with_keep_rule(mut self, rule: impl KeepRule) -> Self {
        self.keep_rule = Some(SharedRule::new(Arc::new(rule)));
        self
    }
}

impl LlmLayerBuilder {
    /// Trusts `pem` (one or more PEM certificates) as a root for https OTLP endpoints, on top
    /// of the bundled Mozilla roots (else `OTEL_EXPORTER_OTLP_CERTIFICATE`, a path to a PEM
    /// file). For a private CA or a self-signed collector. A PEM without a valid certificate
    /// makes `try_build` fail.
    ///
    /// ```no_run
    /// let pem = std::fs::read("collector-ca.pem").unwrap();
    /// let b = tracing_openinference::LlmLayerBuilder::from_env()
    ///     .with_otlp_endpoint("https://collector.internal:4318")
    ///     .with_otlp_root_certificate(pem);
    /// # drop(b);
    /// ```
    pub fn with_otlp_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport.roots.push(pem.into());
        self
    }

    /// Compresses OTLP request bodies (traces and metrics; else
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`). gzip shrinks LLM spans (repetitive JSON messages)
    /// several times, at some CPU cost on the export thread.
    ///
    /// ```
    /// use tracing_openinference::{LlmLayerBuilder, OtlpCompression};
    /// let b = LlmLayerBuilder::from_env().with_otlp_compression(OtlpCompression::Gzip);
    /// # drop(b);
    /// ```
    pub fn with_otlp_compression(mut self, compression: OtlpCompression) -> Self {
        self.transport.compression = Some(compression);
        self
    }
}
