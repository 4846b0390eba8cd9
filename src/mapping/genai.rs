//! The OpenTelemetry GenAI attributes, derived from the OpenInference ones and back.

use crate::kind::SpanKind;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use std::sync::Arc;

/// OpenInference provider (`llm.provider`) to GenAI `gen_ai.provider.name`.
pub(crate) fn gen_ai_provider(oi: &str) -> &str {
    match oi {
        "mistralai" | "mistral" => "mistral_ai",
        "xai" => "x_ai",
        "google" | "gemini" => "gcp.gemini",
        "vertexai" => "gcp.vertex_ai",
        "aws" | "bedrock" => "aws.bedrock",
        "azure" => "azure.ai.openai",
        "moonshot" => "moonshot_ai",
        other => other,
    }
}

/// GenAI `gen_ai.provider.name` to the OpenInference `llm.provider`.
pub(crate) fn oi_provider(gen_ai: &str) -> &str {
    match gen_ai {
        "mistral_ai" => "mistralai",
        "x_ai" => "xai",
        "aws.bedrock" => "aws",
        "moonshot_ai" => "moonshot",
        s if s.starts_with("gcp.") => "google",
        s if s.starts_with("azure.") => "azure",
        other => other,
    }
}

/// The metric label for a provider as the span gave it (either convention).
pub(crate) fn provider_name_arc(provider: &Arc<str>) -> Arc<str> {
    let mapped = gen_ai_provider(provider);
    if mapped == &**provider {
        Arc::clone(provider)
    } else {
        Arc::from(mapped)
    }
}

/// The `llm.system` (API shape) implied by a provider, where it is unambiguous.
fn oi_system(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" | "azure" => "openai",
        "anthropic" => "anthropic",
        "google" => "vertexai",
        "cohere" => "cohere",
        "mistralai" => "mistralai",
        "xai" => "xai",
        "deepseek" => "deepseek",
        _ => return None,
    })
}

/// Pairs of keys that carry the same value in both conventions, as (OpenInference, GenAI).
const SAME_VALUE: &[(&str, &str)] = &[
    ("llm.token_count.prompt", "gen_ai.usage.input_tokens"),
    ("llm.token_count.completion", "gen_ai.usage.output_tokens"),
    (
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.cache_read.input_tokens",
    ),
    (
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.cache_creation.input_tokens",
    ),
    (
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.reasoning.output_tokens",
    ),
    ("session.id", "gen_ai.conversation.id"),
    ("tool.name", "gen_ai.tool.name"),
    ("tool.description", "gen_ai.tool.description"),
    ("tool.id", "gen_ai.tool.call.id"),
    ("agent.name", "gen_ai.agent.name"),
    ("llm.response.model_name", "gen_ai.response.model"),
];

/// Invocation parameters copied to `gen_ai.request.*`, with whether they are integers.
const REQUEST_PARAMS: &[(&str, &str, bool)] = &[
    ("temperature", "gen_ai.request.temperature", false),
    ("top_p", "gen_ai.request.top_p", false),
    ("top_k", "gen_ai.request.top_k", false),
    (
        "frequency_penalty",
        "gen_ai.request.frequency_penalty",
        false,
    ),
    ("presence_penalty", "gen_ai.request.presence_penalty", false),
    ("max_tokens", "gen_ai.request.max_tokens", true),
    ("max_completion_tokens", "gen_ai.request.max_tokens", true),
    ("seed", "gen_ai.request.seed", true),
];

/// The value of `key` in `attrs`, if present.
pub(crate) fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn has(attrs: &[KeyValue], key: &str) -> bool {
    get(attrs, key).is_some()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Adds the GenAI attributes implied by the OpenInference ones (and the OpenInference ones
/// implied by GenAI aliases), never overwriting a key that is present.
pub(crate) fn enrich(attrs: &mut Vec<KeyValue>, kind: SpanKind) {
    let mut add: Vec<KeyValue> = Vec::new();
    for (oi, gen_ai) in SAME_VALUE {
        match (get(attrs, oi), get(attrs, gen_ai)) {
            (Some(v), None) => add.push(KeyValue::new(*gen_ai, v.clone())),
            (None, Some(v)) => add.push(KeyValue::new(*oi, v.clone())),
            _ => {}
        }
    }

    if let Some(op) = kind.gen_ai_operation() {
        if !has(attrs, "gen_ai.operation.name") {
            add.push(KeyValue::new("gen_ai.operation.name", op));
        }
    }

    let model_key = match kind {
        SpanKind::Embedding => "embedding.model_name",
        SpanKind::Reranker => "reranker.model_name",
        _ => "llm.model_name",
    };
    let model = get(attrs, model_key)
        .or_else(|| get(attrs, "llm.model_name"))
        .and_then(text);
    match (&model, get(attrs, "gen_ai.request.model").and_then(text)) {
        (Some(m), None) => {
            if !has(attrs, "llm.request.model_name") {
                add.push(KeyValue::new("gen_ai.request.model", m.clone()));
            }
            if !has(attrs, "gen_ai.response.model") && !has(attrs, "llm.response.model_name") {
                add.push(KeyValue::new("gen_ai.response.model", m.clone()));
            }
        }
        (None, Some(m)) => add.push(KeyValue::new(model_key, m)),
        _ => {}
    }

    let provider = get(attrs, "llm.provider").and_then(text);
    let gen_ai_provider_name = get(attrs, "gen_ai.provider.name")
        .or_else(|| get(attrs, "gen_ai.system"))
        .and_then(text);
    let oi_provider_name = match (&provider, &gen_ai_provider_name) {
        (Some(p), None) => {
            add.push(KeyValue::new(
                "gen_ai.provider.name",
                gen_ai_provider(p).to_owned(),
            ));
            Some(p.clone())
        }
        (None, Some(g)) => {
            let p = oi_provider(g).to_owned();
            add.push(KeyValue::new("llm.provider", p.clone()));
            Some(p)
        }
        (p, _) => p.clone(),
    };
    if kind == SpanKind::Llm && !has(attrs, "llm.system") {
        if let Some(system) = oi_provider_name.as_deref().and_then(oi_system) {
            add.push(KeyValue::new("llm.system", system));
        }
    }

    if let Some(Value::String(params)) = get(attrs, "llm.invocation_parameters") {
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_str::<serde_json::Value>(params.as_str())
        {
            for (name, key, integer) in REQUEST_PARAMS {
                if has(attrs, key) || add.iter().any(|kv| kv.key.as_str() == *key) {
                    continue;
                }
                match map.get(*name) {
                    Some(serde_json::Value::Number(n)) if *integer => {
                        if let Some(i) = n.as_i64() {
                            add.push(KeyValue::new(*key, i));
                        }
                    }
                    Some(serde_json::Value::Number(n)) => {
                        if let Some(f) = n.as_f64() {
                            add.push(KeyValue::new(*key, f));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(serde_json::Value::Array(stop)) = map.get("stop") {
                let stops: Vec<StringValue> = stop
                    .iter()
                    .filter_map(|s| s.as_str().map(|s| StringValue::from(s.to_owned())))
                    .collect();
                if !stops.is_empty() && !has(attrs, "gen_ai.request.stop_sequences") {
                    add.push(KeyValue::new(
                        "gen_ai.request.stop_sequences",
                        Value::Array(Array::String(stops)),
                    ));
                }
            }
        }
    }

    if let Some(Value::String(reason)) = get(attrs, "llm.finish_reason") {
        if !has(attrs, "gen_ai.response.finish_reasons") {
            add.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                Value::Array(Array::String(vec![reason.clone()])),
            ));
        }
    }
    attrs.extend(add);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oi_values_gain_gen_ai_twins_and_back() {
        let mut attrs = vec![
            KeyValue::new("llm.model_name", "gpt-4o"),
            KeyValue::new("llm.provider", "mistralai"),
            KeyValue::new("llm.token_count.prompt", 10i64),
            KeyValue::new("gen_ai.usage.output_tokens", 5i64),
            KeyValue::new(
                "llm.invocation_parameters",
                r#"{"temperature":0.2,"max_tokens":100}"#,
            ),
        ];
        enrich(&mut attrs, SpanKind::Llm);
        assert_eq!(
            get(&attrs, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(10))
        );
        assert_eq!(
            get(&attrs, "llm.token_count.completion"),
            Some(&Value::I64(5))
        );
        assert_eq!(
            get(&attrs, "gen_ai.provider.name"),
            Some(&Value::from("mistral_ai"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.model"),
            Some(&Value::from("gpt-4o"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.operation.name"),
            Some(&Value::from("chat"))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.temperature"),
            Some(&Value::F64(0.2))
        );
        assert_eq!(
            get(&attrs, "gen_ai.request.max_tokens"),
            Some(&Value::I64(100))
        );
        assert_eq!(get(&attrs, "llm.system"), Some(&Value::from("mistralai")));
    }

    #[test]
    fn gen_ai_only_spans_gain_oi_names() {
        let mut attrs = vec![
            KeyValue::new("gen_ai.request.model", "text-embedding-3-small"),
            KeyValue::new("gen_ai.provider.name", "gcp.vertex_ai"),
        ];
        enrich(&mut attrs, SpanKind::Embedding);
        assert_eq!(
            get(&attrs, "embedding.model_name"),
            Some(&Value::from("text-embedding-3-small"))
        );
        assert_eq!(get(&attrs, "llm.provider"), Some(&Value::from("google")));
        assert_eq!(
            get(&attrs, "gen_ai.operation.name"),
            Some(&Value::from("embeddings"))
        );
    }
}
