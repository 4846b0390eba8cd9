//! How requests travel: https to a loopback collector with a self-signed certificate given
//! to the crate, gzip bodies, and the `try_build` errors for what a build cannot reach.

#[path = "common/otlp_sink.rs"]
mod otlp_sink;
#[path = "common/tls_sink.rs"]
mod tls_sink;

use otlp_sink::{Mode, OtlpSink};
use std::time::Duration;
use tls_sink::TlsSink;
use tracing::Dispatch;
use tracing_openinference::{BuildError, LlmHandle, LlmLayer, LlmLayerBuilder, OtlpCompression};
use tracing_subscriber::prelude::*;

const LIMIT: Duration = Duration::from_secs(20);

fn emit(builder: LlmLayerBuilder, name_prefix: &str, n: usize) -> LlmHandle {
    let layer: LlmLayer<_> = builder
        .with_console_exporter(false)
        .try_build()
        .expect("valid settings");
    let handle = layer.handle();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..n {
            tracing::info_span!(
                "transport.call",
                otel.name = format!("{name_prefix}.{i}"),
                llm.model_name = "gpt-4o-mini",
                llm.input_messages = r#"[{"role":"user","content":"hello hello hello hello"}]"#,
            )
            .in_scope(|| {});
        }
    });
    handle
}

fn without_env() -> LlmLayerBuilder {
    LlmLayerBuilder::from_env_with(|_| None)
}

#[test]
fn https_reaches_a_collector_whose_certificate_is_given_in_code() {
    let sink = TlsSink::start();
    let handle = emit(
        without_env()
            .with_otlp_endpoint(sink.endpoint())
            .with_otlp_root_certificate(sink.certificate_pem.clone()),
        "tls.code",
        20,
    );
    assert_eq!(handle.shutdown(LIMIT), Ok(()));
    let names = sink.names();
    assert_eq!(names.len(), 20, "spans over https: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("tls.code.")));
    assert_eq!(handle.pipeline_stats().spans_exported, 20);
}

#[test]
fn https_reaches_a_collector_whose_certificate_file_is_in_the_environment() {
    let sink = TlsSink::start();
    let path = std::env::temp_dir().join(format!(
        "tracing-openinference-test-ca-{}.pem",
        std::process::id()
    ));
    std::fs::write(&path, &sink.certificate_pem).unwrap();
    let (endpoint, file) = (sink.endpoint(), path.display().to_string());
    let builder = LlmLayerBuilder::from_env_with(move |k| match k {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_EXPORTER_OTLP_CERTIFICATE" => Some(file.clone()),
        _ => None,
    });
    let handle = emit(builder, "tls.env", 10);
    assert_eq!(handle.shutdown(LIMIT), Ok(()));
    let _ = std::fs::remove_file(&path);
    assert_eq!(sink.names().len(), 10);
}

/// The control: without the certificate the handshake fails (the bundled roots do not
/// trust a self-signed collector), and the spans are counted as failed, not exported.
#[test]
fn https_to_an_untrusted_certificate_is_refused_and_counted() {
    let sink = TlsSink::start();
    let handle = emit(
        without_env().with_otlp_endpoint(sink.endpoint()),
        "tls.untrusted",
        5,
    );
    let _ = handle.shutdown(LIMIT);
    let stats = handle.pipeline_stats();
    assert!(sink.names().is_empty());
    assert!(sink.handshake_failures() > 0);
    assert_eq!(stats.spans_exported, 0);
    assert_eq!(stats.dropped("export_failed"), 5, "{stats:?}");
}

#[test]
fn a_root_certificate_that_is_not_pem_fails_the_build() {
    let err = without_env()
        .with_otlp_endpoint("https://localhost:4318")
        .with_otlp_root_certificate("not a certificate")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(
        err.to_string().contains("with_otlp_root_certificate"),
        "{err}"
    );
}

#[test]
fn an_unsupported_scheme_fails_the_build_and_says_what_works() {
    let err = without_env()
        .with_otlp_endpoint("ftp://localhost:4318")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(matches!(err, BuildError::InvalidUrl(_)));
    assert!(err.to_string().contains("https://"), "{err}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn https_without_the_tls_feature_fails_the_build_and_names_the_feature() {
    let err = without_env()
        .with_otlp_endpoint("https://cloud.langfuse.com/api/public/otel")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(matches!(err, BuildError::Unsupported(_)));
    assert!(err.to_string().contains("`tls` cargo feature"), "{err}");
}

#[cfg(feature = "grpc")]
#[test]
fn https_over_grpc_fails_the_build_and_says_what_works() {
    let builder = LlmLayerBuilder::from_env_with(|k| {
        (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "grpc".to_owned())
    });
    let err = builder
        .with_otlp_endpoint("https://collector.example:4317")
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(err.to_string().contains("http/protobuf"), "{err}");
}

#[test]
fn gzip_set_in_code_compresses_every_request() {
    let sink = OtlpSink::start(Mode::Healthy);
    let handle = emit(
        without_env()
            .with_otlp_endpoint(sink.endpoint())
            .with_otlp_compression(OtlpCompression::Gzip),
        "gzip.code",
        600,
    );
    assert_eq!(handle.shutdown(LIMIT), Ok(()));
    let stats = sink.stats();
    assert!(stats.requests >= 2, "{stats:?}");
    assert_eq!(stats.gzip_requests, stats.requests);
    assert_eq!(stats.undecodable, 0);
    assert_eq!(stats.spans, 600);
    assert_eq!(stats.named("gzip.code.599"), 1);
}

#[test]
fn gzip_from_the_environment_compresses_and_none_does_not() {
    for (value, gzip) in [("gzip", true), ("none", false)] {
        let sink = OtlpSink::start(Mode::Healthy);
        let endpoint = sink.endpoint();
        let builder = LlmLayerBuilder::from_env_with(move |k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
            "OTEL_EXPORTER_OTLP_COMPRESSION" => Some(value.to_owned()),
            _ => None,
        });
        let handle = emit(builder, "gzip.env", 50);
        assert_eq!(handle.shutdown(LIMIT), Ok(()));
        let stats = sink.stats();
        assert_eq!(stats.spans, 50);
        assert_eq!(stats.gzip_requests > 0, gzip, "{value}: {stats:?}");
    }
}

/// Metrics over OTLP go where the builder sends the spans, with its headers and compression
/// (not only where the environment says).
#[test]
fn metrics_follow_the_builders_endpoint_headers_and_compression() {
    let sink = OtlpSink::start(Mode::Healthy);
    let builder = LlmLayerBuilder::from_env_with(|k| match k {
        "OTEL_METRICS_EXPORTER" => Some("otlp".to_owned()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("100".to_owned()),
        _ => None,
    })
    .with_otlp_endpoint(sink.endpoint())
    .with_otlp_header("x-tenant", "acme")
    .with_otlp_compression(OtlpCompression::Gzip);
    let handle = emit(builder, "metrics.call", 5);
    assert_eq!(handle.shutdown(LIMIT), Ok(()));
    let stats = sink.stats();
    println!("paths {:?}, headers {:?}", stats.paths, stats.headers);
    assert!(stats.paths.get("/v1/metrics").copied().unwrap_or(0) >= 1);
    assert_eq!(stats.paths.get("/v1/traces").copied(), Some(1));
    assert_eq!(
        stats.headers.get("x-tenant").map(String::as_str),
        Some("acme")
    );
    assert_eq!(
        stats.headers.get("content-encoding").map(String::as_str),
        Some("gzip")
    );
}
