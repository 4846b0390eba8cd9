//! Where one signal goes over OTLP: the environment's settings with the builder's endpoint,
//! headers and transport settings on top, for traces and metrics alike.

use super::env::{self, Getter};
use super::transport::TransportOverrides;
use super::{OtlpTarget, Protocol};
use crate::error::{warn_once, BuildError};
use opentelemetry_sdk::metrics::MeterProviderBuilder;
use std::time::Duration;

/// What the builder set for OTLP.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeSettings<'a> {
    /// `with_otlp_endpoint`: a base URL the signal's path is added to.
    pub(crate) endpoint: Option<&'a str>,
    /// `with_otlp_header`.
    pub(crate) headers: &'a [(String, String)],
    /// `with_otlp_root_certificate`, `with_otlp_compression`.
    pub(crate) transport: &'a TransportOverrides,
}

/// The OTLP target of `signal` (`traces` or `metrics`), if the builder or a variable names
/// one. The builder's endpoint wins over `OTEL_EXPORTER_OTLP_ENDPOINT` and the signal's own
/// variable; its headers are added after the environment's.
pub(crate) fn resolve(
    get: Getter<'_>,
    signal: &str,
    code: CodeSettings<'_>,
) -> Result<Option<OtlpTarget>, BuildError> {
    let upper = signal.to_ascii_uppercase();
    let signal_var = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
    let mut target = match code.endpoint {
        Some(base) => {
            let get_override = |k: &str| {
                if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
                    Some(base.to_owned())
                } else if k == signal_var {
                    None
                } else {
                    get(k)
                }
            };
            env::otlp_target(&get_override, signal)?
        }
        None => env::otlp_target(get, signal)?,
    };
    if let Some(t) = &mut target {
        apply(t, code)?;
    }
    Ok(target)
}

/// The default target when OTLP is asked for and nothing names an endpoint: a local
/// collector's OTLP/HTTP port.
pub(crate) fn local_default(
    get: Getter<'_>,
    signal: &str,
    code: CodeSettings<'_>,
) -> Result<OtlpTarget, BuildError> {
    let mut target = OtlpTarget {
        endpoint: format!("http://localhost:4318/v1/{signal}"),
        headers: Default::default(),
        protocol: Protocol::HttpProtobuf,
        timeout: Duration::from_secs(10),
        mlflow_experiment_name: None,
        transport: super::transport::from_env(get, &signal.to_ascii_uppercase())?,
    };
    apply(&mut target, code)?;
    Ok(target)
}

fn apply(target: &mut OtlpTarget, code: CodeSettings<'_>) -> Result<(), BuildError> {
    for (k, v) in code.headers {
        target
            .headers
            .extend(env::parse_headers(&format!("{k}={v}"))?);
    }
    code.transport.apply(&mut target.transport);
    Ok(())
}

/// The span exporter for `target`; refuses a scheme this build cannot reach.
#[cfg(any(feature = "otlp-http", feature = "grpc"))]
pub(crate) fn span_exporter(
    target: &OtlpTarget,
) -> Result<Box<dyn crate::pipeline::worker::ErasedExporter>, BuildError> {
    super::transport::check_reachable(target)?;
    #[cfg(feature = "grpc")]
    if target.protocol == Protocol::Grpc {
        // Built on the export thread, inside its tokio runtime (tonic needs one).
        return Ok(Box::new(super::grpc::LazyGrpcExporter::new(target.clone())));
    }
    #[cfg(feature = "otlp-http")]
    return Ok(Box::new(super::otlp_http::OtlpHttpExporter::new(target)?));
    #[cfg(not(feature = "otlp-http"))]
    Err(BuildError::Unsupported(
        "OTLP over HTTP needs the `otlp-http` feature".into(),
    ))
}

/// No OTLP transport in this build.
#[cfg(not(any(feature = "otlp-http", feature = "grpc")))]
pub(crate) fn span_exporter(
    _target: &OtlpTarget,
) -> Result<Box<dyn crate::pipeline::worker::ErasedExporter>, BuildError> {
    Err(BuildError::Unsupported(
        "OTLP export needs the `otlp-http` or `grpc` feature".into(),
    ))
}

/// Adds a periodic reader posting metrics to `target` over OTLP/HTTP; whether one was
/// added. A build or protocol that cannot is warned about (gRPC metrics are not offered: the
/// SDK's reader thread has no tokio reactor for tonic).
pub(crate) fn attach_metrics(
    builder: MeterProviderBuilder,
    target: &OtlpTarget,
    get: Getter<'_>,
) -> Result<(MeterProviderBuilder, bool), BuildError> {
    if target.protocol == Protocol::Grpc || !cfg!(feature = "otlp-http") {
        warn_once(&format!(
            "metrics are not exported to {}: this build posts OTLP metrics over HTTP only \
             (set OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf, feature `otlp-http`)",
            target.endpoint
        ));
        return Ok((builder, false));
    }
    reader(builder, target, get)
}

#[cfg(feature = "otlp-http")]
fn reader(
    builder: MeterProviderBuilder,
    target: &OtlpTarget,
    get: Getter<'_>,
) -> Result<(MeterProviderBuilder, bool), BuildError> {
    let exporter = super::otlp_metric_exporter(target)?;
    let mut reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter);
    if let Some(ms) = get("OTEL_METRIC_EXPORT_INTERVAL") {
        let ms: u64 = ms.trim().parse().map_err(|_| BuildError::InvalidValue {
            var: "OTEL_METRIC_EXPORT_INTERVAL".into(),
            value: ms.clone(),
        })?;
        reader = reader.with_interval(Duration::from_millis(ms.max(1)));
    }
    Ok((builder.with_reader(reader.build()), true))
}

#[cfg(not(feature = "otlp-http"))]
fn reader(
    builder: MeterProviderBuilder,
    _target: &OtlpTarget,
    _get: Getter<'_>,
) -> Result<(MeterProviderBuilder, bool), BuildError> {
    Ok((builder, false))
}
