//! The standard environment: `OTEL_*`, the Phoenix, Langfuse and MLflow presets.

use super::{OtlpTarget, Protocol};
use crate::error::BuildError;
use std::collections::HashMap;
use std::time::Duration;

use super::values::join;
pub(crate) use super::values::{base64, check_url, parse_headers, process_env, Getter};

/// The Langfuse cloud host used when `LANGFUSE_HOST` is not set.
pub(crate) const LANGFUSE_DEFAULT_HOST: &str = "https://cloud.langfuse.com";

/// The traces exporters named by `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Named {
    /// `otlp`.
    Otlp,
    /// `console`.
    Console,
    /// `none`.
    None,
    /// `prometheus` (metrics only).
    Prometheus,
}

/// Parses an `OTEL_*_EXPORTER` list.
pub(crate) fn parse_exporters(var: &str, raw: &str) -> Result<Vec<Named>, BuildError> {
    raw.split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| match s.as_str() {
            "otlp" => Ok(Named::Otlp),
            "console" | "logging" => Ok(Named::Console),
            "none" => Ok(Named::None),
            "prometheus" => Ok(Named::Prometheus),
            _ => Err(BuildError::InvalidValue {
                var: var.to_owned(),
                value: s,
            }),
        })
        .collect()
}

/// The OTLP destination for one signal (`traces` or `metrics`) from the environment, if any
/// variable names one.
pub(crate) fn otlp_target(get: Getter<'_>, signal: &str) -> Result<Option<OtlpTarget>, BuildError> {
    let upper = signal.to_ascii_uppercase();
    let path = format!("v1/{signal}");
    let mut headers = HashMap::new();
    let mut mlflow_experiment_name = None;
    let endpoint = if let Some(url) = get(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")) {
        Some(url)
    } else if let Some(base) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(join(&base, &path))
    } else if let Some(base) = get("PHOENIX_COLLECTOR_ENDPOINT") {
        if signal == "traces" {
            Some(join(&base, &path))
        } else {
            None
        }
    } else if let (Some(public), Some(secret)) =
        (get("LANGFUSE_PUBLIC_KEY"), get("LANGFUSE_SECRET_KEY"))
    {
        if signal == "traces" {
            let host = get("LANGFUSE_HOST")
                .or_else(|| get("LANGFUSE_BASE_URL"))
                .unwrap_or_else(|| LANGFUSE_DEFAULT_HOST.to_owned());
            let auth = base64(format!("{public}:{secret}").as_bytes());
            headers.insert("authorization".to_owned(), format!("Basic {auth}"));
            headers.insert("x-langfuse-ingestion-version".to_owned(), "4".to_owned());
            Some(join(&host, "api/public/otel/v1/traces"))
        } else {
            None
        }
    } else if let Some(preset) = super::mlflow::preset(get)? {
        if signal == "traces" {
            headers.extend(preset.headers);
            mlflow_experiment_name = preset.experiment_name;
            Some(join(&preset.tracking_uri, &path))
        } else {
            None
        }
    } else {
        None
    };
    let Some(endpoint) = endpoint else {
        return Ok(None);
    };
    check_url(&endpoint)?;
    if let Some(key) = get("PHOENIX_API_KEY") {
        headers.insert("authorization".to_owned(), format!("Bearer {key}"));
    }
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS".to_owned(),
        format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS"),
    ] {
        if let Some(raw) = get(&var) {
            headers.extend(parse_headers(&raw)?);
        }
    }
    let protocol_var = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
    let protocol = match get(&protocol_var).or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        None => Protocol::HttpProtobuf,
        Some(p) => match p.trim() {
            "http/protobuf" => Protocol::HttpProtobuf,
            "grpc" => Protocol::Grpc,
            other => {
                return Err(BuildError::InvalidValue {
                    var: "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
                    value: format!("{other} (supported: http/protobuf, grpc)"),
                })
            }
        },
    };
    let timeout = match get(&format!("OTEL_EXPORTER_OTLP_{upper}_TIMEOUT"))
        .or_else(|| get("OTEL_EXPORTER_OTLP_TIMEOUT"))
    {
        None => Duration::from_secs(10),
        Some(ms) => {
            Duration::from_millis(ms.trim().parse().map_err(|_| BuildError::InvalidValue {
                var: "OTEL_EXPORTER_OTLP_TIMEOUT".to_owned(),
                value: ms.clone(),
            })?)
        }
    };
    let endpoint = if protocol == Protocol::Grpc {
        // gRPC takes the collector's base address, not a signal path.
        endpoint.trim_end_matches(&format!("/{path}")).to_owned()
    } else {
        endpoint
    };
    Ok(Some(OtlpTarget {
        endpoint,
        headers,
        protocol,
        timeout,
        mlflow_experiment_name,
        transport: super::transport::from_env(get, &upper)?,
    }))
}

/// Parses a boolean variable ([`crate::flag::parse_bool`]).
pub(crate) fn parse_bool(var: &str, raw: &str) -> Result<bool, BuildError> {
    crate::flag::parse_bool(raw).ok_or_else(|| BuildError::InvalidValue {
        var: var.to_owned(),
        value: raw.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::values::test_env as env;

    #[test]
    fn base_endpoint_gains_the_signal_path() {
        let get = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:6006/")]);
        let t = otlp_target(&get, "traces").unwrap().unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:6006/v1/traces");
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
    }

    #[test]
    fn signal_endpoint_is_used_as_is() {
        let get = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/custom"),
        ]);
        assert_eq!(
            otlp_target(&get, "traces").unwrap().unwrap().endpoint,
            "http://b:2/custom"
        );
    }

    #[test]
    fn langfuse_preset_uses_basic_auth() {
        let get = env(&[
            ("LANGFUSE_PUBLIC_KEY", "pk-lf-1"),
            ("LANGFUSE_SECRET_KEY", "sk-lf-2"),
            ("LANGFUSE_HOST", "http://127.0.0.1:3000"),
        ]);
        let t = otlp_target(&get, "traces").unwrap().unwrap();
        assert_eq!(
            t.endpoint,
            "http://127.0.0.1:3000/api/public/otel/v1/traces"
        );
        assert_eq!(
            t.headers["authorization"],
            format!("Basic {}", base64(b"pk-lf-1:sk-lf-2"))
        );
        assert!(otlp_target(&get, "metrics").unwrap().is_none());
    }

    #[test]
    fn phoenix_preset_and_api_key() {
        let get = env(&[
            ("PHOENIX_COLLECTOR_ENDPOINT", "http://localhost:6006"),
            ("PHOENIX_API_KEY", "k"),
        ]);
        let t = otlp_target(&get, "traces").unwrap().unwrap();
        assert_eq!(t.endpoint, "http://localhost:6006/v1/traces");
        assert_eq!(t.headers["authorization"], "Bearer k");
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(otlp_target(
            &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")]),
            "traces"
        )
        .is_err());
        assert!(parse_headers("novalue").is_err());
        assert!(parse_headers("a b=c").is_err());
        assert!(otlp_target(
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            ]),
            "traces"
        )
        .is_err());
        assert_eq!(parse_headers("a=b%20c, d = e").unwrap()["a"], "b c");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
