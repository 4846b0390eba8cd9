//! How OTLP requests travel: the scheme an endpoint may use in this build, TLS (rustls with
//! the `ring` crypto provider, the bundled Mozilla roots and any root the user adds) and
//! gzip request bodies.
//!
//! The roots are the ones compiled in (`webpki-roots`), not the system store: https works the
//! same on a fresh machine, in a `FROM scratch` or distroless container without CA
//! certificates, and on a laptop. A private CA (a corporate proxy, a self-signed collector)
//! is added with `OTEL_EXPORTER_OTLP_CERTIFICATE` (a PEM file) or
//! [`crate::LlmLayerBuilder::with_otlp_root_certificate`].

use super::values::Getter;
use super::{OtlpTarget, Protocol};
use crate::error::BuildError;

/// How OTLP request bodies are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or
/// `none`; the default is none).
///
/// ```
/// use tracing_openinference::{LlmLayerBuilder, OtlpCompression};
/// let b = LlmLayerBuilder::from_env().with_otlp_compression(OtlpCompression::Gzip);
/// # drop(b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Bodies are sent as they are.
    #[default]
    None,
    /// Bodies are gzip-compressed and sent with `Content-Encoding: gzip`.
    Gzip,
}

/// The transport settings of one OTLP target.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Transport {
    /// Extra trusted root certificates, PEM, each with where it came from (for errors).
    pub(crate) roots: Vec<(String, Vec<u8>)>,
    /// How request bodies are compressed.
    pub(crate) compression: OtlpCompression,
}

/// What the builder sets; it wins over the environment (roots are added to it).
#[derive(Debug, Clone, Default)]
pub(crate) struct TransportOverrides {
    /// Extra trusted roots (PEM), after the bundled ones.
    pub(crate) roots: Vec<Vec<u8>>,
    /// Request compression, over the environment's.
    pub(crate) compression: Option<OtlpCompression>,
}

impl TransportOverrides {
    /// Applies the builder's settings to a target's.
    pub(crate) fn apply(&self, transport: &mut Transport) {
        for pem in &self.roots {
            transport
                .roots
                .push(("with_otlp_root_certificate".to_owned(), pem.clone()));
        }
        if let Some(c) = self.compression {
            transport.compression = c;
        }
    }
}

/// The transport settings of one signal (`TRACES`, `METRICS`) from the environment: the
/// signal's variable first, then the general one.
pub(crate) fn from_env(get: Getter<'_>, upper: &str) -> Result<Transport, BuildError> {
    let var = |name: &str| {
        let specific = format!("OTEL_EXPORTER_OTLP_{upper}_{name}");
        match get(&specific) {
            Some(v) => Some((specific, v)),
            None => {
                let general = format!("OTEL_EXPORTER_OTLP_{name}");
                get(&general).map(|v| (general, v))
            }
        }
    };
    let mut transport = Transport::default();
    if let Some((name, path)) = var("CERTIFICATE") {
        let pem = std::fs::read(path.trim()).map_err(|e| BuildError::InvalidValue {
            var: name.clone(),
            value: format!("{path} ({e})"),
        })?;
        transport.roots.push((name, pem));
    }
    if let Some((name, value)) = var("COMPRESSION") {
        transport.compression = match value.trim().to_ascii_lowercase().as_str() {
            "gzip" => OtlpCompression::Gzip,
            "none" => OtlpCompression::None,
            _ => {
                return Err(BuildError::InvalidValue {
                    var: name,
                    value: format!("{value} (supported: gzip, none)"),
                })
            }
        };
    }
    Ok(transport)
}

/// Whether this build can reach `target`: https needs the `tls` feature (OTLP/HTTP) and is
/// not offered over gRPC. `check_url` already refused any other scheme.
#[cfg_attr(not(any(feature = "otlp-http", feature = "grpc")), allow(dead_code))]
pub(crate) fn check_reachable(target: &OtlpTarget) -> Result<(), BuildError> {
    reachable(target, cfg!(feature = "tls"))
}

/// [`check_reachable`] for a build with or without TLS.
fn reachable(target: &OtlpTarget, tls_built: bool) -> Result<(), BuildError> {
    if !target.endpoint.starts_with("https://") {
        return Ok(());
    }
    match target.protocol {
        Protocol::HttpProtobuf if tls_built => Ok(()),
        Protocol::HttpProtobuf => Err(BuildError::Unsupported(format!(
            "the OTLP endpoint `{}` is https, which needs the `tls` cargo feature of \
             tracing-openinference (on by default; enable it again after \
             `default-features = false`)",
            target.endpoint
        ))),
        Protocol::Grpc => Err(BuildError::Unsupported(format!(
            "the OTLP endpoint `{}` is https over gRPC, which this crate does not offer; \
             use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (the `tls` feature)",
            target.endpoint
        ))),
    }
}

/// The blocking HTTP client for `target` (timeout, user agent, TLS), built off any caller's
/// runtime: the OTLP metric exporter posts through it.
#[cfg(feature = "otlp-http")]
pub(crate) fn http_client(target: &OtlpTarget) -> Result<reqwest::blocking::Client, BuildError> {
    check_reachable(target)?;
    let timeout = target.timeout;
    #[cfg(feature = "tls")]
    let tls = tls::client_config(&target.transport.roots)?;
    super::off_runtime(move || {
        let builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .user_agent(USER_AGENT);
        #[cfg(feature = "tls")]
        let builder = builder.tls_backend_preconfigured(tls);
        builder
            .build()
            .map_err(|e| BuildError::Exporter(e.to_string()))
    })
}

/// The async HTTP client for `target` (timeout, user agent, TLS): the span exporter's
/// sending thread drives it on a runtime of its own.
#[cfg(feature = "otlp-http")]
pub(crate) fn async_client(target: &OtlpTarget) -> Result<reqwest::Client, BuildError> {
    check_reachable(target)?;
    let builder = reqwest::Client::builder()
        .timeout(target.timeout)
        .user_agent(USER_AGENT);
    #[cfg(feature = "tls")]
    let builder = builder.tls_backend_preconfigured(tls::client_config(&target.transport.roots)?);
    builder
        .build()
        .map_err(|e| BuildError::Exporter(e.to_string()))
}

/// The headers configured for `target` (checked), with `content_type`.
#[cfg(feature = "otlp-http")]
pub(crate) fn header_map(
    target: &OtlpTarget,
    content_type: &'static str,
) -> Result<reqwest::header::HeaderMap, BuildError> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
    let mut headers = HeaderMap::new();
    for (k, v) in &target.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| BuildError::InvalidHeader(k.clone()))?;
        let value = HeaderValue::from_str(v).map_err(|_| BuildError::InvalidHeader(k.clone()))?;
        headers.insert(name, value);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(headers)
}

#[cfg(feature = "otlp-http")]
const USER_AGENT: &str = concat!("tracing-openinference/", env!("CARGO_PKG_VERSION"));

/// `body` compressed as `compression` says, and the `Content-Encoding` to send with it.
#[cfg(feature = "otlp-http")]
pub(crate) fn compress(
    body: Vec<u8>,
    compression: OtlpCompression,
) -> (Vec<u8>, Option<&'static str>) {
    match compression {
        OtlpCompression::None => (body, None),
        OtlpCompression::Gzip => {
            use std::io::Write as _;
            // Level 1: most of the gain on repetitive span JSON, a fraction of the CPU.
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4 + 64),
                flate2::Compression::fast(),
            );
            // Writing to a Vec cannot fail.
            match encoder.write_all(&body).and_then(|()| encoder.finish()) {
                Ok(gz) => (gz, Some("gzip")),
                Err(_) => (body, None),
            }
        }
    }
}

#[cfg(feature = "tls")]
pub(crate) mod tls {
    use crate::error::BuildError;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;

    /// Gives a process without a default rustls provider this crate's (`ring`): this crate's
    /// `reqwest` features (`rustls-no-provider`) also apply to every other `reqwest` 0.13 in the
    /// program, whose `Client::new()` would otherwise panic (an `async-openai` client built
    /// without a TLS feature of its own, for one). A provider installed already is left alone.
    pub(crate) fn install_default_provider() {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::CryptoProvider::install_default(
                rustls::crypto::ring::default_provider(),
            );
        }
    }

    /// A rustls client configuration: the `ring` provider, the bundled Mozilla roots and
    /// `extra` (PEM, with where each came from).
    pub(super) fn client_config(
        extra: &[(String, Vec<u8>)],
    ) -> Result<rustls::ClientConfig, BuildError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        install_default_provider();
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for (source, pem) in extra {
            let invalid = |why: String| BuildError::InvalidValue {
                var: source.clone(),
                value: why,
            };
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| invalid(format!("not a PEM certificate ({e})")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("an invalid certificate ({e})")))?;
                added += 1;
            }
            if added == 0 {
                return Err(invalid("no PEM certificate in it".to_owned()));
            }
        }
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError::Exporter(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::values::test_env as env;

    #[test]
    fn compression_is_read_signal_first() {
        let get = env(&[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
        ]);
        assert_eq!(
            from_env(&get, "TRACES").unwrap().compression,
            OtlpCompression::Gzip
        );
        assert_eq!(
            from_env(&get, "METRICS").unwrap().compression,
            OtlpCompression::None
        );
        let bad = env(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")]);
        assert!(matches!(
            from_env(&bad, "TRACES"),
            Err(BuildError::InvalidValue { var, .. }) if var == "OTEL_EXPORTER_OTLP_COMPRESSION"
        ));
    }

    #[test]
    fn a_missing_certificate_file_is_an_error_naming_the_variable() {
        let get = env(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")]);
        let err = from_env(&get, "TRACES").unwrap_err();
        assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_CERTIFICATE"));
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn https_without_tls_names_the_feature() {
        let target = |endpoint: &str, protocol| OtlpTarget {
            endpoint: endpoint.to_owned(),
            headers: Default::default(),
            protocol,
            timeout: std::time::Duration::from_secs(1),
            mlflow_experiment_name: None,
            transport: Transport::default(),
        };
        let https = target("https://cloud.langfuse.com/x", Protocol::HttpProtobuf);
        let err = reachable(&https, false).unwrap_err();
        assert!(matches!(err, BuildError::Unsupported(_)));
        assert!(err.to_string().contains("`tls` cargo feature"), "{err}");
        assert!(reachable(&https, true).is_ok());
        let http = target("http://127.0.0.1:4318/x", Protocol::HttpProtobuf);
        assert!(reachable(&http, false).is_ok());
        let grpc = target("https://collector:4317", Protocol::Grpc);
        assert!(reachable(&grpc, true).is_err());
    }

    #[cfg(feature = "otlp-http")]
    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = b"{\"role\":\"user\",\"content\":\"hello\"}".repeat(100);
        let (gz, encoding) = compress(body.clone(), OtlpCompression::Gzip);
        assert_eq!(encoding, Some("gzip"));
        assert!(gz.len() < body.len() / 5);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, body);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_pem_without_a_certificate_is_an_error() {
        let err = tls::client_config(&[("test".into(), b"not a pem".to_vec())]).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        assert!(tls::client_config(&[]).is_ok());
    }
}
