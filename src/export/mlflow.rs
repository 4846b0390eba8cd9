//! The MLflow preset: OTLP/HTTP to an MLflow tracking server's `/v1/traces`, with the
//! experiment the traces belong to in the `x-mlflow-experiment-id` header.

use super::env::{check_url, Getter};
use super::{OtlpTarget, Protocol};
use crate::builder::BuildError;

/// The header MLflow reads the experiment from (it refuses a request without one).
pub(crate) const EXPERIMENT_HEADER: &str = "x-mlflow-experiment-id";

/// The tracking server and experiment named by `MLFLOW_TRACKING_URI` and
/// `MLFLOW_EXPERIMENT_ID`, if both are set and the URI is an `http(s)` server (a `file:`,
/// `sqlite:` or `databricks` URI names no server that takes OTLP: no preset).
pub(crate) fn preset(get: Getter<'_>) -> Result<Option<(String, String)>, BuildError> {
    let Some(uri) = get("MLFLOW_TRACKING_URI") else {
        return Ok(None);
    };
    let uri = uri.trim().to_owned();
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Ok(None);
    }
    match (get("MLFLOW_EXPERIMENT_ID"), get("MLFLOW_EXPERIMENT_NAME")) {
        (Some(id), _) => {
            check_url(&uri)?;
            Ok(Some((uri, id.trim().to_owned())))
        }
        (None, Some(name)) => Err(BuildError::InvalidValue {
            var: "MLFLOW_EXPERIMENT_NAME".to_owned(),
            value: format!(
                "{name} (the experiment is sent by id: set MLFLOW_EXPERIMENT_ID to the id MLflow shows for it)"
            ),
        }),
        (None, None) => Ok(None),
    }
}

/// Whether `target` sends to MLflow (it carries the experiment header, from the preset,
/// the builder or `OTEL_EXPORTER_OTLP_HEADERS`).
pub(crate) fn is_mlflow(target: &OtlpTarget) -> bool {
    target.headers.contains_key(EXPERIMENT_HEADER)
}

/// MLflow takes OTLP over HTTP only: a target for it set to gRPC goes over HTTP to the
/// server's `/v1/traces` instead.
pub(crate) fn fit_target(target: &mut OtlpTarget) {
    if is_mlflow(target) && target.protocol == Protocol::Grpc {
        target.protocol = Protocol::HttpProtobuf;
        if !target
            .endpoint
            .trim_end_matches('/')
            .ends_with("/v1/traces")
        {
            target.endpoint = format!("{}/v1/traces", target.endpoint.trim_end_matches('/'));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn preset_needs_a_server_uri_and_an_experiment_id() {
        let both = env(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            ("MLFLOW_EXPERIMENT_ID", "12"),
        ]);
        assert_eq!(
            preset(&both).unwrap(),
            Some(("http://127.0.0.1:5000".to_owned(), "12".to_owned()))
        );
        let uri_only = env(&[("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")]);
        assert_eq!(preset(&uri_only).unwrap(), None);
        let local = env(&[
            ("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"),
            ("MLFLOW_EXPERIMENT_ID", "12"),
        ]);
        assert_eq!(preset(&local).unwrap(), None);
        let by_name = env(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            ("MLFLOW_EXPERIMENT_NAME", "agents"),
        ]);
        assert!(matches!(
            preset(&by_name),
            Err(BuildError::InvalidValue { var, .. }) if var == "MLFLOW_EXPERIMENT_NAME"
        ));
        let bad = env(&[
            ("MLFLOW_TRACKING_URI", "http://"),
            ("MLFLOW_EXPERIMENT_ID", "1"),
        ]);
        assert!(preset(&bad).is_err());
    }

    #[test]
    fn a_grpc_target_for_mlflow_goes_over_http() {
        let mut t = OtlpTarget {
            endpoint: "http://127.0.0.1:5000".into(),
            headers: [(EXPERIMENT_HEADER.to_owned(), "1".to_owned())].into(),
            protocol: Protocol::Grpc,
            timeout: std::time::Duration::from_secs(1),
        };
        fit_target(&mut t);
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert_eq!(t.endpoint, "http://127.0.0.1:5000/v1/traces");
        let mut other = OtlpTarget {
            headers: Default::default(),
            protocol: Protocol::Grpc,
            ..t.clone()
        };
        other.endpoint = "http://127.0.0.1:4317".into();
        fit_target(&mut other);
        assert_eq!(other.protocol, Protocol::Grpc);
    }
}
