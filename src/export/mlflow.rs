//! The MLflow preset: OTLP/HTTP to an MLflow tracking server's `/v1/traces`, with the
//! experiment the traces belong to in the `x-mlflow-experiment-id` header. An experiment given
//! by name is looked up (and created if missing) on the export thread, before the first post.

use super::values::{base64, check_url, Getter};
use super::{OtlpTarget, Protocol};
use crate::error::BuildError;
use std::collections::HashMap;

/// The header MLflow reads the experiment from (it refuses a request without one).
pub(crate) const EXPERIMENT_HEADER: &str = "x-mlflow-experiment-id";

/// What the MLflow variables ask for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Preset {
    /// The tracking server (`http://127.0.0.1:5000`).
    pub(crate) tracking_uri: String,
    /// The experiment header (when given by id) and the server's credentials.
    pub(crate) headers: HashMap<String, String>,
    /// The experiment's name, when no id was given: looked up by the exporter.
    pub(crate) experiment_name: Option<String>,
}

/// The preset named by `MLFLOW_TRACKING_URI` and `MLFLOW_EXPERIMENT_ID` (or
/// `MLFLOW_EXPERIMENT_NAME`), if the URI is an `http(s)` server and an experiment is named
/// (a `file:`, `sqlite:` or `databricks` URI names no server that takes OTLP: no preset).
/// `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`,
/// authenticate as MLflow's own client does.
pub(crate) fn preset(get: Getter<'_>) -> Result<Option<Preset>, BuildError> {
    let Some(uri) = get("MLFLOW_TRACKING_URI") else {
        return Ok(None);
    };
    let uri = uri.trim();
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Ok(None);
    }
    let id = get("MLFLOW_EXPERIMENT_ID").map(|v| v.trim().to_owned());
    let name = get("MLFLOW_EXPERIMENT_NAME").map(|v| v.trim().to_owned());
    if id.is_none() && name.is_none() {
        return Ok(None);
    }
    check_url(uri)?;
    let tracking_uri = uri.trim_end_matches('/').to_owned();
    let mut headers = HashMap::new();
    if let Some(token) = get("MLFLOW_TRACKING_TOKEN") {
        headers.insert(
            "authorization".to_owned(),
            format!("Bearer {}", token.trim()),
        );
    } else if let (Some(user), Some(password)) = (
        get("MLFLOW_TRACKING_USERNAME"),
        get("MLFLOW_TRACKING_PASSWORD"),
    ) {
        let auth = base64(format!("{user}:{password}").as_bytes());
        headers.insert("authorization".to_owned(), format!("Basic {auth}"));
    }
    let experiment_name = match id {
        Some(id) => {
            headers.insert(EXPERIMENT_HEADER.to_owned(), id);
            None
        }
        None => name,
    };
    Ok(Some(Preset {
        tracking_uri,
        headers,
        experiment_name,
    }))
}

/// Whether `target` sends to MLflow (it carries the experiment header, from the preset,
/// the builder or `OTEL_EXPORTER_OTLP_HEADERS`, or an experiment name to look up).
pub(crate) fn is_mlflow(target: &OtlpTarget) -> bool {
    target.headers.contains_key(EXPERIMENT_HEADER) || target.mlflow_experiment_name.is_some()
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

/// An experiment given by name, and its id once looked up.
#[cfg(feature = "otlp-http")]
#[derive(Debug)]
pub(crate) struct ExperimentByName {
    /// The tracking server (the OTLP endpoint without `/v1/traces`).
    tracking_uri: String,
    name: String,
    /// The id, as the header value, once known.
    id: std::sync::OnceLock<reqwest::header::HeaderValue>,
}

/// The most of a tracking server's answer that is read.
#[cfg(feature = "otlp-http")]
const MAX_ANSWER_BYTES: u64 = 256 * 1024;

#[cfg(feature = "otlp-http")]
impl ExperimentByName {
    /// The experiment `name` on the server that `endpoint` (`.../v1/traces`) belongs to.
    pub(crate) fn new(endpoint: &str, name: &str) -> ExperimentByName {
        let endpoint = endpoint.trim_end_matches('/');
        ExperimentByName {
            tracking_uri: endpoint
                .strip_suffix("/v1/traces")
                .unwrap_or(endpoint)
                .to_owned(),
            name: name.to_owned(),
            id: Default::default(),
        }
    }

    /// The experiment header's value: the id, looked up (the experiment created if missing)
    /// on first use. Runs on the export thread (or the exporter's own), never a caller's. A
    /// failure is reported as a network error, so the batch is retried.
    pub(crate) async fn header(
        &self,
        client: &reqwest::Client,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<reqwest::header::HeaderValue, String> {
        if let Some(id) = self.id.get() {
            return Ok(id.clone());
        }
        let id = self.look_up(client, headers).await.map_err(|e| {
            format!(
                "network error: the MLflow experiment `{}` could not be looked up at {}: {e}",
                self.name, self.tracking_uri
            )
        })?;
        let value = reqwest::header::HeaderValue::from_str(&id)
            .map_err(|_| format!("the MLflow experiment id `{id}` is not a header value"))?;
        Ok(self.id.get_or_init(|| value).clone())
    }

    async fn look_up(
        &self,
        client: &reqwest::Client,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<String, String> {
        let mut headers = headers.clone();
        headers.remove(EXPERIMENT_HEADER);
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        let get = || {
            let url = format!(
                "{}/api/2.0/mlflow/experiments/get-by-name?experiment_name={}",
                self.tracking_uri,
                percent_encode(&self.name)
            );
            answer(client.get(url).headers(headers.clone()))
        };
        let (status, body) = get().await?;
        if status == 200 {
            return id_in(&body, &["experiment", "experiment_id"]);
        }
        if status != 404 {
            return Err(format!("status code: {status}"));
        }
        let url = format!("{}/api/2.0/mlflow/experiments/create", self.tracking_uri);
        let body = serde_json::json!({ "name": self.name }).to_string();
        let (status, created) =
            answer(client.post(url).headers(headers.clone()).body(body)).await?;
        match status {
            200 => id_in(&created, &["experiment_id"]),
            // Created meanwhile by someone else.
            400 => match get().await? {
                (200, body) => id_in(&body, &["experiment", "experiment_id"]),
                (status, _) => Err(format!("status code: {status}")),
            },
            _ => Err(format!("status code: {status}")),
        }
    }
}

/// Sends a request; its status and (bounded) body.
#[cfg(feature = "otlp-http")]
async fn answer(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() as u64 >= MAX_ANSWER_BYTES {
            body.truncate(MAX_ANSWER_BYTES as usize);
            break;
        }
    }
    Ok((status, body))
}

/// The string at `path` in a JSON body.
#[cfg(feature = "otlp-http")]
fn id_in(body: &[u8], path: &[&str]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_owned())?;
    let mut at = &value;
    for key in path {
        at = at
            .get(key)
            .ok_or_else(|| format!("no `{key}` in the answer"))?;
    }
    at.as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the experiment id is not a string".to_owned())
}

/// Percent-encodes a query value (everything but the unreserved characters).
#[cfg(feature = "otlp-http")]
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::export::values::test_env as env;

    #[test]
    fn preset_needs_a_server_uri_and_an_experiment_id() {
        let both = env(&[
            ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000/"),
            ("MLFLOW_EXPERIMENT_ID", "12"),
            ("MLFLOW_EXPERIMENT_NAME", "ignored when the id is given"),
        ]);
        let p = preset(&both).unwrap().unwrap();
        assert_eq!(p.tracking_uri, "http://127.0.0.1:5000");
        assert_eq!(p.headers[EXPERIMENT_HEADER], "12");
        assert_eq!(p.experiment_name, None);
        let uri_only = env(&[("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")]);
        assert_eq!(preset(&uri_only).unwrap(), None);
        let local = env(&[
            ("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"),
            ("MLFLOW_EXPERIMENT_ID", "12"),
        ]);
        assert_eq!(preset(&local).unwrap(), None);
        let by_name = env(&[
            ("MLFLOW_TRACKING_URI", "https://mlflow.example"),
            ("MLFLOW_EXPERIMENT_NAME", "agents"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
        ]);
        let p = preset(&by_name).unwrap().unwrap();
        assert_eq!(p.experiment_name.as_deref(), Some("agents"));
        assert!(!p.headers.contains_key(EXPERIMENT_HEADER));
        assert_eq!(
            p.headers["authorization"],
            format!("Basic {}", base64(b"u:p"))
        );
        let token = env(&[
            ("MLFLOW_TRACKING_URI", "https://mlflow.example"),
            ("MLFLOW_EXPERIMENT_ID", "3"),
            ("MLFLOW_TRACKING_TOKEN", "t0k"),
        ]);
        assert_eq!(
            preset(&token).unwrap().unwrap().headers["authorization"],
            "Bearer t0k"
        );
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
            mlflow_experiment_name: None,
            transport: Default::default(),
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

    #[cfg(feature = "otlp-http")]
    #[test]
    fn experiment_names_are_percent_encoded_and_the_server_is_found() {
        assert_eq!(percent_encode("agents/prod 1"), "agents%2Fprod%201");
        let e = ExperimentByName::new("http://127.0.0.1:5000/v1/traces", "x");
        assert_eq!(e.tracking_uri, "http://127.0.0.1:5000");
        assert_eq!(
            id_in(
                br#"{"experiment": {"experiment_id": "4"}}"#,
                &["experiment", "experiment_id"]
            ),
            Ok("4".to_owned())
        );
        assert!(id_in(b"<html>", &["experiment_id"]).is_err());
    }
}
