//! Where metrics go besides OTLP and a caller's reader: the Prometheus endpoint and the
//! console summary, both fed by one [`MetricsTap`].

use super::env::{Getter, Named};
use super::snapshot::MetricsTap;
use crate::error::{warn_once, BuildError};
use opentelemetry_sdk::metrics::MeterProviderBuilder;
use std::net::{SocketAddr, ToSocketAddrs};

/// The default host of `OTEL_EXPORTER_PROMETHEUS_HOST`.
pub(crate) const PROMETHEUS_DEFAULT_HOST: &str = "localhost";
/// The default port of `OTEL_EXPORTER_PROMETHEUS_PORT`.
pub(crate) const PROMETHEUS_DEFAULT_PORT: u16 = 9464;

/// What the built pipeline hands to the [`LlmHandle`](crate::LlmHandle).
#[derive(Debug, Default)]
pub(crate) struct MetricsExtras {
    /// Read at shutdown for the console summary.
    pub(crate) summary: Option<MetricsTap>,
    /// The running scrape endpoint.
    #[cfg(feature = "prometheus")]
    pub(crate) prometheus: Option<super::prometheus::PrometheusServer>,
}

/// The builder's metrics-export settings and, once built, what the handle gets.
#[derive(Debug, Default)]
pub(crate) struct MetricsOut {
    /// Addresses set with `with_prometheus_endpoint` (resolved), or the resolution error.
    pub(crate) prometheus_addrs: Option<Result<Vec<SocketAddr>, BuildError>>,
    /// Filled by [`attach`].
    pub(crate) extras: MetricsExtras,
}

/// Resolves `addr` for the Prometheus endpoint.
pub(crate) fn resolve(
    addr: impl ToSocketAddrs,
    shown: &str,
) -> Result<Vec<SocketAddr>, BuildError> {
    let invalid = || BuildError::InvalidValue {
        var: "Prometheus endpoint address".into(),
        value: shown.to_owned(),
    };
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map_err(|_| invalid())?.collect();
    if addrs.is_empty() {
        return Err(invalid());
    }
    Ok(addrs)
}

/// The endpoint address from `OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT`.
fn env_addrs(get: Getter<'_>) -> Result<Vec<SocketAddr>, BuildError> {
    let host = get("OTEL_EXPORTER_PROMETHEUS_HOST")
        .map(|h| {
            h.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        })
        .unwrap_or_else(|| PROMETHEUS_DEFAULT_HOST.to_owned());
    let port = match get("OTEL_EXPORTER_PROMETHEUS_PORT") {
        None => PROMETHEUS_DEFAULT_PORT,
        Some(p) => p.trim().parse().map_err(|_| BuildError::InvalidValue {
            var: "OTEL_EXPORTER_PROMETHEUS_PORT".into(),
            value: p.clone(),
        })?,
    };
    resolve((host.as_str(), port), &format!("{host}:{port}"))
}

/// Adds the readers for the Prometheus endpoint (set in code, or by `OTEL_METRICS_EXPORTER`
/// naming `prometheus`) and for the console summary (`summary`). Returns whether a reader
/// was added. An address that cannot be bound is an error when `strict`, else a warning.
pub(crate) fn attach(
    mut builder: MeterProviderBuilder,
    out: &mut MetricsOut,
    get: Getter<'_>,
    named: Option<&[Named]>,
    strict: bool,
    summary: bool,
) -> Result<(MeterProviderBuilder, bool), BuildError> {
    let wants = named.is_some_and(|l| l.contains(&Named::Prometheus));
    let addrs = match out.prometheus_addrs.take() {
        Some(set) => Some(set?),
        None if wants => Some(env_addrs(get)?),
        None => None,
    };
    let mut tap: Option<MetricsTap> = None;
    if let Some(addrs) = addrs {
        let (t, reader) = MetricsTap::new();
        match start_endpoint(&addrs, t.clone(), out) {
            Ok(()) => {
                builder = builder.with_reader(reader);
                tap = Some(t);
            }
            Err(e) if strict => return Err(e),
            Err(e) => warn_once(&format!("{e}; continuing without it")),
        }
    }
    let mut added = tap.is_some();
    if summary {
        let t = match tap {
            Some(t) => t,
            None => {
                let (t, reader) = MetricsTap::new();
                builder = builder.with_reader(reader);
                added = true;
                t
            }
        };
        out.extras.summary = Some(t);
    }
    Ok((builder, added))
}

fn shown(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(feature = "prometheus")]
fn start_endpoint(
    addrs: &[SocketAddr],
    tap: MetricsTap,
    out: &mut MetricsOut,
) -> Result<(), BuildError> {
    let server = super::prometheus::PrometheusServer::start(addrs, tap).map_err(|e| {
        BuildError::Exporter(format!("Prometheus endpoint on {}: {e}", shown(addrs)))
    })?;
    out.extras.prometheus = Some(server);
    Ok(())
}

#[cfg(not(feature = "prometheus"))]
fn start_endpoint(
    addrs: &[SocketAddr],
    _tap: MetricsTap,
    _out: &mut MetricsOut,
) -> Result<(), BuildError> {
    Err(BuildError::Unsupported(format!(
        "the Prometheus endpoint ({}) needs the `prometheus` feature",
        shown(addrs)
    )))
}
